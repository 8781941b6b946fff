# SPDX-License-Identifier: Apache-2.0
"""Raw planar video files, memory-mapped frame by frame (CompressAI's ``rawvideo`` module).

A raw file is frames one after the other, each frame its planes one after the other: Y then
U then V (or R, G, B), every sample one byte (bit depth 8) or two (9 to 16, native byte order
unless the name says ``BE``). Chroma planes of 4:2:0 are ceil(H/2) x ceil(W/2), of 4:2:2
H x ceil(W/2) (the sizes ffmpeg writes); 4:0:0 has empty chroma planes. The size, frame rate,
bit depth and format are read from names in the style of the Vooya player and the JVET/MPEG
test sequences (``BasketballDrive_1920x1080_50Hz_8bit_P420.yuv``), GStreamer and ffmpeg
(``..._I420_10LE.yuv``, ``..._yuv420p10le.yuv``)::

    seq = RawVideoSequence.from_file("C_RaceHorses_832x480_30Hz_8bit_P420.yuv")
    len(seq), seq.width, seq.height, seq.framerate      # 2, 832, 480, Fraction(30, 1)
    frame = seq[0]                                      # a record: frame["y"] (480, 832) ...

8-bit 4:2:0 files are the format :func:`tinify.io.video.read_yuv420` reads (as whole frames,
with a size check); a record's planes convert to RGB with
``tinify.io.video.yuv_to_rgb(YUVFrame(frame["y"], frame["u"], frame["v"]))``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Union

import numpy as np

from tinify.exceptions import DatasetError, DatasetNotFoundError, UnknownOptionError
from tinify.io.video import MAX_DIMENSION, VideoFormatError

__all__ = [
    "RawVideoSequence",
    "VideoFormat",
    "get_num_frms",
    "get_raw_video_file_info",
    "make_dtype",
]

PathLike = Union[str, Path]


class VideoFormat(enum.Enum):
    """Planar sample layouts of raw video files."""

    YUV400 = "yuv400"  # luma only
    YUV420 = "yuv420"  # chroma halved in both directions
    YUV422 = "yuv422"  # chroma halved horizontally
    YUV444 = "yuv444"  # full-size chroma
    RGB = "rgb"  # three full-size planes R, G, B


# Format names found in file names (any case) and accepted as strings.
_FORMAT_NAMES = {
    "yuv400": VideoFormat.YUV400,
    "yuv420": VideoFormat.YUV420,
    "420": VideoFormat.YUV420,
    "p420": VideoFormat.YUV420,
    "i420": VideoFormat.YUV420,
    "yuv422": VideoFormat.YUV422,
    "422": VideoFormat.YUV422,
    "p422": VideoFormat.YUV422,
    "i422": VideoFormat.YUV422,
    "y42b": VideoFormat.YUV422,
    "yuv444": VideoFormat.YUV444,
    "444": VideoFormat.YUV444,
    "p444": VideoFormat.YUV444,
    "y444": VideoFormat.YUV444,
}

# Chroma subsampling factors (horizontal, vertical); 0: no chroma samples.
_SUBSAMPLING = {
    VideoFormat.YUV400: (0, 0),
    VideoFormat.YUV420: (2, 2),
    VideoFormat.YUV422: (2, 1),
    VideoFormat.YUV444: (1, 1),
    VideoFormat.RGB: (1, 1),
}

# NTSC-style rates written with two decimals in names.
_NTSC_RATES = {
    "23.98": Fraction(24000, 1001),
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "59.94": Fraction(60000, 1001),
    "119.88": Fraction(120000, 1001),
}

_SIZE = re.compile(r"(?<![0-9])([0-9]{1,5})x([0-9]{1,5})(?![0-9])", re.IGNORECASE)
_RATE = re.compile(r"(?<![0-9.])([0-9]{1,4}(?:\.[0-9]{1,4})?)(?:hz|fps)(?![a-z])", re.IGNORECASE)
_DEPTH = re.compile(r"(?<![0-9])([0-9]{1,2})bit", re.IGNORECASE)
_FORMAT = re.compile(
    r"(?<![a-z0-9])(yuv400|yuv420|yuv422|yuv444|p420|p422|p444|i420|i422|y42b|y444|420|422|444)"
    r"(?:p?_?([0-9]{1,2})?(le|be))?(?![0-9])",
    re.IGNORECASE,
)
_EXTENSIONS = ("yuv", "rgb", "raw")


def _as_format(format: VideoFormat | str) -> VideoFormat:
    if isinstance(format, VideoFormat):
        return format
    if isinstance(format, str):
        key = format.lower()
        if key == "rgb":
            return VideoFormat.RGB
        if key in _FORMAT_NAMES:
            return _FORMAT_NAMES[key]
    raise UnknownOptionError(
        f"unknown video format {format!r}; use a VideoFormat or one of "
        f"{', '.join(sorted([*_FORMAT_NAMES, 'rgb']))}"
    )


def _sample_type(bitdepth: int) -> np.dtype:
    if isinstance(bitdepth, bool) or not isinstance(bitdepth, int) or not 1 <= bitdepth <= 16:
        raise UnknownOptionError(f"bit depth must be an integer in 1..16, got {bitdepth!r}")
    return np.dtype(np.uint8 if bitdepth <= 8 else np.uint16)


def _check_size(width: Any, height: Any) -> tuple[int, int]:
    for name, n in (("width", width), ("height", height)):
        if (
            isinstance(n, bool)
            or not isinstance(n, (int, np.integer))
            or not 1 <= n <= MAX_DIMENSION
        ):
            raise DatasetError(f"{name} must be an integer in 1..{MAX_DIMENSION}, got {n!r}")
    return int(width), int(height)


def make_dtype(format: VideoFormat | str, value_type: Any, width: int, height: int) -> np.dtype:
    """The numpy record type of one frame: fields ``y``, ``u``, ``v`` (``r``, ``g``, ``b`` for
    RGB), each a (rows, columns) array of ``value_type``.

    Chroma planes are ``ceil(n / 2)`` along a halved direction (as ffmpeg), so odd sizes work.
    """
    fmt = _as_format(format)
    sub_w, sub_h = _SUBSAMPLING[fmt]
    chroma_w = 0 if sub_w == 0 else -(-width // sub_w)
    chroma_h = 0 if sub_h == 0 else -(-height // sub_h)
    names = ("r", "g", "b") if fmt is VideoFormat.RGB else ("y", "u", "v")
    return np.dtype(
        [
            (names[0], value_type, (height, width)),
            (names[1], value_type, (chroma_h, chroma_w)),
            (names[2], value_type, (chroma_h, chroma_w)),
        ]
    )


def get_num_frms(
    file_size: int, width: int, height: int, video_format: VideoFormat | str, dtype: Any
) -> int:
    """The number of whole frames in ``file_size`` bytes of ``width`` x ``height`` frames.

    (CompressAI counts the sample size only for the chroma planes, which undercounts 10- to
    16-bit files, and fails on 4:0:0; this counts every plane's bytes.)
    """
    return int(file_size) // make_dtype(video_format, dtype, width, height).itemsize


def get_raw_video_file_info(filename: str) -> dict[str, Any]:
    """What a raw video file's name says about it.

    Recognised (any case, anywhere in the file name, not in its folders): ``WIDTHxHEIGHT``;
    the frame rate ``30Hz`` / ``29.97fps`` (a :class:`~fractions.Fraction`, 29.97 read as
    30000/1001); the bit depth ``10bit``; the format ``P420``, ``I420``, ``yuv420``, ``420``,
    ``Y42B``, ``yuv444``, ... (a :class:`VideoFormat`; bare ``422`` and ``444`` too, which
    CompressAI does not read) with an optional bit depth and byte
    order suffix (``I420_10LE``, ``yuv420p10le``); the extension ``yuv``/``rgb``/``raw``.

    Returns:
        The keys found among ``width``, ``height``, ``framerate``, ``bitdepth``, ``format``,
        ``endianness`` (``"le"``/``"be"``) and ``extension``; ``bitdepth`` is 8 when the name
        gives something else but no depth. An empty dict when the name says nothing.

    Raises:
        VideoFormatError: the name gives two different bit depths (a ``ValueError``).
    """
    name = Path(filename).name
    info: dict[str, Any] = {}
    if m := _SIZE.search(name):
        info["width"], info["height"] = int(m[1]), int(m[2])
    if m := _RATE.search(name):
        info["framerate"] = _NTSC_RATES.get(m[1], Fraction(m[1]))
    depth = int(m[1]) if (m := _DEPTH.search(name)) else None
    if m := _FORMAT.search(name):
        info["format"] = _FORMAT_NAMES[m[1].lower()]
        if m[3]:
            info["endianness"] = m[3].lower()
        if m[2]:
            if depth is not None and depth != int(m[2]):
                raise VideoFormatError(
                    f'Filename "{filename}" specifies bit-depth twice ({depth} and {m[2]})'
                )
            depth = int(m[2])
    suffix = Path(name).suffix[1:].lower()
    if suffix in _EXTENSIONS:
        info["extension"] = suffix
    if depth is not None:
        info["bitdepth"] = depth
    if info and "bitdepth" not in info:
        info["bitdepth"] = 8
    return info


class RawVideoSequence(Sequence[np.ndarray]):
    """The frames of a raw planar video buffer, one numpy record per frame.

    ``seq[i]`` is frame ``i`` (fields ``y``, ``u``, ``v`` or ``r``, ``g``, ``b``; a slice gives
    an array of records), read lazily from the buffer (a memory-mapped file for
    :meth:`from_file`).

    Args:
        mmap: the samples as a 1-D array (``np.memmap`` of the file, or any array).
        width, height: frame size.
        bitdepth: bits per sample (1-8: one byte, 9-16: two bytes).
        format: a :class:`VideoFormat` or its name (``"yuv420"``, ``"p420"``, ...).
        framerate: frames per second (stored, not used).

    Raises:
        VideoFormatError: the buffer is not a whole number of frames (a ``ValueError``, as in
            CompressAI).
        UnknownOptionError: an unknown format or bit depth (a ``KeyError``, as in CompressAI).
        DatasetError: a size outside 1..``MAX_DIMENSION``.
    """

    def __init__(
        self,
        mmap: np.ndarray,
        width: int,
        height: int,
        bitdepth: int,
        format: VideoFormat | str,
        framerate: Any,
    ) -> None:
        self.width, self.height = _check_size(width, height)
        self.bitdepth = bitdepth
        self.framerate = framerate
        self.format = _as_format(format)
        sample = _sample_type(bitdepth)
        # Keep the buffer's byte order when it already holds samples of the right size.
        value_type = (
            mmap.dtype
            if mmap.dtype.kind == "u" and mmap.dtype.itemsize == sample.itemsize
            else sample
        )
        self.dtype = make_dtype(self.format, value_type, self.width, self.height)
        buffer = np.asarray(mmap).reshape(-1)
        frame_bytes = self.dtype.itemsize
        if buffer.nbytes % frame_bytes:
            raise VideoFormatError(
                f"{buffer.nbytes} bytes is not a whole number of {self.width}x{self.height} "
                f"{self.format.value} {bitdepth}-bit frames ({frame_bytes} bytes each): the last "
                "frame is truncated, or the size, format or bit depth is wrong"
            )
        self.data = (
            buffer.view(np.uint8).view(self.dtype) if buffer.size else np.zeros(0, self.dtype)
        )
        self.total_frms = get_num_frms(
            buffer.nbytes, self.width, self.height, self.format, value_type
        )

    @classmethod
    def new_like(cls, sequence: RawVideoSequence, filename: PathLike) -> RawVideoSequence:
        """The file ``filename``, read with the size, depth and format of ``sequence``."""
        mmap = _map(filename, sequence.dtype[0].base)
        return cls(
            mmap,
            width=sequence.width,
            height=sequence.height,
            bitdepth=sequence.bitdepth,
            format=sequence.format,
            framerate=sequence.framerate,
        )

    @classmethod
    def from_file(
        cls,
        filename: PathLike,
        width: int | None = None,
        height: int | None = None,
        bitdepth: int | None = None,
        format: VideoFormat | str | None = None,
        framerate: Any = None,
    ) -> RawVideoSequence:
        """Memory-map a raw video file; what is not given is read from its name (see
        :func:`get_raw_video_file_info`).

        Raises:
            DatasetError: the size, bit depth or format is neither given nor in the name (a
                ``RuntimeError``, as in CompressAI).
            DatasetNotFoundError: no such file.
        """
        info = get_raw_video_file_info(str(filename))
        width = width or info.get("width")
        height = height or info.get("height")
        bitdepth = bitdepth or info.get("bitdepth")
        format = format or info.get("format")
        framerate = framerate or info.get("framerate")
        if width is None or height is None or bitdepth is None or format is None:
            missing = [
                k
                for k, v in (
                    ("size", width and height),
                    ("bit depth", bitdepth),
                    ("format", format),
                )
                if not v
            ]
            raise DatasetError(
                f"Could not get sequence information {filename}: no {' or '.join(missing)}; "
                "give them as arguments or name the file like clip_832x480_30Hz_8bit_P420.yuv"
            )
        sample = _sample_type(bitdepth)
        if sample.itemsize == 2 and info.get("endianness") == "be":
            sample = sample.newbyteorder(">")
        return cls(
            _map(filename, sample),
            width=width,
            height=height,
            bitdepth=bitdepth,
            format=format,
            framerate=framerate,
        )

    def __getitem__(self, index: Any) -> Any:
        return self.data[index]

    def __len__(self) -> int:
        return len(self.data)

    def close(self) -> None:
        """Drop the reference to the buffer (the file is unmapped once nothing else holds it)."""
        del self.data


def _map(filename: PathLike, sample: np.dtype) -> np.ndarray:
    path = Path(filename)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: no such raw video file")
    size = path.stat().st_size
    if size % sample.itemsize:
        raise VideoFormatError(
            f"{path}: {size} bytes is not a whole number of {sample.itemsize}-byte samples; the "
            "file is truncated or the bit depth is wrong"
        )
    if size == 0:
        return np.zeros(0, sample)
    return np.memmap(path, dtype=sample, mode="r")
