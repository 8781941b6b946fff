# SPDX-License-Identifier: Apache-2.0
"""Training objectives: the rate-distortion loss, the rate estimate and (MS-)SSIM."""

from __future__ import annotations

from tinify.losses.ms_ssim import MS_SSIM_WEIGHTS, ms_ssim, ssim
from tinify.losses.rate_distortion import METRICS, RateDistortionLoss, bits_per_pixel
from tinify.losses.utils import compute_rate_loss

__all__ = [
    "METRICS",
    "MS_SSIM_WEIGHTS",
    "RateDistortionLoss",
    "bits_per_pixel",
    "compute_rate_loss",
    "ms_ssim",
    "ssim",
]
