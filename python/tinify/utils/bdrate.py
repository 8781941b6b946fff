# SPDX-License-Identifier: Apache-2.0
"""Bjøntegaard delta rate and delta PSNR between two rate-distortion curves.

G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", VCEG-M33, 2001.
Each curve is fitted with a cubic polynomial (a lower degree when it has fewer than four points)
and the two fits are integrated over the range where the curves overlap:

- BD-rate: fit ``log(rate)`` as a function of distortion; the mean difference ``d`` of the
  fits over the common distortion interval gives ``100 * (exp(d) - 1)`` percent (negative: the
  test curve needs less rate for the same quality).
- BD-PSNR: fit distortion as a function of ``log10(rate)``; the mean difference over the common
  log-rate interval, in the distortion's unit (dB for PSNR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.polynomial import Polynomial

from tinify.exceptions import ParameterError

__all__ = ["bd_psnr", "bd_rate"]


def _fit(x: np.ndarray, y: np.ndarray) -> Polynomial:
    degree = min(3, len(np.unique(x)) - 1)
    return Polynomial.fit(x, y, degree)


def _check(rate: Sequence[float], dist: Sequence[float], which: str) -> tuple[np.ndarray, ...]:
    r = np.asarray(rate, dtype=np.float64)
    d = np.asarray(dist, dtype=np.float64)
    if r.ndim != 1 or r.shape != d.shape:
        raise ParameterError(f"{which} rates and distortions must be 1-D lists of the same length")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(d))):
        raise ParameterError(f"{which} curve has non-finite values")
    if np.any(r <= 0):
        raise ParameterError(f"{which} rates must be positive")
    if len(np.unique(d)) < 2 or len(np.unique(r)) < 2:
        raise ParameterError(f"{which} curve needs at least two distinct points")
    return r, d


def _mean_gap(xa: np.ndarray, ya: np.ndarray, xt: np.ndarray, yt: np.ndarray, axis: str) -> float:
    """Mean of ``fit_t(x) - fit_a(x)`` over the common ``x`` interval."""
    lo = max(xa.min(), xt.min())
    hi = min(xa.max(), xt.max())
    if not lo < hi:
        raise ParameterError(f"the curves do not overlap in {axis}; BD values are undefined")
    ia = _fit(xa, ya).integ()
    it = _fit(xt, yt).integ()
    return float(((it(hi) - it(lo)) - (ia(hi) - ia(lo))) / (hi - lo))


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_dist: Sequence[float],
    test_rate: Sequence[float],
    test_dist: Sequence[float],
) -> float:
    """Average rate difference of the test curve against the anchor, in percent.

    Args:
        anchor_rate, test_rate: rates (bpp or kbit/s; positive).
        anchor_dist, test_dist: qualities where higher is better (PSNR in dB, MS-SSIM in dB).

    Raises:
        ParameterError: malformed curves, or no overlap in distortion.
    """
    ra, da = _check(anchor_rate, anchor_dist, "anchor")
    rt, dt = _check(test_rate, test_dist, "test")
    gap = _mean_gap(da, np.log(ra), dt, np.log(rt), "quality")
    return 100.0 * math.expm1(gap)


def bd_psnr(
    anchor_rate: Sequence[float],
    anchor_dist: Sequence[float],
    test_rate: Sequence[float],
    test_dist: Sequence[float],
) -> float:
    """Average quality difference of the test curve against the anchor (unit of ``dist``).

    Raises:
        ParameterError: malformed curves, or no overlap in rate.
    """
    ra, da = _check(anchor_rate, anchor_dist, "anchor")
    rt, dt = _check(test_rate, test_dist, "test")
    return _mean_gap(np.log10(ra), da, np.log10(rt), dt, "rate")
