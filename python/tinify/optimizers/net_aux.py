# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.optimizers.net_aux`` path: :func:`net_aux_optimizer` (defined in
:mod:`tinify.training.optim`), registered as optimizer ``"net_aux"``."""

from __future__ import annotations

from tinify.registry.torch import register_optimizer
from tinify.training.optim import net_aux_optimizer

__all__ = ["net_aux_optimizer"]

register_optimizer("net_aux")(net_aux_optimizer)
