# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.bench``: CompressAI's classical-codec benchmark command.

The codec classes are :mod:`tinify.utils.bench.codecs`, the command :mod:`.__main__`; the
measurement is :mod:`tinify.codec.baselines` (the same code as ``tinify codecs``).
"""

from __future__ import annotations
