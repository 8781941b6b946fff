# SPDX-License-Identifier: Apache-2.0
"""Training objectives: the rate-distortion loss, the rate estimate and (MS-)SSIM.

SSIM and MS-SSIM are :mod:`tinify.utils.metrics`'s (re-exported here); their ``data_range``
defaults to 255, so pass ``data_range=1.0`` for images in [0, 1].
"""

from __future__ import annotations

from tinify.losses.rate_distortion import METRICS, RateDistortionLoss, bits_per_pixel
from tinify.losses.utils import compute_rate_loss
from tinify.utils.metrics import MS_SSIM_WEIGHTS, ms_ssim, ssim

__all__ = [
    "METRICS",
    "MS_SSIM_WEIGHTS",
    "RateDistortionLoss",
    "bits_per_pixel",
    "compute_rate_loss",
    "ms_ssim",
    "ssim",
]
