"""Fixtures for the training tests: a folder of small smooth images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def smooth_image(height: int, width: int, seed: int) -> np.ndarray:
    """An 8-bit RGB image of low-frequency noise (learnable by a tiny codec)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, height // 8 + 2, width // 8 + 2, generator=g)
    fine = torch.nn.functional.interpolate(
        coarse, size=(height, width), mode="bilinear", align_corners=False
    )
    array = (fine[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    return array


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of 12 PNGs of 48x40 (sorted names img00..img11)."""
    root = tmp_path_factory.mktemp("images")
    for i in range(12):
        Image.fromarray(smooth_image(40, 48, seed=i)).save(root / f"img{i:02d}.png")
    return root


@pytest.fixture(scope="session")
def val_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of two 64x64 PNGs."""
    root = tmp_path_factory.mktemp("val")
    for i in range(2):
        Image.fromarray(smooth_image(64, 64, seed=100 + i)).save(root / f"v{i}.png")
    return root
