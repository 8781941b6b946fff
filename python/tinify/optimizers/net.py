# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.optimizers.net`` path: :func:`net_optimizer` (defined in
:mod:`tinify.training.optim`), registered as optimizer ``"net"``."""

from __future__ import annotations

from tinify.registry.torch import register_optimizer
from tinify.training.optim import net_optimizer

__all__ = ["net_optimizer"]

register_optimizer("net")(net_optimizer)
