"""benches/gpu_check.py (run on the CPU, small images) and bench_large.py's child runner."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

BENCHES = Path(__file__).resolve().parents[2] / "benches"
KODAK = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kodak"


@pytest.fixture
def benches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHES))


def _import(name: str) -> ModuleType:
    return importlib.import_module(name)


def _table(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]


# -- gpu_check ----------------------------------------------------------------------------------


def test_gpu_check_on_cpu(benches: None, capsys: pytest.CaptureFixture[str]) -> None:
    gpu_check = _import("gpu_check")
    args = ["--device", "cpu", "--images", "2", "--size", "128", "--quality", "1"]
    args += ["--models", "bmshj2018-hyperprior", "--timing-models", "bmshj2018-hyperprior"]
    assert gpu_check.main([*args, "--timing-images", "1"]) == 0
    out = capsys.readouterr().out
    (row,) = _table(out)
    assert row["model"] == "bmshj2018-hyperprior" and row["weights"] == "random q1"
    assert row["exact cpu->cpu#2"] == "2/2" and row["exact cpu#2->cpu"] == "2/2"
    assert re.fullmatch(r"\d+ / \d+", row["tinify mode 1 enc/dec ms (cpu)"])
    assert re.fullmatch(r"\d+ / \d+", row["tinify float enc/dec ms"])
    cai = row["CompressAI 1.2.8 enc/dec ms"]
    if importlib.util.find_spec("compressai") is None:
        assert cai == "absent"
    else:
        assert re.fullmatch(r"\d+ / \d+", cai), cai
    assert "timed on 1 images" in row["note"]


def test_exactness_check_can_fail(benches: None) -> None:
    """A decoder whose hyper synthesis differs rebuilds other latents: not counted exact."""
    gpu_check = _import("gpu_check")
    images, _ = gpu_check.load_images(KODAK, 1, 128)
    model, weights = gpu_check.build_model("default", 1, None, images[0])  # trained, no calibration
    assert weights == "shipped"
    other = gpu_check.clone(model, "cpu")
    with torch.no_grad():
        other.h_s[-2].bias.mul_(3.0)  # the scales' layer (before the final ReLU)
    sides = {"cpu": model, "cpu#2": other}
    probes = {k: gpu_check.LatentProbe(m) for k, m in sides.items()}
    results, _ = gpu_check.check_model(sides, probes, images, deadline=float("inf"))
    for result in results.values():  # other latents, or a stream that does not decode
        assert result.checked == 1 and result.exact == 0
    # and the same pair, unchanged, is exact
    sides = {"cpu": model, "cpu#2": gpu_check.clone(model, "cpu")}
    probes = {k: gpu_check.LatentProbe(m) for k, m in sides.items()}
    results, _ = gpu_check.check_model(sides, probes, images, deadline=float("inf"))
    assert all(r.exact == r.checked == 1 for r in results.values())


def test_same_bits(benches: None) -> None:
    gpu_check = _import("gpu_check")
    a = torch.tensor([0.0, 1.5, -2.0])
    assert gpu_check.same_bits([a], [a.clone()])
    assert not gpu_check.same_bits([a], [torch.tensor([-0.0, 1.5, -2.0])])  # sign of zero
    assert not gpu_check.same_bits([a], [a, a])
    assert not gpu_check.same_bits([], [])  # nothing captured is not a pass


def test_find_weights(benches: None, tmp_path: Path) -> None:
    gpu_check = _import("gpu_check")
    for name in ("mbt2018-mean-3-e2c6b0f3.pth.tar", "mbt2018-mean-5-0a1b2c3d.pth.tar", "x.pth"):
        (tmp_path / name).write_bytes(b"")
    found = gpu_check.find_weights(tmp_path, "mbt2018-mean")
    assert found is not None and found.name.startswith("mbt2018-mean-5-")
    assert gpu_check.find_weights(tmp_path, "mbt2018") is None  # not mbt2018-mean's
    assert gpu_check.find_weights(None, "mbt2018") is None


# -- bench_large --------------------------------------------------------------------------------


def test_child_runs_report_memory_timeouts_and_errors(benches: None, tmp_path: Path) -> None:
    bench_large = _import("bench_large")
    log = tmp_path / "child.log"
    py = sys.executable
    grow = "b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); "
    grow += "print('tinify encode: 1.25 s wall', file=__import__('sys').stderr)"
    run = bench_large.run_child([py, "-c", grow], 60, 0, log)
    assert run.status == "ok" and run.job == 1.25
    assert 200 << 20 <= run.peak < 1 << 30  # the child's own peak, about 200 MiB + Python
    run = bench_large.run_child([py, "-c", "bytearray(4 << 30)"], 60, 1 << 30, log)
    assert run.status == "out of memory", run
    run = bench_large.run_child([py, "-c", "import time; time.sleep(30)"], 0.5, 0, log)
    assert run.status == "timeout" and run.seconds < 10
    run = bench_large.run_child([py, "-c", "raise SystemExit('bad input')"], 60, 0, log)
    assert run.status == "error: bad input"


def test_sizes_photos_and_table(benches: None, tmp_path: Path) -> None:
    bench_large = _import("bench_large")
    assert bench_large.parse_size("12") == (4032, 3024)
    assert bench_large.parse_size("50") == (8192, 6144)
    assert bench_large.parse_size("160x96") == (160, 96)
    with pytest.raises(SystemExit):
        bench_large.parse_size("13")
    if KODAK.is_dir():
        from PIL import Image

        path = bench_large.make_photo(KODAK, 1000, 600, tmp_path / "p.png")
        with Image.open(path) as im, Image.open(KODAK / "kodim01.png") as k1:
            assert im.size == (1000, 600)
            assert im.crop((0, 0, 768, 512)).tobytes() == k1.convert("RGB").tobytes()
    # PSNR by bands of rows equals the whole image's
    import numpy as np
    from PIL import Image

    from tinify.utils.metrics import psnr

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-9, 10, a.shape), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    banded = bench_large.decoded_psnr(tmp_path / "a.png", tmp_path / "b.png", band=64)
    assert banded == pytest.approx(psnr(torch.from_numpy(a), torch.from_numpy(b)), abs=1e-9)
    assert bench_large.decoded_psnr(tmp_path / "a.png", tmp_path / "a.png") == float("inf")

    row = bench_large.Row("default", 6, 12.2, 4032, 3024, "tinify", "fixed", "auto")
    row.encode = [bench_large.Run(30.0, 3 << 30, "ok", 28.0), bench_large.Run(29.0, 2 << 30, "ok")]
    row.decode = [bench_large.Run(5.0, 1 << 30, "out of memory")]
    row.bytes = 1_000_000
    (line,) = _table(bench_large.table([row]))
    assert line["encode s (job)"] == "29.0" and line["encode GiB"] == "3.00"  # best, max peak
    assert line["decode s (job)"] == "out of memory" and line["decode GiB"] == "1.00 at stop"
    assert line["bpp"] == f"{8e6 / (4032 * 3024):.3f}" and line["PSNR dB"] == "-"
    summary = row.summary()
    assert summary["encode"]["seconds"] == 29.0 and summary["decode"]["status"] == "out of memory"


# -- bench_tiles ----------------------------------------------------------------------------------


def test_bench_tiles_runs_tiles(benches: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Forced 64-pixel tiles of a 128x192 image: the table has the ratios and tiny differences."""
    bench_tiles = _import("bench_tiles")
    args = ["--models", "bmshj2018-hyperprior", "--quality", "1", "--size", "192x128"]
    assert bench_tiles.main([*args, "--tile", "64", "--repeat", "1", "--overlap"]) == 0
    (row,) = _table(capsys.readouterr().out)
    assert row["g_a tile"] == "64" and row["g_s tile"] == "64"
    assert re.fullmatch(r"\d+\.\d\dx", row["g_a overlapping / whole"])
    assert re.fullmatch(r"\d+\.\d\dx", row["g_s tiled / whole"])
    diffs = [float(v) for v in row["max diff g_a, g_s"].split(",")]
    assert all(0 <= d < 1e-3 for d in diffs)
