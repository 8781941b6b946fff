# SPDX-License-Identifier: Apache-2.0
"""Optimizer factories by name (CompressAI's ``compressai.optimizers``).

- :func:`net_aux_optimizer` (``"net_aux"``): ``{"net": ..., "aux": ...}``, the main parameters
  and the entropy bottlenecks' quantiles apart;
- :func:`net_optimizer` (``"net"``): ``{"net": ...}`` over every trainable parameter.

Both take ``(net, conf)`` with ``conf[key] = {"type": "Adam", "lr": ...}``; they are defined in
:mod:`tinify.training.optim`.
"""

from __future__ import annotations

from tinify.optimizers.net import net_optimizer
from tinify.optimizers.net_aux import net_aux_optimizer

__all__ = ["net_aux_optimizer", "net_optimizer"]
