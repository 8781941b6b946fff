# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.version`` path: the package version, ``__version__``."""

from __future__ import annotations

from tinify import __version__

__all__ = ["__version__"]
