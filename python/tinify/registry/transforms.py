# SPDX-License-Identifier: Apache-2.0
"""The registry of data transforms: ``TRANSFORMS`` and :func:`register_transform`.

``TRANSFORMS`` starts with torchvision's transform classes when torchvision is installed (it is
not a dependency of tinify).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from tinify.registry.torch import make_registrar
from tinify.typing import TTransform

__all__ = ["TRANSFORMS", "register_transform"]


def _torchvision_transforms() -> dict[str, Any]:
    try:
        module = importlib.import_module("torchvision.transforms")
    except ImportError:
        return {}
    return {k: v for k, v in vars(module).items() if k[:1].isupper()}


TRANSFORMS: dict[str, Callable[..., TTransform]] = _torchvision_transforms()

T = TypeVar("T")


def register_transform(name: str) -> Callable[[T], T]:
    """Decorator: file a transform class under ``name`` in ``TRANSFORMS``."""
    return make_registrar(TRANSFORMS, name)
