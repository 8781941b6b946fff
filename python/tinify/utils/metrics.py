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
  the ``pytorch_msssim`` package, which the published results used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MS_SSIM_WEIGHTS", "ms_ssim", "ms_ssim_min_size", "psnr", "to_8bit"]

#: Scale weights of Wang et al. (finest scale first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WINDOW = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03


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


def _gaussian(window: int, sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Normalized 1-D Gaussian taps, centred on the middle tap."""
    t = torch.arange(window, dtype=dtype, device=device) - (window - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: Tensor, taps: Tensor) -> Tensor:
    """Separable Gaussian filter of every channel, "valid" borders: (B, C, H, W) -> smaller.

    Channels are folded into the batch so a single-channel kernel does the work (much faster
    on the CPU than a grouped convolution).
    """
    b, c, h, w = x.shape
    k = taps.numel()
    flat = x.reshape(b * c, 1, h, w)
    flat = F.conv2d(flat, taps.view(1, 1, 1, k))
    flat = F.conv2d(flat, taps.view(1, 1, k, 1))
    return flat.reshape(b, c, h - k + 1, w - k + 1)


def _ssim_terms(a: Tensor, b: Tensor, taps: Tensor, data_range: float) -> tuple[Tensor, Tensor]:
    """Mean SSIM and mean contrast-structure term per image and channel, each (N, C)."""
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    # One filter pass over the five local moments.
    mu_a, mu_b, aa, bb, ab = _blur(torch.cat([a, b, a * a, b * b, a * b]), taps).chunk(5)
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    luminance = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    return (luminance * cs).mean(dim=(-2, -1)), cs.mean(dim=(-2, -1))


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
    a, b = a.double(), b.double()
    taps = _gaussian(_WINDOW, _SIGMA, a.dtype, a.device)
    terms = []
    for level in range(len(weights)):
        ssim, cs = _ssim_terms(a, b, taps, data_range)
        if level == len(weights) - 1:
            terms.append(torch.relu(ssim))
            break
        terms.append(torch.relu(cs))
        pad = [size % 2 for size in a.shape[-2:]]
        a = F.avg_pool2d(a, kernel_size=2, padding=pad)
        b = F.avg_pool2d(b, kernel_size=2, padding=pad)
    w = torch.tensor(list(weights), dtype=torch.float64, device=a.device).view(-1, 1, 1)
    value = torch.prod(torch.stack(terms) ** w, dim=0).mean(dim=1)
    return value[0] if single else value
