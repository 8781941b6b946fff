# SPDX-License-Identifier: Apache-2.0
"""Image-quality metrics: PSNR, SSIM and MS-SSIM, for evaluation and as training losses.

One contract for every function here: images are tensors with values in ``[0, data_range]``,
and ``data_range`` defaults to **255**, the range of 8-bit values, as in CompressAI's
``eval_model`` (``psnr(a, b, max_val=255)``) and ``pytorch_msssim`` (``data_range=255``). Pass
``data_range=1.0`` for images in [0, 1] (the models' input and output, and the training loss).

- :func:`to_8bit`: ``(x * 255).round().clamp(0, 255)`` for images in [0, 1].
- :func:`psnr`: ``10 log10(data_range^2 / MSE)`` over every value of the image, in float64.
- :func:`ssim`: SSIM of Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image Quality
  Assessment: From Error Visibility to Structural Similarity", IEEE TIP 2004.
- :func:`ms_ssim`: multi-scale SSIM of Z. Wang, E. P. Simoncelli, A. C. Bovik, "Multiscale
  structural similarity for image quality assessment", Asilomar 2003.

SSIM and MS-SSIM use the papers' constants: an 11-tap Gaussian window with sigma 1.5 (applied
as two 1-D passes, "valid" borders), ``K1 = 0.01``, ``K2 = 0.03``, and for MS-SSIM five scales
weighted ``0.0448, 0.2856, 0.3001, 0.2363, 0.1333`` with 2x2 average pooling between them (odd
sizes are zero-padded by one, which the average counts). Contrast-structure terms of the finer
scales and the full SSIM of the coarsest scale are clipped at 0 before the weighted geometric
mean; the result is averaged over channels. These are the conventions of ``pytorch_msssim``,
which CompressAI and the published results use, so for images of at least
:func:`ms_ssim_min_size` (161x161) the values match it to float rounding. They are
differentiable and run in the dtype and on the device of their inputs.

Smaller images are accepted too (training crops are often 128x128 or less): at a scale where the
image is narrower than the window, the window is shortened to the image size (a Gaussian of the
same sigma, renormalised). That is a documented extension, not part of the papers; ``tinify
eval`` reports no MS-SSIM for such images, as CompressAI cannot compute one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from tinify.exceptions import ParameterError

__all__ = ["MS_SSIM_WEIGHTS", "ms_ssim", "ms_ssim_min_size", "psnr", "ssim", "to_8bit"]

#: Per-scale exponents of MS-SSIM (Wang et al., 2003), finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

_WINDOW = 11
_SIGMA = 1.5
_K1 = 0.01
_K2 = 0.03


def to_8bit(x: Tensor) -> Tensor:
    """Round an image in [0, 1] to 8-bit values: ``(x * 255).round().clamp(0, 255)``, float."""
    return (x * 255).round().clamp(0, 255)


def psnr(a: Tensor, b: Tensor, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two tensors of the same shape.

    The mean squared error is taken over every element (all channels of all images), in
    float64. Identical inputs give ``inf``.

    Args:
        a, b: values in ``[0, data_range]``.
        data_range: the peak value (255 for 8-bit values, 1 for images in [0, 1]).

    Raises:
        ParameterError: the shapes differ (a ``ValueError``).
    """
    if a.shape != b.shape:
        raise ParameterError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    mse = float(torch.mean((a.double() - b.double()) ** 2))
    if mse == 0:
        return math.inf
    return 20 * math.log10(data_range) - 10 * math.log10(mse)


def ms_ssim_min_size(scales: int = len(MS_SSIM_WEIGHTS), window: int = _WINDOW) -> int:
    """Smallest height and width at which :func:`ms_ssim` needs no shortened window (161 for 5
    scales and an 11-tap window), the smallest ``pytorch_msssim`` accepts.

    The coarsest scale must still be larger than the window after ``scales - 1`` halvings.
    """
    return (window - 1) * 2 ** (scales - 1) + 1


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


def _batch(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, bool]:
    """``(x, y)`` as (N, C, H, W) batches, and whether they were a single (C, H, W) image."""
    if x.shape != y.shape:
        raise ParameterError(f"shapes differ: {tuple(x.shape)} and {tuple(y.shape)}")
    single = x.dim() == 3
    if single:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if x.dim() != 4:
        raise ParameterError(f"images must be (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    return x, y, single


def _reduce(value: Tensor, reduction: str, single: bool) -> Tensor:
    if reduction == "mean":
        return value.mean()
    if reduction == "none":
        return value[0] if single else value
    raise ParameterError(f'reduction must be "mean" or "none", got {reduction!r}')


def ssim(
    x: Tensor,
    y: Tensor,
    data_range: float = 255.0,
    win_size: int = _WINDOW,
    sigma: float = _SIGMA,
    reduction: str = "mean",
) -> Tensor:
    """Single-scale SSIM (Wang et al., 2004) between images ``x`` and ``y``.

    Args:
        x, y: (N, C, H, W) or (C, H, W) tensors with values in ``[0, data_range]``.
        data_range: the value range (255 for 8-bit values, 1 for images in [0, 1]).
        win_size: Gaussian window size (shortened on images smaller than it).
        sigma: Gaussian window standard deviation.
        reduction: ``"mean"`` (a scalar) or ``"none"`` (one value per image, shape (N,); a 0-d
            tensor for a (C, H, W) image).

    Returns:
        The SSIM, differentiable with respect to both inputs.

    Raises:
        ParameterError: shapes differ or are not 3-D or 4-D, or an unknown reduction.
    """
    x, y, single = _batch(x, y)
    value, _ = _ssim_and_cs(x, y, data_range, win_size, sigma)
    return _reduce(value.mean(dim=1), reduction, single)


def ms_ssim(
    x: Tensor,
    y: Tensor,
    data_range: float = 255.0,
    win_size: int = _WINDOW,
    sigma: float = _SIGMA,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    reduction: str = "mean",
) -> Tensor:
    """Multi-scale SSIM (Wang, Simoncelli and Bovik, 2003) between ``x`` and ``y``.

    ``MS-SSIM = prod_{j < S} relu(cs_j) ** w_j * relu(ssim_S) ** w_S`` per image and channel,
    averaged over channels, where scale ``j + 1`` is the 2x2 average pool of scale ``j``.

    Args:
        x, y: (N, C, H, W) or (C, H, W) tensors with values in ``[0, data_range]``; H and
            W >= 2 ** (S - 1) for ``S = len(weights)`` scales (>= :func:`ms_ssim_min_size` for
            the papers' window at every scale).
        data_range: the value range (255 for 8-bit values, 1 for images in [0, 1]).
        win_size: Gaussian window size (shortened on scales smaller than it).
        sigma: Gaussian window standard deviation.
        weights: the per-scale exponents, finest first.
        reduction: ``"mean"`` (a scalar) or ``"none"`` (one value per image, shape (N,); a 0-d
            tensor for a (C, H, W) image).

    Returns:
        The MS-SSIM in [0, 1], differentiable with respect to both inputs.

    Raises:
        ParameterError: shapes differ or are not 3-D or 4-D, images too small for the number of
            scales, or an unknown reduction.
    """
    x, y, single = _batch(x, y)
    scales = len(weights)
    smallest = min(x.shape[-2:])
    if scales < 1 or smallest < 2 ** (scales - 1):
        raise ParameterError(
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
    return _reduce(value, reduction, single)
