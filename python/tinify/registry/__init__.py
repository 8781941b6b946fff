# SPDX-License-Identifier: Apache-2.0
"""Registries: names -> classes, filled by ``register_*`` decorators (CompressAI's
``compressai.registry``).

- ``MODELS`` (``"bmshj2018-factorized"``, ... ``"ssf2020"``), ``CRITERIONS``
  (``"RateDistortionLoss"``), ``DATASETS``, ``MODULES``, ``OPTIMIZERS`` (``torch.optim`` plus
  ``"net"`` and ``"net_aux"``), ``SCHEDULERS`` (``torch.optim.lr_scheduler``), ``TRANSFORMS``
  (torchvision's, when installed);
- :func:`register_model`, :func:`register_criterion`, :func:`register_dataset`,
  :func:`register_module`, :func:`register_optimizer`, :func:`register_scheduler`,
  :func:`register_transform`.

Reading a dictionary here (``from tinify.registry import MODELS``) first imports tinify's own
models, losses, datasets and optimizers, so that everything tinify registers is listed, as
after ``import compressai``.
"""

from __future__ import annotations

import importlib
from typing import Any

from tinify.registry import torch as _torch_registry
from tinify.registry import transforms as _transforms_registry
from tinify.registry.torch import (
    register_criterion,
    register_dataset,
    register_model,
    register_module,
    register_optimizer,
    register_scheduler,
)
from tinify.registry.transforms import register_transform

__all__ = [
    "CRITERIONS",
    "DATASETS",
    "MODELS",
    "MODULES",
    "OPTIMIZERS",
    "SCHEDULERS",
    "TRANSFORMS",
    "register_criterion",
    "register_dataset",
    "register_model",
    "register_module",
    "register_optimizer",
    "register_scheduler",
    "register_transform",
]

#: Modules whose import registers tinify's own entries.
BUILTIN_PROVIDERS = ("tinify.models", "tinify.losses", "tinify.datasets", "tinify.optimizers")

_REGISTRIES = {
    "CRITERIONS": _torch_registry,
    "DATASETS": _torch_registry,
    "MODELS": _torch_registry,
    "MODULES": _torch_registry,
    "OPTIMIZERS": _torch_registry,
    "SCHEDULERS": _torch_registry,
    "TRANSFORMS": _transforms_registry,
}


def __getattr__(name: str) -> Any:
    # The dictionaries are served lazily: the providers import this package to register, so
    # importing them from here at module level would be circular.
    if name in _REGISTRIES:
        for provider in BUILTIN_PROVIDERS:
            importlib.import_module(provider)
        return getattr(_REGISTRIES[name], name)
    raise AttributeError(f"module 'tinify.registry' has no attribute {name!r}")
