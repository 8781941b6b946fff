# SPDX-License-Identifier: Apache-2.0
"""Validation of a model during training, and rate/quality of the real codec on a folder."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Union

import torch
from torch import Tensor, nn

from tinify.datasets import ImageFolder
from tinify.datasets.transforms import ToTensor
from tinify.exceptions import InputError
from tinify.losses import bits_per_pixel
from tinify.ops import crop, pad_to_multiple
from tinify.utils.metrics import ms_ssim, psnr

__all__ = ["evaluate_codec", "validate"]

PathLike = Union[str, Path]


def _images(source: PathLike | Iterable[Tensor]) -> Iterable[Tensor]:
    """(1, 3, H, W) float images from a folder (sorted) or an iterable of tensors."""
    if isinstance(source, (str, Path)):
        folder = ImageFolder(source, transform=ToTensor(), split=None)
        for i in range(len(folder)):
            yield folder[i].unsqueeze(0)
    else:
        for image in source:
            yield image if image.dim() == 4 else image.unsqueeze(0)


def _factor(model: nn.Module) -> int:
    return int(getattr(model, "downsampling_factor", 64))


@torch.no_grad()
def validate(
    model: nn.Module,
    images: PathLike | Iterable[Tensor],
    lmbda: float,
    metric: str = "mse",
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Rate-distortion of ``model``'s forward pass (rounded latents, estimated rate).

    Each image is zero-padded (centred) to the model's downsampling factor; the reconstruction
    is cropped back and clamped to [0, 1]; the rate counts all latents over the original pixels.
    The model is put in eval mode and returned to its previous mode.

    Returns:
        Means over the images: ``loss`` (the training objective), ``bpp``, ``mse``, ``psnr``
        (mean of per-image PSNRs) and ``ms_ssim``.
    """
    was_training = model.training
    model.eval()
    totals = {"loss": 0.0, "bpp": 0.0, "mse": 0.0, "psnr": 0.0, "ms_ssim": 0.0}
    count = 0
    try:
        for x in _images(images):
            x = x.to(device)
            padded, unpad = pad_to_multiple(x, _factor(model))
            out = model(padded)
            x_hat = crop(out["x_hat"], unpad).clamp(0, 1)
            n, _, h, w = x.shape
            bpp = float(bits_per_pixel(out["likelihoods"], n * h * w))
            mse = float(torch.mean((x_hat - x) ** 2))
            quality = float(ms_ssim(x_hat, x, data_range=1.0))
            distortion = 255.0**2 * mse if metric == "mse" else 1.0 - quality
            totals["loss"] += lmbda * distortion + bpp
            totals["bpp"] += bpp
            totals["mse"] += mse
            totals["psnr"] += psnr(x_hat, x, data_range=1.0)
            totals["ms_ssim"] += quality
            count += 1
    finally:
        model.train(was_training)
    if count == 0:
        raise InputError("no validation images")
    return {k: v / count for k, v in totals.items()}


@torch.no_grad()
def evaluate_codec(model: Any, images: PathLike | Iterable[Tensor]) -> dict[str, Any]:
    """Compress and decompress every image with the real entropy coder.

    ``model`` must have its coding tables (``update()``) and be in eval mode. The rate counts the
    bytes of every string of the image (no container header); the quality is measured on the
    decoded image rounded to 8 bits, as a decoder writing PNGs would give.

    Returns:
        ``{"bpp", "psnr", "ms_ssim"}`` means over the images and ``"per_image"``, a list of
        ``{"bpp", "psnr", "ms_ssim"}`` dicts.
    """
    rows = []
    for x in _images(images):
        out = model.compress(x)
        dec = model.decompress(out["strings"], out["shape"], out["x_size"])
        x_hat = torch.round(dec["x_hat"].clamp(0, 1) * 255.0) / 255.0
        bits = 8 * sum(len(s) for group in out["strings"] for s in group)
        h, w = x.shape[-2:]
        rows.append(
            {
                "bpp": bits / (h * w),
                "psnr": psnr(x_hat, x, data_range=1.0),
                "ms_ssim": float(ms_ssim(x_hat, x, data_range=1.0)),
            }
        )
    if not rows:
        raise InputError("no images to evaluate")
    means = {k: sum(r[k] for r in rows) / len(rows) for k in ("bpp", "psnr", "ms_ssim")}
    return {**means, "per_image": rows}
