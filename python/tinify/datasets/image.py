# SPDX-License-Identifier: Apache-2.0
"""A folder of images as a dataset (CompressAI's ``ImageFolder``), and per-sample seeding."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Union

import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler

from tinify.exceptions import DatasetNotFoundError, ParameterError
from tinify.io.image import IMAGE_EXTENSIONS, read_image
from tinify.registry.torch import register_dataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFolder",
    "ResumableSampler",
    "SeededDataset",
    "image_files",
    "sample_seed",
]

PathLike = Union[str, Path]


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    """The image files of ``folder`` (suffix in ``IMAGE_EXTENSIONS``, any case), sorted."""
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


@register_dataset("ImageFolder")
class ImageFolder(Dataset):
    """The images of ``root/split``, in sorted order, as RGB PIL images (or transformed).

    CompressAI's layout and signature::

        root/
            train/  img000.png img001.png ...
            test/   img000.png ...

    ``ImageFolder(root)`` reads ``root/train``; an empty split folder gives an empty dataset.
    Tinify extensions: ``split=None`` reads ``root`` itself, ``recursive=True`` also collects
    the images of sub-folders (every split of BSDS500 at once, say), and ``cache=True`` keeps
    decoded images in memory. Files whose suffix is not an image suffix (``IMAGE_EXTENSIONS``,
    any case: a README, ``.DS_Store``) are skipped, where CompressAI would list them and fail
    on reading them. Images are read with :func:`tinify.io.image.read_image` (grey, palette,
    alpha and CMYK images converted to RGB as by Pillow's ``convert("RGB")``; 16-bit ones
    reduced to their top 8 bits).

    Args:
        root: the dataset folder.
        transform: applied to each RGB PIL image (for example a
            :class:`~tinify.datasets.transforms.Compose` of crops and flips, or torchvision's).
        split: sub-folder of ``root`` (``"train"``, ``"test"``, ...), or None for ``root``.
        recursive: also collect images from sub-folders.
        cache: keep the decoded images in memory after the first read (small datasets; each
            DataLoader worker keeps its own copy).

    Raises:
        DatasetNotFoundError: the folder does not exist (a ``RuntimeError``, as CompressAI's,
            and a ``FileNotFoundError``).
    """

    def __init__(
        self,
        root: PathLike,
        transform: Callable[[Image.Image], Any] | None = None,
        split: str | None = "train",
        *,
        recursive: bool = False,
        cache: bool = False,
    ) -> None:
        folder = Path(root) if split is None else Path(root) / split
        if not folder.is_dir():
            raise DatasetNotFoundError(
                f'Missing directory "{folder}": ImageFolder reads root/split (split="train" '
                "by default); pass split=None to read root itself"
            )
        self.samples = image_files(folder, recursive)
        self.root = folder
        self.transform = transform
        self.cache = cache
        self._cache: dict[int, Image.Image] = {}

    def load(self, index: int) -> Image.Image:
        """The ``index``-th image as an RGB PIL image (no transform)."""
        if self.cache and index in self._cache:
            return self._cache[index]
        rgb = read_image(self.samples[index])
        if self.cache:
            self._cache[index] = rgb
        return rgb

    def __getitem__(self, index: int) -> Any:
        image = self.load(index)
        return self.transform(image) if self.transform is not None else image

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, {len(self)} images)"


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """A 63-bit seed for the sample at ``position`` of ``epoch``'s order (SplitMix64 mixing)."""
    mask = (1 << 64) - 1
    z = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + position + 1) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return (z ^ (z >> 31)) >> 1


class SeededDataset(Dataset):
    """Wrap a dataset so that every sample's random transforms have their own seed.

    Items are requested as ``(index, seed)`` pairs (from :class:`ResumableSampler`); the wrapped
    ``dataset[index]`` runs with torch's global generator and Python's :mod:`random` (which
    :class:`~tinify.datasets.VideoFolder` draws from, as CompressAI's) seeded with ``seed``, and
    both are restored afterwards.
    A sample's augmentation then depends only on the training seed, the epoch and its position
    in the epoch: not on the number of DataLoader workers, the process, or whether the run was
    resumed.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, item: tuple[int, int]) -> Any:
        index, seed = item
        state = random.getstate()
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                random.seed(seed)
                return self.dataset[index]
        finally:
            random.setstate(state)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]


class ResumableSampler(DistributedSampler):
    """A :class:`~torch.utils.data.DistributedSampler` that can start mid-epoch and seeds samples.

    The epoch's order is the usual one (a permutation drawn from ``seed + epoch``, padded to a
    multiple of ``num_replicas``, rank ``r`` taking positions ``r, r + R, ...``). Each item is
    ``(index, sample_seed(seed, epoch, global position))`` for :class:`SeededDataset`, and
    :meth:`set_start` skips the first items of the rank's share (to resume exactly).

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: number of processes (default 1; no process group is needed).
        rank: this process's rank.
        shuffle: draw a new order every epoch.
        seed: the training seed.
        drop_last: drop the tail instead of padding it (see ``DistributedSampler``).
    """

    def __init__(
        self,
        dataset: Sequence[Any] | Dataset,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__(
            dataset,  # type: ignore[arg-type]
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip the first ``start`` items of this rank's share in the next iteration(s)."""
        if not 0 <= start <= self.num_samples:
            raise ParameterError(f"start must be in [0, {self.num_samples}], got {start}")
        self.start = int(start)

    def _global_order(self) -> list[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.drop_last:
            return order[: self.total_size]
        padding = self.total_size - len(order)
        while padding > 0:  # repeat the head to pad (possibly several times for tiny datasets)
            order += order[:padding]
            padding = self.total_size - len(order)
        return order

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        order = self._global_order()
        positions = range(self.rank, self.total_size, self.num_replicas)
        for position in list(positions)[self.start :]:
            yield order[position], sample_seed(self.seed, self.epoch, position)

    def __len__(self) -> int:
        return self.num_samples - self.start
