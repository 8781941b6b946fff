"""The one-word rename: CompressAI's training and evaluation example runs on tinify.

``examples/compressai_train_eval.py`` is kept in CompressAI's spelling. Renaming ``compressai``
to ``tinify`` must give a script that trains, saves, reloads and really codes with tinify; where
CompressAI is installed the original runs too, and both report the same kind of result.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compressai_train_eval.py"
RESULT = re.compile(r"^test: 2 images, (\d+\.\d+) bpp, (-?\d+\.\d+) dB PSNR$", re.M)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for split, count, size in (("train", 4, 96), ("test", 2, 256)):
        (root / split).mkdir(parents=True)
        for i in range(count):
            # Smooth images: a few gradients plus noise, so the model has something to learn.
            yy, xx = np.mgrid[0:size, 0:size] / size
            base = np.stack([xx, yy, (xx + yy) / 2], axis=-1) * 255
            pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / split / f"{i:02d}.png")
    return root


def _run(script: Path, dataset: Path) -> subprocess.CompletedProcess[str]:
    args = ["-d", str(dataset), "--steps", "2", "--batch-size", "2", "--test-images", "2"]
    return subprocess.run(
        [sys.executable, "-W", "ignore", str(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_renamed_script_runs_on_tinify(tmp_path: Path, dataset: Path) -> None:
    pytest.importorskip("torchvision", reason="the example uses torchvision's transforms")
    source = EXAMPLE.read_text()
    assert "compressai" in source and "tinify" not in source.split('"""', 2)[2]
    renamed = tmp_path / "train_eval_tinify.py"
    renamed.write_text(source.replace("compressai", "tinify"))
    result = _run(renamed, dataset)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 2:" in result.stdout
    match = RESULT.search(result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) > 0  # real bytes were written and decoded


def test_the_original_runs_on_compressai(dataset: Path) -> None:
    pytest.importorskip("torchvision", reason="the example uses torchvision's transforms")
    pytest.importorskip("compressai")
    result = _run(EXAMPLE, dataset)
    assert result.returncode == 0, result.stderr[-3000:]
    assert RESULT.search(result.stdout), result.stdout
