# SPDX-License-Identifier: Apache-2.0
"""Vimeo-90k frames as a dataset of single images (CompressAI's ``Vimeo90kDataset``).

Vimeo-90k: T. Xue, B. Chen, J. Wu, D. Wei, W. T. Freeman, "Video Enhancement with
Task-Oriented Flow", International Journal of Computer Vision (IJCV), 2019
(http://toflow.csail.mit.edu). The triplet set unpacks to ``vimeo_triplet/`` with
``tri_trainlist.txt``, ``tri_testlist.txt`` and ``sequences/00001/0001/im1.png ... im3.png``;
the septuplet set to ``vimeo_septuplet/`` with ``sep_*list.txt`` and ``im1.png ... im7.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

from PIL import Image
from torch.utils.data import Dataset

from tinify.exceptions import DatasetNotFoundError, UnknownOptionError
from tinify.io.image import read_image
from tinify.registry.torch import register_dataset

__all__ = ["Vimeo90kDataset"]

PathLike = Union[str, Path]

_TUPLET_PREFIX = {3: "tri", 7: "sep"}
_SPLIT_LIST = {"train": "trainlist", "valid": "testlist"}


@register_dataset("Vimeo90kDataset")
class Vimeo90kDataset(Dataset):
    """Every frame of the Vimeo-90k sequences of a split, one RGB PIL image per item.

    Items are ordered by the list file, then by frame: sequence 0's ``im1.png`` to
    ``im{tuplet}.png``, then sequence 1's, ... (``len`` is ``tuplet`` times the number of
    listed sequences).

    Args:
        root: the unpacked ``vimeo_triplet`` or ``vimeo_septuplet`` folder.
        transform: applied to each RGB PIL image.
        split: ``"train"`` (``*_trainlist.txt``) or ``"valid"`` (``*_testlist.txt``).
        tuplet: 3 (triplet set, ``tri_*``) or 7 (septuplet set, ``sep_*``).

    Raises:
        UnknownOptionError: another ``split`` or ``tuplet`` (a ``KeyError``, as in CompressAI).
        DatasetNotFoundError: the list file is missing (a ``FileNotFoundError``).
    """

    def __init__(
        self,
        root: PathLike,
        transform: Callable[[Image.Image], Any] | None = None,
        split: str = "train",
        tuplet: int = 3,
    ) -> None:
        listing = Path(root) / self._list_filename(split, tuplet)
        if not listing.is_file():
            raise DatasetNotFoundError(
                f'Missing file "{listing}": root must be the unpacked Vimeo-90k '
                f"{'triplet' if tuplet == 3 else 'septuplet'} folder"
            )
        names = [line.strip() for line in listing.read_text().splitlines()]
        self.samples = [
            Path(root) / "sequences" / name / f"im{i}.png"
            for name in names
            if name
            for i in range(1, tuplet + 1)
        ]
        self.transform = transform

    def __getitem__(self, index: int) -> Any:
        image = read_image(self.samples[index])
        return self.transform(image) if self.transform is not None else image

    def __len__(self) -> int:
        return len(self.samples)

    @staticmethod
    def _list_filename(split: str, tuplet: int) -> str:
        """The list file of ``split`` and ``tuplet`` (``"tri_trainlist.txt"``, ...)."""
        if tuplet not in _TUPLET_PREFIX:
            raise UnknownOptionError(f"tuplet must be 3 or 7, got {tuplet!r}")
        if split not in _SPLIT_LIST:
            raise UnknownOptionError(f'split must be "train" or "valid", got {split!r}')
        return f"{_TUPLET_PREFIX[tuplet]}_{_SPLIT_LIST[split]}.txt"
