# SPDX-License-Identifier: Apache-2.0
"""Image transforms for training, in plain torch (no torchvision dependency).

They take PIL images, (H, W, C) or (H, W) numpy arrays (as torchvision's ``ToTensor`` does:
what :class:`~tinify.datasets.VideoFolder` hands its transform) or (C, H, W) tensors, and
return tensors. Randomness comes from torch's
global generator (or an explicit ``generator``), so seeding torch makes them reproducible;
:class:`tinify.datasets.SeededDataset` seeds every sample on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.io.image import pil_to_tensor

__all__ = [
    "CenterCrop",
    "Compose",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "ToTensor",
    "pil_to_tensor",
]

ImageLike = Union[Image.Image, np.ndarray, Tensor]


def _as_tensor(image: ImageLike) -> Tensor:
    if isinstance(image, Image.Image):
        return pil_to_tensor(image)
    if isinstance(image, np.ndarray) and image.ndim in (2, 3):
        hwc = image[:, :, None] if image.ndim == 2 else image
        return torch.from_numpy(np.ascontiguousarray(hwc.transpose(2, 0, 1)))
    if isinstance(image, Tensor) and image.dim() >= 2:
        return image
    raise ParameterTypeError(
        "expected a PIL image, an (H, W, C) array or a (C, H, W) tensor, "
        f"got {type(image).__name__}"
    )


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        h, w = size, size
    else:
        h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise ParameterError(f"size must be positive, got {size!r}")
    return h, w


def _randint(high: int, generator: torch.Generator | None) -> int:
    """A uniform integer in [0, high]."""
    return int(torch.randint(0, high + 1, (1,), generator=generator).item())


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: Any) -> Any:
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"{type(self).__name__}([{inner}])"


class ToTensor:
    """PIL image, uint8 (H, W, C) array or uint8 tensor -> float32 tensor (C, H, W) in [0, 1];
    floats pass through."""

    def __call__(self, image: ImageLike) -> Tensor:
        x = _as_tensor(image)
        if x.dtype == torch.uint8:
            return x.to(torch.float32).div_(255.0)
        if not x.is_floating_point():
            raise ParameterTypeError(f"cannot convert a {x.dtype} tensor to [0, 1] floats")
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class RandomCrop:
    """Crop a random ``size`` window (uniform over positions).

    Images smaller than ``size`` are first padded on the bottom/right (``pad_mode`` of
    ``torch.nn.functional.pad``: ``"reflect"``, ``"replicate"`` or ``"constant"`` zeros).

    Args:
        size: ``(height, width)`` or one int for a square.
        pad_mode: how to pad images smaller than ``size``.
        generator: optional torch generator (default: the global one).
    """

    def __init__(
        self,
        size: int | Sequence[int],
        pad_mode: str = "reflect",
        generator: torch.Generator | None = None,
    ) -> None:
        self.size = _pair(size)
        self.pad_mode = pad_mode
        self.generator = generator

    def __call__(self, image: ImageLike) -> Tensor:
        x = _pad_to_at_least(_as_tensor(image), self.size, self.pad_mode)
        h, w = x.shape[-2:]
        th, tw = self.size
        top = _randint(h - th, self.generator)
        left = _randint(w - tw, self.generator)
        return x[..., top : top + th, left : left + tw]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class CenterCrop:
    """Crop the central ``size`` window (padding small images like :class:`RandomCrop`)."""

    def __init__(self, size: int | Sequence[int], pad_mode: str = "reflect") -> None:
        self.size = _pair(size)
        self.pad_mode = pad_mode

    def __call__(self, image: ImageLike) -> Tensor:
        x = _pad_to_at_least(_as_tensor(image), self.size, self.pad_mode)
        h, w = x.shape[-2:]
        th, tw = self.size
        top, left = (h - th) // 2, (w - tw) // 2
        return x[..., top : top + th, left : left + tw]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class _RandomFlip:
    dim = -1

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ParameterError(f"p must be in [0, 1], got {p}")
        self.p = float(p)
        self.generator = generator

    def __call__(self, image: ImageLike) -> Tensor:
        x = _as_tensor(image)
        if torch.rand((), generator=self.generator).item() < self.p:
            x = x.flip(self.dim)
        return x

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right with probability ``p``."""

    dim = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom with probability ``p``."""

    dim = -2


def _pad_to_at_least(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Pad (C, H, W) ``x`` on the bottom/right so that it is at least ``size``."""
    h, w = x.shape[-2:]
    extra_h, extra_w = max(size[0] - h, 0), max(size[1] - w, 0)
    if not (extra_h or extra_w):
        return x
    if mode == "reflect" and (extra_h >= h or extra_w >= w):
        mode = "replicate"  # reflection cannot pad by more than the size
    batched = x.unsqueeze(0)
    dtype = x.dtype
    if not x.is_floating_point():
        batched = batched.float()
    padded = F.pad(batched, (0, extra_w, 0, extra_h), mode=mode)
    return padded.squeeze(0).to(dtype)
