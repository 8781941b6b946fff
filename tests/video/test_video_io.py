"""Video I/O: PNG folders, Y4M (4:2:0, 4:4:4), raw YUV; BT.709 conversions; malformed files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tinify.io.video import (
    VideoFormatError,
    Y4MHeader,
    YUVFrame,
    parse_y4m_header,
    read_png_frames,
    read_video,
    read_y4m,
    read_yuv420,
    rgb2ycbcr,
    rgb_to_yuv,
    write_png_frames,
    write_video,
    write_y4m,
    write_yuv420,
    ycbcr2rgb,
    yuv_420_to_444,
    yuv_444_to_420,
    yuv_to_rgb,
)

LoadClip = Callable[..., list[torch.Tensor]]


def _planes(h: int, w: int, chroma: str, seed: int) -> YUVFrame:
    rng = np.random.default_rng(seed)
    ch, cw = (h, w) if chroma == "444" else ((h + 1) // 2, (w + 1) // 2)
    return YUVFrame(
        rng.integers(0, 256, (h, w), dtype=np.uint8),
        rng.integers(0, 256, (ch, cw), dtype=np.uint8),
        rng.integers(0, 256, (ch, cw), dtype=np.uint8),
    )


def _same(a: YUVFrame, b: YUVFrame) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(a, b))


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return 10 * np.log10(1.0 / mse)


# -- colour ---------------------------------------------------------------------------------------


def test_bt709_values_and_inverse() -> None:
    rgb = torch.tensor([[1.0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 0, 1]]).T.reshape(1, 3, 4, 1)
    ycbcr = rgb2ycbcr(rgb)[0, :, :, 0].T
    expected = [
        [1.0, 0.5, 0.5],
        [0.0, 0.5, 0.5],
        [0.2126, 0.5 - 0.5 * 0.2126 / 0.9278, 1.0],
        [0.0722, 1.0, 0.5 - 0.5 * 0.0722 / 0.7874],
    ]
    assert torch.allclose(ycbcr, torch.tensor(expected), atol=1e-6)
    x = torch.rand(2, 3, 8, 10)
    assert torch.allclose(ycbcr2rgb(rgb2ycbcr(x)), x, atol=1e-6)


def test_420_subsampling_and_upsampling() -> None:
    yuv = torch.rand(1, 3, 6, 10)
    y, u, v = yuv_444_to_420(yuv)
    assert y.shape == (1, 1, 6, 10) and u.shape == v.shape == (1, 1, 3, 5)
    assert torch.allclose(u[0, 0, 0, 0], yuv[0, 1, :2, :2].mean())
    up = yuv_420_to_444((y, u, v))
    assert up.shape == (1, 3, 6, 10) and torch.equal(up[:, 0], yuv[:, 0])
    flat = torch.full((1, 1, 3, 5), 0.3)
    assert torch.allclose(yuv_420_to_444((y, flat, flat))[:, 1:], torch.full((1, 2, 6, 10), 0.3))
    # Odd sizes: the last chroma sample averages the pixels that exist.
    odd = torch.rand(1, 3, 5, 7)
    y, u, v = yuv_444_to_420(odd)
    assert u.shape == (1, 1, 3, 4)
    assert torch.allclose(u[0, 0, 2, 3], odd[0, 1, 4, 6])
    assert yuv_420_to_444((y, u, v)).shape == (1, 3, 5, 7)


def test_matches_compressai_transforms(compressai: Any) -> None:
    import importlib

    fn = importlib.import_module("compressai.transforms.functional")
    x = torch.rand(2, 3, 16, 24)
    assert torch.allclose(rgb2ycbcr(x), fn.rgb2ycbcr(x), atol=1e-6)
    assert torch.allclose(ycbcr2rgb(x), fn.ycbcr2rgb(x), atol=1e-6)
    for ours, theirs in zip(yuv_444_to_420(x), fn.yuv_444_to_420(x)):
        assert torch.allclose(ours, theirs, atol=1e-6)
    planes = fn.yuv_444_to_420(x)
    assert torch.allclose(yuv_420_to_444(planes), fn.yuv_420_to_444(planes), atol=1e-6)


def test_rgb_yuv_frame_round_trip(load_clip: LoadClip) -> None:
    (frame,) = load_clip("davis_dog", 1, (64, 96))
    for chroma, min_psnr in (("444", 45.0), ("420", 30.0)):
        planes = rgb_to_yuv(frame, chroma)
        assert planes.chroma == chroma and planes.y.dtype == np.uint8
        back = yuv_to_rgb(planes)
        assert back.shape == frame.shape and 0 <= back.min() and back.max() <= 1
        assert _psnr(back, frame) > min_psnr


# -- PNG folders ----------------------------------------------------------------------------------


def test_png_folder_round_trip(tmp_path: Path, load_clip: LoadClip) -> None:
    frames = load_clip("davis_parkour", 3, (40, 56))
    paths = write_png_frames(frames, tmp_path / "out")
    assert [p.name for p in paths] == ["00000.png", "00001.png", "00002.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in paths]
    back = read_png_frames(tmp_path / "out")
    assert all(torch.equal(a, b) for a, b in zip(frames, back))  # 8-bit values: exact
    assert len(read_png_frames(tmp_path / "out", start=1, count=1)) == 1
    assert all(torch.equal(a, b) for a, b in zip(frames, read_video(tmp_path / "out")))
    write_video(frames, tmp_path / "again")
    assert torch.equal(read_png_frames(tmp_path / "again")[2], frames[2])


def test_png_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a directory"):
        read_png_frames(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no .png"):
        read_png_frames(tmp_path / "empty")
    write_png_frames([torch.rand(1, 3, 8, 8)], tmp_path / "mixed")
    write_png_frames([torch.rand(3, 8, 9)], tmp_path / "mixed", pattern="{:05d}b.png")
    with pytest.raises(VideoFormatError, match="one size"):
        read_png_frames(tmp_path / "mixed")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "0.png").write_bytes(b"not a png")
    with pytest.raises(VideoFormatError, match="cannot decode"):
        read_png_frames(tmp_path / "bad")


# -- Y4M ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("chroma", "h", "w"), [("420", 6, 10), ("420", 5, 7), ("444", 4, 6)])
def test_y4m_planes_round_trip(tmp_path: Path, chroma: str, h: int, w: int) -> None:
    frames = [_planes(h, w, chroma, seed) for seed in range(3)]
    path = tmp_path / "clip.y4m"
    header = write_y4m(path, frames, fps=(25, 1))
    assert header.chroma == chroma and header.frame_bytes == sum(p.size for p in frames[0])
    data = path.read_bytes()
    colour = "C444" if chroma == "444" else "C420jpeg"
    assert data.startswith(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 {colour}\n".encode())
    assert data.count(b"FRAME\n") == 3
    back, header2 = read_y4m(path)
    assert header2 == header and len(back) == 3
    assert all(_same(a, b) for a, b in zip(frames, back))
    assert len(read_y4m(path, max_frames=2)[0]) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["clip.y4m"]  # no temporary left


def test_y4m_rgb_round_trip_and_header_variants(tmp_path: Path, load_clip: LoadClip) -> None:
    frames = load_clip("davis_blackswan", 2, (64, 64))
    for chroma, min_psnr in (("420", 30.0), ("444", 45.0)):
        path = tmp_path / f"clip{chroma}.y4m"
        write_video(frames, path, chroma=chroma)
        back = read_video(path)
        assert len(back) == 2 and all(_psnr(a, b) > min_psnr for a, b in zip(back, frames))
    # Frame parameters, X tags, other 4:2:0 names and a missing C (4:2:0) are accepted.
    planes = _planes(4, 4, "420", 0)
    body = b"".join(p.tobytes() for p in planes)
    path = tmp_path / "variants.y4m"
    path.write_bytes(b"YUV4MPEG2 W4 H4 F30000:1001 It A0:0 XYSCSS=420JPEG\nFRAME Ixyz\n" + body)
    (frame,), header = read_y4m(path)
    assert _same(frame, planes)
    assert header.fps == (30000, 1001) and header.interlace == "t"
    assert header.colorspace == "420jpeg" and header.extra == ("XYSCSS=420JPEG",)
    for colour in ("420", "420mpeg2", "420paldv"):
        assert parse_y4m_header(f"YUV4MPEG2 W2 H2 C{colour}\n".encode()).chroma == "420"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"YUV4MPEG W4 H4\n", "not a Y4M"),
        (b"RIFF....\n", "not a Y4M"),
        (b"YUV4MPEG2 H4\n", "no W"),
        (b"YUV4MPEG2 W4\n", "no H"),
        (b"YUV4MPEG2 W0 H4\n", "outside"),
        (b"YUV4MPEG2 W99999 H4\n", "outside"),
        (b"YUV4MPEG2 W999999999999 H4\n", "positive integer"),
        (b"YUV4MPEG2 W-4 H4\n", "positive integer"),
        (b"YUV4MPEG2 Wabc H4\n", "positive integer"),
        (b"YUV4MPEG2 W4 H4 W8\n", "twice"),
        (b"YUV4MPEG2 W4 H4 C422\n", "not supported"),
        (b"YUV4MPEG2 W4 H4 C420p10\n", "not supported"),
        (b"YUV4MPEG2 W4 H4 Cmono\n", "not supported"),
        (b"YUV4MPEG2 W4 H4 F30\n", "num:den"),
        (b"YUV4MPEG2 W4 H4 F0:1\n", "positive"),
        (b"YUV4MPEG2 W4 H4 Ix\n", "interlacing"),
        (b"YUV4MPEG2 W4  H4\n", "empty parameter"),
        (b"YUV4MPEG2 W4 H4 \xff\n", "non-ASCII"),
        (b"YUV4MPEG2 W4 H4", "no end of line"),
        (b"YUV4MPEG2 W4 H4 " + b"X" * 5000 + b"\n", "longer than"),
        (b"", "not a Y4M"),
    ],
)
def test_y4m_malformed_headers(tmp_path: Path, header: bytes, message: str) -> None:
    path = tmp_path / "bad.y4m"
    path.write_bytes(header)
    with pytest.raises(VideoFormatError, match=message):
        read_y4m(path)


def test_y4m_truncated_and_corrupt_frames(tmp_path: Path) -> None:
    planes = _planes(4, 6, "420", 1)
    body = b"".join(p.tobytes() for p in planes)  # 24 + 2 * 6 = 36 bytes
    head = b"YUV4MPEG2 W6 H4 F25:1 C420jpeg\n"
    cases = [
        (head + b"FRAME\n" + body + b"FRAME\n" + body[:20], r"frame 1 is truncated.*36.*20"),
        (head + b"FRAME\n" + body[:-1], "frame 0 is truncated"),
        (head + b"FRAME\n" + body + b"FRAM", "FRAME header 1 is truncated"),
        (head + b"FRAME\n" + body + b"GARBAGE\n" + body, "expected 'FRAME' before frame 1"),
        (head + b"FRAME" + b" " * 5000, "longer than"),
    ]
    for data, message in cases:
        path = tmp_path / "clip.y4m"
        path.write_bytes(data)
        with pytest.raises(VideoFormatError, match=message):
            read_y4m(path)
    path.write_bytes(head)  # a header and no frame is an empty clip
    assert read_y4m(path)[0] == []


def test_y4m_header_object() -> None:
    header = Y4MHeader(7, 5, (24, 1), "444")
    assert parse_y4m_header(header.encode()) == header
    assert header.frame_bytes == 3 * 35
    assert Y4MHeader(7, 5).frame_bytes == 35 + 2 * 4 * 3


# -- raw YUV 4:2:0 --------------------------------------------------------------------------------


def test_yuv420_round_trip(tmp_path: Path, load_clip: LoadClip) -> None:
    frames = [_planes(6, 8, "420", seed) for seed in range(4)]
    path = tmp_path / "clip_8x6_30Hz_8bit_P420.yuv"
    write_yuv420(path, frames)
    assert path.stat().st_size == 4 * (48 + 2 * 12)
    back = read_yuv420(path, 8, 6)
    assert len(back) == 4 and all(_same(a, b) for a, b in zip(frames, back))
    assert len(read_yuv420(path, 8, 6, max_frames=3)) == 3
    rgb = read_video(path)  # size from the name
    assert len(rgb) == 4 and rgb[0].shape == (1, 3, 6, 8)
    clip = load_clip("davis_car-roundabout", 2, (32, 48))
    write_video(clip, tmp_path / "rgb.yuv")
    assert all(_psnr(a, b) > 30 for a, b in zip(read_video(tmp_path / "rgb.yuv", 48, 32), clip))


def test_yuv420_errors(tmp_path: Path) -> None:
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(48 + 24 + 5))
    with pytest.raises(VideoFormatError, match="whole number"):
        read_yuv420(path, 8, 6)
    with pytest.raises(ValueError, match="width and height"):
        read_video(path)
    with pytest.raises(ValueError, match="width"):
        read_yuv420(path, 0, 6)
    with pytest.raises(ValueError, match="4:2:0"):
        write_yuv420(path, [_planes(4, 4, "444", 0)])
    with pytest.raises(ValueError, match="planes"):
        write_yuv420(path, [_planes(4, 4, "420", 0), _planes(4, 6, "420", 0)])
    with pytest.raises(ValueError, match="unknown video format"):
        write_video([torch.rand(1, 3, 4, 4)], tmp_path / "clip.mp4")
    with pytest.raises(FileNotFoundError):
        read_video(tmp_path / "missing.y4m")


def test_read_shared_clip(video_dir: Path) -> None:
    frames = read_video(video_dir / "davis_dog", max_frames=2)
    assert len(frames) == 2 and frames[0].shape == (1, 3, 360, 640)
    assert frames[0].dtype == torch.float32 and 0 <= frames[0].min() and frames[0].max() <= 1
