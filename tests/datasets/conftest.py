"""Fixtures for the dataset tests: tiny folders in CompressAI's documented layouts."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image


def pattern_image(height: int, width: int, seed: int) -> np.ndarray:
    """A random 8-bit RGB image (every pixel differs between seeds)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def image_root(tmp_path: Path) -> Path:
    """``root/train`` (four 32x32 PNGs, one greyscale, one RGBA) and ``root/test`` (two)."""
    root = tmp_path / "images"
    for split, count in (("train", 4), ("test", 2)):
        (root / split).mkdir(parents=True)
        for i in range(count):
            image = Image.fromarray(pattern_image(32, 32, 10 * len(split) + i))
            if i == 1:
                image = image.convert("L")
            elif i == 2:
                image = image.convert("RGBA")
            image.save(root / split / f"img{i:03d}.png")
    return root


@pytest.fixture
def vimeo_root(tmp_path: Path) -> Path:
    """A mini ``vimeo_septuplet``: 3 sequences of 7 32x32 frames, lists for both tuplets."""
    root = tmp_path / "vimeo_septuplet"
    names = ["00001/0001", "00001/0002", "00002/0001"]
    for s, name in enumerate(names):
        folder = root / "sequences" / name
        folder.mkdir(parents=True)
        for t in range(1, 8):
            Image.fromarray(pattern_image(32, 32, 100 * s + t)).save(folder / f"im{t}.png")
    for prefix in ("tri", "sep"):
        (root / f"{prefix}_trainlist.txt").write_text(f"{names[0]}\n{names[2]}\n\n")
        (root / f"{prefix}_testlist.txt").write_text(f"{names[1]}\n")
    (root / "train.list").write_text(f"{names[0]}\n{names[2]}\n")
    (root / "test.list").write_text(f"{names[1]}\n")
    return root


@pytest.fixture(scope="session")
def cai_datasets() -> ModuleType:
    """``compressai.datasets`` (skips without CompressAI; its import warnings are muted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pytest.importorskip("compressai")
        module = importlib.import_module("compressai.datasets")
        for name in ("cache", "ndarray", "stack", "utils"):
            importlib.import_module(f"compressai.datasets.{name}")
    return module
