"""Fixtures for the codec tests: tiny random models saved as checkpoints, small images and
clips, and helpers that run the ``tinify`` command and check its error line."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.codec.loading import LoadedModel, load_model_from_checkpoint
from tinify.models import CompressionModel
from tinify.zoo import model_architectures


def tiny_model(name: str = "bmshj2018-hyperprior", seed: int = 0) -> CompressionModel:
    """A randomly initialised model with tiny channel counts, tables built."""
    torch.manual_seed(seed)
    cls = model_architectures[name]
    has_m = "M" in inspect.signature(cls.__init__).parameters
    model = cls(**({"N": 8, "M": 12} if has_m else {"N": 8}))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for m in model.modules():  # masked taps stay zero
            mask = getattr(m, "mask", None)
            weight = getattr(m, "weight", None)
            if isinstance(mask, torch.Tensor) and isinstance(weight, torch.Tensor):
                weight.mul_(mask)
    model.update(force=True)
    return model.eval()


def save_checkpoint(path: Path, name: str = "bmshj2018-hyperprior", seed: int = 0) -> Path:
    torch.save(tiny_model(name, seed).state_dict(), path)
    return path


def smooth_image(height: int, width: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    """A smooth random 8-bit image (something a codec can do a little with)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.02, 0.2, 2).tolist() + [rng.uniform(0, 6.28)]
        wave = 127 + 100 * np.sin(fx * xx + fy * yy + phase)
        channels.append(wave + rng.normal(0, 8, (height, width)))
    array = np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8)
    return Image.fromarray(array, "RGB").convert(mode)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny checkpoints: ``hyperprior``, ``hyperprior-other`` (other seed), ``factorized``."""
    folder = tmp_path_factory.mktemp("checkpoints")
    return {
        "hyperprior": save_checkpoint(folder / "hyper.pth", "bmshj2018-hyperprior", 0),
        "hyperprior-other": save_checkpoint(folder / "hyper2.pth", "bmshj2018-hyperprior", 1),
        "factorized": save_checkpoint(folder / "fact.pth", "bmshj2018-factorized", 0),
    }


@pytest.fixture(scope="session")
def hyperprior(checkpoints: dict[str, Path]) -> LoadedModel:
    """The tiny hyperprior checkpoint, loaded."""
    return load_model_from_checkpoint(checkpoints["hyperprior"], "bmshj2018-hyperprior")


@pytest.fixture
def image_file(tmp_path: Path) -> Callable[..., Path]:
    """``image_file(h, w, seed=0, mode="RGB", name=None)``: a PNG in ``tmp_path``."""

    def make(height: int, width: int, seed: int = 0, mode: str = "RGB", name: str = "") -> Path:
        path = tmp_path / (name or f"img_{height}x{width}_{seed}_{mode}.png")
        smooth_image(height, width, seed, mode).save(path)
        return path

    return make


@pytest.fixture
def make_tiny() -> Callable[..., CompressionModel]:
    """``make_tiny(name, seed=0)``: see :func:`tiny_model`."""
    return tiny_model


@pytest.fixture(scope="session")
def ssf_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, scale_ssf: Callable[[torch.nn.Module], None]
) -> Path:
    """A seeded random ScaleSpaceFlow (``ssf2020``, weights scaled to code something, tables
    built) saved as a state dict."""
    from tinify.models.video import ScaleSpaceFlow

    torch.manual_seed(0)
    model = ScaleSpaceFlow()
    scale_ssf(model)
    model.update(force=True)
    path = tmp_path_factory.mktemp("checkpoints") / "ssf.pth"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def ssf_loaded(ssf_checkpoint: Path) -> LoadedModel:
    """:func:`ssf_checkpoint`, loaded as the command loads it."""
    return load_model_from_checkpoint(ssf_checkpoint, "ssf2020")


def _moving_frames(count: int, height: int, width: int, seed: int = 0) -> list[torch.Tensor]:
    """``count`` RGB frames (1, 3, H, W) in [0, 1]: windows sliding over one smooth image, so
    consecutive frames differ by a small motion; values are multiples of 1/255 (8-bit exact)."""
    image = np.asarray(smooth_image(height + 4 * count, width + 6 * count, seed))
    frames = []
    for i in range(count):
        window = image[2 * i : 2 * i + height, 3 * i : 3 * i + width]
        frames.append(torch.from_numpy(window.copy()).permute(2, 0, 1)[None].float() / 255)
    return frames


def _run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m tinify.codec.cli ARGS`` in a fresh process (same environment, so the same
    ``PYTHONPATH``; offline)."""
    env = {**os.environ, "TINIFY_OFFLINE": "1"}
    env.pop("TINIFY_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "tinify.codec.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _one_error_line(stderr: str, command: str) -> str:
    """The single ``tinify COMMAND: error: ...`` line of ``stderr`` (asserts there is one, and
    no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(f"tinify {command}: error: ")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def _listing(folder: Path) -> set[str]:
    """Names in ``folder`` (hidden temporary files included)."""
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli(*args)``: see :func:`_run_cli`."""
    return _run_cli


@pytest.fixture(scope="session")
def one_error_line() -> Callable[[str, str], str]:
    """``one_error_line(stderr, command)``: see :func:`_one_error_line`."""
    return _one_error_line


@pytest.fixture(scope="session")
def listing() -> Callable[[Path], set[str]]:
    """``listing(folder)``: see :func:`_listing`."""
    return _listing


@pytest.fixture(scope="session")
def moving_frames() -> Callable[..., list[torch.Tensor]]:
    """``moving_frames(count, height, width, seed=0)``: see :func:`_moving_frames`."""
    return _moving_frames
