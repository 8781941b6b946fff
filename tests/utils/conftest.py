"""Fixtures for the CompressAI-style utilities: small images, and a tiny hyperprior trained for
a few steps on them (real weights, not random ones: the reconstructions resemble the input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.models import ScaleHyperprior


def smooth_array(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth random 8-bit RGB picture (sines plus a little noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    channels = []
    for _ in range(3):
        fx, fy = rng.uniform(0.02, 0.15, 2)
        wave = 127 + 90 * np.sin(fx * xx + fy * yy + rng.uniform(0, 6.28))
        channels.append(wave + rng.normal(0, 4, (height, width)))
    return np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 64x64 PNG crops."""
    folder = tmp_path_factory.mktemp("images")
    for i in range(3):
        Image.fromarray(smooth_array(64, 64, i)).save(folder / f"crop{i}.png")
    return folder


@pytest.fixture(scope="session")
def trained_checkpoint(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ScaleHyperprior(N=8, M=12) trained for 60 Adam steps on the crops (rate + 255^2 *
    0.05 * MSE), tables built with ``update(force=True)``, saved as a bare state dict."""
    torch.manual_seed(0)
    net = ScaleHyperprior(N=8, M=12)
    x = torch.stack(
        [torch.from_numpy(np.array(Image.open(p))).permute(2, 0, 1).float() / 255
         for p in sorted(image_dir.glob("*.png"))]
    )  # fmt: skip
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is ~10x faster on a loaded machine
    try:
        for _ in range(60):
            out = net(x)
            bits = sum(-torch.log2(lik).sum() for lik in out["likelihoods"].values())
            loss = bits / x[:, 0].numel() + 0.05 * 255**2 * torch.mean((out["x_hat"] - x) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    net.update(force=True)
    path = tmp_path_factory.mktemp("ckpt") / "hyper-trained.pth.tar"
    torch.save(net.state_dict(), path)
    return path
