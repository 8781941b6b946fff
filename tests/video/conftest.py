"""Fixtures for the video tests: a scaled random ScaleSpaceFlow and clips from the shared data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from tinify.models.video import ScaleSpaceFlow

LoadClip = Callable[..., list[torch.Tensor]]


@pytest.fixture(scope="session")
def ssf(scale_ssf: Callable[[nn.Module], None]) -> ScaleSpaceFlow:
    """A seeded, scaled, updated ScaleSpaceFlow in eval mode (shared: do not modify)."""
    torch.manual_seed(0)
    model = ScaleSpaceFlow()
    scale_ssf(model)
    model.update(force=True)
    return model.eval()


@pytest.fixture(scope="session")
def video_dir(shared_dir: Path) -> Path:
    folder = shared_dir / "data" / "video"
    if not folder.is_dir():
        pytest.skip(f"no video clips in {folder}")
    return folder


@pytest.fixture(scope="session")
def load_clip(video_dir: Path) -> LoadClip:
    """``load_clip(name, count, size=None, top=0, left=0)``: RGB frames (1, 3, h, w) in [0, 1]."""
    from tinify.io.video import read_png_frames

    def load(
        name: str, count: int, size: tuple[int, int] | None = None, top: int = 0, left: int = 0
    ) -> list[torch.Tensor]:
        frames = read_png_frames(video_dir / name, count=count)
        if size is None:
            return frames
        h, w = size
        return [f[..., top : top + h, left : left + w].contiguous() for f in frames]

    return load
