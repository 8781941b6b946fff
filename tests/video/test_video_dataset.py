"""VideoFolder: CompressAI's list layout, one transform call per item, intervals, order, errors."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from tinify.datasets import SeededDataset
from tinify.datasets import transforms as T
from tinify.datasets.video import VideoFolder
from tinify.exceptions import TinifyError


def _make_sequence(folder: Path, count: int, h: int = 24, w: int = 32) -> None:
    """Frames whose pixels encode position and time: R = column, G = row, B = 10 * frame."""
    folder.mkdir(parents=True)
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    for t in range(count):
        rgb = np.stack([cols, rows, np.full_like(cols, 10 * t)], axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"im{t + 1}.png")


def _make_layout(root: Path, lengths: dict[str, int], lists: dict[str, list[str]]) -> Path:
    for name, count in lengths.items():
        _make_sequence(root / "sequences" / name, count)
    for split, names in lists.items():
        (root / f"{split}.list").write_text("".join(f"{n}\n" for n in names))
    return root


def _time(frame: torch.Tensor) -> int:
    return round(float(frame[2].mean()) * 255 / 10)


def test_items_are_sequences_with_one_transform_call(tmp_path: Path) -> None:
    root = _make_layout(
        tmp_path,
        {"00001/0001": 7, "00001/0002": 3, "00002/0001": 5},
        {"train": ["00001/0001", "00002/0001"], "test": ["00001/0002"]},
    )
    seen: list[tuple[type, tuple[int, ...], np.dtype]] = []

    def transform(frames: np.ndarray) -> torch.Tensor:
        seen.append((type(frames), frames.shape, frames.dtype))
        return T.Compose([T.ToTensor(), T.RandomCrop((8, 16))])(frames)

    train = VideoFolder(root, transform=transform)  # split="train" by default
    assert len(train) == 2  # sequences, not windows
    assert [p.relative_to(root).as_posix() for p in train.sample_folders] == [
        "sequences/00001/0001",
        "sequences/00002/0001",
    ]
    frames = train[0]
    assert seen == [(np.ndarray, (24, 32, 9), np.dtype(np.uint8))]  # CompressAI's (H, W, 3T)
    assert isinstance(frames, tuple) and len(frames) == 3
    assert all(f.shape == (3, 8, 16) and f.dtype == torch.float32 for f in frames)
    assert [_time(f) for f in frames] == [0, 1, 2]  # the first three frames
    for f in frames[1:]:  # one crop for every frame
        assert torch.equal(f[:2], frames[0][:2])
    test = VideoFolder(root, transform=T.ToTensor(), split="test")
    assert len(test) == 1 and test[0][0].shape == (3, 24, 32)
    batch = next(iter(DataLoader(train, batch_size=2)))
    assert [b.shape for b in batch] == [(2, 3, 8, 16)] * 3


def test_random_interval_and_order(tmp_path: Path) -> None:
    root = _make_layout(tmp_path, {"a": 7, "b": 4}, {"train": ["a", "b"]})
    data = VideoFolder(root, rnd_interval=True, rnd_temp_order=True, transform=T.ToTensor())
    random.seed(0)
    steps, reversed_ = set(), 0
    for _ in range(80):
        times = [_time(f) for f in data[0]]
        step = times[1] - times[0]
        reversed_ += step < 0
        assert times[2] - times[1] == step and min(times) == 0  # starts at the first frame
        steps.add(abs(step))
    assert steps == {1, 2, 3} and 0 < reversed_ < 80  # 7 frames: steps up to ceil(7 / 3)
    for _ in range(20):  # 4 frames: CompressAI's range would allow step 2 (two frames only)
        assert sorted(_time(f) for f in data[1]) == [0, 1, 2]
    seeded = SeededDataset(data)
    first = [f.clone() for f in seeded[(0, 7)]]
    assert all(torch.equal(a, b) for a, b in zip(first, seeded[(0, 7)]))


def test_num_frames_pairs(tmp_path: Path) -> None:
    root = _make_layout(tmp_path, {"a": 5}, {"train": ["a"]})
    pair = VideoFolder(root, transform=T.ToTensor(), num_frames=2)
    assert [_time(f) for f in pair[0]] == [0, 1]


def test_torchvision_pipeline(tmp_path: Path) -> None:
    tv = pytest.importorskip("torchvision.transforms")
    root = _make_layout(tmp_path, {"a": 3}, {"train": ["a"]})
    transform = tv.Compose([tv.ToTensor(), tv.RandomCrop(16)])
    frames = VideoFolder(root, transform=transform)[0]
    assert [f.shape for f in frames] == [(3, 16, 16)] * 3
    assert [_time(f) for f in frames] == [0, 1, 2]


def test_shared_clips(video_dir: Path, tmp_path: Path) -> None:
    names = sorted(p.name for p in video_dir.iterdir() if p.is_dir())[:2]
    (tmp_path / "sequences").mkdir()
    for name in names:
        (tmp_path / "sequences" / name).symlink_to(video_dir / name, target_is_directory=True)
    (tmp_path / "train.list").write_text("\n".join(names) + "\n")
    data = VideoFolder(tmp_path, transform=T.Compose([T.ToTensor(), T.CenterCrop(64)]))
    assert len(data) == 2
    a, b, c = data[1]
    assert a.shape == b.shape == c.shape == (3, 64, 64) and not torch.equal(a, c)


def test_errors(tmp_path: Path) -> None:
    root = _make_layout(tmp_path, {"short": 2, "odd": 3}, {"train": ["short", "gone", "odd"]})
    with pytest.raises(RuntimeError, match="Transform must be applied") as info:
        VideoFolder(root)
    assert isinstance(info.value, TinifyError)
    with pytest.raises(RuntimeError, match="Missing file"):
        VideoFolder(root, transform=T.ToTensor(), split="test")
    data = VideoFolder(root, transform=T.ToTensor())
    assert len(data) == 3  # short sequences still count, as in CompressAI
    with pytest.raises(TinifyError, match="holds 2 frames"):
        data[0]
    with pytest.raises(FileNotFoundError, match="gone"):
        data[1]
    Image.new("RGB", (8, 8)).save(root / "sequences" / "odd" / "im2.png")
    with pytest.raises(TinifyError, match="differ in size"):
        data[2]
    with pytest.raises(TinifyError, match="num_frames"):
        VideoFolder(root, transform=T.ToTensor(), num_frames=0)
    shutil.rmtree(root / "sequences")
    with pytest.raises(RuntimeError, match="Missing directory"):
        VideoFolder(root, transform=T.ToTensor())
