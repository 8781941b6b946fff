"""The weights tinify trained itself: load, metadata, and real coding of Kodak images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tinify.models import ScaleHyperprior
from tinify.training import evaluate_codec
from tinify.weights import DEFAULT_MODEL, default_weights_path, load_default_model

# The shipped model is small and trained on CPU only: its Kodak mean is 0.917 bpp at 29.20 dB
# (DEFAULT_MODEL["kodak"], pinned by the slow test below). These two images are coded below
# 1 bpp above 28 dB with room to spare (measured 0.691 bpp / 31.80 dB and 0.720 bpp / 32.33 dB).
KODAK_IMAGES = ("kodim03.png", "kodim23.png")


def _kodak(shared_dir: Path) -> Path:
    folder = shared_dir / "data" / "kodak"
    if not folder.is_dir():
        pytest.skip(f"Kodak not found at {folder}")
    return folder


def test_weight_file_is_small_and_named_by_its_hash() -> None:
    path = default_weights_path()
    assert path.is_file()
    assert path.stat().st_size <= 12 * 1024 * 1024
    assert path.name.startswith("tinify-")
    assert path.stem.endswith(DEFAULT_MODEL["sha256"][:8])


def test_default_model_loads_in_eval_mode_with_tables() -> None:
    model = load_default_model()
    assert isinstance(model, ScaleHyperprior) and not model.training
    assert (model.N, model.M) == (DEFAULT_MODEL["N"], DEFAULT_MODEL["M"])
    state = torch.load(default_weights_path(), weights_only=True)
    for key in ("entropy_bottleneck._quantized_cdf", "gaussian_conditional._quantized_cdf"):
        assert state[key].numel() > 0
        torch.testing.assert_close(model.state_dict()[key], state[key])
    for key in ("architecture", "quality", "metric", "lambda", "training", "kodak"):
        assert key in DEFAULT_MODEL


def test_default_model_rejects_a_corrupt_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import tinify.weights as weights

    monkeypatch.setitem(weights.DEFAULT_MODEL, "sha256", "0" * 64)
    with pytest.raises(RuntimeError, match="corrupt"):
        load_default_model()


@pytest.mark.parametrize("name", KODAK_IMAGES)
def test_default_model_codes_kodak_below_1_bpp_above_28_db(shared_dir: Path, name: str) -> None:
    from PIL import Image

    from tinify.datasets.transforms import ToTensor

    with Image.open(_kodak(shared_dir) / name) as image:
        x = ToTensor()(image.convert("RGB"))
    result = evaluate_codec(load_default_model(), [x])
    assert result["bpp"] < 1.0
    assert result["psnr"] > 28.0


@pytest.mark.slow
def test_default_model_kodak_means_match_the_metadata(shared_dir: Path) -> None:
    result = evaluate_codec(load_default_model(), _kodak(shared_dir))
    assert len(result["per_image"]) == 24
    assert result["bpp"] < 1.0
    assert result["psnr"] > 28.0
    recorded = DEFAULT_MODEL["kodak"]
    assert result["bpp"] == pytest.approx(recorded["bpp"], abs=2e-3)
    assert result["psnr"] == pytest.approx(recorded["psnr"], abs=0.02)
