# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.find_close``: CompressAI's command that finds the codec setting
closest to a target bpp, PSNR or MS-SSIM (names in :mod:`.__main__`; the search is
:func:`tinify.codec.baselines.find_quality`)."""

from __future__ import annotations
