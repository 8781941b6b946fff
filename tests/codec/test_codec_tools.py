"""tinify codecs, plot and the results files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tinify.codec.baselines import CODECS, available_codecs
from tinify.codec.cli import main
from tinify.codec.plot import bd_table, curve, labels_for
from tinify.codec.results import RESULT_KEYS, load_results, results_json, write_results


@pytest.fixture
def dataset(tmp_path: Path, image_file: Callable[..., Path]) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    image_file(64, 72, seed=1, name="images/a.png")
    image_file(48, 40, seed=2, mode="L", name="images/b.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_codecs_on_two_images(
    tmp_path: Path, dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codecs = available_codecs()
    assert {"jpeg", "jpeg444"} <= set(codecs)
    out = tmp_path / "base.json"
    args = ["codecs", str(dataset), "--codec", *codecs, "-q", "30", "80", "-o", str(out)]
    assert main([*args, "--no-progress"]) == 0
    for key in codecs:
        doc = json.loads((tmp_path / f"base-{key}.json").read_text())
        assert doc["name"] == CODECS[key].label
        assert "Pillow" in doc["description"]
        results = doc["results"]
        assert set(RESULT_KEYS) <= set(results)
        assert results["quality"] == [30, 80]
        low, high = results["bpp"]
        assert 0 < low < high, key
        assert results["psnr-rgb"][0] < results["psnr-rgb"][1], key
        assert results["ms-ssim-rgb"] == [None, None]  # tiny images
    jpeg = json.loads((tmp_path / "base-jpeg.json").read_text())["results"]
    j444 = json.loads((tmp_path / "base-jpeg444.json").read_text())["results"]
    assert j444["bpp"][1] > jpeg["bpp"][1]  # no chroma subsampling costs bits


def test_codecs_stdout_single(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codecs", str(dataset), "--codec", "jpeg", "-q", "50", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "JPEG 4:2:0" and len(doc["results"]["bpp"]) == 1


def test_unsupported_codec_message(monkeypatch: pytest.MonkeyPatch, dataset: Path) -> None:
    from tinify.codec import baselines
    from tinify.io.image import InputError

    monkeypatch.setattr(baselines.features, "check", lambda name: name != "avif")
    with pytest.raises(InputError, match="not supported by the installed Pillow"):
        baselines.get_codec("avif")
    assert "avif" not in baselines.available_codecs()


def test_plot_published_kodak(
    tmp_path: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    folder = reference_dir / "results" / "image" / "kodak"
    files = [
        folder / "jpeg.json",
        folder / "compressai-bmshj2018-hyperprior_mse_cuda.json",
        folder / "compressai-mbt2018-mean_mse_cuda.json",
        folder / "paper-bmshj2018-hyperprior.json",
        folder / "paper-elic2022_ms-ssim.json",  # no PSNR: left out with a note
    ]
    out = tmp_path / "rd.png"
    args = ["plot", *map(str, files), "-o", str(out), "--anchor", str(files[0])]
    assert main(args) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    captured = capsys.readouterr()
    assert "elic2022" in captured.err and "not plotted" in captured.err
    table = {line.split()[0]: line for line in captured.out.splitlines()[2:]}
    hyper_rate = float(table["bmshj2018-hyperprior"].split()[1])
    assert -60 < hyper_rate < -30
    assert table["elic2022"].split()[1] == "n/a"

    svg = tmp_path / "rd.svg"
    args = ["plot", *map(str, files[1:]), "-o", str(svg), "--metric", "ms-ssim-rgb"]
    assert main(args) == 0
    assert b"<svg" in svg.read_bytes()[:500]


def test_plot_own_results(tmp_path: Path, dataset: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "base.json"
    args = ["codecs", str(dataset), "--codec", "jpeg", "webp", "-q", "20", "50", "90"]
    assert main([*args, "-o", str(out), "--no-progress"]) == 0
    files = [str(tmp_path / "base-jpeg.json"), str(tmp_path / "base-webp.json")]
    assert main(["plot", *files, "-o", str(tmp_path / "rd.pdf"), "--anchor", files[0]]) == 0
    assert (tmp_path / "rd.pdf").read_bytes().startswith(b"%PDF")


def test_plot_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    doc = results_json("x", "d", [{"bpp": 0.1, "psnr-rgb": 30.0}, {"bpp": 0.2, "psnr-rgb": 32.0}])
    path = tmp_path / "x.json"
    write_results(doc, path)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["plot", str(path), "-o", str(tmp_path / "rd.png")]) == 1
    assert "needs matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "rd.png").exists()


def test_results_layout_and_nulls(tmp_path: Path) -> None:
    points: list[dict[str, Any]] = [
        {"psnr-rgb": float("inf"), "ms-ssim-rgb": None, "bpp": 1.0, "quality": 1},
        {"psnr-rgb": 30.0, "ms-ssim-rgb": 0.9, "bpp": 0.5, "quality": 2},
    ]
    doc = results_json("name", "desc", points)
    assert list(doc) == ["name", "description", "results"]
    assert list(doc["results"])[: len(RESULT_KEYS)] == list(RESULT_KEYS)
    assert doc["results"]["psnr-rgb"] == [None, 30.0]
    path = tmp_path / "r.json"
    write_results(doc, path)
    assert load_results(path)["results"]["bpp"] == [1.0, 0.5]
    assert curve(doc, "psnr-rgb") == ([0.5], [30.0])
    assert curve(doc, "ms-ssim-rgb") == ([0.5], [pytest.approx(10.0)])


def test_labels_and_bd_table() -> None:
    # PSNR = 30 + 3 log2(rate / r0): halving r0 halves the rate and adds exactly 3 dB.
    pairs = ((0.1, 30), (0.2, 33), (0.4, 36))
    a = results_json("m", "", [{"bpp": b, "psnr-rgb": p} for b, p in pairs])
    b = results_json("m", "", [{"bpp": b / 2, "psnr-rgb": p} for b, p in pairs])
    assert labels_for([a, b], ["x/one.json", "y/two.json"]) == ["m (one)", "m (two)"]
    ((_, rate, gain),) = bd_table([b], a)
    assert rate == pytest.approx(-50.0) and gain == pytest.approx(3.0)


@pytest.mark.parametrize(
    "content",
    ['{"name": "x"}', '{"results": {"bpp": [1], "psnr-rgb": [1, 2]}}', "[1, 2]", "{"],
)
def test_load_results_rejects(tmp_path: Path, content: str) -> None:
    from tinify.io.image import InputError

    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InputError):
        load_results(path)
