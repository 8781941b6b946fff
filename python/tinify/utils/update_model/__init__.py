# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.update_model``: CompressAI's checkpoint export command.

The names live in :mod:`tinify.utils.update_model.__main__`; the work is done by
:func:`tinify.codec.update.update_checkpoint` (the same code as ``tinify update``).
"""

from __future__ import annotations
