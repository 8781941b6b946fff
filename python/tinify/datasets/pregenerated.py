# SPDX-License-Identifier: Apache-2.0
"""Pre-cut training patches in one raw uint8 file (CompressAI's ``PreGeneratedMemmapDataset``).

``root/training.npy`` (split ``"train"``) or ``root/validation.npy`` (split ``"valid"``) holds
N patches of H x W RGB pixels, row-major (N, H, W, 3) uint8, *without* an ``.npy`` header
(``array.tofile(path)``). The file is memory-mapped, so the dataset costs no memory up front
and DataLoader workers share the page cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from tinify.exceptions import DatasetError, DatasetNotFoundError, ParameterError
from tinify.registry.torch import register_dataset

__all__ = ["PreGeneratedMemmapDataset"]

PathLike = Union[str, Path]

_FILES = {"train": "training.npy", "valid": "validation.npy"}


@register_dataset("PreGeneratedMemmapDataset")
class PreGeneratedMemmapDataset(Dataset):
    """The patches of a raw (N, H, W, 3) uint8 file, one RGB PIL image (or transformed) each.

    Args:
        root: folder holding ``training.npy`` / ``validation.npy``.
        transform: applied to each patch as an RGB PIL image.
        split: ``"train"`` or ``"valid"``.
        image_size: the patches' ``(H, W)``, or one int for squares.

    Raises:
        DatasetNotFoundError: ``root`` is not a folder (a ``RuntimeError``, as in CompressAI)
            or the split's file is missing (a ``FileNotFoundError``).
        ParameterError: another ``split`` (a ``ValueError``) or a non-positive size.
        DatasetError: the file is empty or not a whole number of patches.
    """

    def __init__(
        self,
        root: PathLike,
        transform: Callable[[Image.Image], Any] | None = None,
        split: str = "train",
        image_size: int | Sequence[int] = (256, 256),
    ) -> None:
        if not Path(root).is_dir():
            raise DatasetNotFoundError(f"Invalid path {root}: not a folder")
        if split not in _FILES:
            raise ParameterError(f'split must be "train" or "valid", got {split!r}')
        height, width = _size_2(image_size)
        path = Path(root) / _FILES[split]
        if not path.is_file():
            raise DatasetNotFoundError(f'Missing file "{path}"')
        patch = height * width * 3
        size = path.stat().st_size
        if size == 0 or size % patch:
            raise DatasetError(
                f"{path}: {size} bytes is not a whole, non-zero number of {height}x{width} RGB "
                f"patches ({patch} bytes each); check image_size"
            )
        self.split = split
        self.transform = transform
        self.shuffle = False
        data = np.memmap(path, mode="r", dtype=np.uint8)
        self.data = data.reshape((-1, height, width, 3))

    def __getitem__(self, index: int) -> Any:
        patch = Image.fromarray(np.asarray(self.data[index]))
        return self.transform(patch) if self.transform is not None else patch

    def __len__(self) -> int:
        return int(self.data.shape[0])


def _size_2(size: int | Sequence[int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ParameterError(f"image_size must be a positive int or (H, W), got {size!r}")
    return int(pair[0]), int(pair[1])
