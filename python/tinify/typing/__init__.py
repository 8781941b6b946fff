# SPDX-License-Identifier: Apache-2.0
"""Type aliases used by :mod:`tinify.registry` (CompressAI's ``compressai.typing``)."""

from __future__ import annotations

from collections.abc import Callable

from tinify.typing.torch import (
    TCriterion,
    TDataLoader,
    TDataset,
    TModel,
    TModule,
    TOptimizer,
    TScheduler,
)

__all__ = [
    "TCriterion",
    "TDataLoader",
    "TDataset",
    "TModel",
    "TModule",
    "TOptimizer",
    "TScheduler",
    "TTransform",
]

#: A transform: any callable.
TTransform = Callable
