"""Fixtures for the codec tests: tiny random models saved as checkpoints, and small images."""

from __future__ import annotations

import inspect
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
