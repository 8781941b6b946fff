# SPDX-License-Identifier: Apache-2.0
"""Minnen et al. (NeurIPS 2018): mean-scale hyperprior and joint autoregressive + hierarchical."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tinify.entropy_models import GaussianMixtureConditional
from tinify.exceptions import ParameterError
from tinify.layers import MaskedConv2d, conv, deconv
from tinify.models.base import CodingOptions
from tinify.models.image.bmshj2018 import ScaleHyperprior
from tinify.models.image.wavefront import (
    CONTEXT_ORDERS,
    FixedArithmetic,
    FloatArithmetic,
    FrontArithmetic,
    compress_latent,
    context_network,
    decompress_latent,
    split_mixture,
)
from tinify.registry.torch import register_model

__all__ = ["JointAutoregressiveHierarchicalPriors", "MeanScaleHyperprior"]

ENTROPY_MODELS = ("gaussian", "mixture")


@register_model("mbt2018-mean")
class MeanScaleHyperprior(ScaleHyperprior):
    r"""Mean-scale hyperprior of D. Minnen, J. Ballé, G. Toderici, "Joint Autoregressive and
    Hierarchical Priors for Learned Image Compression", NeurIPS 2018 (arXiv:1809.02736).

    As :class:`ScaleHyperprior`, but ``h_s`` predicts a mean as well as a scale for every element
    of ``y`` (and ``h_a`` sees ``y`` itself, with LeakyReLUs)::

              ┌─────┐   y   ┌───┐  y_hat  ┌─────┐
        x ──► │ g_a │ ─┬──► │ Q │ ──────► │ g_s │ ──► x_hat
              └─────┘  │    └───┘    ▲    └─────┘
                       │             │ GC(means, scales)
                    ┌─────┐  z  ┌───┐ z_hat ┌─────┐
                    │ h_a │ ──► │ Q │ ────► │ h_s │ ──► (scales, means)
                    └─────┘     └───┘  EB   └─────┘

    ``compress`` returns ``{"strings": [y_strings, z_strings], "shape": z size, "x_size"}``.

    Args:
        N: channels of the hidden layers and of ``z``.
        M: channels of ``y``.
    """

    @staticmethod
    def _hyper_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        h_a = nn.Sequential(
            conv(M, N, kernel_size=3, stride=1),
            nn.LeakyReLU(inplace=True),
            conv(N, N),
            nn.LeakyReLU(inplace=True),
            conv(N, N),
        )
        h_s = nn.Sequential(
            deconv(N, M),
            nn.LeakyReLU(inplace=True),
            deconv(M, M * 3 // 2),
            nn.LeakyReLU(inplace=True),
            conv(M * 3 // 2, M * 2, kernel_size=3, stride=1),
        )
        return h_a, h_s

    def _hyper_input(self, y: Tensor) -> Tensor:
        return y

    def _split_params(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        scales, means = params.chunk(2, dim=1)
        return scales, means


@register_model("mbt2018")
class JointAutoregressiveHierarchicalPriors(MeanScaleHyperprior):
    r"""Joint autoregressive and hierarchical priors of D. Minnen, J. Ballé, G. Toderici,
    NeurIPS 2018 (arXiv:1809.02736).

    The Gaussian parameters of ``y[:, :, h, w]`` come from the hyperprior *and* a causal
    context of already decoded neighbours (a masked 5x5 convolution)::

              ┌─────┐   y   ┌───┐  y_hat          ┌─────┐
        x ──► │ g_a │ ─┬──► │ Q │ ───────┬──────► │ g_s │ ──► x_hat
              └─────┘  │    └───┘        │        └─────┘
                       │       ▲   ┌────────────┐
                       │       │   │ context    │ (masked 5x5)
                       │       │   │ prediction │
                       │       │   └────────────┘
                       │       │          │ ctx
                       │  GC(means,   ┌────────────┐
                       │    scales) ◄─│ entropy    │◄── params
                       │              │ parameters │      ▲
                    ┌─────┐  z ┌───┐  └────────────┘   ┌─────┐
                    │ h_a │ ──►│ Q │ ──── z_hat (EB) ─►│ h_s │
                    └─────┘    └───┘                   └─────┘

    Coding is sequential over the latent. tinify codes whole wavefronts at once (see
    :mod:`tinify.models.image.wavefront`): the same bits as a per-pixel loop in a few dozen
    steps. ``context_order="raster"`` reproduces CompressAI 1.2.8's stream layout instead.

    Args:
        N: channels of the hidden layers and of ``z``.
        M: channels of ``y``.
        entropy_model: ``"gaussian"`` (mean-scale Gaussian, CompressAI's checkpoints) or
            ``"mixture"`` (discretized Gaussian mixture of Cheng et al. 2020: ``entropy_parameters``
            then outputs ``3*K*M`` channels: weights, means, scales, each in K blocks).
        K: mixture components (with ``entropy_model="mixture"``).
        context_order: ``"wavefront"`` (default, fast) or ``"raster"`` (CompressAI's layout);
            the decoder must use the encoder's order. May also be changed on an instance.
    """

    def __init__(
        self,
        N: int = 192,
        M: int = 192,
        *,
        entropy_model: str = "gaussian",
        K: int = 3,
        context_order: str = "wavefront",
    ) -> None:
        super().__init__(N, M)
        if entropy_model not in ENTROPY_MODELS:
            raise ParameterError(
                f"entropy_model must be one of {ENTROPY_MODELS}, got {entropy_model!r}"
            )
        if context_order not in CONTEXT_ORDERS:
            raise ParameterError(
                f"context_order must be one of {CONTEXT_ORDERS}, got {context_order!r}"
            )
        self.entropy_model = entropy_model
        self.context_order = context_order
        if entropy_model == "mixture":
            self.gaussian_conditional = GaussianMixtureConditional(K=K)
        out_channels = M * 2 if entropy_model == "gaussian" else 3 * K * M
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(M * 12 // 3, M * 10 // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(M * 10 // 3, M * 8 // 3, 1),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(M * 8 // 3, out_channels, 1),
        )
        self.context_prediction = MaskedConv2d(M, 2 * M, kernel_size=5, padding=2, stride=1)

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        config = super()._config_from_state_dict(state_dict)
        config.update(entropy_model_from_state_dict(state_dict, config["M"]))
        return config

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        return {"h_s": self.h_s, "entropy_parameters": self.entropy_parameters}

    def _quantize_fixed_networks(self) -> dict[str, Any]:
        nets = super()._quantize_fixed_networks()
        nets["context"] = context_network(self.context_prediction)
        return nets

    def _front_arithmetic(self, options: CodingOptions) -> FrontArithmetic:
        """The arithmetic of the wavefront loop on ``options.entropy_path``."""
        if options.fixed:
            nets = self.fixed_network("context"), self.fixed_network("entropy_parameters")
            return FixedArithmetic(*nets)
        return FloatArithmetic(self.context_prediction, self.entropy_parameters)

    @property
    def mixture(self) -> bool:
        """True with the Gaussian-mixture entropy model."""
        return isinstance(self.gaussian_conditional, GaussianMixtureConditional)

    def forward(self, x: Tensor) -> dict[str, Any]:
        """Return ``{"x_hat", "likelihoods": {"y", "z"}}`` for images (N, 3, H, W).

        In eval mode ``y_hat = round(y)`` here, while coding uses ``round(y - mean) + mean``
        (as CompressAI), so the estimated and the real rates differ slightly.
        """
        y = self.g_a(x)
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        params = self.h_s(z_hat)
        y_hat = self.gaussian_conditional.quantize(y, "noise" if self.training else "dequantize")
        context = self.context_prediction(y_hat)
        gaussian_params = self.entropy_parameters(torch.cat([params, context], dim=1))
        if isinstance(self.gaussian_conditional, GaussianMixtureConditional):
            weights, means, scales = split_mixture(gaussian_params, self.gaussian_conditional.K)
            _, y_likelihoods = self.gaussian_conditional(y, scales, means, weights)
        else:
            scales, means = gaussian_params.chunk(2, dim=1)
            _, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def _hyper_params(self, z_hat: Tensor, options: CodingOptions) -> Tensor:
        """``h_s(z_hat)``: float, or int32 fixed-point on the ``"fixed"`` path."""
        return self._hyper_params_fixed(z_hat, options) if options.fixed else self.h_s(z_hat)

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        y = self._analyze(x, options)
        z = self.h_a(y)
        z_strings, z_hat = self._compress_z(z, options)
        params = self._hyper_params(z_hat, options)
        if params.shape[-2:] != y.shape[-2:]:
            raise ParameterError(
                f"latent {tuple(y.shape[-2:])} is not 4x the hyper-latent "
                f"{tuple(z.shape[-2:])}: the input must be a multiple of 64"
            )
        y_strings, _ = compress_latent(
            y,
            params,
            self.context_prediction,
            self.entropy_parameters,
            self.gaussian_conditional,
            self.context_order,
            arithmetic=self._front_arithmetic(options),
        )
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def _decompress(
        self, strings: Sequence[Sequence[bytes]], shape: tuple[int, int], options: CodingOptions
    ) -> Tensor:
        z_hat = self.entropy_bottleneck.decompress(
            list(strings[1]), shape, stream_chunks=options.stream_chunks
        )
        arithmetic = self._front_arithmetic(options)
        y_hat = decompress_latent(
            list(strings[0]),
            self._hyper_params(z_hat, options),
            self.context_prediction,
            self.entropy_parameters,
            self.gaussian_conditional,
            self.context_order,
            arithmetic=arithmetic,
        )
        y_hat = arithmetic.latent(y_hat, z_hat)  # the fixed path's int32 latent goes here
        return self._synthesize(y_hat, options)


def entropy_model_from_state_dict(state_dict: Mapping[str, Tensor], m: int) -> dict[str, Any]:
    """``entropy_model`` (and ``K``) from the output width of ``entropy_parameters``.

    The last layer is the 1x1 convolution whose input width is ``M * 8 // 3``.
    """
    widths = [
        t.shape[0]
        for k, t in state_dict.items()
        if k.startswith("entropy_parameters.")
        and k.endswith(".weight")
        and t.dim() == 4
        and t.shape[1] == m * 8 // 3
    ]
    if len(widths) != 1:
        raise KeyError("entropy_parameters.*.weight of shape (out, M*8//3, 1, 1)")
    out = int(widths[0])
    if out == 2 * m:
        return {"entropy_model": "gaussian"}
    if out % (3 * m) == 0:
        return {"entropy_model": "mixture", "K": out // (3 * m)}
    raise ParameterError(
        f"entropy_parameters outputs {out} channels, expected 2*M or 3*K*M (M={m})"
    )
