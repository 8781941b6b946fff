"""VideoFolder: windows of frames, one crop shared by all frames, intervals, order, layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from tinify.datasets.video import VideoFolder


def _make_sequence(folder: Path, count: int, h: int = 24, w: int = 32) -> None:
    """Frames whose pixels encode position and time: R = column, G = row, B = 10 * frame."""
    folder.mkdir(parents=True)
    cols, rows = np.meshgrid(np.arange(w), np.arange(h))
    for t in range(count):
        rgb = np.stack([cols, rows, np.full_like(cols, 10 * t)], axis=-1).astype(np.uint8)
        Image.fromarray(rgb).save(folder / f"im{t + 1:03d}.png")


def _time(frame: torch.Tensor) -> int:
    return round(float(frame[2].mean()) * 255 / 10)


def test_windows_share_one_crop(tmp_path: Path) -> None:
    _make_sequence(tmp_path / "a", 5)
    _make_sequence(tmp_path / "b", 2)  # shorter than a window: skipped
    _make_sequence(tmp_path / "c", 4)
    data = VideoFolder(tmp_path, num_frames=3, patch_size=(8, 16))
    assert len(data.sequences) == 2 and len(data) == 3 + 2
    torch.manual_seed(0)
    for index in range(len(data)):
        frames = data[index]
        assert len(frames) == 3 and all(f.shape == (3, 8, 16) for f in frames)
        assert all(f.dtype == torch.float32 and 0 <= f.min() and f.max() <= 1 for f in frames)
        start = data.windows[index][1]
        assert [_time(f) for f in frames] == [start, start + 1, start + 2]
        for f in frames[1:]:  # same crop position in every frame
            assert torch.equal(f[:2], frames[0][:2])
    assert "2 sequences" in repr(data)


def test_random_interval_and_order(tmp_path: Path) -> None:
    _make_sequence(tmp_path / "seq", 9)
    data = VideoFolder(tmp_path, rnd_interval=True, rnd_temp_order=True, num_frames=3)
    torch.manual_seed(0)
    steps, reversed_ = set(), 0
    for _ in range(60):
        times = [_time(f) for f in data[6]]  # the last window: moves back for longer steps
        step = times[1] - times[0]
        reversed_ += step < 0
        assert times[2] - times[1] == step and abs(step) in (1, 2, 3)
        assert max(times) <= 8
        steps.add(abs(step))
    assert steps == {1, 2, 3} and 0 < reversed_ < 60
    torch.manual_seed(7)
    first = [f.clone() for f in data[3]]
    torch.manual_seed(7)
    assert all(torch.equal(a, b) for a, b in zip(first, data[3]))  # seeded by torch alone


def test_compressai_list_layout_and_loader(tmp_path: Path) -> None:
    for name in ("00001/0001", "00001/0002", "00002/0001"):
        _make_sequence(tmp_path / "sequences" / name, 3)
    (tmp_path / "train.list").write_text("00001/0001\n00002/0001\n")
    (tmp_path / "test.list").write_text("00001/0002\n")
    train = VideoFolder(tmp_path, split="train", num_frames=2, patch_size=16)
    assert [s.relative_to(tmp_path).as_posix() for s in train.sequences] == [
        "sequences/00001/0001",
        "sequences/00002/0001",
    ]
    assert len(VideoFolder(tmp_path, split="test", num_frames=3)) == 1
    batch = next(iter(DataLoader(train, batch_size=4)))
    assert isinstance(batch, list) and [b.shape for b in batch] == [(4, 3, 16, 16)] * 2


def test_shared_clips(video_dir: Path) -> None:
    data = VideoFolder(video_dir, num_frames=2, patch_size=64)
    assert len(data.sequences) == 6 and len(data) == 6 * 15
    a, b = data[0]
    assert a.shape == b.shape == (3, 64, 64)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        VideoFolder(tmp_path / "missing")
    _make_sequence(tmp_path / "short", 2)
    with pytest.raises(FileNotFoundError, match="at least 3 frames"):
        VideoFolder(tmp_path)
    with pytest.raises(ValueError, match="num_frames"):
        VideoFolder(tmp_path, num_frames=0)
