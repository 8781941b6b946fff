# SPDX-License-Identifier: Apache-2.0
"""Image-quality metrics on 8-bit RGB values, as CompressAI 1.2.8's evaluation computes them.

- :func:`to_8bit`: ``(x * 255).round().clamp(0, 255)`` for images in [0, 1].
- :func:`psnr`: ``10 log10(peak^2 / MSE)`` over every value of the image.
- :func:`ms_ssim`: multi-scale SSIM of Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale
  structural similarity for image quality assessment", Asilomar 2003: five scales with the
  weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), an 11x11 Gaussian window with sigma 1.5
  (applied as two 1-D passes, "valid" borders), K1 = 0.01 and K2 = 0.03, and 2x2 average pooling
  between scales (odd sizes are zero-padded by one, which the average counts). Contrast-structure
  terms of the four finer scales and the full SSIM of the coarsest scale are clipped at 0 before
  the weighted geometric mean; the result is averaged over channels. These are the conventions of
  the ``pytorch_msssim`` package, which the published results used. The computation is
  :func:`tinify.losses.ms_ssim` (the training loss's) in float64, restricted to the sizes where
  the window fits every scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from tinify.losses.ms_ssim import MS_SSIM_WEIGHTS
from tinify.losses.ms_ssim import ms_ssim as _ms_ssim

__all__ = ["MS_SSIM_WEIGHTS", "ms_ssim", "ms_ssim_min_size", "psnr", "to_8bit"]

_WINDOW = 11
_SIGMA = 1.5


def to_8bit(x: Tensor) -> Tensor:
    """Round an image in [0, 1] to 8-bit values: ``(x * 255).round().clamp(0, 255)``, float."""
    return (x * 255).round().clamp(0, 255)


def psnr(a: Tensor, b: Tensor, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two tensors of the same shape.

    The mean squared error is taken over every element (all channels of all images), in
    float64. Identical inputs give ``inf``.

    Raises:
        ValueError: the shapes differ.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    mse = float(torch.mean((a.double() - b.double()) ** 2))
    if mse == 0:
        return math.inf
    return 20 * math.log10(data_range) - 10 * math.log10(mse)


def ms_ssim_min_size(scales: int = len(MS_SSIM_WEIGHTS), window: int = _WINDOW) -> int:
    """Smallest height and width :func:`ms_ssim` accepts (161 for 5 scales and an 11-tap window).

    The coarsest scale must still be larger than the window after ``scales - 1`` halvings.
    """
    return (window - 1) * 2 ** (scales - 1) + 1


def ms_ssim(
    a: Tensor,
    b: Tensor,
    data_range: float = 255.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
) -> Tensor:
    """Multi-scale SSIM per image (see the module docstring for the exact definition).

    Args:
        a, b: images of shape (N, C, H, W) (or (C, H, W)), values in ``[0, data_range]``; the
            computation runs in float64 on their device.
        data_range: the value range (255 for 8-bit values, 1 for images in [0, 1]).
        weights: one exponent per scale, finest first.

    Returns:
        Float64 tensor of shape (N,) (a 0-d tensor for a single (C, H, W) image).

    Raises:
        ValueError: shapes differ, or an image is smaller than :func:`ms_ssim_min_size`.
    """
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    single = a.dim() == 3
    if single:
        a, b = a.unsqueeze(0), b.unsqueeze(0)
    if a.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W) or (C, H, W), got {tuple(a.shape)}")
    need = ms_ssim_min_size(len(weights))
    if min(a.shape[-2:]) < need:
        raise ValueError(
            f"MS-SSIM with {len(weights)} scales needs images of at least {need}x{need}, got "
            f"{a.size(-2)}x{a.size(-1)}"
        )
    value = _ms_ssim(a.double(), b.double(), data_range, _WINDOW, _SIGMA, weights, reduction="none")
    return value[0] if single else value
