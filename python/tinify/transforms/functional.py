# SPDX-License-Identifier: Apache-2.0
"""Colour conversions as functions (CompressAI's ``compressai.transforms.functional``).

ITU-R BT.709, full range, chroma centred at 0.5; implemented in :mod:`tinify.io.video`, which
the video codecs' file readers and writers use too.

- :func:`rgb2ycbcr`, :func:`ycbcr2rgb`: (N, 3, H, W) or (3, H, W) floating-point tensors.
- :func:`yuv_444_to_420` (``mode="avg_pool"``), :func:`yuv_420_to_444` (``mode="bilinear"``,
  ``"bicubic"`` or ``"nearest"``, ``return_tuple``).
"""

from __future__ import annotations

from tinify.io.video import rgb2ycbcr, ycbcr2rgb, yuv_420_to_444, yuv_444_to_420

__all__ = ["rgb2ycbcr", "ycbcr2rgb", "yuv_420_to_444", "yuv_444_to_420"]
