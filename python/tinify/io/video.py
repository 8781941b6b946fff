# SPDX-License-Identifier: Apache-2.0
"""Video I/O and colour conversions for the video codecs.

Formats (all 8-bit):

- folders of PNG frames, read in name order (:func:`read_png_frames`, :func:`write_png_frames`);
- YUV4MPEG2 (``.y4m``) files with 4:2:0 or 4:4:4 chroma (:func:`read_y4m`, :func:`write_y4m`);
- raw planar YUV 4:2:0 (``.yuv``, I420) with the size given (:func:`read_yuv420`,
  :func:`write_yuv420`).

:func:`read_video` and :func:`write_video` pick the format from the path and convert to and from
RGB tensors ``(1, 3, H, W)`` in [0, 1], the models' input.

Colour: ITU-R BT.709 full range, ``Kr = 0.2126``, ``Kb = 0.0722``, chroma centred at 0.5, as
CompressAI's video tools use. 4:2:0 chroma is the 2x2 average of the 4:4:4 chroma and is brought
back by bilinear x2 upsampling (``align_corners=False``)::

    RGB ──rgb2ycbcr──► YCbCr 4:4:4 ──yuv_444_to_420──► Y + 2x2-averaged Cb, Cr ──► uint8 planes
    RGB ◄─ycbcr2rgb─── YCbCr 4:4:4 ◄─yuv_420_to_444─── Y + bilinear x2 Cb, Cr ◄── uint8 planes

Every reader has a streaming form that yields one frame at a time (:func:`iter_png_frames`,
:func:`iter_y4m`, :func:`iter_yuv420`, :func:`iter_video`) and every file writer one that
appends frames as they come (:class:`Y4MWriter`, :class:`YUV420Writer`); the list forms are
built on them. Memory then stays at one frame whatever the clip's length.

Malformed or truncated files raise :class:`VideoFormatError` (a ``ValueError``) naming the
problem; nothing is read past a bounded header, and frame sizes are bounded before any
allocation.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, Union, overload

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor

from tinify.exceptions import (
    InputError,
    MissingFileError,
    ParameterError,
    ParameterTypeError,
    VideoFormatError,
)
from tinify.io.image import PNG_COMPRESS_LEVEL
from tinify.utils.arrays import to_numpy
from tinify.utils.files import atomic_path

__all__ = [
    "DOWNSAMPLING_MODES",
    "KB",
    "KR",
    "MAX_DIMENSION",
    "VideoFormatError",
    "Y4MHeader",
    "Y4MWriter",
    "UPSAMPLING_MODES",
    "YUV420Writer",
    "YUVFrame",
    "iter_png_frames",
    "iter_video",
    "iter_y4m",
    "iter_yuv420",
    "parse_y4m_header",
    "read_png_frames",
    "read_video",
    "read_y4m",
    "read_yuv420",
    "rgb2ycbcr",
    "yuv_name_format",
    "rgb_to_yuv",
    "write_png_frames",
    "write_video",
    "write_y4m",
    "write_yuv420",
    "ycbcr2rgb",
    "yuv_420_to_444",
    "yuv_444_to_420",
    "yuv_to_rgb",
]

#: BT.709 luma weights of red and blue (green is ``1 - KR - KB``).
KR = 0.2126
KB = 0.0722
KG = 1.0 - KR - KB

#: Largest width or height accepted in a header or an argument.
MAX_DIMENSION = 16384
#: A Y4M stream header or FRAME line longer than this is rejected.
MAX_HEADER_BYTES = 4096

PathLike = Union[str, "os.PathLike[str]"]
Uint8Array = NDArray[np.uint8]


class YUVFrame(NamedTuple):
    """One 8-bit planar frame: ``y`` (H, W); ``u``, ``v`` (ceil(H/2), ceil(W/2)) for 4:2:0 or
    (H, W) for 4:4:4."""

    y: Uint8Array
    u: Uint8Array
    v: Uint8Array

    @property
    def chroma(self) -> str:
        """``"444"`` when the chroma planes have the luma size, else ``"420"``."""
        return "444" if self.u.shape == self.y.shape else "420"


# -- colour ---------------------------------------------------------------------------------------


#: Chroma downsampling modes of :func:`yuv_444_to_420`.
DOWNSAMPLING_MODES = ("avg_pool",)
#: Chroma upsampling modes of :func:`yuv_420_to_444`.
UPSAMPLING_MODES = ("bilinear", "bicubic", "nearest")


def _check_colour_tensor(x: object) -> None:
    if not (
        isinstance(x, Tensor) and x.is_floating_point() and x.dim() in (3, 4) and x.size(-3) == 3
    ):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ParameterError(
            f"expected a floating-point tensor of shape (N, 3, H, W) or (3, H, W), got {got}"
        )


def rgb2ycbcr(rgb: Tensor) -> Tensor:
    """BT.709 full-range RGB -> YCbCr, (N, 3, H, W) or (3, H, W) in [0, 1] (chroma centred at 0.5).

    Raises:
        ParameterError: (a ``ValueError``) ``rgb`` is not a floating-point (N, 3, H, W) or
            (3, H, W) tensor.
    """
    _check_colour_tensor(rgb)
    r, g, b = rgb.unbind(-3)
    y = KR * r + KG * g + KB * b
    cb = 0.5 * (b - y) / (1.0 - KB) + 0.5
    cr = 0.5 * (r - y) / (1.0 - KR) + 0.5
    return torch.stack([y, cb, cr], dim=-3)


def ycbcr2rgb(ycbcr: Tensor) -> Tensor:
    """Inverse of :func:`rgb2ycbcr` (no clamping); the same shapes and checks."""
    _check_colour_tensor(ycbcr)
    y, cb, cr = ycbcr.unbind(-3)
    r = y + 2.0 * (1.0 - KR) * (cr - 0.5)
    b = y + 2.0 * (1.0 - KB) * (cb - 0.5)
    g = (y - KR * r - KB * b) / KG
    return torch.stack([r, g, b], dim=-3)


def yuv_444_to_420(
    yuv: Tensor | Sequence[Tensor], mode: str = "avg_pool"
) -> tuple[Tensor, Tensor, Tensor]:
    """Subsample chroma by 2x2 averaging: (N, 3, H, W) (or ``(y, u, v)``) -> ``(y, u, v)``.

    ``u`` and ``v`` are (N, 1, ceil(H/2), ceil(W/2)); on odd sizes the last row or column is
    averaged over the pixels that exist.

    Args:
        yuv: One (N, 3, H, W) tensor or three (N, 1, H, W) planes.
        mode: ``"avg_pool"`` (the only one).

    Raises:
        ParameterError: (a ``ValueError``) an unknown ``mode``.
    """
    if mode not in DOWNSAMPLING_MODES:
        raise ParameterError(f"mode must be one of {DOWNSAMPLING_MODES}, got {mode!r}")
    y, u, v = yuv.chunk(3, dim=1) if isinstance(yuv, Tensor) else yuv

    def down(c: Tensor) -> Tensor:
        return F.avg_pool2d(c, kernel_size=2, stride=2, ceil_mode=True)

    return y, down(u), down(v)


@overload
def yuv_420_to_444(
    yuv: Sequence[Tensor], mode: str = ..., return_tuple: Literal[False] = ...
) -> Tensor: ...
@overload
def yuv_420_to_444(
    yuv: Sequence[Tensor], mode: str = ..., *, return_tuple: Literal[True]
) -> tuple[Tensor, Tensor, Tensor]: ...
def yuv_420_to_444(
    yuv: Sequence[Tensor], mode: str = "bilinear", return_tuple: bool = False
) -> Tensor | tuple[Tensor, Tensor, Tensor]:
    """Upsample 4:2:0 chroma x2 to the luma size (cropping on odd sizes).

    Args:
        yuv: ``(y, u, v)``; ``y`` (N, 1, H, W), ``u`` and ``v`` (N, 1, ceil(H/2), ceil(W/2)).
        mode: ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
        return_tuple: return ``(y, u, v)`` instead of one (N, 3, H, W) tensor.

    Raises:
        ParameterError: (a ``ValueError``) ``yuv`` is not three tensors, or an unknown ``mode``.
    """
    if len(yuv) != 3 or not all(isinstance(c, Tensor) for c in yuv):
        raise ParameterError("yuv must be a tuple of 3 tensors (y, u, v)")
    if mode not in UPSAMPLING_MODES:
        raise ParameterError(f"mode must be one of {UPSAMPLING_MODES}, got {mode!r}")
    y, u, v = yuv
    h, w = y.shape[-2:]
    extra = {} if mode == "nearest" else {"align_corners": False}

    def up(c: Tensor) -> Tensor:
        return F.interpolate(c, scale_factor=2.0, mode=mode, **extra)[..., :h, :w]

    u, v = up(u), up(v)
    if return_tuple:
        return y, u, v
    return torch.cat([y, u, v], dim=1)


def _to_uint8(x: Tensor) -> Uint8Array:
    return to_numpy((x * 255.0).round_().clamp_(0, 255), np.uint8)


def rgb_to_yuv(rgb: Tensor, chroma: str = "420") -> YUVFrame:
    """An RGB frame (1, 3, H, W) or (3, H, W) in [0, 1] -> 8-bit planes (4:2:0 or 4:4:4)."""
    _check_chroma(chroma)
    rgb = _frame_tensor(rgb, "rgb")
    ycbcr = rgb2ycbcr(rgb.float().clamp(0, 1))
    planes = yuv_444_to_420(ycbcr) if chroma == "420" else ycbcr.chunk(3, dim=1)
    y, u, v = (_to_uint8(p[0, 0]) for p in planes)
    return YUVFrame(y, u, v)


def yuv_to_rgb(frame: YUVFrame, mode: str = "bilinear") -> Tensor:
    """8-bit planes -> an RGB frame (1, 3, H, W) float32 in [0, 1] (clamped).

    ``mode`` upsamples 4:2:0 chroma (``"bilinear"``; CompressAI's video evaluation reads its raw
    YUV input with ``"bicubic"``).
    """
    y, u, v = (torch.from_numpy(np.asarray(p)).float().div_(255.0)[None, None] for p in frame)
    if u.shape == y.shape:
        ycbcr = torch.cat([y, u, v], dim=1)
    else:
        ycbcr = yuv_420_to_444((y, u, v), mode=mode)
    return ycbcr2rgb(ycbcr).clamp_(0, 1)


# -- PNG folders ----------------------------------------------------------------------------------


def read_png_frames(
    folder: PathLike, start: int = 0, count: int | None = None, *, max_pixels: int | None = None
) -> list[Tensor]:
    """Read ``*.png`` files of ``folder`` in name order as RGB tensors (1, 3, H, W) in [0, 1].

    Args:
        folder: a directory of PNG frames.
        start: index of the first frame to read.
        count: how many frames (default: all from ``start``).
        max_pixels: the pixel limit of each frame (see :func:`tinify.codec.limits.max_pixels`).

    Raises:
        MissingFileError: ``folder`` is not a directory or holds no PNG file.
        VideoFormatError: frames differ in size or cannot be decoded.
    """
    return list(iter_png_frames(folder, start, count, max_pixels=max_pixels))


def iter_png_frames(
    folder: PathLike, start: int = 0, count: int | None = None, *, max_pixels: int | None = None
) -> Iterator[Tensor]:
    """:func:`read_png_frames` one frame at a time (the folder is listed at once, so a missing
    or empty folder raises here; a bad frame raises when it is reached)."""
    paths = _frame_paths(folder, (".png",))[start:]
    if count is not None:
        paths = paths[:count]
    return _png_frames(paths, max_pixels)


def _png_frames(paths: list[Path], max_pixels: int | None) -> Iterator[Tensor]:
    from tinify.io.image import image_to_tensor, read_image

    first: tuple[int, ...] | None = None
    for path in paths:
        try:
            frame = image_to_tensor(read_image(path, max_pixels=max_pixels))
        except InputError as err:
            detail = str(err).removeprefix(f"{path}: ")
            raise VideoFormatError(f"{path}: cannot decode ({detail})") from None
        if first is None:
            first = tuple(frame.shape)
        elif tuple(frame.shape) != first:
            raise VideoFormatError(
                f"{path} is {frame.shape[-1]}x{frame.shape[-2]}, the first frame "
                f"{first[-1]}x{first[-2]}: all frames must have one size"
            )
        yield frame


def write_png_frames(
    frames: Iterable[Tensor], folder: PathLike, pattern: str = "{:05d}.png"
) -> list[Path]:
    """Write RGB frames (1, 3, H, W) or (3, H, W) in [0, 1] as 8-bit PNGs; return the paths.

    The folder is created if needed; ``pattern.format(i)`` names frame ``i``. ``frames`` may
    be any iterable (a generator is written as it yields).
    """
    from PIL import Image

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        rgb = _to_uint8(_frame_tensor(frame, f"frames[{i}]")[0].float()).transpose(1, 2, 0)
        path = out / pattern.format(i)
        image = Image.fromarray(to_numpy(rgb))
        _atomic_write(
            path, functools.partial(image.save, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        )
        paths.append(path)
    return paths


# -- Y4M ------------------------------------------------------------------------------------------

_Y4M_MAGIC = b"YUV4MPEG2"
_Y4M_CHROMA = {"420jpeg": "420", "420": "420", "420mpeg2": "420", "420paldv": "420", "444": "444"}
_RATIO = re.compile(r"^(\d{1,9}):(\d{1,9})$")


@dataclass(frozen=True)
class Y4MHeader:
    """The stream header of a YUV4MPEG2 file.

    Attributes:
        width, height: frame size in pixels.
        fps: frame rate as ``(numerator, denominator)``.
        colorspace: the ``C`` tag (``"420jpeg"``, ``"420"``, ``"420mpeg2"``, ``"420paldv"`` or
            ``"444"``; 8-bit only).
        interlace: the ``I`` tag (``"p"`` progressive, ``"t"``, ``"b"``, ``"m"``, ``"?"``).
        aspect: pixel aspect ratio ``(num, den)``; ``(0, 0)`` is unknown.
        extra: the ``X`` tags and any other tag, as written.
    """

    width: int
    height: int
    fps: tuple[int, int] = (30, 1)
    colorspace: str = "420jpeg"
    interlace: str = "p"
    aspect: tuple[int, int] = (0, 0)
    extra: tuple[str, ...] = ()

    @property
    def chroma(self) -> str:
        """``"420"`` or ``"444"``."""
        return _Y4M_CHROMA[self.colorspace]

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame's planes."""
        return _frame_bytes(self.width, self.height, self.chroma)

    def encode(self) -> bytes:
        """The header line, ``b"YUV4MPEG2 W.. H.. F.. I.. A.. C..\\n"``."""
        tags = [
            f"W{self.width}",
            f"H{self.height}",
            f"F{self.fps[0]}:{self.fps[1]}",
            f"I{self.interlace}",
            f"A{self.aspect[0]}:{self.aspect[1]}",
            f"C{self.colorspace}",
            *self.extra,
        ]
        return (" ".join(["YUV4MPEG2", *tags]) + "\n").encode("ascii")


def _ratio(tag: str, value: str, allow_zero: bool) -> tuple[int, int]:
    match = _RATIO.match(value)
    if match is None:
        raise VideoFormatError(f"Y4M header: {tag} must be 'num:den', got {value!r}")
    num, den = int(match[1]), int(match[2])
    if not allow_zero and (num == 0 or den == 0):
        raise VideoFormatError(f"Y4M header: {tag} must be positive, got {value!r}")
    return num, den


def _dimension(tag: str, value: str) -> int:
    if not value.isdigit() or len(value) > 6:
        raise VideoFormatError(f"Y4M header: {tag} must be a positive integer, got {value!r}")
    n = int(value)
    if not 1 <= n <= MAX_DIMENSION:
        raise VideoFormatError(f"Y4M header: {tag}={n} is outside 1..{MAX_DIMENSION}")
    return n


def parse_y4m_header(line: bytes) -> Y4MHeader:
    """Parse a YUV4MPEG2 stream header line (with or without its trailing newline).

    Raises:
        VideoFormatError: not a Y4M header, a missing or malformed tag, a size outside
            1..:data:`MAX_DIMENSION`, or an unsupported colour space (only 8-bit 4:2:0 and 4:4:4
            are supported).
    """
    if len(line) > MAX_HEADER_BYTES:
        raise VideoFormatError(f"Y4M header is longer than {MAX_HEADER_BYTES} bytes")
    try:
        text = line.decode("ascii").rstrip("\n")
    except UnicodeDecodeError:
        raise VideoFormatError("Y4M header holds non-ASCII bytes") from None
    tokens = text.split(" ")
    if tokens[0] != _Y4M_MAGIC.decode():
        raise VideoFormatError(f"not a Y4M file: the header starts with {text[:16]!r}")
    fields: dict[str, object] = {}
    extra: list[str] = []
    for token in tokens[1:]:
        if not token:
            raise VideoFormatError("Y4M header: empty parameter (two spaces in a row?)")
        tag, value = token[0], token[1:]
        if tag in fields:
            raise VideoFormatError(f"Y4M header: parameter {tag} given twice")
        if tag in "WH":
            fields[tag] = _dimension(tag, value)
        elif tag == "F":
            fields[tag] = _ratio("F (frame rate)", value, allow_zero=False)
        elif tag == "A":
            fields[tag] = _ratio("A (aspect ratio)", value, allow_zero=True)
        elif tag == "C":
            if value not in _Y4M_CHROMA:
                raise VideoFormatError(
                    f"Y4M colour space C{value} is not supported; supported (8-bit): "
                    + ", ".join(f"C{c}" for c in _Y4M_CHROMA)
                )
            fields[tag] = value
        elif tag == "I":
            if value not in ("p", "t", "b", "m", "?"):
                raise VideoFormatError(f"Y4M header: bad interlacing I{value}")
            fields[tag] = value
        else:
            extra.append(token)
    for tag, name in (("W", "width"), ("H", "height")):
        if tag not in fields:
            raise VideoFormatError(f"Y4M header has no {tag} ({name}) parameter")
    return Y4MHeader(
        width=fields["W"],  # type: ignore[arg-type]
        height=fields["H"],  # type: ignore[arg-type]
        fps=fields.get("F", (30, 1)),  # type: ignore[arg-type]
        colorspace=fields.get("C", "420jpeg"),  # type: ignore[arg-type]
        interlace=fields.get("I", "p"),  # type: ignore[arg-type]
        aspect=fields.get("A", (0, 0)),  # type: ignore[arg-type]
        extra=tuple(extra),
    )


def _read_line(f: IO[bytes], what: str) -> bytes:
    """One ``\\n``-terminated line of at most :data:`MAX_HEADER_BYTES` (b"" at end of file)."""
    line = f.readline(MAX_HEADER_BYTES + 1)
    if line and not line.endswith(b"\n"):
        if len(line) > MAX_HEADER_BYTES:
            raise VideoFormatError(f"{what} is longer than {MAX_HEADER_BYTES} bytes")
        raise VideoFormatError(f"{what} is truncated (no end of line)")
    return line


def read_y4m(path: PathLike, max_frames: int | None = None) -> tuple[list[YUVFrame], Y4MHeader]:
    """Read a Y4M file: ``(frames, header)``; at most ``max_frames`` frames.

    Raises:
        VideoFormatError: malformed header, a missing ``FRAME`` marker or a truncated frame.
    """
    header, frames = iter_y4m(path, max_frames)
    return list(frames), header


def iter_y4m(path: PathLike, max_frames: int | None = None) -> tuple[Y4MHeader, Iterator[YUVFrame]]:
    """:func:`read_y4m` one frame at a time: ``(header, frames)``. The header is read (and
    checked) at once; each frame when the iterator reaches it.

    Raises:
        VideoFormatError: a malformed header here; a bad frame from the iterator.
    """
    with open(path, "rb") as f:
        header = parse_y4m_header(_read_line(f, "Y4M header"))
        start = f.tell()
    return header, _y4m_frames(path, header, start, max_frames)


def _y4m_frames(
    path: PathLike, header: Y4MHeader, start: int, max_frames: int | None
) -> Iterator[YUVFrame]:
    size = header.frame_bytes
    index = 0
    with open(path, "rb") as f:
        f.seek(start)
        while max_frames is None or index < max_frames:
            line = _read_line(f, f"FRAME header {index}")
            if not line:  # end of file at a frame boundary
                break
            if not (line == b"FRAME\n" or line.startswith(b"FRAME ")):
                raise VideoFormatError(
                    f"{path}: expected 'FRAME' before frame {index}, got {line[:16]!r}"
                )
            data = f.read(size)
            if len(data) != size:
                raise VideoFormatError(
                    f"{path}: frame {index} is truncated: expected {size} bytes, got {len(data)}"
                )
            yield _split_planes(data, header.width, header.height, header.chroma)
            index += 1


def write_y4m(
    path: PathLike,
    frames: Iterable[YUVFrame | Tensor],
    fps: tuple[int, int] = (30, 1),
    chroma: str = "420",
) -> Y4MHeader:
    """Write frames (8-bit planes, or RGB tensors in [0, 1]) to a Y4M file; return its header.

    RGB tensors are converted with :func:`rgb_to_yuv` to ``chroma`` (``"420"``, written as
    ``C420jpeg``, or ``"444"``); planes are written as they are. The file is written to a
    temporary name and renamed, so a failure leaves no partial file. ``frames`` may be any
    iterable (see :class:`Y4MWriter`).
    """
    writers: list[Y4MWriter] = []

    def write(f: IO[bytes]) -> None:
        writer = Y4MWriter(f, fps, chroma)
        writers.append(writer)
        for frame in frames:
            writer.write(frame)
        writer.close()

    _atomic_write(path, write)
    assert writers[0].header is not None
    return writers[0].header


class _PlaneWriter:
    """Append validated 8-bit frames to an open binary file (the first frame fixes the size)."""

    def __init__(self, file: IO[bytes], chroma: str) -> None:
        _check_chroma(chroma)
        self._file, self.chroma = file, chroma
        self.frames = 0
        self._shapes: list[tuple[int, ...]] | None = None

    def _planes(self, frame: YUVFrame | Tensor) -> YUVFrame:
        planes = (
            frame
            if isinstance(frame, YUVFrame)
            else rgb_to_yuv(_frame_tensor(frame, f"frames[{self.frames}]"), self.chroma)
        )
        shapes = [np.shape(plane) for plane in planes]
        if self._shapes is None:
            h, w = shapes[0][:2] if len(shapes[0]) == 2 else (0, 0)
            _check_size(w, h)
            expected = (h, w) if planes.chroma == "444" else ((h + 1) // 2, (w + 1) // 2)
            self._shapes = [(h, w), expected, expected]
        if shapes != self._shapes or any(np.asarray(p).dtype != np.uint8 for p in planes):
            raise ParameterError(
                f"frames[{self.frames}] planes are {shapes}; expected uint8 {self._shapes}"
            )
        return planes

    def close(self) -> None:
        """Finish (refuses a clip without frames)."""
        if not self.frames:
            raise ParameterError("no frames to write")


class Y4MWriter(_PlaneWriter):
    """Append frames (8-bit planes or RGB tensors in [0, 1]) to an open binary file as Y4M;
    the stream header is written with the first frame (its size fixes the clip's).

    Args:
        file: a binary file opened for writing.
        fps: frame rate ``(num, den)``.
        chroma: ``"420"`` (``C420jpeg``) or ``"444"`` for RGB frames; planes keep theirs.
    """

    def __init__(self, file: IO[bytes], fps: tuple[int, int] = (30, 1), chroma: str = "420"):
        super().__init__(file, chroma)
        self.fps = _check_fps(fps)
        self.header: Y4MHeader | None = None

    def write(self, frame: YUVFrame | Tensor) -> None:
        """Append one frame."""
        planes = self._planes(frame)
        if self.header is None:
            h, w = planes.y.shape
            colorspace = "444" if planes.chroma == "444" else "420jpeg"
            self.header = Y4MHeader(w, h, self.fps, colorspace, "p", (1, 1))
            self._file.write(self.header.encode())
        self._file.write(b"FRAME\n")
        _write_planes(self._file, planes)
        self.frames += 1


# -- raw YUV 4:2:0 --------------------------------------------------------------------------------


def read_yuv420(
    path: PathLike, width: int, height: int, max_frames: int | None = None
) -> list[YUVFrame]:
    """Read a raw planar 8-bit YUV 4:2:0 (I420) file of ``width`` x ``height`` frames.

    The file is read by :class:`tinify.datasets.RawVideoSequence` (memory-mapped, format
    ``yuv420``, 8 bits); the first ``max_frames`` frames are copied out as planes.

    Raises:
        ParameterError: a size outside 1..:data:`MAX_DIMENSION`.
        VideoFormatError: the file size is not a whole number of frames.
        FileNotFoundError: no such file (a :class:`~tinify.exceptions.DatasetNotFoundError`).
    """
    return list(iter_yuv420(path, width, height, max_frames))


def iter_yuv420(
    path: PathLike, width: int, height: int, max_frames: int | None = None
) -> Iterator[YUVFrame]:
    """:func:`read_yuv420` one frame at a time (the size checks run at once). The one raw 4:2:0
    reader: :class:`tinify.datasets.RawVideoSequence` maps the file, and each frame is copied
    out as it is yielded."""
    from tinify.datasets.rawvideo import RawVideoSequence

    width, height = _check_size(width, height)
    try:
        seq = RawVideoSequence.from_file(Path(path), width, height, 8, "yuv420")
    except VideoFormatError as err:
        message = str(err)
        text = message if message.startswith(str(path)) else f"{path}: {message}"
        raise VideoFormatError(text) from None
    count = len(seq) if max_frames is None else min(len(seq), max_frames)
    return _yuv_frames(seq, count)


def _yuv_frames(seq: Any, count: int) -> Iterator[YUVFrame]:
    try:
        for index in range(count):
            frame = seq[index]
            yield YUVFrame(*(np.array(frame[c]) for c in "yuv"))
    finally:
        seq.close()


def write_yuv420(path: PathLike, frames: Iterable[YUVFrame | Tensor]) -> None:
    """Write frames (4:2:0 planes, or RGB tensors in [0, 1]) as a raw I420 file (atomically);
    ``frames`` may be any iterable (see :class:`YUV420Writer`)."""

    def write(f: IO[bytes]) -> None:
        writer = YUV420Writer(f)
        for frame in frames:
            writer.write(frame)
        writer.close()

    _atomic_write(path, write)


class YUV420Writer(_PlaneWriter):
    """Append frames (4:2:0 planes or RGB tensors in [0, 1]) to an open binary file as raw
    I420."""

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, "420")

    def write(self, frame: YUVFrame | Tensor) -> None:
        """Append one frame."""
        planes = self._planes(frame)
        if planes.chroma != "420":
            raise ParameterError("write_yuv420 needs 4:2:0 frames; got 4:4:4 planes")
        _write_planes(self._file, planes)
        self.frames += 1


# -- any format -----------------------------------------------------------------------------------

_YUV_SIZE_IN_NAME = re.compile(r"(?:^|[_\-.])(\d{1,5})x(\d{1,5})(?:[_\-.]|$)")
_YUV_FPS_AFTER_SIZE = re.compile(r"^(\d{1,3}(?:\.\d{1,3})?)(?:hz|fps)?(?:[_\-.]|$)", re.IGNORECASE)


def yuv_name_format(name: str) -> tuple[int, int, Fraction | None] | None:
    """``(width, height, fps)`` from a raw clip's name, ``Name_WxH_FPS.yuv`` (the frame rate
    may be written ``50``, ``50Hz`` or ``29.97fps``; ``None`` when the name has none), or
    ``None`` when the name gives no size."""
    stem = Path(name).stem
    match = _YUV_SIZE_IN_NAME.search(stem)
    if match is None:
        return None
    fps = _YUV_FPS_AFTER_SIZE.match(stem[match.end() :]) if match.group(0)[-1:] in "_-." else None
    rate = Fraction(fps[1]) if fps is not None and float(fps[1]) > 0 else None
    return int(match[1]), int(match[2]), rate


def read_video(
    path: PathLike,
    width: int | None = None,
    height: int | None = None,
    max_frames: int | None = None,
    mode: str = "bilinear",
    *,
    max_pixels: int | None = None,
) -> list[Tensor]:
    """Read a clip as RGB frames (1, 3, H, W) float32 in [0, 1].

    ``path`` is a folder of PNGs, a ``.y4m`` file, or a raw 4:2:0 ``.yuv`` file whose size is
    given by ``width`` and ``height`` or found in its name (``..._832x480_...``). ``mode`` is the
    chroma upsampling of 4:2:0 files (see :func:`yuv_to_rgb`).

    Raises:
        MissingFileError: ``path`` does not exist.
        InputError: unknown format, or a raw file without a size.
        VideoFormatError: a malformed file.
    """
    return list(iter_video(path, width, height, max_frames, mode, max_pixels=max_pixels))


def iter_video(
    path: PathLike,
    width: int | None = None,
    height: int | None = None,
    max_frames: int | None = None,
    mode: str = "bilinear",
    *,
    max_pixels: int | None = None,
) -> Iterator[Tensor]:
    """:func:`read_video` one frame at a time: headers, names and sizes are checked at once,
    each frame is read when the iterator reaches it."""
    p = Path(path)
    if p.is_dir():
        return iter_png_frames(p, count=max_frames, max_pixels=max_pixels)
    if not p.exists():
        raise MissingFileError(f"{p} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".y4m":
        _, planes = iter_y4m(p, max_frames)
    elif suffix == ".yuv":
        if width is None or height is None:
            match = _YUV_SIZE_IN_NAME.search(p.stem)
            if match is None:
                raise InputError(
                    f"{p.name}: give width and height for a raw .yuv file (or name it like "
                    "clip_832x480.yuv)"
                )
            width, height = int(match[1]), int(match[2])
        planes = iter_yuv420(p, width, height, max_frames)
    else:
        raise InputError(f"{p}: unknown video format; use a PNG folder, .y4m or .yuv")
    return (yuv_to_rgb(frame, mode) for frame in planes)


def write_video(
    frames: Iterable[Tensor],
    path: PathLike,
    fps: tuple[int, int] = (30, 1),
    chroma: str = "420",
) -> None:
    """Write RGB frames (1, 3, H, W) in [0, 1]: a ``.y4m`` or ``.yuv`` file, else a PNG folder."""
    suffix = Path(path).suffix.lower()
    if suffix == ".y4m":
        write_y4m(path, frames, fps, chroma)
    elif suffix == ".yuv":
        if chroma != "420":
            raise ParameterError("raw .yuv files are written as 4:2:0; use .y4m for 4:4:4")
        write_yuv420(path, frames)
    elif suffix:
        raise InputError(f"{path}: unknown video format; use a folder, .y4m or .yuv")
    else:
        write_png_frames(frames, path)


# -- helpers --------------------------------------------------------------------------------------


def _check_chroma(chroma: str) -> None:
    if chroma not in ("420", "444"):
        raise ParameterError(f'chroma must be "420" or "444", got {chroma!r}')


def _check_size(width: int, height: int) -> tuple[int, int]:
    for name, n in (("width", width), ("height", height)):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DIMENSION:
            raise ParameterError(f"{name} must be an integer in 1..{MAX_DIMENSION}, got {n!r}")
    return width, height


def _check_fps(fps: tuple[int, int]) -> tuple[int, int]:
    num, den = (int(v) for v in fps)
    if num < 1 or den < 1:
        raise ParameterError(f"fps must be two positive integers (num, den), got {fps!r}")
    return num, den


def _frame_bytes(width: int, height: int, chroma: str) -> int:
    if chroma == "444":
        return 3 * width * height
    return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)


def _split_planes(data: bytes, width: int, height: int, chroma: str) -> YUVFrame:
    buf = np.frombuffer(data, dtype=np.uint8)
    cw, ch = (width, height) if chroma == "444" else ((width + 1) // 2, (height + 1) // 2)
    n = width * height
    y = buf[:n].reshape(height, width)
    u = buf[n : n + cw * ch].reshape(ch, cw)
    v = buf[n + cw * ch : n + 2 * cw * ch].reshape(ch, cw)
    return YUVFrame(y.copy(), u.copy(), v.copy())


def _write_planes(f: IO[bytes], frame: YUVFrame) -> None:
    for plane in frame:
        f.write(to_numpy(plane, np.uint8).tobytes())


def _frame_tensor(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise ParameterTypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[:2] != (1, 3):
        raise ParameterError(
            f"{name} must have shape (1, 3, H, W) or (3, H, W), got {tuple(x.shape)}"
        )
    return x


def _atomic_write(path: PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write through ``write(file)`` to a temporary file beside ``path``, then rename it."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def _frame_paths(folder: PathLike, suffixes: tuple[str, ...]) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise MissingFileError(f"{root} is not a directory")
    paths = sorted(p for p in root.iterdir() if p.suffix.lower() in suffixes and p.is_file())
    if not paths:
        raise MissingFileError(f"{root} holds no {'/'.join(suffixes)} frames")
    return paths
