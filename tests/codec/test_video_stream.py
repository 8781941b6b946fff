"""Streaming video: the version-2 layout, frame-by-frame coding in bounded memory, the intra
period and random access, old files, hostile files, and the command line."""

from __future__ import annotations

import gc
import io
import json
import struct
import subprocess
import sys
import textwrap
import weakref
import zlib
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tinify.codec.cli import main
from tinify.codec.coding import decode_video, decode_video_frames, encode_video, encode_video_to
from tinify.codec.format import (
    FORMAT_VERSION,
    VIDEO_STREAM_VERSION,
    FormatError,
    VideoReader,
    VideoWriter,
    pack,
    unpack,
)
from tinify.codec.limits import LimitError
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
from tinify.models.video import ScaleSpaceFlow, VideoDecoder, VideoEncoder
from tinify.ops import pad_to_multiple

Frames = Callable[..., list[torch.Tensor]]


def net(loaded: LoadedModel) -> ScaleSpaceFlow:
    assert isinstance(loaded.model, ScaleSpaceFlow)
    return loaded.model


def u8(x: torch.Tensor) -> np.ndarray:
    return (x[0] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


@pytest.fixture(scope="module")
def clip(moving_frames: Frames) -> list[torch.Tensor]:
    """Seven 64x80 frames with a little motion."""
    return moving_frames(7, 64, 80, seed=5)


@pytest.fixture(scope="module")
def gop3(ssf_loaded: LoadedModel, clip: list[torch.Tensor]) -> bytes:
    """``clip`` coded with an I-frame every 3 frames (frames 0, 3, 6)."""
    return encode_video(ssf_loaded, clip, Fraction(25), gop=3)


@pytest.fixture(scope="module")
def gop3_frames(ssf_loaded: LoadedModel, gop3: bytes) -> list[torch.Tensor]:
    return decode_video(gop3, ssf_loaded).frames


# -- layout -------------------------------------------------------------------------------------


def test_layout_header_records_index(gop3: bytes) -> None:
    reader = VideoReader(gop3)
    h = reader.header
    assert gop3[8] == VIDEO_STREAM_VERSION and h.version == VIDEO_STREAM_VERSION
    assert (h.kind, h.frames, h.gop, h.height, h.width) == ("video", 7, 3, 64, 80)
    assert reader.intra == [True, False, False, True, False, False, True]
    assert [reader.gop_start(i) for i in range(7)] == [0, 0, 0, 3, 3, 3, 6]
    # The tail points to the index; the index lists each record's offset and type.
    offset, tag, crc = struct.unpack("<Q4sI", gop3[-16:])
    assert tag == b"TFYE" and crc == zlib.crc32(gop3[-16:-4])
    assert gop3[offset : offset + 8] == b"TFYI" + struct.pack("<I", 7)
    entries = [struct.unpack_from("<QB", gop3, offset + 8 + 9 * i) for i in range(7)]
    assert [t for _, t in entries] == [0, 1, 1, 0, 1, 1, 0]
    for i, (at, kind) in enumerate(entries):
        assert struct.unpack_from("<BI", gop3, at) == (kind, i)  # frame type, frame number
    # Per-frame payload bytes from the index alone equal the records' stream lengths.
    sizes = [sum(len(s) for s in reader.read_frame(i)[1]) for i in range(7)]
    assert reader.frame_bytes() == sizes
    assert [len(reader.read_frame(i)[1]) for i in range(7)] == [2, 4, 4, 2, 4, 4, 2]
    # unpack gives the same streams laid out as version 1 (frame by frame).
    header, streams = unpack(gop3)
    assert header.frames == 7 and len(streams) == 3 * 2 + 4 * 4
    assert b"".join(streams) == b"".join(s for i in range(7) for s in reader.read_frame(i)[1])


def test_writer_refuses_wrong_frame_types_and_no_frames(gop3: bytes) -> None:
    header = VideoReader(gop3).header
    writer = VideoWriter(io.BytesIO(), header)
    with pytest.raises(FormatError, match="must be an I-frame"):
        writer.add_frame(False, [b"x" * 8] * 4)
    writer.add_frame(True, [b"y" * 8] * 2)
    with pytest.raises(FormatError, match="must be a P-frame"):
        writer.add_frame(True, [b"y" * 8] * 2)
    with pytest.raises(FormatError, match="a P-frame has 4 streams"):
        writer.add_frame(False, [b"y" * 8] * 2)
    with pytest.raises(FormatError, match="at least one frame"):
        VideoWriter(io.BytesIO(), header).close()


# -- coding ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["float", "fixed"])
def test_no_intra_period_is_model_compress(
    ssf_loaded: LoadedModel, clip: list[torch.Tensor], path: str
) -> None:
    """gop 0: the streams are ``model.compress``'s (in either coding mode); frame-by-frame
    decoding gives ``model.decompress``'s frames."""
    frames = clip[:2]
    data = encode_video(ssf_loaded, frames, Fraction(25), entropy_path=path)
    _, streams = unpack(data)
    out = net(ssf_loaded).compress(frames, entropy_path=path)
    expected = [out[0][0][0][0], out[0][0][1][0]]
    for frame in out[0][1:]:
        expected += [frame[k][j][0] for k in ("motion", "residual") for j in (0, 1)]
    assert streams == expected
    direct = net(ssf_loaded).decompress(*out, x_size=out.x_size, entropy_path=path)
    for (i, x), ref in zip(decode_video_frames(data, ssf_loaded), direct):
        assert torch.equal(x, ref), i


def test_encoder_decoder_classes(ssf_loaded: LoadedModel, clip: list[torch.Tensor]) -> None:
    model = net(ssf_loaded)
    encoder = VideoEncoder(model, gop=2)
    coded = [encoder.encode(x) for x in clip[:4]]
    assert [c.intra for c in coded] == [True, False, True, False]
    assert [len(c.streams) for c in coded] == [2, 4, 2, 4]
    full = VideoDecoder(model, x_size=(64, 80))
    frames = [full.decode(c.strings, c.shape) for c in coded]
    assert all(x.shape == (1, 3, 64, 80) for x in frames)
    # Random access: a fresh decoder from the I-frame at 2 gives the same frames 2..3.
    late = VideoDecoder(model, x_size=(64, 80))
    for i in range(2, 4):
        assert torch.equal(late.decode(coded[i].strings, coded[i].shape), frames[i])
    with pytest.raises(ValueError, match="start decoding at an I-frame"):
        VideoDecoder(model).decode(coded[1].strings, coded[1].shape)
    with pytest.raises(ValueError, match="same shape"):
        encoder.encode(clip[0][..., :32, :32])
    with pytest.raises(ValueError, match="gop"):
        VideoEncoder(model, gop=-1)
    # The building blocks code the same frames: the I-frame, then the P-frame predicted from
    # its reconstruction clamped to [0, 1] (the reference the encoder keeps).
    padded = [pad_to_multiple(x, 128)[0] for x in clip[:2]]
    x_hat, key = model.encode_keyframe(padded[0])
    _, inter = model.encode_inter(padded[1], x_hat.clamp(0, 1))
    assert key["strings"] == coded[0].strings and inter["strings"] == coded[1].strings
    assert key["shape"] == coded[0].shape and inter["shape"] == coded[1].shape
    ending = VideoEncoder(model)
    ending.encode(clip[0], last=True)
    with pytest.raises(ValueError, match="last=True"):
        ending.encode(clip[1])


def test_random_access_equals_full_decode(
    ssf_loaded: LoadedModel, gop3: bytes, gop3_frames: list[torch.Tensor]
) -> None:
    assert len(gop3_frames) == 7
    for start, stop in [(4, 6), (6, 7), (0, 2)]:
        got = list(decode_video_frames(gop3, ssf_loaded, start=start, stop=stop))
        assert [i for i, _ in got] == list(range(start, stop))
        for i, x in got:
            assert torch.equal(x, gop3_frames[i])
    with pytest.raises(ValueError, match="outside"):
        list(decode_video_frames(gop3, ssf_loaded, start=5, stop=9))


def test_decoding_reads_only_the_gop_needed(ssf_loaded: LoadedModel, gop3: bytes) -> None:
    """Frames 4..5 read records 3, 4, 5 only (the GOP from frame 3), nothing else: once to
    check them, once to decode them."""
    reader = VideoReader(gop3)
    read: list[int] = []
    original = reader.read_frame

    def spy(frame: int) -> tuple[bool, list[bytes]]:
        read.append(frame)
        return original(frame)

    reader.read_frame = spy  # type: ignore[method-assign]
    list(decode_video_frames(reader, ssf_loaded, start=4, stop=6))
    assert read == [3, 4, 5, 3, 4, 5]  # checked first, then decoded


def test_encoding_and_decoding_retain_no_frames(
    ssf_loaded: LoadedModel, moving_frames: Frames
) -> None:
    """Memory does not grow with the clip: once frame k is coded (decoded), frames before
    k - 2 (k - 1) are garbage, whoever produced them."""
    source = moving_frames(12, 64, 64, seed=6)
    alive: list[weakref.ref[torch.Tensor]] = []

    def frames() -> Iterator[torch.Tensor]:
        while source:
            x = source.pop(0)
            alive.append(weakref.ref(x))
            yield x
            gc.collect()
            stale = [i for i, ref in enumerate(alive[:-3]) if ref() is not None]
            assert not stale, f"input frames {stale} are still held after frame {len(alive)}"

    buffer = io.BytesIO()
    header = encode_video_to(buffer, ssf_loaded, frames(), Fraction(25), gop=5)
    assert header.frames == 12 and len(alive) == 12
    decoded: list[weakref.ref[torch.Tensor]] = []
    for i, x in decode_video_frames(buffer.getvalue(), ssf_loaded):
        decoded.append(weakref.ref(x))
        del x
        gc.collect()
        held = [j for j, ref in enumerate(decoded[:-2]) if ref() is not None]
        assert not held, f"decoded frames {held} are still held at frame {i}"


RSS_SCRIPT = textwrap.dedent(
    """
    import io, json, resource, sys
    from fractions import Fraction
    import torch
    sys.path.insert(0, sys.argv[1])
    from conftest import scale_ssf_weights
    from tinify.codec.coding import decode_video_frames, encode_video_to
    from tinify.codec.loading import LoadedModel, weights_id
    from tinify.models.video import ScaleSpaceFlow
    from tinify.utils.progress import listen

    torch.manual_seed(0)
    model = ScaleSpaceFlow()
    scale_ssf_weights(model)
    model.update(force=True)
    model.eval()
    loaded = LoadedModel(model, "ssf2020", 0, "mse", "checkpoint", weights_id(model))
    total, mark = int(sys.argv[2]), int(sys.argv[3])
    rss = {}

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def at(stage, done, _total):
        if done in (mark, total):
            rss[f"{stage}-{done}"] = peak()

    def frames():
        for i in range(total):
            g = torch.Generator().manual_seed(i)
            yield torch.rand(1, 3, 128, 128, generator=g)

    out = io.BytesIO()
    with listen(lambda s, d, t: at("encode", d, t)):
        encode_video_to(out, loaded, frames(), Fraction(25))
    with listen(lambda s, d, t: at("decode", d, t)):
        for _ in decode_video_frames(out.getvalue(), loaded, max_frames=total):
            pass
    print(json.dumps(rss))
    """
)


@pytest.mark.slow
def test_peak_memory_is_flat_over_a_long_clip(tmp_path: Path) -> None:
    """120 frames of 128x128: peak RSS after frame 120 is within a few MiB of the peak after
    frame 30, encoding and decoding (keeping the input clip alone would add 90 x 192 KiB =
    17 MiB, keeping the decoded frames as much again)."""
    script = tmp_path / "rss.py"
    script.write_text(RSS_SCRIPT)
    tests = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(script), str(tests), "120", "30"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "2"},
    )
    assert result.returncode == 0, result.stderr
    rss = json.loads(result.stdout.strip().splitlines()[-1])
    assert rss["encode-120"] - rss["encode-30"] < 8, rss
    assert rss["decode-120"] - rss["decode-30"] < 8, rss


def test_frame_limit_is_checked_as_frames_come(
    ssf_loaded: LoadedModel, clip: list[torch.Tensor]
) -> None:
    seen: list[int] = []

    def frames() -> Iterator[torch.Tensor]:
        for i, x in enumerate(clip):
            seen.append(i)
            yield x

    with pytest.raises(LimitError, match="limit of 3 frames"):
        encode_video_to(io.BytesIO(), ssf_loaded, frames(), Fraction(25), max_frames=3)
    assert len(seen) <= 5  # refused at the fourth frame (one read ahead), not after the clip


# -- old files ------------------------------------------------------------------------------------


def test_version_1_video_still_decodes(ssf_loaded: LoadedModel, clip: list[torch.Tensor]) -> None:
    """A video in tinify 0.1.0's layout (every stream length in the header) decodes as the same
    clip in the streaming layout."""
    frames = clip[:3]
    new = encode_video(ssf_loaded, frames, Fraction(25))
    header, streams = unpack(new)
    old = pack(header.__class__(**{**header.__dict__, "version": FORMAT_VERSION}), streams)
    assert old[8] == FORMAT_VERSION and new[8] == VIDEO_STREAM_VERSION
    a = decode_video(old, ssf_loaded).frames
    b = decode_video(new, ssf_loaded).frames
    assert len(a) == len(b) == 3 and all(torch.equal(x, y) for x, y in zip(a, b))
    assert VideoReader(old).frame_bytes() == VideoReader(new).frame_bytes()


# -- hostile files --------------------------------------------------------------------------------


def _retail(data: bytes, index: bytes) -> bytes:
    """``data`` with its index replaced by ``index`` (whose CRC is recomputed) and a valid tail."""
    offset = struct.unpack("<Q", data[-16:-8])[0]
    body = data[:offset] + index + struct.pack("<I", zlib.crc32(index))
    tail = struct.pack("<Q", offset) + b"TFYE"
    return body + tail + struct.pack("<I", zlib.crc32(tail))


def _index(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    offset = struct.unpack("<Q", data[-16:-8])[0]
    count = struct.unpack_from("<I", data, offset + 4)[0]
    return offset, [struct.unpack_from("<QB", data, offset + 8 + 9 * i) for i in range(count)]


def _crafted(data: bytes, entries: list[tuple[int, int]], count: int | None = None) -> bytes:
    index = b"TFYI" + struct.pack("<I", len(entries) if count is None else count)
    return _retail(data, index + b"".join(struct.pack("<QB", *e) for e in entries))


def hostile_cases(data: bytes) -> dict[str, tuple[bytes, str]]:
    """Damaged or crafted variants of a version-2 file (valid CRCs where crafted), with the
    words their error must contain."""
    offset, entries = _index(data)
    first = entries[1][0]
    record_crc = first + 5 + 16
    return {
        "killed encoder (no index)": (data[:offset], "truncated"),
        "cut in the index": (data[: offset + 20], "truncated"),
        "cut in a record": (data[: entries[2][0] + 9], "truncated"),
        "index crc": (data[:-20] + bytes([data[-20] ^ 1]) + data[-19:], "index is corrupt"),
        "tail crc": (data[:-1] + bytes([data[-1] ^ 1]), "truncated"),
        "absurd frame count": (_crafted(data, entries, 1_000_000), "cannot hold"),
        "frame count beyond the records": (
            _crafted(data, entries + [(offset - 9, 1)] * 5000),
            "hold at most",
        ),
        "offset past the records": (
            _crafted(data, entries + [(offset - 9, 1)] * 3),
            "impossible offset",
        ),
        "offsets not increasing": (
            _crafted(data, [entries[0], entries[2], entries[1], *entries[3:]]),
            "impossible offset",
        ),
        "wrong frame type": (
            _crafted(data, [entries[0], (entries[1][0], 0), *entries[2:]]),
            "intra period",
        ),
        "record crc": (
            data[:record_crc] + bytes([data[record_crc] ^ 1]) + data[record_crc + 1 :],
            "damaged",
        ),
        "appended bytes": (data + b"\0", "truncated"),
    }


def test_hostile_files_are_refused(ssf_loaded: LoadedModel, gop3: bytes) -> None:
    for name, (data, words) in hostile_cases(gop3).items():
        with pytest.raises(FormatError, match=words):
            decode_video(data, ssf_loaded)
        assert name


def test_every_truncation_and_flip_of_the_index_is_refused(gop3: bytes) -> None:
    """Without decoding (the reader alone): every cut and every flipped byte of the records'
    heads, the index and the tail is refused."""
    offset, entries = _index(gop3)
    for n in range(len(gop3)):
        with pytest.raises(FormatError):
            reader = VideoReader(gop3[:n])
            for i in range(reader.frames):
                reader.read_frame(i)
    spots = list(range(offset, len(gop3))) + [at + k for at, _ in entries for k in range(25)]
    for i in spots:
        damaged = bytearray(gop3)
        damaged[i] ^= 0x10 if i % 2 else 0x81
        with pytest.raises(FormatError):
            reader = VideoReader(bytes(damaged))
            for j in range(reader.frames):
                reader.read_frame(j)


def _synthetic(frames: int, gop: int) -> bytes:
    """A version-2 file of ``frames`` records of 8-byte streams (no model needed)."""
    header = VideoReader(_SYNTHETIC_BASE).header
    buffer = io.BytesIO()
    writer = VideoWriter(buffer, header.__class__(**{**header.__dict__, "gop": gop}))
    for i in range(frames):
        intra = i == 0 or (gop > 0 and i % gop == 0)
        writer.add_frame(intra, [bytes([i % 256]) * 8] * (2 if intra else 4))
    writer.close()
    return buffer.getvalue()


def _base() -> bytes:
    from tinify.codec.format import TfyHeader

    header = TfyHeader(
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
        fps=Fraction(25),
    )
    buffer = io.BytesIO()
    writer = VideoWriter(buffer, header)
    writer.add_frame(True, [bytes(8)] * 2)
    writer.close()
    return buffer.getvalue()


_SYNTHETIC_BASE = _base()


@settings(max_examples=150, deadline=None)
@given(
    frames=st.integers(1, 12),
    gop=st.integers(0, 4),
    count=st.one_of(st.none(), st.integers(0, (1 << 32) - 1)),
    entries=st.lists(st.tuples(st.integers(0, 1 << 12), st.integers(0, 3)), max_size=16),
)
def test_crafted_indexes_with_valid_crcs(
    frames: int, gop: int, count: int | None, entries: list[tuple[int, int]]
) -> None:
    """An index rewritten at random (valid CRCs, any count, offsets and types) is either the
    true one or refused with a FormatError: never an exception of another kind, never a frame
    that is not the one written."""
    data = _synthetic(frames, gop)
    _, true_entries = _index(data)
    crafted = _crafted(data, entries or true_entries, count)
    try:
        reader = VideoReader(crafted)
        got = [reader.read_frame(i) for i in range(reader.frames)]
    except FormatError:
        return
    assert reader.frames == frames
    assert [streams[0][:1] for _, streams in got] == [bytes([i % 256]) for i in range(frames)]


def test_huge_declared_frames_refused_before_decoding(ssf_loaded: LoadedModel, gop3: bytes) -> None:
    with pytest.raises(LimitError, match="limit of 5 frames"):
        list(decode_video_frames(gop3, ssf_loaded, max_frames=5))
    with pytest.raises(LimitError, match="pixels"):
        list(decode_video_frames(gop3, ssf_loaded, max_pixels=100))


# -- command line ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["y4m", "yuv", "png"])
def test_cli_round_trip_gop_and_frames(
    tmp_path: Path,
    kind: str,
    ssf_checkpoint: Path,
    ssf_loaded: LoadedModel,
    clip: list[torch.Tensor],
    gop3_frames: list[torch.Tensor],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Y4M, raw YUV and PNG folders in and out, with --gop 3 and decode --frames A:B."""
    frames = clip
    if kind == "y4m":
        src = tmp_path / "in.y4m"
        write_y4m(src, frames, (25, 1), "444")
    elif kind == "yuv":
        src = tmp_path / "in_80x64.yuv"
        write_yuv420(src, frames)
    else:
        src = tmp_path / "in"
        write_png_frames(frames, src)
    tfy = tmp_path / "v.tfy"
    ckpt = ["--checkpoint", str(ssf_checkpoint)]
    assert main(["encode", str(src), "-o", str(tfy), "--gop", "3", *ckpt]) == 0
    assert "an I-frame every 3" in capsys.readouterr().err
    assert main(["info", str(tfy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["frames"], info["gop"], info["i_frames"], info["format_version"]) == (
        7,
        3,
        [0, 3, 6],
        2,
    )
    reference = decode_video(tfy.read_bytes(), ssf_loaded).frames
    if kind == "png":  # the same 8-bit RGB input as the fixture's clip: the same file
        assert all(torch.equal(a, b) for a, b in zip(reference, gop3_frames))
    out = tmp_path / ("out" if kind == "png" else f"out.{kind}")
    assert main(["decode", str(tfy), "-o", str(out), "--frames", "4:6", *ckpt]) == 0
    assert "frames 4:6 of 7" in capsys.readouterr().err
    if kind == "y4m":
        planes, header = read_y4m(out)
        assert header.chroma == "444"
        want = [rgb_to_yuv(x, "444") for x in reference[4:6]]
    elif kind == "yuv":
        planes = read_yuv420(out, 80, 64)
        want = [rgb_to_yuv(x, "420") for x in reference[4:6]]
    else:
        got = read_png_frames(out)
        assert sorted(p.name for p in out.iterdir()) == ["00000.png", "00001.png"]
        assert [u8(x).tolist() for x in got] == [u8(x).tolist() for x in reference[4:6]]
        return
    assert len(planes) == 2
    for got_planes, want_planes in zip(planes, want):
        for a, b in zip(got_planes, want_planes):
            assert np.array_equal(a, b)


def test_cli_refuses_hostile_files_without_output(
    tmp_path: Path,
    gop3: bytes,
    ssf_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    ckpt = ["--checkpoint", str(ssf_checkpoint)]
    for name, (data, words) in hostile_cases(gop3).items():
        tfy = tmp_path / "bad.tfy"
        tfy.write_bytes(data)
        before = listing(tmp_path)
        for out in ("frames", "o.y4m", "o.yuv"):
            assert main(["decode", str(tfy), "-o", str(tmp_path / out), *ckpt]) == 1, name
            line = one_error_line(capsys.readouterr().err, "decode")
            assert words in line and str(tfy) in line, (name, line)
            assert listing(tmp_path) == before, name
        assert main(["info", str(tfy)]) == 1
        one_error_line(capsys.readouterr().err, "info")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "7:9"], "outside the video's frames"),
        (["--frames", "3:3"], "an empty range"),
        (["--frames", "9"], "outside the video's frames"),
        (["--frames", "a:b"], "--frames must be"),
        (["--max-frames", "4"], "limit of 4 frames"),
    ],
)
def test_cli_decode_range_and_limits(
    tmp_path: Path,
    gop3: bytes,
    ssf_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
    extra: list[str],
    message: str,
) -> None:
    tfy = tmp_path / "v.tfy"
    tfy.write_bytes(gop3)
    before = listing(tmp_path)
    args = ["decode", str(tfy), "-o", str(tmp_path / "o.y4m"), "--checkpoint", str(ssf_checkpoint)]
    assert main([*args, *extra]) == 1
    assert message in one_error_line(capsys.readouterr().err, "decode")
    assert listing(tmp_path) == before


def test_cli_encode_frame_limit_leaves_no_output(
    tmp_path: Path,
    ssf_checkpoint: Path,
    clip: list[torch.Tensor],
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    src = tmp_path / "in.y4m"
    write_y4m(src, clip, (25, 1))
    before = listing(tmp_path)
    args = ["encode", str(src), "-o", str(tmp_path / "v.tfy"), "--checkpoint", str(ssf_checkpoint)]
    assert main([*args, "--max-frames", "2"]) == 1
    assert "limit of 2 frames" in one_error_line(capsys.readouterr().err, "encode")
    assert listing(tmp_path) == before
    assert main([*args, "--gop", "-1"]) == 1
    assert "--gop must be" in one_error_line(capsys.readouterr().err, "encode")
