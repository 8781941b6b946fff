# SPDX-License-Identifier: Apache-2.0
"""Name -> class registries for models, losses, datasets, modules, optimizers and schedulers.

Each ``register_*(name)`` returns a decorator that files the decorated class (or factory) under
``name`` and returns it unchanged::

    from tinify.registry import register_model

    @register_model("my-model")
    class MyModel(CompressionModel): ...

The dictionaries themselves are read from :mod:`tinify.registry` (``tinify.registry.MODELS``),
which first imports tinify's own models, losses and optimizers so that they are listed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import optim
from torch.optim import lr_scheduler

from tinify.typing import TCriterion, TDataset, TModel, TModule, TOptimizer, TScheduler

__all__ = [
    "CRITERIONS",
    "DATASETS",
    "MODELS",
    "MODULES",
    "OPTIMIZERS",
    "SCHEDULERS",
    "make_registrar",
    "register_criterion",
    "register_dataset",
    "register_model",
    "register_module",
    "register_optimizer",
    "register_scheduler",
]


def _public_classes(namespace: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in namespace.items() if k[:1].isupper()}


CRITERIONS: dict[str, Callable[..., TCriterion]] = {}
DATASETS: dict[str, Callable[..., TDataset]] = {}
MODELS: dict[str, Callable[..., TModel]] = {}
MODULES: dict[str, Callable[..., TModule]] = {}
#: Every ``torch.optim`` class by name, plus ``"net"`` and ``"net_aux"`` (:mod:`tinify.optimizers`).
OPTIMIZERS: dict[str, Callable[..., TOptimizer]] = _public_classes(vars(optim))
#: Every ``torch.optim.lr_scheduler`` class by name.
SCHEDULERS: dict[str, Callable[..., TScheduler]] = _public_classes(vars(lr_scheduler))

T = TypeVar("T")


def make_registrar(registry: dict[str, Any], name: str) -> Callable[[T], T]:
    """A decorator that files its argument under ``name`` in ``registry`` and returns it."""

    def decorator(obj: T) -> T:
        registry[name] = obj
        return obj

    return decorator


def register_criterion(name: str) -> Callable[[T], T]:
    """Decorator: file a loss class under ``name`` in ``CRITERIONS``."""
    return make_registrar(CRITERIONS, name)


def register_dataset(name: str) -> Callable[[T], T]:
    """Decorator: file a dataset class under ``name`` in ``DATASETS``."""
    return make_registrar(DATASETS, name)


def register_model(name: str) -> Callable[[T], T]:
    """Decorator: file a model class under ``name`` in ``MODELS``."""
    return make_registrar(MODELS, name)


def register_module(name: str) -> Callable[[T], T]:
    """Decorator: file a module class under ``name`` in ``MODULES``."""
    return make_registrar(MODULES, name)


def register_optimizer(name: str) -> Callable[[T], T]:
    """Decorator: file an optimizer (class or factory) under ``name`` in ``OPTIMIZERS``."""
    return make_registrar(OPTIMIZERS, name)


def register_scheduler(name: str) -> Callable[[T], T]:
    """Decorator: file a learning-rate scheduler class under ``name`` in ``SCHEDULERS``."""
    return make_registrar(SCHEDULERS, name)
