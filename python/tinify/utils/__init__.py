# SPDX-License-Identifier: Apache-2.0
"""Utilities.

- :mod:`tinify.utils.metrics`: PSNR and MS-SSIM on 8-bit values.
- :mod:`tinify.utils.bdrate`: Bjøntegaard delta rate and PSNR.
"""

from __future__ import annotations
