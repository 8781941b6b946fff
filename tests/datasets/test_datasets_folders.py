"""Folder datasets on CompressAI's layouts: ImageFolder, VideoFolder, Vimeo90kDataset,
PreGeneratedMemmapDataset; item for item against CompressAI where it is installed."""

from __future__ import annotations

import random
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.datasets import (
    ImageFolder,
    PreGeneratedMemmapDataset,
    VideoFolder,
    Vimeo90kDataset,
)
from tinify.datasets import transforms as T
from tinify.exceptions import TinifyError


def _transforms(video: bool = False) -> list[Any]:
    """Transforms to compare with: none (images only), tinify's, and torchvision's where
    installed."""
    out: list[Any] = [T.ToTensor(), T.Compose([T.ToTensor(), T.CenterCrop(16)])]
    if not video:
        out.insert(0, None)
    try:
        import torchvision.transforms as tv
    except ImportError:
        return out
    return [*out, tv.ToTensor(), tv.Compose([tv.ToTensor(), tv.CenterCrop(16)])]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, Image.Image):
        return isinstance(b, Image.Image) and a.mode == b.mode and np.array_equal(a, b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return bool(torch.equal(a, b))


def test_image_folder(image_root: Path) -> None:
    train = ImageFolder(image_root)
    assert [p.name for p in train.samples] == [f"img{i:03d}.png" for i in range(4)]
    assert all(train[i].mode == "RGB" and train[i].size == (32, 32) for i in range(4))
    with Image.open(image_root / "train" / "img000.png") as image:
        assert np.array_equal(train[0], image)
    x = ImageFolder(image_root, T.ToTensor(), split="test")[1]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x[0], x[2])  # a greyscale image: three equal channels


def test_vimeo90k(vimeo_root: Path) -> None:
    train = Vimeo90kDataset(vimeo_root)
    assert len(train) == 2 * 3  # two listed sequences (blank line skipped), frames 1-3
    assert [p.relative_to(vimeo_root).as_posix() for p in train.samples[:4]] == [
        "sequences/00001/0001/im1.png",
        "sequences/00001/0001/im2.png",
        "sequences/00001/0001/im3.png",
        "sequences/00002/0001/im1.png",
    ]
    sep = Vimeo90kDataset(vimeo_root, T.ToTensor(), split="valid", tuplet=7)
    assert len(sep) == 7 and sep[6].shape == (3, 32, 32)
    with Image.open(vimeo_root / "sequences/00001/0002/im7.png") as image:
        assert np.array_equal(Vimeo90kDataset(vimeo_root, split="valid", tuplet=7)[6], image)
    with pytest.raises(KeyError, match="tuplet must be 3 or 7") as info:
        Vimeo90kDataset(vimeo_root, tuplet=5)
    assert isinstance(info.value, TinifyError)
    with pytest.raises(KeyError, match="split"):
        Vimeo90kDataset(vimeo_root, split="test")
    with pytest.raises(FileNotFoundError, match="tri_trainlist.txt"):
        Vimeo90kDataset(vimeo_root / "sequences")


def _write_patches(root: Path, name: str, count: int, h: int, w: int) -> np.ndarray:
    patches = np.random.default_rng(count).integers(0, 256, (count, h, w, 3), dtype=np.uint8)
    root.mkdir(exist_ok=True)
    patches.tofile(root / name)
    return patches


def test_pregenerated(tmp_path: Path) -> None:
    train = _write_patches(tmp_path, "training.npy", 5, 16, 24)
    valid = _write_patches(tmp_path, "validation.npy", 2, 16, 16)
    data = PreGeneratedMemmapDataset(tmp_path, image_size=(16, 24))
    assert len(data) == 5 and isinstance(data[3], Image.Image)
    assert np.array_equal(data[3], train[3])
    square = PreGeneratedMemmapDataset(tmp_path, T.ToTensor(), split="valid", image_size=16)
    assert torch.equal(square[1], torch.from_numpy(valid[1]).permute(2, 0, 1) / 255)
    with pytest.raises(TinifyError, match="whole, non-zero number of 16x16"):
        PreGeneratedMemmapDataset(tmp_path, image_size=16)
    with pytest.raises(ValueError, match="split"):
        PreGeneratedMemmapDataset(tmp_path, split="test")
    with pytest.raises(RuntimeError, match="Invalid path"):
        PreGeneratedMemmapDataset(tmp_path / "missing")
    (tmp_path / "sub").mkdir()
    with pytest.raises(FileNotFoundError, match="validation.npy"):
        PreGeneratedMemmapDataset(tmp_path / "sub", split="valid")


# -- against CompressAI -----------------------------------------------------------------------


def test_image_folder_matches_compressai(cai_datasets: ModuleType, image_root: Path) -> None:
    for split in ("train", "test"):
        for transform in _transforms():
            ours = ImageFolder(image_root, transform, split=split)
            theirs = cai_datasets.ImageFolder(image_root, transform, split=split)
            assert len(ours) == len(theirs) > 0
            for i in range(len(ours)):
                assert _equal(ours[i], theirs[i]), (split, transform, i)
    (image_root / "empty").mkdir()
    assert len(ImageFolder(image_root, split="empty")) == 0
    assert len(cai_datasets.ImageFolder(image_root, split="empty")) == 0
    for cls in (ImageFolder, cai_datasets.ImageFolder):
        with pytest.raises(RuntimeError, match="Missing directory"):
            cls(image_root, split="valid")


def test_video_folder_matches_compressai(cai_datasets: ModuleType, vimeo_root: Path) -> None:
    for transform in _transforms(video=True):
        for split in ("train", "test"):
            for flags in ((False, False), (True, True)):
                ours = VideoFolder(vimeo_root, *flags, transform=transform, split=split)
                theirs = cai_datasets.VideoFolder(
                    vimeo_root, *flags, transform=transform, split=split
                )
                assert len(ours) == len(theirs)
                for i in range(len(ours)):
                    for seed in range(6):
                        random.seed(seed)
                        a = ours[i]
                        random.seed(seed)
                        assert _equal(a, theirs[i]), (transform, split, flags, i, seed)
    for cls in (VideoFolder, cai_datasets.VideoFolder):
        with pytest.raises(RuntimeError, match="Transform must be applied"):
            cls(vimeo_root)


def test_vimeo90k_matches_compressai(cai_datasets: ModuleType, vimeo_root: Path) -> None:
    for tuplet in (3, 7):
        for split in ("train", "valid"):
            for transform in _transforms():
                ours = Vimeo90kDataset(vimeo_root, transform, split=split, tuplet=tuplet)
                theirs = cai_datasets.Vimeo90kDataset(vimeo_root, transform, split, tuplet)
                assert [str(p) for p in ours.samples] == theirs.samples
                assert all(_equal(ours[i], theirs[i]) for i in range(len(ours)))


def test_pregenerated_matches_compressai(cai_datasets: ModuleType, tmp_path: Path) -> None:
    _write_patches(tmp_path, "training.npy", 4, 8, 12)
    for transform in _transforms():
        ours = PreGeneratedMemmapDataset(tmp_path, transform, image_size=(8, 12))
        theirs = cai_datasets.PreGeneratedMemmapDataset(tmp_path, transform, image_size=(8, 12))
        assert len(ours) == len(theirs) == 4
        assert all(_equal(ours[i], theirs[i]) for i in range(4))
