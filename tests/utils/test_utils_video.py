"""``tinify.utils.video.eval_model``, ``video.bench``: sequences in the three formats, real
coding with ssf2020 (a seeded random model scaled to code something: it proves the pipeline
and the bookkeeping, not the quality), and x264 / x265 through ffmpeg when it is installed."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tinify.codec.coding import decode_video
from tinify.codec.loading import load_model_from_checkpoint
from tinify.codec.video_evaluate import read_sequence
from tinify.io.video import read_yuv420, rgb_to_yuv, write_png_frames, write_y4m, write_yuv420
from tinify.models.video import ScaleSpaceFlow
from tinify.utils.metrics import psnr
from tinify.utils.video.bench import __main__ as vbench
from tinify.utils.video.eval_model import __main__ as veval

FFMPEG = shutil.which("ffmpeg")


@pytest.fixture(scope="module")
def sequences(
    tmp_path_factory: pytest.TempPathFactory, frames_moving: Callable[..., list[torch.Tensor]]
) -> Path:
    """The same 3 frames as a .y4m, a raw Name_WxH_FPS.yuv, and a PNG folder."""
    root = tmp_path_factory.mktemp("sequences")
    frames = frames_moving(3)
    write_y4m(root / "wave.y4m", frames, (30, 1))
    (root / "raw").mkdir()
    write_yuv420(root / "raw" / "wave_64x64_50.yuv", frames)
    write_png_frames(frames, root / "pngs")
    return root


@pytest.fixture(scope="module")
def ssf_checkpoint(
    tmp_path_factory: pytest.TempPathFactory, scale_ssf: Callable[[Any], None]
) -> Path:
    torch.manual_seed(0)
    net = ScaleSpaceFlow()
    scale_ssf(net)
    net.update(force=True)
    path = tmp_path_factory.mktemp("ssf") / "ssf-random.pth.tar"
    torch.save(net.state_dict(), path)
    return path


def test_read_sequence_formats(sequences: Path) -> None:
    y4m = read_sequence(sequences / "wave.y4m")
    raw = read_sequence(sequences / "raw" / "wave_64x64_50.yuv", max_frames=2)
    png = read_sequence(sequences / "pngs")
    assert (y4m.fps, raw.fps, png.fps) == (30, 50, 25)
    assert (len(y4m.frames), len(raw.frames), len(png.frames)) == (3, 2, 3)
    assert np.array_equal(y4m.planes[1].y, raw.planes[1].y)
    assert np.array_equal(png.planes[0].u, rgb_to_yuv(png.frames[0]).u)
    assert [p.name for p in veval.collect_videos(str(sequences))] == [
        "pngs", "wave_64x64_50.yuv", "wave.y4m"
    ]  # fmt: skip


def test_eval_model_codes_and_counts(sequences: Path, ssf_checkpoint: Path, tmp_path: Path) -> None:
    """One sequence, 2 frames, real coding: the JSON layout, and the numbers recomputed from
    the kept .tfy file."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sequences / "wave.y4m", data / "wave.y4m")
    out = tmp_path / "out"
    doc = veval.main(["checkpoint", str(data), str(out), "-a", "ssf2020", "-p", str(ssf_checkpoint),
                      "--keep_binaries", "--frames", "2"])  # fmt: skip
    assert doc["name"] == "ssf2020-mse" and doc["description"] == "Inference (ans)"
    results = doc["results"]
    assert list(results)[0] == "q" and results["q"] == ["ssf-random-ans"]
    for key in ("psnr-y", "psnr-u", "psnr-v", "psnr-yuv", "psnr-rgb", "ms-ssim-rgb", "mse-rgb",
                "bitrate", "bpp"):  # fmt: skip
        assert key in results and len(results[key]) == 1
    assert json.loads((out / "ssf2020-ans.json").read_text()) == doc
    seq = json.loads((out / "wave-ssf-random-ans.json").read_text())
    assert seq["source"] == "wave" and seq["name"] == "ssf2020"
    assert [f["frame"] for f in seq["frames"]] == [0, 1]
    # Recompute from the kept file: bit rate, per-frame bits, and PSNR-RGB of frame 1.
    tfy = (out / "wave-ssf-random-ans.tfy").read_bytes()
    assert results["bitrate"][0] == pytest.approx(len(tfy) * 8 * 30 / (2 * 1000))
    loaded = load_model_from_checkpoint(ssf_checkpoint, "ssf2020")
    decoded = decode_video(tfy, loaded)
    assert sum(f["bits"] for f in seq["frames"]) == 8 * decoded.header.payload_size
    original = read_sequence(data / "wave.y4m").frames[1]
    expected = psnr((original * 255).round(), (decoded.frames[1].clamp(0, 1) * 255).round())
    assert seq["frames"][1]["psnr-rgb"] == pytest.approx(expected, abs=1e-9)
    # The second run reuses the per-sequence file.
    again = veval.main(["checkpoint", str(data), str(out), "-a", "ssf2020", "-p",
                        str(ssf_checkpoint), "--frames", "2"])  # fmt: skip
    assert again["results"] == results


def test_eval_model_entropy_estimation(
    sequences: Path, ssf_checkpoint: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sequences / "raw", data)
    doc = veval.main(["checkpoint", str(data), str(tmp_path / "o"), "-a", "ssf2020", "-p",
                      str(ssf_checkpoint), "--entropy-estimation", "--frames", "2"])  # fmt: skip
    assert doc["description"] == "Inference (entropy estimation)"
    net = veval.load_checkpoint("ssf2020", False, str(ssf_checkpoint))
    frames = read_sequence(data / "wave_64x64_50.yuv", 2).frames
    padded = [veval.pad(x)[0] for x in frames]
    with torch.no_grad():
        x0, lik0 = net.forward_keyframe(padded[0])
        _, lik1 = net.forward_inter(padded[1], x0.clamp(0, 1))
    bits = veval.estimate_bits_frame(lik0) + veval.estimate_bits_frame(lik1)
    assert doc["results"]["bitrate"][0] == pytest.approx(bits * 50 / (2 * 1000), rel=1e-5)


def test_container_helpers_round_trip() -> None:
    buffer = io.BytesIO()
    n = veval.write_uints(buffer, (64, 48)) + veval.write_uchars(buffer, (8,))
    n += veval.write_body(buffer, (2, 3), [[b"abc"], [b""]])
    assert n == len(buffer.getvalue()) == 9 + 12 + 4 + 3 + 4
    buffer.seek(0)
    assert veval.read_uints(buffer, 2) == (64, 48) and veval.read_uchars(buffer, 1) == (8,)
    strings, shape = veval.read_body(buffer)
    assert shape == (2, 3) and strings == [[b"abc"], [b""]]
    x = torch.rand(1, 3, 70, 90)
    padded, padding = veval.pad(x)
    assert padded.shape[-2:] == (128, 128) and torch.equal(veval.crop(padded, padding), x)


def test_video_bench_without_ffmpeg_says_so(
    sequences: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        vbench.main(["x264", str(sequences), str(tmp_path), "--ffmpeg", str(tmp_path / "none")])
    assert f"{tmp_path / 'none'} not found: install ffmpeg" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        vbench.main(["VTM", str(sequences), str(tmp_path), "-b", str(tmp_path), "-c",
                     str(tmp_path / "x.cfg")])  # fmt: skip
    assert "x.cfg not found" in capsys.readouterr().err


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed: x264/x265 are not tested")
@pytest.mark.parametrize("codec", ["x264", "x265"])
def test_video_bench_ffmpeg(sequences: Path, tmp_path: Path, codec: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(sequences / "raw", data)
    out = tmp_path / "out"
    doc = vbench.main([codec, str(data), str(out), "-q", "40,20"])
    assert doc["name"] == f"{codec}-medium-tune-psnr"
    results = doc["results"]
    assert list(results)[0] == "qp" and results["qp"] == [20, 40]
    assert results["psnr-y"][0] > results["psnr-y"][1] > 20
    assert results["bitrate"][0] > results["bitrate"][1] > 0
    # Recompute QP 20 from the kept bitstream.
    binpath = next(out.glob("*_qp20.mp4"))
    assert results["bitrate"][0] == pytest.approx(binpath.stat().st_size * 8 * 50 / (3 * 1000))
    dec = tmp_path / "dec.yuv"
    vbench.run_cmdline([FFMPEG, "-y", "-loglevel", "error", "-i", binpath, "-f", "rawvideo",
                        "-pix_fmt", "yuv420p", dec])  # fmt: skip
    org = read_yuv420(data / "wave_64x64_50.yuv", 64, 64)
    rec = read_yuv420(dec, 64, 64)
    mse = np.mean([np.mean((a.y.astype(float) - b.y) ** 2) for a, b in zip(org, rec)])
    assert results["psnr-y"][0] == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)
    stored = json.loads(binpath.with_suffix(".json").read_text())
    assert stored["results"]["psnr-y"] == results["psnr-y"][0]
