"""``tinify eval`` of a video model and ``tinify codecs`` x264/x265 on a folder of sequences
(issue 16 item 3), ``tinify plot`` of their results, and ``-f`` for the results outputs.

The model is a seeded random ScaleSpaceFlow scaled to code something (it proves the pipeline
and the bookkeeping, not the quality); the numbers are recomputed by hand from the files.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.codec.cli import EXIT_SKIPPED, main
from tinify.codec.coding import decode_video, encode_video
from tinify.codec.loading import load_model_from_checkpoint
from tinify.codec.video_evaluate import code_clip, evaluate_video_model, read_sequence
from tinify.io.video import write_png_frames, write_y4m

FFMPEG = shutil.which("ffmpeg")


@pytest.fixture(scope="module")
def seqdir(
    tmp_path_factory: pytest.TempPathFactory, frames_moving: Callable[..., list[torch.Tensor]]
) -> Path:
    """Two sequences: ``wave.y4m`` (3 frames, 30 fps) and ``pngs/`` (2 PNG frames, 25 fps)."""
    root = tmp_path_factory.mktemp("seqs")
    write_y4m(root / "wave.y4m", frames_moving(3), (30, 1))
    write_png_frames(frames_moving(2, phase=1.0), root / "pngs")
    return root


@pytest.fixture(scope="module")
def ssf_train(tmp_path_factory: pytest.TempPathFactory, ssf_checkpoint: Path) -> Path:
    """The random ssf2020 of ``ssf_checkpoint`` as a training checkpoint naming its
    architecture (so ``--model`` may be left out)."""
    state = torch.load(ssf_checkpoint, weights_only=True)
    path = tmp_path_factory.mktemp("ssf") / "ssf-random.pth.tar"
    torch.save({"model": state, "config": {"model": "ssf2020", "quality": 3}}, path)
    return path


@pytest.fixture(scope="module")
def eval_doc(
    seqdir: Path, ssf_train: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("eval") / "ssf.json"
    code = main(["eval", str(seqdir), "--checkpoint", str(ssf_train), "--frames", "2",
                 "-o", str(out), "--no-progress"])  # fmt: skip
    assert code == 0
    return json.loads(out.read_text()), out


def _psnr8(a: torch.Tensor, b: torch.Tensor) -> float:
    a8 = np.round(a.squeeze(0).numpy().astype(np.float64) * 255).clip(0, 255)
    b8 = np.round(b.clamp(0, 1).squeeze(0).numpy().astype(np.float64) * 255).clip(0, 255)
    return 10 * math.log10(255**2 / np.mean((a8 - b8) ** 2))


def test_eval_video_layout_and_values(
    eval_doc: tuple[dict[str, Any], Path], seqdir: Path, ssf_train: Path
) -> None:
    doc, _ = eval_doc
    assert doc["name"] == "ssf2020-mse" and doc["description"] == "Inference (ans)"
    results = doc["results"]
    assert list(results)[0] == "q" and results["q"] == ["ssf-random"]
    keys = ["psnr-y", "psnr-u", "psnr-v", "psnr-yuv", "psnr-rgb", "ms-ssim-rgb", "mse-rgb"]
    keys += ["bitrate", "bpp", "bpp-file", "encoding_fps", "decoding_fps", "frames"]
    for key in keys:
        assert len(results[key]) == 1, key
    records = doc["per-sequence"]["ssf-random"]
    assert [r["sequence"] for r in records] == ["pngs", "wave.y4m"]
    assert [len(r["frames"]) for r in records] == [2, 2]
    # Recompute the PNG sequence by hand: the coder is deterministic on the CPU, so coding the
    # same frames again gives the same file.
    loaded = load_model_from_checkpoint(ssf_train)
    frames = read_sequence(seqdir / "pngs").frames
    red = np.asarray(Image.open(seqdir / "pngs" / "00001.png"))[..., 0].astype(np.float32)
    assert torch.equal((frames[1][0, 0] * 255).round(), torch.from_numpy(red))
    data = encode_video(loaded, frames, 25)
    seq = records[0]["results"]
    pixels = 64 * 64
    assert seq["bitrate"] == pytest.approx(len(data) * 8 * 25 / (2 * 1000))
    assert seq["bpp-file"] == pytest.approx(len(data) * 8 / (2 * pixels))
    decoded = decode_video(data, loaded)
    payload = decoded.header.payload_size
    assert seq["bpp"] == pytest.approx(8 * payload / (2 * pixels))
    bits = [f["bits"] for f in records[0]["frames"]]
    assert sum(bits) == 8 * payload and all(b > 0 for b in bits)
    assert records[0]["frames"][1]["bpp"] == pytest.approx(bits[1] / pixels)
    assert records[0]["frames"][1]["psnr-rgb"] == pytest.approx(
        _psnr8(frames[1], decoded.frames[1]), abs=1e-9
    )
    y, u, v = (records[0]["frames"][0][f"psnr-{c}"] for c in "yuv")
    assert records[0]["frames"][0]["psnr-yuv"] == pytest.approx((4 * y + u + v) / 6)
    # The means: over frames per sequence, then over sequences.
    assert seq["psnr-rgb"] == pytest.approx(np.mean([f["psnr-rgb"] for f in records[0]["frames"]]))
    both = [r["results"]["bitrate"] for r in records]
    assert results["bitrate"][0] == pytest.approx(np.mean(both))
    assert seq["encoding_fps"] == pytest.approx(2 / seq["encoding_time"])


def test_gop_restarts_with_an_intra_frame(seqdir: Path, ssf_train: Path) -> None:
    """``gop=1``: every frame is coded alone as an I-frame, so frame 1 costs what coding it
    as a one-frame clip costs."""
    loaded = load_model_from_checkpoint(ssf_train)
    point, records = evaluate_video_model(loaded, [seqdir / "wave.y4m"], max_frames=2, gop=1)
    frames = read_sequence(seqdir / "wave.y4m", 2).frames
    alone = code_clip(loaded, frames[1:], 30)
    assert records[0]["frames"][1]["bits"] == alone.frame_bits[0]
    assert point["bpp"] == pytest.approx(
        (records[0]["frames"][0]["bits"] + alone.frame_bits[0]) / (2 * 64 * 64)
    )


def test_eval_refuses_an_existing_output_without_force(
    seqdir: Path, ssf_train: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "old.json"
    out.write_text("keep me")
    args = ["eval", str(seqdir), "--checkpoint", str(ssf_train), "-o", str(out)]
    assert main(args) == 1  # refused before any coding
    assert "exists; pass -f/--force" in capsys.readouterr().err
    assert out.read_text() == "keep me"
    assert (
        main(["eval", str(seqdir), "-m", "ssf2020", "--gop", "0", "-o", str(tmp_path / "n")]) == 1
    )
    assert "--gop must be at least 1" in capsys.readouterr().err


def test_image_eval_refuses_sequence_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", str(tmp_path), "--gop", "4"]) == 1
    assert "--gop: only for video models (ssf2020)" in capsys.readouterr().err


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed: x264 is not tested")
def test_x264_on_the_sequence_folder(
    seqdir: Path, tmp_path: Path, eval_doc: tuple[dict[str, Any], Path]
) -> None:
    out = tmp_path / "x264.json"
    args = ["codecs", str(seqdir), "--codec", "x264", "-q", "20", "40", "--frames", "2",
            "-o", str(out), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["name"] == "x264-medium-tune-zerolatency"
    results = doc["results"]
    assert list(results)[0] == "qp" and results["qp"] == [20, 40]
    assert results["psnr-y"][0] > results["psnr-y"][1] > 20 and results["psnr-y"][0] > 35
    assert results["bitrate"][0] > results["bitrate"][1] > 0
    assert results["frames"] == [2, 2]
    y, u, v = (results[f"psnr-{c}"][0] for c in "yuv")
    for rec in doc["per-sequence"]["20"]:
        fps = 25 if rec["sequence"] == "pngs" else 30
        assert rec["bitrate"] == pytest.approx(rec["bpp"] * 64 * 64 * fps / 1000)
    seq = doc["per-sequence"]["20"][0]
    assert seq["psnr-yuv"] == pytest.approx((4 * seq["psnr-y"] + seq["psnr-u"] + seq["psnr-v"]) / 6)
    assert results["psnr-yuv"][0] == pytest.approx(
        np.mean([r["psnr-yuv"] for r in doc["per-sequence"]["20"]])
    )
    assert y > 35 and u > 35 and v > 35
    # The learned codec's and x264's results plot together (both have bpp).
    png = tmp_path / "rd.png"
    assert main(["plot", str(eval_doc[1]), str(out), "-o", str(png), "--metric", "psnr-yuv"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_codecs_without_ffmpeg_say_so(
    seqdir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "x.json"
    assert main(["codecs", str(seqdir), "--codec", "x264", "x265", "-o", str(out)]) == EXIT_SKIPPED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tinify codecs: x264 skipped: ffmpeg not found")
    assert "install ffmpeg" in err[0] and "x265 skipped" in err[0]
    assert not list(tmp_path.glob("x*.json"))
    # An ffmpeg without the encoder: a program that lists none.
    fake = empty / "ffmpeg"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    assert main(["codecs", str(seqdir), "--codec", "x264"]) == EXIT_SKIPPED
    assert "has no libx264 encoder" in capsys.readouterr().err


def test_plot_video_results_by_bitrate(
    eval_doc: tuple[dict[str, Any], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CompressAI video results file has ``bitrate`` only: the axis becomes kbit/s."""
    anchor = tmp_path / "x264-published.json"
    anchor.write_text(json.dumps({"name": "x264", "results": {
        "qp": [22, 37], "bitrate": [900.0, 300.0], "psnr-rgb": [38.0, 31.0]}}))  # fmt: skip
    png = tmp_path / "rd.png"
    assert main(["plot", str(eval_doc[1]), str(anchor), "-o", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    before = png.read_bytes()
    assert main(["plot", str(anchor), "-o", str(png)]) == 1
    assert "exists; pass -f/--force" in capsys.readouterr().err
    assert png.read_bytes() == before
    assert main(["plot", str(anchor), "-o", str(png), "-f"]) == 0
    assert main(["plot", str(eval_doc[1]), str(anchor), "--rate", "bpp", "-o", str(png), "-f"]) == 1
    assert "with a 'bpp' list" in capsys.readouterr().err


def test_codecs_and_update_refuse_existing_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "img.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(img)
    out = tmp_path / "jpeg.json"
    assert main(["codecs", str(img), "--codec", "jpeg", "-q", "50", "-o", str(out)]) == 0
    first = out.read_text()
    assert main(["codecs", str(img), "--codec", "jpeg", "-q", "60", "-o", str(out)]) == 1
    assert "exists; pass -f/--force" in capsys.readouterr().err
    assert out.read_text() == first
    assert main(["codecs", str(img), "--codec", "jpeg", "-q", "60", "-o", str(out), "-f"]) == 0
    assert json.loads(out.read_text())["results"]["quality"] == [60]
    from tinify.models import FactorizedPrior

    torch.manual_seed(0)
    ckpt = tmp_path / "fp.pth"
    torch.save(FactorizedPrior(N=8, M=12).state_dict(), ckpt)
    folder = tmp_path / "w"
    folder.mkdir()
    args = ["update", str(ckpt), "-m", "bmshj2018-factorized", "-o", str(folder / "fp")]
    assert main(args) == 0
    written = list(folder.iterdir())
    assert len(written) == 1
    capsys.readouterr()
    assert main(args) == 1
    assert "exists; pass -f/--force" in capsys.readouterr().err
    assert main([*args, "-f"]) == 0 and list(folder.iterdir()) == written


def test_estimate_restarts_each_group(seqdir: Path, ssf_train: Path) -> None:
    """``estimate=True`` with ``gop=1``: frame 1's bits are those of ``forward_keyframe`` on it
    (the likelihoods of the hand-run network), not of an inter frame."""
    from tinify.codec.coding import padding_for
    from tinify.codec.video_evaluate import likelihood_bits

    loaded = load_model_from_checkpoint(ssf_train)
    frames = read_sequence(seqdir / "wave.y4m", 2).frames
    _, records = evaluate_video_model(
        loaded, [seqdir / "wave.y4m"], estimate=True, max_frames=2, gop=1
    )
    pad = padding_for(64, 64, loaded.model.downsampling_factor)
    with torch.no_grad():
        _, lik = loaded.model.forward_keyframe(torch.nn.functional.pad(frames[1], pad))
    assert records[0]["frames"][1]["bits"] == pytest.approx(likelihood_bits(lik), rel=1e-6)


def test_raw_yuv_size_and_rate_from_options(seqdir: Path, tmp_path: Path) -> None:
    """A raw .yuv whose name gives no size takes ``size``/``fps`` (``--size``/``--fps``);
    without them the error says what to give."""
    from fractions import Fraction

    from tinify.codec.video_evaluate import find_sequences
    from tinify.exceptions import InputError
    from tinify.io.video import write_yuv420

    planes = read_sequence(seqdir / "wave.y4m").planes
    raw = tmp_path / "clip.yuv"
    write_yuv420(raw, planes)
    seq = read_sequence(raw, size=(64, 64), fps=Fraction(50), rgb=False)
    assert (len(seq.planes), seq.width, seq.height, seq.fps, seq.frames) == (3, 64, 64, 50, [])
    assert all(np.array_equal(a.v, b.v) for a, b in zip(seq.planes, planes))
    with pytest.raises(InputError, match=r"--size WxH\) or name it like Name_832x480_30.yuv"):
        read_sequence(raw)
    assert find_sequences(raw) == [raw] and find_sequences(seqdir) == [
        seqdir / "pngs",
        seqdir / "wave.y4m",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no sequences"):
        find_sequences(empty)
