"""tinify.datasets.rawvideo: names parsed, frame records laid out as the planes on disk."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from tinify.datasets.rawvideo import (
    RawVideoSequence,
    VideoFormat,
    get_num_frms,
    get_raw_video_file_info,
    make_dtype,
)
from tinify.exceptions import TinifyError
from tinify.io.video import read_yuv420, write_yuv420


def test_file_names() -> None:
    info = get_raw_video_file_info("C_RaceHorses_2frames_832x480_30Hz_8bit_P420.yuv")
    assert info == {
        "width": 832,
        "height": 480,
        "framerate": Fraction(30),
        "bitdepth": 8,
        "format": VideoFormat.YUV420,
        "extension": "yuv",
    }
    info = get_raw_video_file_info("/data/1920x1080/Kimono_1920x1080_23.98fps_I420_10LE.yuv")
    assert (info["width"], info["height"], info["bitdepth"]) == (1920, 1080, 10)
    assert info["framerate"] == Fraction(24000, 1001) and info["endianness"] == "le"
    info = get_raw_video_file_info("clip_64x48_yuv422p10le.raw")
    assert (info["format"], info["bitdepth"], info["extension"]) == (VideoFormat.YUV422, 10, "raw")
    assert get_raw_video_file_info("foo_444_16x16_29.97Hz.yuv")["format"] is VideoFormat.YUV444
    assert get_raw_video_file_info("foo_444_16x16_29.97Hz.yuv")["framerate"] == Fraction(
        30000, 1001
    )
    assert get_raw_video_file_info("movie.mp4") == {}
    with pytest.raises(ValueError, match="bit-depth twice"):
        get_raw_video_file_info("a_16x16_8bit_yuv420p10le.yuv")


def test_dtype_and_frame_count() -> None:
    d = make_dtype(VideoFormat.YUV420, np.uint8, width=5, height=3)
    assert [(n, d[n].shape) for n in d.names] == [("y", (3, 5)), ("u", (2, 3)), ("v", (2, 3))]
    assert d.itemsize == 15 + 12
    d = make_dtype("p422", np.uint16, width=6, height=4)
    assert d["u"].shape == (4, 3) and d.itemsize == 2 * (24 + 24)
    assert make_dtype(VideoFormat.YUV400, np.uint8, 4, 4).itemsize == 16
    assert make_dtype(VideoFormat.RGB, np.uint8, 4, 2).names == ("r", "g", "b")
    assert get_num_frms(3 * 6144 + 5, 64, 64, VideoFormat.YUV420, np.uint8) == 3
    assert get_num_frms(2 * 2 * 6144, 64, 64, VideoFormat.YUV420, np.uint16) == 2
    with pytest.raises(KeyError, match="unknown video format"):
        make_dtype("nv12", np.uint8, 4, 4)


def _planes(t: int, h: int, w: int, ch: int, cw: int, dtype: type, top: int) -> list[np.ndarray]:
    g = np.random.default_rng(t)
    return [g.integers(0, top, size=s, dtype=dtype) for s in ((h, w), (ch, cw), (ch, cw))]


@pytest.mark.parametrize(
    ("name", "depth", "sizes"),
    [
        ("a_6x4_8bit_P420.yuv", 8, (2, 3)),
        ("a_6x4_10bit_P444.yuv", 10, (4, 6)),
        ("a_5x3_I422_12LE.yuv", 12, (3, 3)),
        ("a_6x4_yuv420p10be.yuv", 10, (2, 3)),
    ],
)
def test_reads_planes_as_written(tmp_path: Path, name: str, depth: int, sizes: tuple) -> None:
    info = get_raw_video_file_info(name)
    w, h = info["width"], info["height"]
    dtype = np.dtype(np.uint8 if depth == 8 else np.uint16)
    if info.get("endianness") == "be":
        dtype = dtype.newbyteorder(">")
    frames = [_planes(t, h, w, *sizes, np.uint16, 1 << depth) for t in range(3)]
    (tmp_path / name).write_bytes(b"".join(p.astype(dtype).tobytes() for f in frames for p in f))
    seq = RawVideoSequence.from_file(str(tmp_path / name))
    assert (len(seq), seq.total_frms, seq.width, seq.height, seq.bitdepth) == (3, 3, w, h, depth)
    for t, planes in enumerate(frames):
        for key, plane in zip("yuv", planes):
            np.testing.assert_array_equal(seq[t][key], plane)
    assert seq[1:]["y"].shape == (2, h, w)
    other = tmp_path / ("b" + name[1:])
    other.write_bytes((tmp_path / name).read_bytes()[: 2 * seq.dtype.itemsize])
    like = RawVideoSequence.new_like(seq, other)
    assert len(like) == 2 and np.array_equal(like[1]["v"], seq[1]["v"])
    seq.close()


def test_same_planes_as_io_reader(tmp_path: Path) -> None:
    """The 8-bit 4:2:0 files tinify.io.video writes and reads are RawVideoSequence's."""
    path = tmp_path / "clip_34x18_P420.yuv"  # odd chroma size: 17x9
    write_yuv420(path, [torch.rand(1, 3, 18, 34) for _ in range(2)])
    seq = RawVideoSequence.from_file(path)
    frames = read_yuv420(path, 34, 18)
    assert len(seq) == len(frames) == 2
    for record, frame in zip(seq, frames):
        for key, plane in zip("yuv", frame):
            np.testing.assert_array_equal(record[key], plane)


def test_errors(tmp_path: Path) -> None:
    path = tmp_path / "cut_8x8_8bit_P420.yuv"
    path.write_bytes(bytes(96 + 10))
    with pytest.raises(ValueError, match="not a whole number of 8x8") as info:
        RawVideoSequence.from_file(path)
    assert isinstance(info.value, ValueError)
    nameless = tmp_path / "clip.yuv"
    nameless.write_bytes(bytes(96))
    with pytest.raises(RuntimeError, match="Could not get sequence information") as err:
        RawVideoSequence.from_file(nameless)
    assert isinstance(err.value, TinifyError)
    seq = RawVideoSequence.from_file(nameless, width=8, height=8, bitdepth=8, format="yuv420")
    assert len(seq) == 1 and seq.framerate is None
    with pytest.raises(FileNotFoundError):
        RawVideoSequence.from_file(tmp_path / "missing_8x8_P420.yuv")
    with pytest.raises(KeyError, match="bit depth"):
        RawVideoSequence.from_file(nameless, width=8, height=8, bitdepth=17, format="yuv420")
    odd = tmp_path / "odd_8x8_10bit_P420.yuv"
    odd.write_bytes(bytes(7))
    with pytest.raises(ValueError, match="2-byte samples"):
        RawVideoSequence.from_file(odd)


def test_matches_compressai(compressai: object, tmp_path: Path) -> None:
    rawvideo = pytest.importorskip("compressai.datasets.rawvideo")
    names = [
        "C_RaceHorses_2frames_832x480_30Hz_8bit_P420.yuv",
        "Kimono_1920x1080_23.98fps_10bit_420.yuv",
        "x_64x64_60Hz_8bit_yuv444.yuv",
        "y_32x16_yuv422_29.97fps.yuv",
    ]
    for name in names:
        ours, theirs = get_raw_video_file_info(name), rawvideo.get_raw_video_file_info(name)
        for key in ("width", "height", "framerate", "bitdepth"):
            assert ours[key] == theirs[key], (name, key)
        assert ours["format"].value == theirs["format"].value
    for fmt in ("YUV420", "YUV422", "YUV444"):
        a = make_dtype(VideoFormat[fmt], np.uint8, 16, 8)
        b = rawvideo.make_dtype(rawvideo.VideoFormat[fmt], np.uint8, 16, 8)
        assert a == b
        assert get_num_frms(10_000, 16, 8, VideoFormat[fmt], np.uint8) == rawvideo.get_num_frms(
            10_000, 16, 8, rawvideo.VideoFormat[fmt], np.uint8
        )
    path = tmp_path / "clip_16x8_30Hz_8bit_P420.yuv"  # CompressAI needs the rate too
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 3 * 192, np.uint8).tobytes())
    ours, theirs = RawVideoSequence.from_file(path), rawvideo.RawVideoSequence.from_file(str(path))
    assert len(ours) == len(theirs) == ours.total_frms == theirs.total_frms == 3
    for i in range(3):
        for key in "yuv":
            np.testing.assert_array_equal(ours[i][key], theirs[i][key])
