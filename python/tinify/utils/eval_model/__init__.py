# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.eval_model``: CompressAI's image evaluation command.

The names live in :mod:`tinify.utils.eval_model.__main__`; the work is done by
:mod:`tinify.codec.evaluate` (the same code as ``tinify eval``).
"""

from __future__ import annotations
