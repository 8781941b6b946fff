# SPDX-License-Identifier: Apache-2.0
"""Frame triplets from a Vimeo-90k style folder, for training video codecs (CompressAI's
``VideoFolder``).

Layout (the one CompressAI documents)::

    root/
        train.list          one sequence folder per line, relative to root/sequences
        test.list
        sequences/
            00010/0932/im1.png im2.png ... im7.png
            ...

Each item is one sequence: its first ``num_frames`` frames (3 by default), or every ``k``-th
frame with ``rnd_interval``. The frames are read as RGB, stacked on the last axis into one
(H, W, 3 * num_frames) uint8 array and handed to ``transform`` in one call (so a random crop or
flip is the same for every frame); the result is split along its first axis into a tuple of
``num_frames`` tensors. With ``torchvision.transforms.ToTensor()`` (or
:class:`tinify.datasets.transforms.ToTensor`) followed by a random crop, each frame comes out as
a (3, h, w) float tensor in [0, 1], and a DataLoader batch is the list of (B, 3, h, w) tensors
that :meth:`tinify.models.video.ScaleSpaceFlow.forward` takes::

    from tinify.datasets import VideoFolder
    from tinify.datasets import transforms as T
    clips = VideoFolder("vimeo_septuplet", rnd_interval=True,
                        transform=T.Compose([T.ToTensor(), T.RandomCrop(256)]))
    frames = next(iter(torch.utils.data.DataLoader(clips, batch_size=4, shuffle=True)))
    out = model(frames)                     # frames: [x_0, x_1, x_2], each (4, 3, 256, 256)

The random interval and order come from Python's :mod:`random`, as in CompressAI (seed it, or
wrap the dataset in :class:`tinify.datasets.SeededDataset`, for reproducible items).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from tinify.datasets.image import image_files
from tinify.exceptions import DatasetError, DatasetNotFoundError
from tinify.io.image import read_image
from tinify.registry.torch import register_dataset

__all__ = ["VideoFolder"]

PathLike = Union[str, Path]


@register_dataset("VideoFolder")
class VideoFolder(torch.utils.data.Dataset):
    """Frame triplets (or ``num_frames``-tuples) of the sequences listed in ``root/<split>.list``.

    Args:
        root: the dataset folder (see the module docstring for the layout).
        rnd_interval: take every ``k``-th frame, ``k`` drawn uniformly from 1 to
            ``ceil(n / num_frames)`` for an ``n``-frame sequence (CompressAI's range), capped so
            that the sequence always holds ``num_frames`` frames at that step.
        rnd_temp_order: reverse the frame order with probability 1/2.
        transform: required; takes the (H, W, 3 * num_frames) uint8 array of a whole item and
            returns something ``torch.chunk`` splits into the frames (a (3 * num_frames, h, w)
            tensor, typically).
        split: which list to read: ``root/<split>.list`` (``"train"`` or ``"test"``).
        num_frames: frames per item (tinify extension; CompressAI always takes 3).

    Raises:
        DatasetError: no ``transform`` (a ``RuntimeError``, as in CompressAI).
        DatasetNotFoundError: ``root/<split>.list`` or ``root/sequences`` is missing (a
            ``RuntimeError`` and a ``FileNotFoundError``).

    Reading an item raises :class:`DatasetError` when its sequence holds fewer than
    ``num_frames`` frames or frames of different sizes (CompressAI returns misshaped frames).
    Frame files are the sequence folder's images (``IMAGE_EXTENSIONS``) in name order.
    """

    def __init__(
        self,
        root: PathLike,
        rnd_interval: bool = False,
        rnd_temp_order: bool = False,
        transform: Callable[[np.ndarray], Any] | None = None,
        split: str = "train",
        *,
        num_frames: int = 3,
    ) -> None:
        if transform is None:
            raise DatasetError(
                "Transform must be applied: VideoFolder needs a transform that turns the "
                "(H, W, 3 * num_frames) uint8 array into a tensor, e.g. transforms.ToTensor()"
            )
        if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
            raise DatasetError(f"num_frames must be a positive integer, got {num_frames!r}")
        listing = Path(root) / f"{split}.list"
        folder = Path(root) / "sequences"
        if not listing.is_file():
            raise DatasetNotFoundError(f'Missing file "{listing}" (one sequence per line)')
        if not folder.is_dir():
            raise DatasetNotFoundError(f'Missing directory "{folder}"')
        names = [line.strip() for line in listing.read_text().splitlines()]
        self.sample_folders = [folder / name for name in names if name]
        self.max_frames = num_frames
        self.rnd_interval = rnd_interval
        self.rnd_temp_order = rnd_temp_order
        self.transform = transform

    def _frame_paths(self, index: int) -> list[Path]:
        folder = self.sample_folders[index]
        if not folder.is_dir():
            raise DatasetNotFoundError(f'Missing directory "{folder}" (listed sequence)')
        frames = image_files(folder)
        n, count = len(frames), self.max_frames
        if n < count:
            raise DatasetError(f"{folder} holds {n} frames; VideoFolder items need {count}")
        step = 1
        if self.rnd_interval:
            widest = (n + count - 1) // count
            if count > 1:
                widest = min(widest, (n - 1) // (count - 1))
            step = random.randint(1, widest)
        return frames[::step][:count]

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        """The ``index``-th sequence's frames: a tuple of ``num_frames`` transformed frames."""
        arrays = [np.asarray(read_image(path)) for path in self._frame_paths(index)]
        if any(a.shape != arrays[0].shape for a in arrays):
            sizes = sorted({f"{a.shape[1]}x{a.shape[0]}" for a in arrays})
            raise DatasetError(
                f"the frames of {self.sample_folders[index]} differ in size ({', '.join(sizes)})"
            )
        frames = torch.chunk(self.transform(np.concatenate(arrays, axis=-1)), self.max_frames)
        if self.rnd_temp_order and random.random() < 0.5:
            return frames[::-1]
        return frames

    def __len__(self) -> int:
        return len(self.sample_folders)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} sequences of {self.max_frames} frames)"
