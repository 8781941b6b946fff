"""``python -m tinify.utils.eval_model``: CompressAI's command line and JSON layout, real
coding, entropy estimation, and the same evaluation split over two gloo processes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tinify.codec.loading import load_model_from_checkpoint
from tinify.utils.eval_model import __main__ as em
from tinify.utils.metrics import psnr as metrics_psnr

RESULT_KEYS = ["psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time", "decoding_time"]


def _run(argv: list[str]) -> dict[str, Any]:
    return em.main(argv)


def test_checkpoint_run_writes_compressai_layout(
    image_dir: Path, trained_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    doc = _run(["checkpoint", str(image_dir), "-a", "bmshj2018-hyperprior",
                "-p", str(trained_checkpoint), str(trained_checkpoint),
                "-d", str(out), "--per-image"])  # fmt: skip
    printed = json.loads(capsys.readouterr().out)
    assert printed == doc
    assert doc["name"] == "bmshj2018-hyperprior-mse"
    assert doc["description"] == "Inference (ans)"
    results = doc["results"]
    assert list(results)[:5] == RESULT_KEYS
    assert all(len(v) == 2 for v in results.values())  # one entry per checkpoint
    assert json.loads((out / "bmshj2018-hyperprior-ans.json").read_text()) == doc
    # 60 training steps take the tiny model from ~5 dB (random weights) to ~9 dB.
    assert results["psnr-rgb"][0] > 8
    assert results["ms-ssim-rgb"] == [None, None]  # 64x64 is too small for 5 scales
    assert results["bpp"][0] == results["bpp"][1] > 0
    # One file per image, CompressAI's per-image layout, and the means agree.
    files = sorted(out.glob("crop*-hyper-trained-ans.json"))
    assert len(files) == 3
    per_image = [json.loads(f.read_text()) for f in files]
    assert {d["source"] for d in per_image} == {"crop0", "crop1", "crop2"}
    assert all(d["description"] == "Inference (ans)" for d in per_image)
    mean_bpp = sum(d["results"]["bpp"] for d in per_image) / 3
    assert results["bpp"][0] == pytest.approx(mean_bpp, rel=1e-12)


def test_inference_counts_the_payload_and_8bit_psnr(
    image_dir: Path, trained_checkpoint: Path
) -> None:
    net = em.load_checkpoint("bmshj2018-hyperprior", False, str(trained_checkpoint))
    x = em.read_image(str(image_dir / "crop1.png"))
    assert x.shape == (3, 64, 64)
    row = em.inference(net, x)
    with torch.no_grad():
        out = net.compress(x[None])
        x_hat = net.decompress(out["strings"], out["shape"])["x_hat"]
    nbytes = sum(len(s[0]) for s in out["strings"])
    assert row["bpp"] == 8 * nbytes / (64 * 64)
    assert row["bpp-file"] > row["bpp"]  # the .tfy header
    ref = metrics_psnr((x[None] * 255).round(), (x_hat * 255).round().clamp(0, 255))
    assert row["psnr-rgb"] == pytest.approx(ref, abs=1e-9)
    assert em.compute_metrics(x[None], x_hat)["psnr-rgb"] == pytest.approx(ref, abs=1e-9)
    assert em.psnr(x, x) == math.inf


def test_matches_compressai_streams(
    image_dir: Path, trained_checkpoint: Path, compressai: Any
) -> None:
    from compressai.zoo.image import model_architectures

    state = torch.load(trained_checkpoint, weights_only=True)
    theirs = model_architectures["bmshj2018-hyperprior"].from_state_dict(state).eval()
    ours = em.load_checkpoint("bmshj2018-hyperprior", True, str(trained_checkpoint))
    x = em.read_image(str(image_dir / "crop2.png"))[None]
    with torch.no_grad():
        strings = theirs.compress(x)["strings"]
    bpp = 8 * sum(len(s[0]) for s in strings) / (64 * 64)
    assert em.inference(ours, x)["bpp"] == bpp


def test_entropy_estimation(image_dir: Path, trained_checkpoint: Path, tmp_path: Path) -> None:
    doc = _run(["checkpoint", str(image_dir), "-a", "bmshj2018-hyperprior",
                "-p", str(trained_checkpoint), "--entropy-estimation"])  # fmt: skip
    assert doc["description"] == "Inference (entropy estimation)"
    net = em.load_checkpoint("bmshj2018-hyperprior", False, str(trained_checkpoint))
    expected = []
    for path in em.collect_images(str(image_dir)):
        with torch.no_grad():
            lik = net(em.read_image(path)[None])["likelihoods"]
        expected.append(sum(float(-torch.log2(v).sum()) for v in lik.values()) / 4096)
    assert doc["results"]["bpp"][0] == pytest.approx(sum(expected) / 3, rel=1e-5)
    assert em.inference_entropy_estimation(net, em.read_image(path))["bpp"] == pytest.approx(
        expected[-1], rel=1e-5
    )


def test_errors_are_clear(
    tmp_path: Path, trained_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        _run(["checkpoint", str(tmp_path), "-a", "bmshj2018-hyperprior", "-p", "x.pth"])
    assert info.value.code == 1
    assert "no images found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run([])
    assert "missing 'checkpoint' or 'pretrained' source" in capsys.readouterr().err
    assert em.collect_images(str(tmp_path / "missing")) == []


def test_python_dash_m(image_dir: Path, trained_checkpoint: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tinify.utils.eval_model", "checkpoint", str(image_dir),
         "-a", "bmshj2018-hyperprior", "-p", str(trained_checkpoint)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"]["bpp"][0] > 0


def _without_times(doc: dict[str, Any]) -> dict[str, Any]:
    results = {k: v for k, v in doc["results"].items() if not k.endswith("_time")}
    per_image = {
        label: [{k: v for k, v in row.items() if not k.endswith("_time")} for row in rows]
        for label, rows in doc.get("per-image", {}).items()
    }
    return {**doc, "results": results, "per-image": per_image}


def test_two_gloo_processes_merge_one_json(
    image_dir: Path,
    trained_checkpoint: Path,
    tmp_path: Path,
    torchrun: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Three images over two ranks (2 + 1): rank 0 writes one file equal to a single run."""
    args = ["checkpoint", str(image_dir), "-a", "bmshj2018-hyperprior",
            "-p", str(trained_checkpoint), "-o", "dist"]  # fmt: skip
    proc = torchrun("tinify.utils.eval_model", [*args, "-d", str(tmp_path / "d")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count('"results"') == 1  # only rank 0 printed
    merged = json.loads((tmp_path / "d" / "dist.json").read_text())
    single = _run([*args, "-d", str(tmp_path / "s")])
    assert _without_times(merged) == _without_times(single)

    # ``tinify eval`` is the same code: per-image rows come back in the dataset's order.
    cli = ["eval", str(image_dir), "--model", "bmshj2018-hyperprior", "--per-image",
           "--checkpoint", str(trained_checkpoint), "--no-progress",
           "--coding", "float"]  # fmt: skip
    proc = torchrun("tinify.codec.cli", [*cli, "-o", str(tmp_path / "cli2.json")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    from tinify.codec.cli import main as tinify_main

    assert tinify_main([*cli, "-o", str(tmp_path / "cli1.json")]) == 0
    two = json.loads((tmp_path / "cli2.json").read_text())
    one = json.loads((tmp_path / "cli1.json").read_text())
    assert [r["image"] for r in two["per-image"]["hyper-trained.pth.tar"]] == [
        "crop0.png", "crop1.png", "crop2.png"
    ]  # fmt: skip
    assert _without_times(two) == _without_times(one)
    assert two["results"]["bpp"] == single["results"]["bpp"]


def test_loaders_return_models(trained_checkpoint: Path) -> None:
    net = em.load_checkpoint("bmshj2018-hyperprior", True, str(trained_checkpoint))
    ref = load_model_from_checkpoint(trained_checkpoint, "bmshj2018-hyperprior").model
    for key, value in ref.state_dict().items():
        assert torch.equal(net.state_dict()[key], value)
