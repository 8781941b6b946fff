"""Video in the tinify command and the .tfy container: round trips, exactness, bad input."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.codec.cli import main
from tinify.codec.coding import decode_image, decode_video, encode_video
from tinify.codec.format import CODING_MODES, FormatError, TfyHeader, frame_streams, unpack
from tinify.codec.loading import LoadedModel
from tinify.io.video import (
    read_png_frames,
    read_y4m,
    read_yuv420,
    rgb_to_yuv,
    write_png_frames,
    write_y4m,
    write_yuv420,
)
from tinify.models.video import ScaleSpaceFlow

HYPER = "bmshj2018-hyperprior"
Frames = Callable[..., list[torch.Tensor]]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8, as a PNG frame stores it."""
    return (x[0] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def ssf_net(loaded: LoadedModel) -> ScaleSpaceFlow:
    assert isinstance(loaded.model, ScaleSpaceFlow)
    return loaded.model


def reference_frames(loaded: LoadedModel, data: bytes) -> list[torch.Tensor]:
    """What ``model.decompress`` gives for the file's streams, laid out by hand as
    docs/format.md says (I-frame y, z; then motion y, z, residual y, z per P-frame)."""
    header, streams = unpack(data)
    shape = header.shapes[0]
    strings: list[Any] = [[[streams[0]], [streams[1]]]]
    shapes: list[Any] = [shape]
    for i in range(1, header.frames):
        s = streams[2 + 4 * (i - 1) : 2 + 4 * i]
        strings.append({"motion": [[s[0]], [s[1]]], "residual": [[s[2]], [s[3]]]})
        shapes.append({"motion": shape, "residual": shape})
    path = CODING_MODES[header.coding_mode]
    frames = ssf_net(loaded).decompress(
        strings, shapes, x_size=(header.height, header.width), entropy_path=path
    )
    left, _, top, _ = header.padding
    assert (left, top) == (
        (header.padded_size[1] - header.width) // 2,
        (header.padded_size[0] - header.height) // 2,
    )
    return frames


@pytest.fixture
def clip_folder(
    tmp_path: Path,
    moving_frames: Frames,
) -> Path:
    """Three 128x128 PNG frames with a little motion."""
    folder = tmp_path / "clip"
    write_png_frames(moving_frames(3, 128, 128), folder)
    return folder


# -- subprocess end to end ------------------------------------------------------------------------


def test_folder_round_trip_subprocess(
    tmp_path: Path,
    clip_folder: Path,
    ssf_checkpoint: Path,
    ssf_loaded: LoadedModel,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    listing: Callable[[Path], set[str]],
) -> None:
    tfy, out = tmp_path / "clip.tfy", tmp_path / "decoded"
    result = run_cli("encode", clip_folder, "-o", tfy, "--checkpoint", ssf_checkpoint)
    assert result.returncode == 0, result.stderr
    data = tfy.read_bytes()
    header, streams = unpack(data)
    assert (header.kind, header.model, header.source) == ("video", "ssf2020", "checkpoint")
    assert header.coding_mode == 1  # the default, as for images: bit-exact latents anywhere
    assert (header.frames, header.fps, header.yuv444) == (3, Fraction(25), False)
    assert (header.height, header.width, header.padding) == (128, 128, (0, 0, 0, 0))
    assert header.shapes == ((1, 1),) and len(streams) == 10

    result = run_cli("decode", tfy, "-o", out, "--checkpoint", ssf_checkpoint)
    assert result.returncode == 0, result.stderr
    assert sorted(listing(out)) == ["00000.png", "00001.png", "00002.png"]
    for path, ref in zip(sorted(out.iterdir()), reference_frames(ssf_loaded, data)):
        with Image.open(path) as img:
            assert np.array_equal(np.asarray(img), to_uint8(ref))


def test_y4m_444_round_trip_subprocess(
    tmp_path: Path,
    ssf_checkpoint: Path,
    ssf_loaded: LoadedModel,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    moving_frames: Frames,
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    src, tfy, out = tmp_path / "in.y4m", tmp_path / "in.tfy", tmp_path / "out.y4m"
    write_y4m(src, moving_frames(3, 96, 112, seed=1), (30000, 1001), "444")
    args = ("encode", src, "-o", tfy, "--checkpoint", ssf_checkpoint, "--frames", "2")
    result = run_cli(*args, "--coding", "float")
    assert result.returncode == 0, result.stderr
    data = tfy.read_bytes()
    header, _ = unpack(data)
    assert header.coding_mode == 0
    assert (header.frames, header.fps, header.yuv444) == (2, Fraction(30000, 1001), True)
    assert (header.height, header.width, header.padding) == (96, 112, (8, 8, 16, 16))

    result = run_cli("decode", tfy, "-o", out, "--checkpoint", ssf_checkpoint)
    assert result.returncode == 0, result.stderr
    frames, y4m = read_y4m(out)
    assert (y4m.width, y4m.height, y4m.fps, y4m.chroma) == (112, 96, (30000, 1001), "444")
    refs = reference_frames(ssf_loaded, data)
    assert len(frames) == len(refs) == 2
    for planes, ref in zip(frames, refs):
        for got, want in zip(planes, rgb_to_yuv(ref, "444")):
            assert np.array_equal(got, want)

    # A damaged file: one error line, status 1, no output.
    tfy.write_bytes(data[:-7])
    before = listing(tmp_path)
    result = run_cli("decode", tfy, "-o", tmp_path / "bad.y4m", "--checkpoint", ssf_checkpoint)
    assert result.returncode == 1
    assert "truncated" in one_error_line(result.stderr, "decode")
    assert listing(tmp_path) == before


# -- in process -----------------------------------------------------------------------------------


def test_y4m_420_to_yuv_folder_and_info(
    tmp_path: Path,
    ssf_checkpoint: Path,
    ssf_loaded: LoadedModel,
    capsys: pytest.CaptureFixture[str],
    moving_frames: Frames,
) -> None:
    src, tfy = tmp_path / "in.y4m", tmp_path / "in.tfy"
    write_y4m(src, moving_frames(2, 64, 80, seed=2), (24, 1), "420")
    args = ["encode", str(src), "-o", str(tfy), "--checkpoint", str(ssf_checkpoint)]
    assert main([*args, "--fps", "50", "-m", "ssf2020"]) == 0
    data = tfy.read_bytes()
    header, _ = unpack(data)
    assert (header.fps, header.yuv444) == (Fraction(50), False)  # --fps overrides the header
    refs = reference_frames(ssf_loaded, data)

    yuv, folder = tmp_path / "out.yuv", tmp_path / "frames"
    folder.mkdir()  # an empty folder is filled
    ckpt = ["--checkpoint", str(ssf_checkpoint)]
    assert main(["decode", str(tfy), "-o", str(yuv), *ckpt]) == 0
    assert main(["decode", str(tfy), "-o", str(folder), *ckpt]) == 0
    for planes, ref in zip(read_yuv420(yuv, 80, 64), refs):
        for got, want in zip(planes, rgb_to_yuv(ref, "420")):
            assert np.array_equal(got, want)
    pngs = read_png_frames(folder)
    assert [to_uint8(x).tolist() for x in pngs] == [to_uint8(r).tolist() for r in refs]

    capsys.readouterr()
    assert main(["info", str(tfy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["kind"], info["frames"], info["fps"], info["y4m_chroma"]) == (
        "video",
        2,
        "50",
        "420",
    )
    per_frame = info["frame_payload_bytes"]
    assert len(per_frame) == 2 and sum(per_frame) == header.payload_size
    assert info["i_frame_bytes"] == sum(header.stream_lengths[:2])
    assert info["kbps_payload"] == pytest.approx(8 * header.payload_size / (2 / 50) / 1000)
    assert info["bpp_payload"] == pytest.approx(8 * header.payload_size / (2 * 64 * 80))
    assert main(["info", str(tfy)]) == 0
    assert "frame_payload_bytes" in capsys.readouterr().out


def test_encode_video_is_model_compress(
    ssf_loaded: LoadedModel,
    moving_frames: Frames,
) -> None:
    """The container adds nothing: the streams are ``model.compress``'s, in the documented
    order, and decoding gives ``model.decompress``'s frames (odd size, so padded), in both
    coding modes (the default is mode 1, ``"fixed"``, as for images)."""
    frames = moving_frames(2, 72, 100, seed=3)
    model = ssf_net(ssf_loaded)
    for path, given in (("fixed", None), ("float", "float"), ("fixed", "fixed")):
        data = encode_video(ssf_loaded, frames, Fraction(25), entropy_path=given)
        header, streams = unpack(data)
        assert CODING_MODES[header.coding_mode] == path
        out = model.compress(frames, entropy_path=path)
        expected = [out[0][0][0][0], out[0][0][1][0]]
        for frame in out[0][1:]:
            expected += [frame[k][j][0] for k in ("motion", "residual") for j in (0, 1)]
        assert streams == expected
        decoded = decode_video(data, ssf_loaded)
        direct = model.decompress(*out, x_size=out.x_size, entropy_path=path)
        assert len(decoded.frames) == 2
        for a, b in zip(decoded.frames, direct):
            assert a.shape == (1, 3, 72, 100) and torch.equal(a, b)
    with pytest.raises(FormatError, match="holds a video"):
        decode_image(data, ssf_loaded)


@pytest.fixture(scope="module")
def small_video(
    ssf_loaded: LoadedModel,
    moving_frames: Frames,
) -> bytes:
    return encode_video(ssf_loaded, moving_frames(2, 48, 40, seed=4), Fraction(30))


def test_every_truncation_and_flip_is_rejected(small_video: bytes, ssf_loaded: LoadedModel) -> None:
    data = small_video
    assert len(data) > 5000
    for n in range(len(data)):
        with pytest.raises(FormatError):
            decode_video(data[:n], ssf_loaded)
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0x10 if i % 2 else 0x81
        with pytest.raises(FormatError):
            decode_video(bytes(damaged), ssf_loaded)


@pytest.mark.parametrize("how", ["header-flip", "payload-flip", "cut-header", "cut", "append"])
def test_cli_rejects_damaged_video(
    tmp_path: Path,
    small_video: bytes,
    ssf_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    how: str,
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    data = bytearray(small_video)
    if how == "header-flip":
        data[36] ^= 0x01  # the frame count
    elif how == "payload-flip":
        data[len(data) // 2] ^= 0x04
    elif how == "cut-header":
        data = data[:100]
    elif how == "cut":
        data = data[:-1]
    else:
        data += b"\x00"
    tfy = tmp_path / "v.tfy"
    tfy.write_bytes(bytes(data))
    before = listing(tmp_path)
    for out in ("frames", "v.y4m"):
        args = ["decode", str(tfy), "-o", str(tmp_path / out), "--checkpoint", str(ssf_checkpoint)]
        assert main(args) == 1
        assert str(tfy) in one_error_line(capsys.readouterr().err, "decode")
        assert listing(tmp_path) == before
    assert main(["info", str(tfy)]) == 1
    one_error_line(capsys.readouterr().err, "info")


def test_encode_frames_range_codes_that_part(
    tmp_path: Path,
    ssf_checkpoint: Path,
    moving_frames: Frames,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``encode --frames A:B`` and ``N`` follow decode's rule: frames A..B-1, the first N."""
    frames = moving_frames(4, 64, 64)
    write_png_frames(frames, tmp_path / "all")
    write_png_frames(frames[1:3], tmp_path / "part")
    write_png_frames(frames[:2], tmp_path / "first")
    ckpt = ["--checkpoint", str(ssf_checkpoint)]

    def encode(src: str, name: str, *extra: str) -> bytes:
        out = tmp_path / name
        assert main(["encode", str(tmp_path / src), "-o", str(out), *ckpt, *extra]) == 0
        return out.read_bytes()

    assert encode("all", "a.tfy", "--frames", "1:3") == encode("part", "b.tfy")
    assert encode("all", "c.tfy", "--frames", "2") == encode("first", "d.tfy")
    assert encode("all", "e.tfy", "--frames", ":2") == encode("first", "f.tfy")
    assert unpack(encode("all", "g.tfy", "--frames", "3:"))[0].frames == 1
    capsys.readouterr()


def test_failed_folder_write_leaves_nothing(
    tmp_path: Path,
    small_video: bytes,
    ssf_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    import tinify.io.video as video

    real = video.write_png_frames

    def fail_after_one(frames: list[torch.Tensor], folder: Path, **kwargs: Any) -> None:
        real(frames[:1], folder, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(video, "write_png_frames", fail_after_one)
    tfy = tmp_path / "v.tfy"
    tfy.write_bytes(small_video)
    before = listing(tmp_path)
    args = ["decode", str(tfy), "-o", str(tmp_path / "frames"), "--checkpoint"]
    assert main([*args, str(ssf_checkpoint)]) == 1
    assert "No space left" in one_error_line(capsys.readouterr().err, "decode")
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encode", "{clip}", "-m", HYPER, "--checkpoint", "{hyper}"], "is an image model"),
        (["encode", "{img}", "-m", "ssf2020", "--checkpoint", "{ssf}"], "is a video model"),
        (["encode", "{img}", "--checkpoint", "{hyper}", "--frames", "2"], "is for video input"),
        (["encode", "{clip}", "--checkpoint", "{hyper}"], "do not fit model ssf2020"),
        (["encode", "{clip}", "--checkpoint", "{ssf}", "--frames", "0"], "an empty range"),
        (["encode", "{clip}", "--checkpoint", "{ssf}", "--frames", "x"], "--frames must be"),
        (["encode", "{clip}", "--checkpoint", "{ssf}", "--frames", "9:"], "clip has 2 frames"),
        (["encode", "{clip}", "--checkpoint", "{ssf}", "--fps", "x"], "--fps must be"),
        (["encode", "{clip}", "--checkpoint", "{ssf}", "--fps", "-2"], "--fps must be"),
        (["encode", "{y4m}", "--checkpoint", "{ssf}", "--size", "8x8"], "only for raw .yuv"),
        (["encode", "{yuv}", "--checkpoint", "{ssf}"], "give width and height"),
        (["encode", "{yuv}", "--checkpoint", "{ssf}", "--size", "64"], "WIDTHxHEIGHT"),
        (["encode", "{yuv}", "--checkpoint", "{ssf}", "--size", "60x64"], "whole number"),
        (["encode", "{cut}", "--checkpoint", "{ssf}"], "truncated"),
        (["encode", "{empty}", "--checkpoint", "{ssf}"], "no .png frames"),
        (["encode", "{tmp}/none.y4m", "--checkpoint", "{ssf}"], "no such file"),
        (["encode", "{clip}", "-o", "{tmp}/no/x.tfy", "--checkpoint", "{ssf}"], "does not exist"),
        (["decode", "{video}", "-o", "{tmp}/x.png", "--checkpoint", "{ssf}"], "a video decodes"),
        (["decode", "{video}", "-o", "{clip}", "--checkpoint", "{ssf}"], "not an empty folder"),
        (["decode", "{video}", "-o", "{tmp}/no/x.y4m", "--checkpoint", "{ssf}"], "not exist"),
        (["decode", "{video}", "-o", "{tmp}/out", "--checkpoint", "{hyper}"], "do not fit"),
        (["decode", "{video}", "-o", "{tmp}/out"], "--checkpoint"),
        (["decode", "{image}", "-o", "{tmp}/out.y4m", "--checkpoint", "{hyper}"], "suffix"),
        (["eval", "{clip}", "-m", "ssf2020", "--frames", "0"], "--frames must be at least 1"),
        (["eval", "{clip}", "--checkpoint", "{ssf}"], "does not name its architecture"),
    ],
)
def test_video_bad_inputs_give_one_line(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    ssf_checkpoint: Path,
    small_video: bytes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
    moving_frames: Frames,
) -> None:
    monkeypatch.setenv("TINIFY_OFFLINE", "1")
    clip = tmp_path / "clip"
    frames = moving_frames(2, 64, 64)
    write_png_frames(frames, clip)
    write_y4m(tmp_path / "a.y4m", frames)
    write_yuv420(tmp_path / "a.yuv", frames)
    cut = tmp_path / "cut.y4m"
    cut.write_bytes((tmp_path / "a.y4m").read_bytes()[:-10])
    (tmp_path / "empty").mkdir()
    (tmp_path / "video.tfy").write_bytes(small_video)
    img = image_file(64, 64)
    hyper = str(checkpoints["hyperprior"])
    image_tfy = tmp_path / "image.tfy"
    if "{image}" in args:  # an image .tfy, only where needed (it costs an encode)
        assert (
            main(["encode", str(img), "-o", str(image_tfy), "--checkpoint", hyper, "-m", HYPER])
            == 0
        )
        capsys.readouterr()
    values = {
        "clip": str(clip),
        "img": str(img),
        "y4m": str(tmp_path / "a.y4m"),
        "yuv": str(tmp_path / "a.yuv"),
        "cut": str(cut),
        "empty": str(tmp_path / "empty"),
        "video": str(tmp_path / "video.tfy"),
        "image": str(image_tfy),
        "hyper": hyper,
        "ssf": str(ssf_checkpoint),
        "tmp": str(tmp_path),
    }
    before = listing(tmp_path)
    assert main([a.format(**values) for a in args]) == 1
    assert message in one_error_line(capsys.readouterr().err, args[0])
    assert listing(tmp_path) == before  # no partial output
    assert sorted(listing(clip)) == ["00000.png", "00001.png"]


def test_video_header_semantics() -> None:
    """A video needs a frame rate, one 2-D shape and exactly 4 * frames - 2 streams."""
    from dataclasses import replace

    from tinify.codec.format import pack

    base = TfyHeader(
        model="ssf2020",
        quality=1,
        metric="mse",
        source="zoo",
        weights_id=bytes(8),
        height=64,
        width=64,
        padding=(32, 32, 32, 32),
        shapes=((1, 1),),
        kind="video",
        frames=3,
        fps=Fraction(25),
    )
    streams = [bytes([i]) for i in range(10)]
    header, unpacked = unpack(pack(base, streams))
    assert unpacked == streams
    assert [list(r) for r in frame_streams(header)] == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    for change, count, message in [
        ({}, 9, "has 10 streams"),
        ({"fps": None}, 10, "frame rate"),
        ({"shapes": ()}, 10, "one 2-D latent shape"),
        ({"shapes": ((1, 1, 1),)}, 10, "one 2-D latent shape"),
        ({"frames": 2}, 10, "has 6 streams"),
        ({"kind": "image"}, 10, "exactly one frame"),
        ({"kind": "image", "frames": 1, "fps": None, "yuv444": True}, 10, "4:4:4"),
    ]:
        with pytest.raises(FormatError, match=message):
            pack(replace(base, **change), streams[:count])  # type: ignore[arg-type]
