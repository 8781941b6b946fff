# SPDX-License-Identifier: Apache-2.0
"""Type aliases for the PyTorch objects the registries hold (CompressAI's ``typing.torch``)."""

from __future__ import annotations

from typing import Union

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torch.utils.data import DataLoader, Dataset

__all__ = [
    "TCriterion",
    "TDataLoader",
    "TDataset",
    "TModel",
    "TModule",
    "TOptimizer",
    "TScheduler",
]

TCriterion = nn.Module
TDataLoader = DataLoader
TDataset = Dataset
TModel = nn.Module
TModule = nn.Module
# typing.Union: these aliases are evaluated at run time, on Python 3.9 too.
TOptimizer = Union[Optimizer, dict[str, Optimizer]]  # noqa: UP007
TScheduler = Union[ReduceLROnPlateau, LRScheduler]  # noqa: UP007
