# SPDX-License-Identifier: Apache-2.0
"""Differentiable SSIM and MS-SSIM in PyTorch.

SSIM is from Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image Quality Assessment:
From Error Visibility to Structural Similarity", IEEE TIP 2004; MS-SSIM from Z. Wang,
E. P. Simoncelli, A. C. Bovik, "Multiscale Structural Similarity for Image Quality Assessment",
Asilomar 2003. The constants are the papers' (11-tap Gaussian window with sigma 1.5,
``K1 = 0.01``, ``K2 = 0.03``, five scales weighted ``0.0448, 0.2856, 0.3001, 0.2363, 0.1333``),
the statistics use "valid" filtering and the scales are 2x2 average pools, so for images of at
least 161x161 the values match the common reference implementations (``pytorch_msssim``, which
CompressAI uses) to float rounding.

Smaller images are accepted too (training crops are often 128x128 or less): at a scale where the
image is narrower than the window, the window is shortened to the image size (a Gaussian of the
same sigma, renormalised). That is a documented extension, not part of the papers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MS_SSIM_WEIGHTS", "ms_ssim", "ssim"]

#: Per-scale exponents of MS-SSIM (Wang et al., 2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_K1 = 0.01
_K2 = 0.03


def _gaussian_taps(size: int, sigma: float, like: Tensor) -> Tensor:
    """Normalised 1-D Gaussian of ``size`` taps (centred), in the dtype/device of ``like``."""
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2.0
    taps = torch.exp(-(coords**2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _blur(x: Tensor, win_size: int, sigma: float) -> Tensor:
    """Separable Gaussian filtering of (N, C, H, W) ``x`` per channel, "valid" borders.

    Channels are folded into the batch so one single-channel kernel does the work (much faster
    on the CPU than a grouped convolution).
    """
    n, c, h, w = x.shape
    taps_h = _gaussian_taps(min(win_size, h), sigma, x)
    taps_w = _gaussian_taps(min(win_size, w), sigma, x)
    flat = x.reshape(n * c, 1, h, w)
    flat = F.conv2d(flat, taps_h.view(1, 1, -1, 1))
    flat = F.conv2d(flat, taps_w.view(1, 1, 1, -1))
    return flat.reshape(n, c, flat.size(-2), flat.size(-1))


def _ssim_and_cs(
    x: Tensor, y: Tensor, data_range: float, win_size: int, sigma: float
) -> tuple[Tensor, Tensor]:
    """Per-image, per-channel SSIM and contrast-structure term, each of shape (N, C)."""
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    # One filter pass over the five local moments; (co)variances are E[ab] - E[a] E[b].
    moments = _blur(torch.cat([x, y, x * x, y * y, x * y]), win_size, sigma)
    mu_x, mu_y, xx, yy, xy = moments.chunk(5)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov_xy = xy - mu_x * mu_y
    # cs = (2 cov + C2) / (var_x + var_y + C2); luminance = (2 mu_x mu_y + C1) / (mu_x^2 + ...).
    cs_map = (2.0 * cov_xy + c2) / (var_x + var_y + c2)
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    ssim_map = luminance * cs_map
    return ssim_map.mean(dim=(-2, -1)), cs_map.mean(dim=(-2, -1))


def _check_pair(x: Tensor, y: Tensor) -> None:
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {y.shape}")
    if x.dim() != 4:
        raise ValueError(f"x and y must be (N, C, H, W), got {tuple(x.shape)}")


def ssim(
    x: Tensor,
    y: Tensor,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    reduction: str = "mean",
) -> Tensor:
    """Single-scale SSIM (Wang et al., 2004) between image batches ``x`` and ``y``.

    Args:
        x, y: (N, C, H, W) tensors with values in ``[0, data_range]``.
        data_range: the dynamic range of the values (1 for [0, 1] images).
        win_size: Gaussian window size (shortened on images smaller than it).
        sigma: Gaussian window standard deviation.
        reduction: ``"mean"`` (a scalar) or ``"none"`` (one value per image, shape (N,)).

    Returns:
        The SSIM, differentiable with respect to both inputs.
    """
    _check_pair(x, y)
    value, _ = _ssim_and_cs(x, y, data_range, win_size, sigma)
    return _reduce(value.mean(dim=1), reduction)


def ms_ssim(
    x: Tensor,
    y: Tensor,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    reduction: str = "mean",
) -> Tensor:
    """Multi-scale SSIM (Wang, Simoncelli and Bovik, 2003) between ``x`` and ``y``.

    ``MS-SSIM = prod_{j < S} relu(cs_j) ** w_j * relu(ssim_S) ** w_S`` per image and channel,
    averaged over channels, where scale ``j + 1`` is the 2x2 average pool of scale ``j``.

    Args:
        x, y: (N, C, H, W) tensors with values in ``[0, data_range]``; H and W >= 2 ** (S - 1)
            for ``S = len(weights)`` scales.
        data_range: the dynamic range of the values (1 for [0, 1] images).
        win_size: Gaussian window size (shortened on scales smaller than it).
        sigma: Gaussian window standard deviation.
        weights: the per-scale exponents, finest first.
        reduction: ``"mean"`` (a scalar) or ``"none"`` (one value per image, shape (N,)).

    Returns:
        The MS-SSIM in [0, 1], differentiable with respect to both inputs.

    Raises:
        ValueError: shapes differ, are not 4-D, or are too small for the number of scales.
    """
    _check_pair(x, y)
    scales = len(weights)
    smallest = min(x.shape[-2:])
    if scales < 1 or smallest < 2 ** (scales - 1):
        raise ValueError(
            f"ms_ssim with {scales} scales needs H and W >= {2 ** (scales - 1)}, "
            f"got {tuple(x.shape[-2:])}"
        )
    w = torch.tensor(list(weights), dtype=x.dtype, device=x.device)
    factors = []
    for j in range(scales):
        if j > 0:
            # Odd sizes are padded by one (zeros counted), as in the reference implementations.
            pad = (x.size(-2) % 2, x.size(-1) % 2)
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
        ssim_j, cs_j = _ssim_and_cs(x, y, data_range, win_size, sigma)
        factors.append(torch.relu(ssim_j if j == scales - 1 else cs_j))
    stacked = torch.stack(factors, dim=0)  # (S, N, C)
    value = torch.prod(stacked ** w.view(-1, 1, 1), dim=0).mean(dim=1)
    return _reduce(value, reduction)


def _reduce(value: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return value.mean()
    if reduction == "none":
        return value
    raise ValueError(f'reduction must be "mean" or "none", got {reduction!r}')
