# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.models.video.google`` path: the scale-space flow model of
Agustsson et al. (CVPR 2020), re-exported from :mod:`tinify.models.video.ssf2020`."""

from __future__ import annotations

from tinify.models.video.ssf2020 import ScaleSpaceFlow

__all__ = ["ScaleSpaceFlow"]
