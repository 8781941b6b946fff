# SPDX-License-Identifier: Apache-2.0
"""Video codecs: the scale-space flow model of Agustsson et al. (CVPR 2020), ``ssf2020``.

- :class:`ScaleSpaceFlow`: low-delay P video codec with CompressAI 1.2.8's keys and streams.
- :func:`gaussian_volume`, :func:`warp_volume`: the scale-space volume and its trilinear warp.
"""

from __future__ import annotations

from tinify.models.video.scale_space import (
    gaussian_blur,
    gaussian_kernel1d,
    gaussian_volume,
    warp_volume,
)
from tinify.models.video.ssf2020 import CompressedVideo, Hyperprior, ScaleSpaceFlow

__all__ = [
    "CompressedVideo",
    "Hyperprior",
    "ScaleSpaceFlow",
    "gaussian_blur",
    "gaussian_kernel1d",
    "gaussian_volume",
    "warp_volume",
]
