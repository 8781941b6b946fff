# SPDX-License-Identifier: Apache-2.0
"""Data transforms (CompressAI's ``compressai.transforms``): BT.709 colour conversions.

- :class:`RGB2YCbCr`, :class:`YCbCr2RGB`, :class:`YUV444To420`, :class:`YUV420To444`, and their
  functions in :mod:`tinify.transforms.functional`.

CompressAI's point-cloud transforms are not part of tinify.
"""

from __future__ import annotations

from tinify.transforms import functional
from tinify.transforms.transforms import RGB2YCbCr, YCbCr2RGB, YUV420To444, YUV444To420

__all__ = ["RGB2YCbCr", "YCbCr2RGB", "YUV420To444", "YUV444To420", "functional"]
