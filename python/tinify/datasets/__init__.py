# SPDX-License-Identifier: Apache-2.0
"""Datasets for training and evaluating codecs (CompressAI's ``compressai.datasets``), and
torch-only transforms.

::

    from tinify.datasets import ImageFolder, transforms as T
    train = ImageFolder("data/", split="train",        # data/train/*.png
                        transform=T.Compose([T.RandomCrop(256), T.RandomHorizontalFlip(),
                                             T.ToTensor()]))

Modules as in CompressAI: :mod:`~tinify.datasets.image` (``ImageFolder``),
:mod:`~tinify.datasets.video` (``VideoFolder``), :mod:`~tinify.datasets.vimeo90k`,
:mod:`~tinify.datasets.pregenerated`, :mod:`~tinify.datasets.rawvideo` (raw YUV files),
:mod:`~tinify.datasets.cache`, :mod:`~tinify.datasets.ndarray`, :mod:`~tinify.datasets.stack`
and :mod:`~tinify.datasets.utils` (``download_url``, ``hash_file``). CompressAI's point-cloud
datasets are not provided.
"""

from __future__ import annotations

from tinify.datasets import transforms
from tinify.datasets.cache import CacheDataset
from tinify.datasets.image import (
    IMAGE_EXTENSIONS,
    ImageFolder,
    ResumableSampler,
    SeededDataset,
    sample_seed,
)
from tinify.datasets.ndarray import NdArrayDataset
from tinify.datasets.pregenerated import PreGeneratedMemmapDataset
from tinify.datasets.rawvideo import (
    RawVideoSequence,
    VideoFormat,
    get_num_frms,
    get_raw_video_file_info,
    make_dtype,
)
from tinify.datasets.stack import StackDataset
from tinify.datasets.video import VideoFolder
from tinify.datasets.vimeo90k import Vimeo90kDataset
from tinify.exceptions import (
    DatasetError,
    DatasetNotFoundError,
    SizeMismatchError,
    UnknownOptionError,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "CacheDataset",
    "DatasetError",
    "DatasetNotFoundError",
    "ImageFolder",
    "NdArrayDataset",
    "PreGeneratedMemmapDataset",
    "RawVideoSequence",
    "ResumableSampler",
    "SeededDataset",
    "SizeMismatchError",
    "StackDataset",
    "UnknownOptionError",
    "VideoFolder",
    "VideoFormat",
    "Vimeo90kDataset",
    "get_num_frms",
    "get_raw_video_file_info",
    "make_dtype",
    "sample_seed",
    "transforms",
]
