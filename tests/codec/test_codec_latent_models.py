"""``tinify encode/decode --checkpoint`` with the latent-codec models (checkerboard, ELIC)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image

from tinify.codec.cli import main
from tinify.codec.format import unpack
from tinify.codec.loading import load_model_from_checkpoint
from tinify.models import Cheng2020AnchorCheckerboard, Elic2022Official


def _save(path: Path, model: torch.nn.Module) -> Path:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for m in model.modules():
            if isinstance(getattr(m, "mask", None), torch.Tensor):
                m.weight.mul_(m.mask)
    model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("cheng2020-anchor-checkerboard", lambda: Cheng2020AnchorCheckerboard(N=8)),
        ("elic2022-official", lambda: Elic2022Official(N=8, M=24, groups=[4, 4, 16])),
    ],
)
def test_cli_round_trip(
    tmp_path: Path, image_file: Callable[..., Path], name: str, make: Callable[[], torch.nn.Module]
) -> None:
    ckpt = _save(tmp_path / "model.pth", make())
    src = image_file(70, 90)
    tfy, png = tmp_path / "a.tfy", tmp_path / "a.png"
    options = ["--checkpoint", str(ckpt), "-m", name]
    assert main(["encode", str(src), "-o", str(tfy), *options, "--coding", "float"]) == 0
    assert main(["decode", str(tfy), "-o", str(png), "--checkpoint", str(ckpt)]) == 0
    with Image.open(png) as img:
        assert img.size == (90, 70)
    header, streams = unpack(tfy.read_bytes())
    loaded = load_model_from_checkpoint(ckpt, name)
    assert len(streams) == len(loaded.model.latent_names)
    assert header.model == name and header.shapes == ((2, 2),) and header.coding_mode == 0
    # The default coding: fixed-point entropy parameters (coding mode 1).
    fixed = tmp_path / "b.tfy"
    assert main(["encode", str(src), "-o", str(fixed), *options]) == 0
    assert (
        main(["decode", str(fixed), "-o", str(tmp_path / "b.png"), "--checkpoint", str(ckpt)]) == 0
    )
    assert unpack(fixed.read_bytes())[0].coding_mode == 1
