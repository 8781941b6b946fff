# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.plot``: CompressAI's rate-distortion plotting command.

The names live in :mod:`tinify.utils.plot.__main__`; the drawing is :mod:`tinify.codec.plot`
(the same code as ``tinify plot``).
"""

from __future__ import annotations
