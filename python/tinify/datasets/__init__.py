# SPDX-License-Identifier: Apache-2.0
"""Datasets and torch-only transforms for training image codecs.

::

    from tinify.datasets import ImageFolder, transforms as T
    train = ImageFolder("data/", split="train",
                        transform=T.Compose([T.RandomCrop(256), T.RandomHorizontalFlip(),
                                             T.ToTensor()]))
"""

from __future__ import annotations

from tinify.datasets import transforms
from tinify.datasets.image import (
    IMAGE_EXTENSIONS,
    ImageFolder,
    ResumableSampler,
    SeededDataset,
    sample_seed,
)
from tinify.datasets.video import VideoFolder

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFolder",
    "ResumableSampler",
    "SeededDataset",
    "VideoFolder",
    "sample_seed",
    "transforms",
]
