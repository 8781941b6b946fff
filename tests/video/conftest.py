"""Fixtures for the video tests: a scaled random ScaleSpaceFlow and clips from the shared data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from tinify.models.video import ScaleSpaceFlow

LoadClip = Callable[..., list[torch.Tensor]]


def scale_weights(model: Any) -> None:
    """Make a random-init ScaleSpaceFlow code something: latents of a few units, coarse
    hyper-latents, scales around 1.5 and flows of ~0.1 (normalised units)."""
    with torch.no_grad():
        for name in ("img", "res", "motion"):
            last = getattr(model, f"{name}_encoder")[6]
            last.weight.mul_(40)
            last.bias.mul_(40)
            hyper = getattr(model, f"{name}_hyperprior")
            hyper.hyper_encoder[4].weight.mul_(30)
            hyper.hyper_encoder[4].bias.mul_(30)
            hyper.hyper_decoder_scale.deconv3.bias.add_(1.5)
        model.motion_decoder[6].weight.mul_(5)


@pytest.fixture(scope="session")
def scale_ssf() -> Callable[[nn.Module], None]:
    """:func:`scale_weights`, for tests that build their own model."""
    return scale_weights


@pytest.fixture(scope="session")
def ssf() -> ScaleSpaceFlow:
    """A seeded, scaled, updated ScaleSpaceFlow in eval mode (shared: do not modify)."""
    torch.manual_seed(0)
    model = ScaleSpaceFlow()
    scale_weights(model)
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
    from tinify.utils.video import read_png_frames

    def load(
        name: str, count: int, size: tuple[int, int] | None = None, top: int = 0, left: int = 0
    ) -> list[torch.Tensor]:
        frames = read_png_frames(video_dir / name, count=count)
        if size is None:
            return frames
        h, w = size
        return [f[..., top : top + h, left : left + w].contiguous() for f in frames]

    return load
