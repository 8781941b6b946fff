# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.video.plot``: CompressAI's video rate-distortion plotting command.

The names live in :mod:`tinify.utils.video.plot.__main__`.
"""

from __future__ import annotations
