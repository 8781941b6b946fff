# SPDX-License-Identifier: Apache-2.0
"""The rate-distortion training objective of learned image codecs.

A codec trained end to end minimises ``R + lambda * D`` (J. Ballé, V. Laparra, E. P. Simoncelli,
"End-to-end Optimized Image Compression", ICLR 2017): the rate ``R`` is the expected code length
of the quantized latents under the model's entropy models, estimated from the likelihoods of the
noisy latents, and ``D`` is a distortion. CompressAI's convention, followed here, writes it as
``loss = lambda * D + bpp`` with ``D = 255^2 * MSE`` (images in [0, 1]) or ``D = 1 - MS-SSIM``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.registry.torch import register_criterion
from tinify.utils.metrics import ms_ssim

__all__ = ["METRICS", "RateDistortionLoss", "bits_per_pixel"]

#: Distortion metrics :class:`RateDistortionLoss` supports.
METRICS = ("mse", "ms-ssim")


def _flatten_likelihoods(likelihoods: Any) -> list[Tensor]:
    """The likelihood tensors of ``likelihoods`` (a tensor, or nested dicts/lists of them)."""
    if isinstance(likelihoods, Tensor):
        return [likelihoods]
    if isinstance(likelihoods, Mapping):
        items: Any = likelihoods.values()
    elif isinstance(likelihoods, (list, tuple)):
        items = likelihoods
    else:
        raise ParameterTypeError(
            f"likelihoods must be tensors in dicts or lists, got {type(likelihoods)}"
        )
    return [t for item in items for t in _flatten_likelihoods(item)]


def bits_per_pixel(likelihoods: Any, num_pixels: int) -> Tensor:
    """Estimated rate in bits per pixel: ``sum over latents of -log2(likelihood) / num_pixels``.

    Args:
        likelihoods: ``out["likelihoods"]`` of a model's forward (a dict of tensors, possibly
            nested, or a single tensor).
        num_pixels: ``N * H * W`` of the input batch.

    Returns:
        A scalar tensor (differentiable).
    """
    if num_pixels <= 0:
        raise ParameterError(f"num_pixels must be positive, got {num_pixels}")
    tensors = _flatten_likelihoods(likelihoods)
    if not tensors:
        raise ParameterError("likelihoods holds no tensors")
    total = torch.stack([torch.log(t).sum() for t in tensors]).sum()
    return total / (-math.log(2) * num_pixels)


@register_criterion("RateDistortionLoss")
class RateDistortionLoss(nn.Module):
    """``loss = lmbda * D + bpp``, CompressAI's ``RateDistortionLoss``.

    - ``bpp_loss = sum over latents of sum(log(likelihoods)) / (-ln 2 * N * H * W)``;
    - ``metric="mse"``: ``mse_loss = MSE(x_hat, x)`` and ``loss = lmbda * 255^2 * mse_loss +
      bpp_loss`` (images in [0, 1]);
    - ``metric="ms-ssim"``: ``ms_ssim_loss = MS-SSIM(x_hat, x)`` (data range 1) and
      ``loss = lmbda * (1 - ms_ssim_loss) + bpp_loss``.

    The standard lambdas per quality 1..8 are :data:`tinify.training.LAMBDAS`.

    Args:
        lmbda: the rate-distortion trade-off (higher: more bits, less distortion).
        metric: ``"mse"`` or ``"ms-ssim"``.
        return_type: ``"all"`` returns the dict ``{"bpp_loss", "mse_loss" | "ms_ssim_loss",
            "loss"}``; any key of that dict returns that one tensor.
    """

    def __init__(self, lmbda: float = 0.01, metric: str = "mse", return_type: str = "all"):
        super().__init__()
        if metric not in METRICS:
            raise ParameterError(f"metric must be one of {METRICS}, got {metric!r}")
        distortion = "mse_loss" if metric == "mse" else "ms_ssim_loss"
        if return_type not in ("all", "bpp_loss", "loss", distortion):
            raise ParameterError(
                f'return_type must be "all", "loss", "bpp_loss" or "{distortion}", '
                f"got {return_type!r}"
            )
        self.lmbda = float(lmbda)
        self.metric = metric
        self.return_type = return_type

    def forward(self, output: Mapping[str, Any], target: Tensor) -> Any:
        """Compute the loss of a forward pass.

        Args:
            output: ``model(target)``: ``{"x_hat": (N, C, H, W), "likelihoods": {...}}``.
            target: the input images (N, C, H, W) in [0, 1].

        Returns:
            The dict described in the class docstring, or one of its tensors.
        """
        n, _, h, w = target.shape
        out: dict[str, Tensor] = {"bpp_loss": bits_per_pixel(output["likelihoods"], n * h * w)}
        x_hat = output["x_hat"]
        if self.metric == "mse":
            out["mse_loss"] = torch.mean((x_hat - target) ** 2)
            distortion = 255.0**2 * out["mse_loss"]
        else:
            out["ms_ssim_loss"] = ms_ssim(x_hat, target, data_range=1.0)
            distortion = 1.0 - out["ms_ssim_loss"]
        out["loss"] = self.lmbda * distortion + out["bpp_loss"]
        if self.return_type == "all":
            return out
        return out[self.return_type]
