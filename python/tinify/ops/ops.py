# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.ops.ops`` path: re-exports of :mod:`tinify.ops.padding` and
:mod:`tinify.ops.quantize`."""

from __future__ import annotations

from tinify.ops.padding import compute_padding
from tinify.ops.quantize import quantize_ste

__all__ = ["compute_padding", "quantize_ste"]
