"""``python -m tinify.utils.update_model`` and ``tinify.utils.plot`` / ``video.plot``."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

from tinify.models import ScaleHyperprior
from tinify.utils.plot import __main__ as plot
from tinify.utils.update_model import __main__ as update_model
from tinify.utils.video.plot import __main__ as video_plot


@pytest.fixture
def stale_checkpoint(tmp_path: Path) -> Path:
    """A training checkpoint (``{"state_dict": ...}``) whose tables are not built."""
    torch.manual_seed(1)
    path = tmp_path / "run7.pth.tar"
    torch.save({"state_dict": ScaleHyperprior(N=8, M=12).state_dict(), "epoch": 3}, path)
    return path


def test_update_model_names_the_file_by_its_hash(stale_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "weights"
    path = update_model.main([str(stale_checkpoint), "-a", "bmshj2018-hyperprior", "-d", str(out)])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert path == out / f"run7-{digest[:8]}.pth.tar"  # CompressAI keeps the input's suffixes
    assert update_model.sha256_file(path) == digest[:8]
    assert update_model.sha256_file(path, 12) == digest[:12]
    state = torch.load(path, weights_only=True)
    assert state["entropy_bottleneck._quantized_cdf"].numel() > 0  # tables built
    net = ScaleHyperprior.from_state_dict(state)  # strict load of the plain state dict
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out_ = net.compress(x)
        assert net.decompress(out_["strings"], out_["shape"])["x_hat"].shape == x.shape


def test_update_model_name_alias_and_no_update(tmp_path: Path) -> None:
    torch.manual_seed(2)
    net = ScaleHyperprior(N=8, M=12)
    net.update(force=True)
    with torch.no_grad():  # tables that a rebuild would change
        net.entropy_bottleneck.quantiles.add_(3.3)
    src = tmp_path / "net.pt"
    torch.save(net.state_dict(), src)
    # "scale-hyperprior" is CompressAI's default architecture name.
    kept = update_model.main([str(src), "-n", "kept", "--no-update", "-d", str(tmp_path)])
    rebuilt = update_model.main([str(src), "-n", "rebuilt", "-d", str(tmp_path)])
    assert kept.name.startswith("kept-") and kept.suffix == ".pt"
    key = "entropy_bottleneck._quantized_cdf"
    original = net.state_dict()[key]
    assert torch.equal(torch.load(kept, weights_only=True)[key], original)
    assert not torch.equal(torch.load(rebuilt, weights_only=True)[key], original)
    assert update_model.load_checkpoint(src, "scale-hyperprior").keys() == net.state_dict().keys()


def test_update_model_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError, match="is not a valid file"):
        update_model.main([str(tmp_path / "missing.pth")])
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit):
        update_model.main([str(bad), "-d", str(tmp_path)])
    assert "not a readable PyTorch checkpoint" in capsys.readouterr().err


def _results(tmp_path: Path, name: str, key: str, rates: list[float]) -> Path:
    doc = {
        "name": name,
        "description": "test",
        "results": {
            key: rates,
            "psnr-rgb": [30.0 + r for r in rates],
            "ms-ssim-rgb": [0.9, 0.99, 0.999][: len(rates)],
        },
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def test_plot_parse_and_draw(tmp_path: Path) -> None:
    a = _results(tmp_path, "JPEG", "bpp", [0.9, 0.2, 0.5])
    b = _results(tmp_path, "model", "bpp", [0.3, 0.6])
    parsed = plot.parse_json_file(a, "ms-ssim")
    assert parsed["name"] == "JPEG" and parsed["xs"] == [0.2, 0.5, 0.9]
    # Sorted by rate; MS-SSIM in dB, -10 log10(1 - MS-SSIM).
    assert parsed["ys"] == pytest.approx([20.0, 30.0, 10.0])
    with pytest.raises(ValueError, match='metric "psnr-y" not available'):
        plot.parse_json_file(a, "psnr-y")
    png = tmp_path / "rd.png"
    curves = plot.main(["-f", str(a), str(b), "-o", str(png), "--axes", "0", "1", "20", "40"])
    assert [c["name"] for c in curves] == ["JPEG", "model"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_plot_plotly_backend(tmp_path: Path) -> None:
    pytest.importorskip("plotly")
    a = _results(tmp_path, "JPEG", "bpp", [0.2, 0.5])
    html = tmp_path / "rd.html"
    plot.main(["-f", str(a), "--backend", "plotly", "-o", str(html), "-t", "Kodak"])
    text = html.read_text()
    assert "JPEG" in text and "Bit-rate [bpp]" in text and "Kodak" in text


def test_plot_needs_an_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _results(tmp_path, "JPEG", "bpp", [0.2, 0.5])
    with pytest.raises(SystemExit):
        plot.main(["-f", str(a)])
    assert "-o" in capsys.readouterr().err


def test_video_plot_uses_the_bitrate(tmp_path: Path) -> None:
    v = _results(tmp_path, "x264", "bitrate", [800.0, 200.0])
    parsed = video_plot.parse_json_file(v, "psnr-rgb")
    assert parsed["xs"] == [200.0, 800.0] and parsed["ys"] == [230.0, 830.0]
    png = tmp_path / "v.png"
    video_plot.main(["-f", str(v), "-o", str(png)])
    assert png.stat().st_size > 5000
    # An image results file has no bitrate.
    with pytest.raises(SystemExit):
        video_plot.main(["-f", str(_results(tmp_path, "img", "bpp", [0.1])), "-o", str(png)])
    assert not math.isnan(parsed["ys"][0])
