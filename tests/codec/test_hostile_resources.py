"""Issue 17, resources: a small hostile file never costs unbounded memory or time.

Crafted ``.tfy`` files (valid CRCs, real streams) declare huge images or frame counts; they are
refused up front, in a subprocess whose address space is capped with ``RLIMIT_AS`` (so the test
proves the bound), with one error line and no abort. Also: thread counts, images too large to
encode, and checkpoints whose tensors declare more than they store.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tinify.codec.coding import decode_image, decode_video, encode_image
from tinify.codec.format import FormatError, TfyHeader, pack, unpack, video_stream_count
from tinify.codec.limits import (
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    LimitError,
    check_pixels,
    max_pixels,
)
from tinify.codec.loading import LoadedModel, load_model_from_checkpoint
from tinify.exceptions import TinifyError

#: Address-space cap of the subprocess: enough for torch and a 64x64 decode (about 4 GiB of
#: mostly reserved address space), far below what the crafted files would need (64+ GiB).
CAP = 6 << 30


def _capped(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    full = {**os.environ, "TINIFY_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    full.pop("TINIFY_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "tinify.codec.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
        preexec_fn=limit,
    )


@pytest.fixture(scope="module")
def small_file(hyperprior: LoadedModel) -> bytes:
    torch.manual_seed(0)
    return encode_image(hyperprior, torch.rand(1, 3, 64, 64), entropy_path="float")


def _resized(data: bytes, side: int) -> bytes:
    """``data`` with its header claiming a ``side`` x ``side`` image (CRCs recomputed)."""
    header, streams = unpack(data)
    factor = header.padded_size[0] // header.shapes[0][0]
    big = replace(header, height=side, width=side, shapes=((side // factor, side // factor),))
    return pack(big, streams)


def test_huge_declared_image_is_refused_under_a_memory_cap(
    tmp_path: Path, small_file: bytes, checkpoints: dict[str, Path]
) -> None:
    crafted = tmp_path / "huge.tfy"
    crafted.write_bytes(_resized(small_file, 16384))
    assert crafted.stat().st_size < 4096
    out = tmp_path / "huge.png"
    result = _capped("decode", crafted, "-o", out, "--checkpoint", checkpoints["hyperprior"])
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"{crafted}: image of 16384x16384" in lines[0]
    assert f"exceeds the limit of {DEFAULT_MAX_PIXELS} pixels" in lines[0]
    assert "--max-pixels" in lines[0] and not out.exists()


_FIXED_OOM = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
import numpy as np
from tinify import _core
w = np.ones((4096, 1, 1, 1), np.float32)
net = _core.FixedNetwork([_core.FixedLayer.conv2d(w, np.zeros(4096, np.float32), 1, 0)])
try:
    net.forward(np.zeros((1, 4096, 4096), np.int32))  # output: 4096 x 4096 x 4096 int32
except MemoryError as err:
    sys.exit("memory error: " + str(err))
except ValueError as err:
    print(type(err).__name__, err)
"""


def test_fixed_point_allocation_failure_is_an_error_not_an_abort() -> None:
    """The Rust fixed-point path allocates fallibly: a 256 GiB layer output under a 2 GiB
    address-space cap is a ParameterError (before: SIGABRT from a failed allocation)."""
    env = {**os.environ, "TINIFY_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", _FIXED_OOM], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == (
        "ParameterError out of memory: cannot allocate 274877906944 bytes for convolution "
        "output; code a smaller input"
    )


def test_library_limits(small_file: bytes, hyperprior: LoadedModel) -> None:
    big = _resized(small_file, 16384)
    with pytest.raises(LimitError, match="16384x16384 = 268435456 pixels exceeds the limit"):
        decode_image(big, hyperprior)
    with pytest.raises(LimitError, match="limit of 100 pixels"):
        decode_image(small_file, hyperprior, max_pixels=100)
    assert decode_image(small_file, hyperprior, max_pixels=64 * 64).x_hat.shape == (1, 3, 64, 64)
    assert isinstance(LimitError("x"), MemoryError) and isinstance(LimitError("x"), TinifyError)


def test_environment_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINIFY_MAX_PIXELS", "5000")
    assert max_pixels() == 5000
    check_pixels(50, 100)
    with pytest.raises(LimitError, match="TINIFY_MAX_PIXELS"):
        check_pixels(51, 100)
    for bad in ("abc", "-3", "0"):
        monkeypatch.setenv("TINIFY_MAX_PIXELS", bad)
        with pytest.raises(TinifyError, match="TINIFY_MAX_PIXELS must be a positive integer"):
            max_pixels()


def test_too_wide_image_is_refused_before_coding(hyperprior: LoadedModel) -> None:
    x = torch.zeros(1, 3, 64, 65600)
    with pytest.raises(LimitError, match="larger than a .tfy file holds"):
        encode_image(hyperprior, x, max_pixels=1 << 30)
    with pytest.raises(LimitError, match="exceeds the limit"):
        encode_image(hyperprior, torch.zeros(1, 3, 64, 4096), max_pixels=64 * 4095)


def test_huge_png_is_refused_before_decoding_pixels(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    from PIL import Image

    path = tmp_path / "zeros.png"
    Image.new("L", (9000, 8000)).save(path, optimize=True)
    assert path.stat().st_size < 200_000
    result = _capped("encode", path, "-o", tmp_path / "z.tfy")
    assert result.returncode == 1
    assert "9000x8000 = 72000000 pixels exceeds the limit" in result.stderr
    assert not (tmp_path / "z.tfy").exists()


# -- video ------------------------------------------------------------------------------------


def _video_header(frames: int, height: int = 64, width: int = 64) -> TfyHeader:
    return TfyHeader(
        model="ssf2020",
        quality=1,
        metric="mse",
        source="zoo",
        weights_id=bytes(8),
        height=height,
        width=width,
        shapes=((1, 1),),
        kind="video",
        frames=frames,
        fps=Fraction(25),
    )


def _video(frames: int, stream_bytes: int) -> bytes:
    streams = [bytes(stream_bytes)] * video_stream_count(frames)
    return pack(_video_header(frames), streams)


def _no_model(header: TfyHeader) -> LoadedModel:
    raise AssertionError("the model must not be loaded for a refused file")


def test_video_frame_count_is_limited() -> None:
    data = _video(16384, 8)
    assert len(data) < 1 << 20
    with pytest.raises(LimitError, match=f"16384 frames exceeds the limit of {DEFAULT_MAX_FRAMES}"):
        decode_video(data, _no_model)
    with pytest.raises(LimitError, match="limit of 10 frames"):
        decode_video(_video(11, 8), _no_model, max_frames=10)


def test_video_payload_must_hold_its_frames() -> None:
    with pytest.raises(FormatError, match="cannot hold 500 frames"):
        decode_video(_video(500, 1), _no_model)


def test_video_cli_refuses_frames(
    tmp_path: Path, run_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    path = tmp_path / "long.tfy"
    path.write_bytes(_video(4000, 8))
    result = _capped("decode", path, "-o", tmp_path / "frames")
    assert result.returncode == 1
    assert f"{path}: a video of 4000 frames exceeds the limit" in result.stderr
    assert "--max-frames" in result.stderr
    assert not (tmp_path / "frames").exists()


@given(
    side=st.integers(1, 1 << 16),
    other=st.integers(1, 1 << 16),
    frames=st.integers(1, 16383),
)
def test_crafted_headers_never_pass_the_limits(side: int, other: int, frames: int) -> None:
    """Any header with valid CRCs: refused up front, or within the documented limits."""
    header = _video_header(frames, side, other)
    try:
        data = pack(header, [bytes(8)] * video_stream_count(frames))
    except FormatError:
        return  # the format itself refuses it (padded size)
    try:
        decode_video(data, _no_model)
    except LimitError:
        assert side * other > DEFAULT_MAX_PIXELS or frames > DEFAULT_MAX_FRAMES
    except AssertionError:  # reached the model: everything within the limits
        assert side * other <= DEFAULT_MAX_PIXELS and frames <= DEFAULT_MAX_FRAMES


# -- threads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["100000", "abc", "-3", "1.5"])
def test_bad_thread_count_is_an_error(value: str, tmp_path: Path) -> None:
    env = {**os.environ, "TINIFY_NUM_THREADS": value}
    code = "import tinify; print(tinify.thread_env_error()); tinify.get_num_threads()"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 1
    message = f"TINIFY_NUM_THREADS must be an integer in 0..1024 (0 = one per core), got {value!r}"
    assert result.stdout.strip() == message
    assert "ParameterError" in result.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "tinify.codec.cli", "info", str(tmp_path / "x.tfy")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert cli.returncode == 1 and cli.stderr.strip() == f"tinify: error: {message}"


def test_set_num_threads_range() -> None:
    import tinify

    before = tinify.get_num_threads()
    for bad in (-1, 1025, 100000, 2.0, True):
        with pytest.raises(tinify.ParameterError, match="0..1024"):
            tinify.set_num_threads(bad)  # type: ignore[arg-type]
    tinify.set_num_threads(3)
    assert tinify.get_num_threads() == 3
    tinify.set_num_threads(before)


# -- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_with_expanded_tensor_is_refused(
    tmp_path: Path, checkpoints: dict[str, Path]
) -> None:
    state = torch.load(checkpoints["hyperprior"], weights_only=True)
    state["g_a.0.weight"] = torch.zeros(1).expand(100000, 3, 5, 5)
    path = tmp_path / "crafted.pth"
    torch.save(state, path)
    with pytest.raises(LimitError, match=r"declares shape \(100000, 3, 5, 5\) \(30000000 bytes\)"):
        load_model_from_checkpoint(path, "bmshj2018-hyperprior")
    result = _capped("decode", tmp_path / "none.tfy", "--checkpoint", path)
    assert result.returncode == 1  # the missing .tfy is reported first, in one line
    assert len(result.stderr.strip().splitlines()) == 1


def test_checkpoint_with_nan_is_refused(tmp_path: Path, checkpoints: dict[str, Path]) -> None:
    state = torch.load(checkpoints["hyperprior"], weights_only=True)
    state["g_s.0.bias"] = state["g_s.0.bias"].clone()
    state["g_s.0.bias"][3] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(state, path)
    with pytest.raises(TinifyError, match="g_s.0.bias holds NaN or infinite values"):
        load_model_from_checkpoint(path, "bmshj2018-hyperprior")


CORPUS = Path(__file__).resolve().parent.parent / "data" / "hostile"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.tfy")), ids=lambda p: p.name)
def test_hostile_corpus(path: Path) -> None:
    """Every crafted file of the corpus is refused before a model is loaded."""
    data = path.read_bytes()
    assert len(data) < 1 << 17
    decode = decode_video if b"ssf2020" in data[:200] else decode_image
    with pytest.raises((FormatError, LimitError)):
        decode(data, _no_model)  # type: ignore[operator]


def test_video_input_frame_size_is_checked_from_the_header(tmp_path: Path) -> None:
    from PIL import Image

    from tinify.io.image import read_clip

    y4m = tmp_path / "huge.y4m"
    y4m.write_bytes(b"YUV4MPEG2 W16384 H16384 F25:1 C420\nFRAME\n" + bytes(100))
    with pytest.raises(LimitError, match=f"^{y4m}: a frame of 16384x16384"):
        read_clip(y4m)
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.new("L", (4096, 4096)).save(folder / "00000.png")
    with pytest.raises(LimitError, match="a frame of 4096x4096"):
        read_clip(folder, max_pixels=4096 * 4095)
    clip = read_clip(folder, max_pixels=4096 * 4096)
    assert len(clip.frames) == 1 and clip.frames[0].shape == (1, 3, 4096, 4096)
