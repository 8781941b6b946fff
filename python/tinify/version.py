# SPDX-License-Identifier: Apache-2.0
"""The installed Tinify version (``tinify.version.__version__``, as ``compressai.version``).

The number is defined once, as the Cargo workspace's ``package.version``: the Rust extension is
compiled with it (``tinify._core.__version__``) and maturin writes it into the wheel's metadata.
"""

from __future__ import annotations

from tinify._core import __version__

__all__ = ["__version__"]
