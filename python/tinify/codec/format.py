# SPDX-License-Identifier: Apache-2.0
"""The ``.tfy`` container: a checked header, then the entropy-coded streams back to back.

The byte layout is documented in ``docs/format.md``. In short (all integers little-endian)::

    magic(8) version(1) mode(1) header_size(4) fixed fields(50) name encoder shapes
    [quant_step(8)] stream_count(4) stream_lengths(4 each) [icc_size(4) icc]
    header_crc32(4) | payload (the streams)

Parsing is bounded and allocation-free until the header has been checked: the declared header
size must lie within the file and below :data:`MAX_HEADER_SIZE`, the header's own CRC32 must
match, every count is capped, and the stream lengths must add up to exactly the bytes that
follow the header (whose CRC32 is checked too). Every problem raises :class:`FormatError` with
a one-line message that says what is wrong and what to do.

An image (kind 0) holds one stream per latent. A video (kind 1) holds its frames' streams in
frame order with a fixed layout: 2 for an I-frame, 4 for a P-frame, and one latent shape shared
by every latent of every frame. Two video layouts exist:

- version 1 (tinify 0.1.0, still read; :func:`pack` / :func:`unpack`): every stream length in
  the header, the streams back to back (:func:`frame_streams`); the whole clip is coded before
  the file can be written;
- version 2 (what tinify writes now; :class:`VideoWriter` / :class:`VideoReader`): the header,
  then one self-checking record per frame appended as it is coded, then an index of every
  frame's offset and type and a fixed-size tail that points to it, written when the encoder
  closes. It is written in one pass and read frame by frame, from any I-frame (random access).

Images are still written as version 1, so an older tinify reads them.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import IO, Any

from tinify.exceptions import FormatError

__all__ = [
    "CODING_MODES",
    "FORMAT_VERSION",
    "FORMAT_VERSIONS",
    "MAGIC",
    "MAX_HEADER_SIZE",
    "MAX_ICC_BYTES",
    "MAX_QUANT_STEP",
    "MAX_SIDE",
    "MAX_STREAMS",
    "MAX_VIDEO_FRAMES",
    "MIN_QUANT_STEP",
    "VIDEO_I_STREAMS",
    "VIDEO_P_STREAMS",
    "VIDEO_STREAM_VERSION",
    "FormatError",
    "TfyHeader",
    "VideoReader",
    "VideoWriter",
    "frame_streams",
    "pack",
    "unpack",
    "video_stream_count",
]

#: The first 8 bytes of every file. The high first byte and the CR LF / Ctrl-Z / LF tail catch
#: 7-bit transfers and newline conversion (the PNG trick).
MAGIC = b"\x89TFY\r\n\x1a\n"
#: The format version of images and of tinify 0.1.0's whole-clip video layout.
FORMAT_VERSION = 1
#: The streaming video layout (frame records, then an index; see :class:`VideoWriter`).
VIDEO_STREAM_VERSION = 2
#: Every version this module reads (a higher one: "upgrade tinify").
FORMAT_VERSIONS = (FORMAT_VERSION, VIDEO_STREAM_VERSION)
#: Coding modes (header byte 9), named by the models' ``entropy_path``: 0 = float networks
#: (CompressAI-compatible arithmetic); 1 = the deterministic fixed-point entropy path (the
#: networks that produce entropy parameters run in integer arithmetic, so encoder and decoder
#: agree bit for bit on any device; see ``tinify.models.fixed``). Other values are invalid.
CODING_MODES = {0: "float", 1: "fixed"}
#: Modes a later tinify may define (none at present): "upgrade tinify" instead of "corrupt".
RESERVED_CODING_MODES: dict[int, str] = {}

#: Caps that bound parsing (a header claiming more is rejected before anything is allocated).
MAX_STREAMS = 1 << 16
MAX_SIDE = 1 << 16
MAX_PIXELS = 1 << 28
MAX_FRAMES = 1 << 20
MAX_NAME = 64
MAX_ENCODER = 32
MAX_SHAPES = 8
MAX_RANK = 4
MAX_STREAM_CHUNKS = 1 << 16

KINDS = ("image", "video")
SOURCES = ("zoo", "checkpoint", "default")
METRICS = ("mse", "ms-ssim")
FLAG_CUDA = 0x01
#: Video only: the source was 4:4:4 YUV (a ``.y4m`` with ``C444``), so a decoder writing Y4M
#: keeps 4:4:4 chroma by default.
FLAG_YUV444 = 0x02
#: Image only: an ICC colour profile follows the stream lengths (``u32`` length, then the
#: profile's bytes, at most :data:`MAX_ICC_BYTES`); decoding writes it back into the image.
FLAG_ICC = 0x04
#: Image only: a variable-rate model coded at the quantization step stored after the shapes
#: (a float64; see :attr:`TfyHeader.quant_step`). Files without it read as before.
FLAG_QUANT_STEP = 0x08
KNOWN_FLAGS = FLAG_CUDA | FLAG_YUV444 | FLAG_ICC | FLAG_QUANT_STEP
#: Largest ICC profile a file may hold (display profiles are a few KiB; 1 MiB bounds parsing).
MAX_ICC_BYTES = 1 << 20
#: Bounds of a recorded quantization step (CompressAI's models are trained for 1 to 10).
MIN_QUANT_STEP = 1.0 / 1024
MAX_QUANT_STEP = 1024.0
_QUANT_STEP = struct.Struct("<d")

#: Video stream layout (kind 1): frame 0 is an I-frame with these many streams (image latent
#: ``y``, then its hyper-latent ``z``), every later frame a P-frame with these many (motion
#: ``y``, motion ``z``, residual ``y``, residual ``z``).
VIDEO_I_STREAMS = 2
VIDEO_P_STREAMS = 4
#: The most frames a video file can hold: its ``4 * frames - 2`` streams must fit MAX_STREAMS.
MAX_VIDEO_FRAMES = (MAX_STREAMS - VIDEO_I_STREAMS) // VIDEO_P_STREAMS + 1

# magic, version, coding mode, header size
_PREFIX = struct.Struct("<8sBBI")
# kind, source, metric, quality, flags, bit depth, weights id, height, width, frames,
# fps numerator, fps denominator, pad left, right, top, bottom, stream chunks, payload crc
_FIXED = struct.Struct("<BBBBBB8sIIIII4HII")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_ENCODER_RE = re.compile(r"^[ -~]*$")  # printable ASCII

#: Smallest possible header: prefix, fixed fields, three 1-byte counts, stream count, CRC.
MIN_HEADER_SIZE = _PREFIX.size + _FIXED.size + 1 + 1 + 1 + 4 + 4 + 1  # name of >= 1 byte
#: Largest header: every count at its cap.
MAX_HEADER_SIZE = (
    _PREFIX.size
    + _FIXED.size
    + 1
    + MAX_NAME
    + 1
    + MAX_ENCODER
    + 1
    + MAX_SHAPES * (1 + 4 * MAX_RANK)
    + _QUANT_STEP.size
    + 4
    + 4 * MAX_STREAMS
    + 4
    + 4
    + MAX_ICC_BYTES
    + 4  # a version-2 video's intra period
)


@dataclass(frozen=True)
class TfyHeader:
    """Everything a ``.tfy`` file says about its content (see ``docs/format.md``).

    Attributes:
        model: zoo architecture name (``"bmshj2018-hyperprior"``).
        quality: zoo quality (0 when unknown, e.g. a checkpoint without a config).
        metric: ``"mse"`` or ``"ms-ssim"``.
        source: where the weights came from: ``"zoo"`` (pretrained zoo weights),
            ``"checkpoint"`` (a file the decoder must be given too) or ``"default"`` (the model
            shipped inside tinify).
        weights_id: 8 bytes identifying the weights and coding tables (a SHA-256 prefix); the
            decoder refuses a model whose id differs.
        height, width: the original image size (before padding).
        padding: ``(left, right, top, bottom)`` zero padding added before coding.
        shapes: latent shapes needed to decode (an image: one entry, the ``shape`` that
            ``model.compress`` returned).
        stream_chunks: the entropy models' ``stream_chunks`` (1 = CompressAI's single stream
            per latent; more = tinify's chunked parallel framing).
        kind: ``"image"`` (``frames == 1``) or ``"video"`` (streams laid out frame by frame,
            see :func:`frame_streams`).
        frames: number of frames (1 for an image).
        fps: frame rate of a video (required); ``None`` for an image.
        bit_depth: bits per sample of the original (8).
        on_cuda: the encoder ran its networks on a CUDA device.
        yuv444: a video whose source was 4:4:4 YUV (decoding to Y4M keeps 4:4:4); always
            ``False`` for an image.
        coding_mode: 0 (float networks) or 1 (deterministic fixed-point entropy parameters).
        quant_step: the quantization step a variable-rate (``*-vbr``) model coded the image at
            (the model's ``inputscale`` is ``float32(1 / quant_step)``); ``None`` otherwise.
        encoder: free text naming the writer (``"tinify 0.1.0"``).
        stream_lengths: byte length of every stream (filled in by :func:`pack`/:func:`unpack`).
        payload_crc: CRC32 of the payload (filled in by :func:`pack`/:func:`unpack`).
        version: format version (:data:`FORMAT_VERSION`).
        icc_profile: an image's ICC colour profile (empty: none, i.e. sRGB), written back into
            the decoded image.
        gop: a video's intra period: frame ``i`` is an I-frame when ``i % gop == 0``; ``0``:
            only frame 0 (CompressAI's low-delay evaluation, and every version-1 video).
    """

    model: str
    quality: int
    metric: str
    source: str
    weights_id: bytes
    height: int
    width: int
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    shapes: tuple[tuple[int, ...], ...] = ()
    stream_chunks: int = 1
    kind: str = "image"
    frames: int = 1
    fps: Fraction | None = None
    bit_depth: int = 8
    on_cuda: bool = False
    yuv444: bool = False
    coding_mode: int = 0
    quant_step: float | None = None
    encoder: str = ""
    stream_lengths: tuple[int, ...] = field(default=())
    payload_crc: int = 0
    version: int = FORMAT_VERSION
    icc_profile: bytes = b""
    gop: int = 0

    @property
    def padded_size(self) -> tuple[int, int]:
        """``(height, width)`` after padding: the size the model coded."""
        left, right, top, bottom = self.padding
        return self.height + top + bottom, self.width + left + right

    @property
    def payload_size(self) -> int:
        """Bytes of entropy-coded data (the sum of the stream lengths)."""
        return sum(self.stream_lengths)

    def describe(
        self,
        file_bytes: int | None = None,
        *,
        frame_bytes: Sequence[int] | None = None,
        intra_frames: Sequence[int] | None = None,
    ) -> dict[str, Any]:
        """What the header says, as JSON-ready values (what ``tinify info`` prints).

        Args:
            file_bytes: the whole file's length; adds ``header_bytes``, ``file_bytes`` and
                ``bpp_file``.
            frame_bytes: a version-2 video: each frame's payload bytes (from its index, see
                :meth:`VideoReader.describe`); version 1 takes them from the stream lengths.
            intra_frames: a version-2 video: the I-frames (the GOP starts of its index).

        Returns:
            An ordered dict: format and coding mode, model identity, size, latent shapes,
            stream layout and sizes, bits per pixel and the payload CRC32; a video adds its
            chroma, duration, bit rate and per-frame payload bytes (I-frame first).
        """
        pixels = self.height * self.width * self.frames
        if frame_bytes is not None:
            per_frame = list(frame_bytes)
        elif self.kind == "video" and self.fps is not None:
            per_frame = [sum(self.stream_lengths[i] for i in r) for r in frame_streams(self)]
        else:
            per_frame = [self.payload_size]
        payload = sum(per_frame)
        info: dict[str, Any] = {
            "format_version": self.version,
            "coding_mode": self.coding_mode,
            "coding": CODING_MODES.get(self.coding_mode, "?"),
            **({} if self.quant_step is None else {"quant_step": self.quant_step}),
            "kind": self.kind,
            "model": self.model,
            "quality": self.quality,
            "metric": self.metric,
            "weights": self.source,
            "weights_id": self.weights_id.hex(),
            "size": f"{self.width}x{self.height}",
            "frames": self.frames,
            "fps": None if self.fps is None else str(self.fps),
            "bit_depth": self.bit_depth,
            "padding_lrtb": list(self.padding),
            "latent_shapes": [list(s) for s in self.shapes],
            "stream_chunks": self.stream_chunks,
            "encoded_on": "cuda" if self.on_cuda else "cpu",
            "encoder": self.encoder,
        }
        if self.version == FORMAT_VERSION:
            info["streams"] = len(self.stream_lengths)
            info["stream_lengths"] = list(self.stream_lengths)
        if file_bytes is not None:
            info["header_bytes"] = file_bytes - payload
        info["payload_bytes"] = payload
        if file_bytes is not None:
            info["file_bytes"] = file_bytes
        info["bpp_payload"] = round(8 * payload / pixels, 6)
        if file_bytes is not None:
            info["bpp_file"] = round(8 * file_bytes / pixels, 6)
        if self.version == FORMAT_VERSION:
            info["payload_crc32"] = f"{self.payload_crc:08x}"
        if self.kind == "video" and self.fps is not None:  # a valid video has a frame rate
            seconds = self.frames / self.fps
            intra = list(intra_frames) if intra_frames is not None else [0]
            starts = set(intra)
            p_frames = [n for i, n in enumerate(per_frame) if i not in starts] or [0]
            info.update(
                {
                    "y4m_chroma": "444" if self.yuv444 else "420",
                    "duration_s": round(float(seconds), 6),
                    "kbps_payload": round(float(8 * payload / seconds) / 1e3, 3),
                    "gop": self.gop,
                    "i_frames": intra,
                    "i_frame_bytes": per_frame[0],
                    "p_frame_bytes_min_mean_max": [
                        min(p_frames),
                        round(sum(p_frames) / len(p_frames), 1),
                        max(p_frames),
                    ],
                    "frame_payload_bytes": per_frame,
                }
            )
        return info


def _validate(h: TfyHeader) -> None:
    """Check the semantic rules shared by the writer and the reader."""
    if h.version not in FORMAT_VERSIONS:
        raise FormatError(
            f"format version {h.version} is not supported (this tinify: {FORMAT_VERSIONS})"
        )
    if h.version == VIDEO_STREAM_VERSION and h.kind != "video":
        raise FormatError(f"format version {h.version} holds only videos (corrupt file)")
    if h.coding_mode not in CODING_MODES:
        raise FormatError(f"coding mode {h.coding_mode} is not supported by this tinify")
    if h.kind not in KINDS:
        raise FormatError(f"kind must be one of {KINDS}, got {h.kind!r}")
    if h.source not in SOURCES:
        raise FormatError(f"source must be one of {SOURCES}, got {h.source!r}")
    if h.metric not in METRICS:
        raise FormatError(f"metric must be one of {METRICS}, got {h.metric!r}")
    if not isinstance(h.model, str) or not 1 <= len(h.model) <= MAX_NAME:
        raise FormatError(f"model name must have 1 to {MAX_NAME} characters")
    if not _NAME_RE.match(h.model):
        raise FormatError(f"model name {h.model!r} has characters outside [A-Za-z0-9._+-]")
    if len(h.encoder) > MAX_ENCODER or not _ENCODER_RE.match(h.encoder):
        raise FormatError(f"encoder text must be at most {MAX_ENCODER} printable ASCII characters")
    if not 0 <= h.quality <= 255:
        raise FormatError(f"quality {h.quality} is outside 0..255")
    if not isinstance(h.weights_id, bytes) or len(h.weights_id) != 8:
        raise FormatError("weights id must be 8 bytes")
    if not (1 <= h.height <= MAX_SIDE and 1 <= h.width <= MAX_SIDE):
        raise FormatError(f"image size {h.height}x{h.width} is outside 1..{MAX_SIDE} per side")
    if any(not 0 <= p < 1 << 16 for p in h.padding) or len(h.padding) != 4:
        raise FormatError(f"padding {h.padding} must be four values in 0..65535")
    ph, pw = h.padded_size
    if ph > MAX_SIDE or pw > MAX_SIDE or ph * pw > MAX_PIXELS:
        raise FormatError(f"padded size {ph}x{pw} exceeds the limits ({MAX_SIDE} per side)")
    if not 1 <= h.stream_chunks <= MAX_STREAM_CHUNKS:
        raise FormatError(f"stream_chunks {h.stream_chunks} is outside 1..{MAX_STREAM_CHUNKS}")
    # A version-2 header does not know its frame count (0) until the index is read.
    low = 0 if h.version == VIDEO_STREAM_VERSION else 1
    if not low <= h.frames <= MAX_FRAMES:
        raise FormatError(f"frame count {h.frames} is outside 1..{MAX_FRAMES}")
    if not 0 <= h.gop <= MAX_FRAMES or (h.gop and h.kind != "video"):
        raise FormatError(f"intra period {h.gop} is outside 0..{MAX_FRAMES} (or not a video)")
    if h.gop and h.version == FORMAT_VERSION:
        raise FormatError("a version-1 video has one I-frame (no intra period)")
    if h.kind == "image" and (h.frames != 1 or h.fps is not None or h.yuv444):
        raise FormatError("an image must have exactly one frame, no frame rate and no 4:4:4 flag")
    if h.fps is not None and h.fps <= 0:
        raise FormatError(f"frame rate must be positive, got {h.fps}")
    if h.kind == "video":
        _validate_video(h)
    if h.bit_depth != 8:
        raise FormatError(f"bit depth {h.bit_depth} is not supported (only 8)")
    if len(h.shapes) > MAX_SHAPES:
        raise FormatError(f"{len(h.shapes)} latent shapes; at most {MAX_SHAPES}")
    for shape in h.shapes:
        if not 1 <= len(shape) <= MAX_RANK or any(not 1 <= d <= MAX_SIDE for d in shape):
            raise FormatError(
                f"latent shape {shape} must have 1..{MAX_RANK} sizes in 1..{MAX_SIDE}"
            )
    if len(h.stream_lengths) > MAX_STREAMS:
        raise FormatError(f"{len(h.stream_lengths)} streams; at most {MAX_STREAMS}")
    if not isinstance(h.icc_profile, bytes) or len(h.icc_profile) > MAX_ICC_BYTES:
        raise FormatError(f"the ICC profile must be at most {MAX_ICC_BYTES} bytes")
    if h.icc_profile and h.kind != "image":
        raise FormatError("only an image can hold an ICC profile")
    if h.quant_step is not None:
        if h.kind != "image":
            raise FormatError("only an image may record a quantization step")
        step = h.quant_step
        if not (isinstance(step, float) and MIN_QUANT_STEP <= step <= MAX_QUANT_STEP):
            raise FormatError(
                f"quantization step {step!r} is outside {MIN_QUANT_STEP:g}..{MAX_QUANT_STEP:g}"
            )


def video_stream_count(frames: int) -> int:
    """Number of streams of a video of ``frames`` frames: ``2 + 4 * (frames - 1)``."""
    return VIDEO_I_STREAMS + VIDEO_P_STREAMS * (frames - 1)


def _validate_video(h: TfyHeader) -> None:
    """The rules of kind 1: a frame rate, one 2-D latent shape, the fixed stream layout."""
    if h.fps is None:
        raise FormatError("a video must have a frame rate")
    if len(h.shapes) != 1 or len(h.shapes[0]) != 2:
        raise FormatError(
            f"a video has exactly one 2-D latent shape, got {len(h.shapes)} shapes (corrupt file)"
        )
    if h.version == VIDEO_STREAM_VERSION:
        if h.stream_lengths or h.payload_crc:
            raise FormatError(
                "a version-2 video lists its streams in its frame records, not in the header "
                "(corrupt file)"
            )
        return
    if h.frames > MAX_VIDEO_FRAMES:
        raise FormatError(f"a video has at most {MAX_VIDEO_FRAMES} frames, got {h.frames}")
    expected = video_stream_count(h.frames)
    if len(h.stream_lengths) != expected:
        raise FormatError(
            f"a video of {h.frames} frames has {expected} streams, the header lists "
            f"{len(h.stream_lengths)} (corrupt file)"
        )


def frame_streams(header: TfyHeader) -> list[range]:
    """The indexes into the stream list of each frame, in frame order.

    An image: one frame holding every stream. A video: 2 streams for an I-frame, 4 for a
    P-frame, back to back (with no intra period: ``range(0, 2)`` for frame 0, then
    ``range(2 + 4 (i - 1), 2 + 4 i)`` for frame ``i``; see :data:`VIDEO_I_STREAMS`).
    """
    if header.kind == "image":
        return [range(len(header.stream_lengths))]
    out = []
    start = 0
    for i in range(header.frames):
        count = VIDEO_I_STREAMS if is_intra(i, header.gop) else VIDEO_P_STREAMS
        out.append(range(start, start + count))
        start += count
    return out


def _fps_fields(fps: Fraction | None) -> tuple[int, int]:
    if fps is None:
        return 0, 0
    fps = Fraction(fps).limit_denominator(1 << 31)
    if fps.numerator >= 1 << 32:
        raise FormatError(f"frame rate {fps} is too large")
    return fps.numerator, fps.denominator


def pack(header: TfyHeader, streams: Sequence[bytes]) -> bytes:
    """Serialize ``header`` (its ``stream_lengths`` are taken from ``streams``) and the streams:
    a version-1 file (an image, or a video in tinify 0.1.0's whole-clip layout; a video is
    written frame by frame with :class:`VideoWriter` instead).

    Raises:
        FormatError: a header field is out of range (nothing the reader would reject is
            written), or ``header`` is of version 2.
    """
    if header.version != FORMAT_VERSION:
        raise FormatError(
            f"pack writes format version {FORMAT_VERSION}; write version-2 videos with VideoWriter"
        )
    streams = [bytes(s) for s in streams]
    payload = b"".join(streams)
    lengths = tuple(len(s) for s in streams)
    header = replace(header, stream_lengths=lengths, payload_crc=zlib.crc32(payload))
    if any(n >= 1 << 32 for n in lengths):
        raise FormatError("a stream is 4 GiB or more; the format stores 32-bit lengths")
    return _header_bytes(header) + payload


def _header_bytes(header: TfyHeader) -> bytes:
    """The checked, serialized header (through its CRC)."""
    _validate(header)
    fps_num, fps_den = _fps_fields(header.fps)
    name = header.model.encode("ascii")
    encoder = header.encoder.encode("ascii")
    body = bytearray()
    body += _FIXED.pack(
        KINDS.index(header.kind),
        SOURCES.index(header.source),
        METRICS.index(header.metric),
        header.quality,
        (FLAG_CUDA if header.on_cuda else 0)
        | (FLAG_YUV444 if header.yuv444 else 0)
        | (FLAG_ICC if header.icc_profile else 0)
        | (FLAG_QUANT_STEP if header.quant_step is not None else 0),
        header.bit_depth,
        header.weights_id,
        header.height,
        header.width,
        header.frames,
        fps_num,
        fps_den,
        *header.padding,
        header.stream_chunks,
        header.payload_crc,
    )
    body += bytes([len(name)]) + name + bytes([len(encoder)]) + encoder
    body += bytes([len(header.shapes)])
    for shape in header.shapes:
        body += bytes([len(shape)]) + struct.pack(f"<{len(shape)}I", *shape)
    if header.quant_step is not None:
        body += _QUANT_STEP.pack(header.quant_step)
    lengths = header.stream_lengths
    body += struct.pack(f"<I{len(lengths)}I", len(lengths), *lengths)
    if header.icc_profile:
        body += struct.pack("<I", len(header.icc_profile)) + header.icc_profile
    if header.version == VIDEO_STREAM_VERSION:
        body += struct.pack("<I", header.gop)
    size = _PREFIX.size + len(body) + 4
    head = _PREFIX.pack(MAGIC, header.version, header.coding_mode, size) + bytes(body)
    return head + struct.pack("<I", zlib.crc32(head))


class _Reader:
    """Bounded little-endian reads from ``data[pos:end]``; overruns raise :class:`FormatError`."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise FormatError(
                f"the header is inconsistent: {what} runs past its end (corrupt file)"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: struct.Struct, what: str) -> tuple[int, ...]:
        return fmt.unpack(self.take(fmt.size, what))

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        return int.from_bytes(self.take(4, what), "little")


def _check_prefix(data: bytes) -> int:
    """Check magic, version, mode and header size; return the header size."""
    if not data:
        raise FormatError("file is empty (truncated); pass a file written by `tinify encode`")
    if data[: len(MAGIC)] != MAGIC[: len(data)]:
        raise FormatError(
            "not a tinify .tfy file (wrong magic bytes); pass a file from `tinify encode`"
        )
    if len(data) < _PREFIX.size:
        raise FormatError(f"file is truncated ({len(data)} bytes, not even a header); re-encode it")
    _, version, mode, size = _PREFIX.unpack_from(data)
    if version > max(FORMAT_VERSIONS):
        raise FormatError(
            f"written in format version {version}, this tinify reads versions up to "
            f"{max(FORMAT_VERSIONS)}; upgrade tinify"
        )
    if version < 1:
        raise FormatError(f"format version {version} is invalid (corrupt file)")
    if mode in RESERVED_CODING_MODES:
        raise FormatError(
            f"uses the {RESERVED_CODING_MODES[mode]} coding mode ({mode}), which this tinify "
            "cannot decode; upgrade tinify"
        )
    if mode not in CODING_MODES:
        raise FormatError(f"coding mode {mode} is invalid (corrupt file)")
    if not MIN_HEADER_SIZE <= size <= MAX_HEADER_SIZE:
        raise FormatError(f"header size {size} is impossible (corrupt file)")
    if size > len(data):
        raise FormatError(
            f"file is truncated ({len(data)} bytes, the header alone needs {size}); re-encode or "
            "copy it again"
        )
    (crc,) = struct.unpack_from("<I", data, size - 4)
    if zlib.crc32(data[: size - 4]) != crc:
        raise FormatError("the header is corrupt (CRC32 mismatch); the file was damaged")
    return size


def _read_header(data: bytes) -> tuple[TfyHeader, int]:
    """Parse the header; return it and its size."""
    size = _check_prefix(data)
    _, version, mode, _ = _PREFIX.unpack_from(data)
    r = _Reader(data, _PREFIX.size, size - 4)
    fixed = r.unpack(_FIXED, "the fixed fields")
    kind, source, metric, quality, flags, depth, wid, height, width, frames = fixed[:10]
    fps_num, fps_den, pl, pr, pt, pb, chunks, payload_crc = fixed[10:]
    for value, table, what in ((kind, KINDS, "kind"), (source, SOURCES, "source")):
        if value >= len(table):
            raise FormatError(f"unknown {what} code {value} (corrupt file or newer tinify)")
    if metric >= len(METRICS):
        raise FormatError(f"unknown metric code {metric} (corrupt file or newer tinify)")
    if flags & ~KNOWN_FLAGS:
        raise FormatError(f"unknown flags 0x{flags:02x} (corrupt file or newer tinify)")
    if (fps_den == 0) != (fps_num == 0):
        raise FormatError("the frame rate is malformed (corrupt file)")
    fps = None if fps_den == 0 else Fraction(fps_num, fps_den)
    name = _ascii(r.take(r.u8("the model name length"), "the model name"), "model name")
    encoder = _ascii(r.take(r.u8("the encoder length"), "the encoder text"), "encoder text")
    n_shapes = r.u8("the shape count")
    if n_shapes > MAX_SHAPES:
        raise FormatError(f"{n_shapes} latent shapes; at most {MAX_SHAPES} (corrupt file)")
    shapes = []
    for _ in range(n_shapes):
        rank = r.u8("a shape rank")
        if not 1 <= rank <= MAX_RANK:
            raise FormatError(f"latent shape rank {rank} is outside 1..{MAX_RANK} (corrupt file)")
        shapes.append(struct.unpack(f"<{rank}I", r.take(4 * rank, "a latent shape")))
    quant_step = None
    if flags & FLAG_QUANT_STEP:
        (quant_step,) = r.unpack(_QUANT_STEP, "the quantization step")
    count = r.u32("the stream count")
    if count > MAX_STREAMS:
        raise FormatError(f"{count} streams; at most {MAX_STREAMS} (corrupt file)")
    lengths = struct.unpack(f"<{count}I", r.take(4 * count, "the stream lengths"))
    icc = b""
    if flags & FLAG_ICC:
        n_icc = r.u32("the ICC profile length")
        if not 1 <= n_icc <= MAX_ICC_BYTES:
            raise FormatError(f"ICC profile of {n_icc} bytes; 1 to {MAX_ICC_BYTES} (corrupt file)")
        icc = bytes(r.take(n_icc, "the ICC profile"))
    gop = r.u32("the intra period") if version == VIDEO_STREAM_VERSION else 0
    if r.pos != r.end:
        raise FormatError(
            f"{r.end - r.pos} unexpected bytes at the end of the header (corrupt file)"
        )
    header = TfyHeader(
        model=name,
        quality=quality,
        metric=METRICS[metric],
        source=SOURCES[source],
        weights_id=bytes(wid),
        height=height,
        width=width,
        padding=(pl, pr, pt, pb),
        shapes=tuple(tuple(s) for s in shapes),
        stream_chunks=chunks,
        kind=KINDS[kind],
        frames=frames,
        fps=fps,
        bit_depth=depth,
        on_cuda=bool(flags & FLAG_CUDA),
        yuv444=bool(flags & FLAG_YUV444),
        coding_mode=mode,
        quant_step=quant_step,
        encoder=encoder,
        stream_lengths=tuple(lengths),
        payload_crc=payload_crc,
        version=version,
        icc_profile=icc,
        gop=gop,
    )
    _validate(header)
    return header, size


def _ascii(raw: bytes, what: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise FormatError(f"the {what} is not ASCII (corrupt file)") from None


def unpack(data: bytes) -> tuple[TfyHeader, list[bytes]]:
    """Parse and check a whole ``.tfy`` file.

    A version-2 video is read record by record (:class:`VideoReader`) and returned as version
    1 lays it out: every frame's streams in frame order, and a header with the frame count and
    the stream lengths (its ``payload_crc`` stays 0: each record has its own CRC).

    Returns:
        ``(header, streams)``.

    Raises:
        FormatError: the data is not a ``.tfy`` file, is truncated, has trailing bytes, fails a
            CRC check, holds out-of-range values, or needs a newer tinify.
    """
    data = bytes(data)
    header, start = _read_header(data)
    if header.version == VIDEO_STREAM_VERSION:
        return _unpack_stream(data)
    available = len(data) - start
    if header.payload_size > available:
        raise FormatError(
            f"file is truncated (payload has {available} of {header.payload_size} bytes); "
            "re-encode or copy it again"
        )
    if header.payload_size < available:
        raise FormatError(
            f"{available - header.payload_size} unexpected bytes after the payload (a damaged "
            "or concatenated file)"
        )
    payload = data[start:]
    if zlib.crc32(payload) != header.payload_crc:
        raise FormatError("the payload is corrupt (CRC32 mismatch); the file was damaged")
    streams = []
    pos = 0
    for n in header.stream_lengths:
        streams.append(payload[pos : pos + n])
        pos += n
    return header, streams


# -- version 2: the streaming video layout ------------------------------------------------------

#: Frame types of a version-2 frame record (and of its index entry).
FRAME_I, FRAME_P = 0, 1
_FRAME_TYPES = {FRAME_I: ("I", VIDEO_I_STREAMS), FRAME_P: ("P", VIDEO_P_STREAMS)}
# frame type, frame number (then the stream lengths, then the record CRC)
_RECORD = struct.Struct("<BI")
_INDEX_TAG = b"TFYI"
# index tag, frame count (then per frame: offset u64, type u8; then the index CRC)
_INDEX_HEAD = struct.Struct("<4sI")
_INDEX_ENTRY = struct.Struct("<QB")
_TAIL_TAG = b"TFYE"
# index offset, tail tag, CRC32 of the 12 bytes before it: the last 16 bytes of the file
_TAIL = struct.Struct("<Q4sI")
#: The smallest frame record (an I-frame of two shortest streams).
MIN_RECORD_SIZE = _RECORD.size + 4 * VIDEO_I_STREAMS + 4 + 2 * 8


def is_intra(frame: int, gop: int) -> bool:
    """Whether frame ``frame`` of a video with intra period ``gop`` is an I-frame (frame 0
    always; with ``gop`` > 0 every ``gop``-th frame)."""
    return frame == 0 or (gop > 0 and frame % gop == 0)


def encode_frame_record(frame: int, intra: bool, streams: Sequence[bytes]) -> bytes:
    """One version-2 frame record: type, frame number, stream lengths, CRC32, then the streams.

    Raises:
        FormatError: not 2 streams for an I-frame or 4 for a P-frame, or a stream of 4 GiB.
    """
    kind = FRAME_I if intra else FRAME_P
    name, count = _FRAME_TYPES[kind]
    if len(streams) != count:
        article = "an" if intra else "a"
        raise FormatError(f"{article} {name}-frame has {count} streams, got {len(streams)}")
    if any(len(s) >= 1 << 32 for s in streams):
        raise FormatError("a stream is 4 GiB or more; the format stores 32-bit lengths")
    head = _RECORD.pack(kind, frame) + struct.pack(f"<{count}I", *(len(s) for s in streams))
    crc = zlib.crc32(head)
    for stream in streams:
        crc = zlib.crc32(stream, crc)
    return head + struct.pack("<I", crc) + b"".join(bytes(s) for s in streams)


class VideoWriter:
    """Write a version-2 video to a binary file in one pass (see ``docs/format.md``).

    The header is written at once; :meth:`add_frame` appends one record per frame as it is
    coded; :meth:`close` appends the index (every frame's offset and type) and the tail that
    points to it. Nothing is sought back, so ``file`` may be a pipe. Until :meth:`close` the
    file has no index and readers refuse it as truncated: write to a temporary file and rename
    it when closed (:func:`tinify.utils.files.atomic_path`) to publish it all or nothing.

    Memory: 16 bytes per frame for the index, nothing per frame otherwise.

    Args:
        file: a binary file opened for writing.
        header: the video's header; its ``frames``, ``stream_lengths`` and ``payload_crc``
            are ignored (the index holds them) and its ``gop`` is the intra period the frames
            must follow.

    Raises:
        FormatError: a header field is out of range, or not a video.
    """

    def __init__(self, file: IO[bytes], header: TfyHeader) -> None:
        self.header = replace(
            header, version=VIDEO_STREAM_VERSION, frames=0, stream_lengths=(), payload_crc=0
        )
        if self.header.kind != "video":
            raise FormatError("VideoWriter writes videos; write an image with pack")
        data = _header_bytes(self.header)
        self._file = file
        self._index = bytearray()
        self.frames = 0
        self.bytes_written = 0
        self.closed = False
        self._write(data)

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self.bytes_written += len(data)

    def add_frame(self, intra: bool, streams: Sequence[bytes]) -> int:
        """Append frame ``self.frames`` (an I-frame when ``intra``); return its record's size.

        Raises:
            FormatError: the writer is closed, the frame type contradicts the intra period,
                the stream count is wrong, or the video would exceed the format's frame cap.
        """
        if self.closed:
            raise FormatError("the video file is closed; no more frames can be added")
        if intra != is_intra(self.frames, self.header.gop):
            want = "an I" if not intra else "a P"
            raise FormatError(
                f"frame {self.frames} must be {want}-frame with intra period {self.header.gop}"
            )
        if self.frames >= MAX_FRAMES:
            raise FormatError(f"a video holds at most {MAX_FRAMES} frames")
        record = encode_frame_record(self.frames, intra, streams)
        self._index += _INDEX_ENTRY.pack(self.bytes_written, FRAME_I if intra else FRAME_P)
        self._write(record)
        self.frames += 1
        return len(record)

    def close(self) -> int:
        """Write the index and the tail; return the file's size. Idempotent.

        Raises:
            FormatError: no frame was added.
        """
        if self.closed:
            return self.bytes_written
        if not self.frames:
            raise FormatError("a video needs at least one frame")
        offset = self.bytes_written
        index = _INDEX_HEAD.pack(_INDEX_TAG, self.frames) + bytes(self._index)
        tail = struct.pack("<Q", offset) + _TAIL_TAG
        self._write(index + struct.pack("<I", zlib.crc32(index)))
        self._write(tail + struct.pack("<I", zlib.crc32(tail)))
        self.closed = True
        return self.bytes_written


def _unpack_stream(data: bytes) -> tuple[TfyHeader, list[bytes]]:
    reader = VideoReader(data)
    streams = [s for i in range(reader.frames) for s in reader.read_frame(i)[1]]
    header = replace(reader.header, stream_lengths=tuple(len(s) for s in streams))
    return header, streams


class VideoReader:
    """Read a video file frame by frame: version 2 through its index, version 1 (tinify 0.1.0's
    whole-clip layout) from memory.

    A version-2 file is checked before any frame is read: the header (CRC and fields), the tail
    and the index (CRC, a frame count the file can hold, offsets increasing by at least a record
    each, frame types matching the intra period). A missing or damaged tail or index (a file
    whose encoder never finished, or a cut copy) is refused as truncated. Each frame record is
    checked (its CRC, frame number, type and size) when it is read, so memory stays at one
    record.

    Args:
        file: a seekable binary file opened for reading (or a ``bytes``-like object).

    Attributes:
        header: the checked header, with ``frames`` from the index.
        intra: per frame, whether it is an I-frame.

    Raises:
        FormatError: the file is not a ``.tfy`` video, or is truncated or corrupt.
    """

    def __init__(self, file: IO[bytes] | bytes | bytearray | memoryview) -> None:
        if isinstance(file, (bytes, bytearray, memoryview)):
            import io

            file = io.BytesIO(bytes(file))
        self._file = file
        self._streams: list[list[bytes]] | None = None
        file.seek(0, 2)
        self.size = file.tell()
        file.seek(0)
        head = file.read(MAX_HEADER_SIZE)
        if len(head) >= _PREFIX.size and head[8] == VIDEO_STREAM_VERSION:
            header, self._header_size = _read_header(head)
        else:  # version 1 (or not a .tfy file at all: unpack says which)
            self._load_version_1(head + file.read())
            return
        self._offsets, self.intra, self._index_offset = self._read_index(header)
        self.header = replace(header, frames=len(self.intra))

    @classmethod
    def open(cls, path: str | Any) -> VideoReader:
        """A reader over the file at ``path``, which it closes (:meth:`close`, or as a context
        manager)."""
        file = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            return cls(file)
        except BaseException:
            file.close()
            raise

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load_version_1(self, data: bytes) -> None:
        header, streams = unpack(data)
        if header.kind != "video":
            raise FormatError(f"holds an {header.kind}; decode it to an image file (.png)")
        self.header = header
        self._streams = [[streams[k] for k in r] for r in frame_streams(header)]
        self.intra = [i == 0 for i in range(header.frames)]
        self._offsets = []
        self._index_offset = 0

    def _read_index(self, header: TfyHeader) -> tuple[list[int], list[bool], int]:
        truncated = (
            "file is truncated: its index is missing or damaged (the encoder did not finish, "
            "or the copy was cut); re-encode or copy it again"
        )
        start = self._header_size
        if self.size < start + _INDEX_HEAD.size + 4 + _TAIL.size:
            raise FormatError(truncated)
        self._file.seek(self.size - _TAIL.size)
        tail = self._file.read(_TAIL.size)
        offset, tag, crc = _TAIL.unpack(tail)
        if tag != _TAIL_TAG or zlib.crc32(tail[:12]) != crc:
            raise FormatError(truncated)
        room = self.size - _TAIL.size - offset - _INDEX_HEAD.size - 4
        if not start + MIN_RECORD_SIZE <= offset or room < _INDEX_ENTRY.size:
            raise FormatError("the index offset is impossible (corrupt file)")
        self._file.seek(offset)
        index_head = self._file.read(_INDEX_HEAD.size)
        tag, frames = _INDEX_HEAD.unpack(index_head)
        if tag != _INDEX_TAG:
            raise FormatError("the index is damaged (bad tag; corrupt file)")
        if not 1 <= frames <= MAX_FRAMES or frames * _INDEX_ENTRY.size != room:
            raise FormatError(
                f"the index claims {frames} frames, which its {room} bytes cannot hold (corrupt "
                "or crafted file)"
            )
        if (offset - start) // MIN_RECORD_SIZE < frames:
            raise FormatError(
                f"the index claims {frames} frames, but {offset - start} bytes of records hold "
                f"at most {(offset - start) // MIN_RECORD_SIZE} (corrupt or crafted file)"
            )
        entries = self._file.read(room)
        (index_crc,) = struct.unpack("<I", self._file.read(4))
        if zlib.crc32(entries, zlib.crc32(index_head)) != index_crc:
            raise FormatError("the index is corrupt (CRC32 mismatch); the file was damaged")
        offsets: list[int] = []
        intra: list[bool] = []
        previous = start - MIN_RECORD_SIZE
        for i, (at, kind) in enumerate(_INDEX_ENTRY.iter_unpack(entries)):
            if kind not in _FRAME_TYPES or (kind == FRAME_I) != is_intra(i, header.gop):
                raise FormatError(
                    f"index entry {i} has frame type {kind}, which the intra period "
                    f"{header.gop} contradicts (corrupt file)"
                )
            if at < previous + MIN_RECORD_SIZE or (i == 0 and at != start):
                raise FormatError(f"index entry {i} has an impossible offset {at} (corrupt file)")
            offsets.append(at)
            intra.append(kind == FRAME_I)
            previous = at
        if offset < previous + MIN_RECORD_SIZE:
            raise FormatError("the last frame record overlaps the index (corrupt file)")
        return offsets, intra, offset

    @property
    def frames(self) -> int:
        """The number of frames."""
        return len(self.intra)

    def frame_bytes(self) -> list[int]:
        """Payload bytes of each frame (its streams; for version 2 its record less the record
        head), without reading the records."""
        if self._streams is not None:
            return [sum(len(s) for s in streams) for streams in self._streams]
        ends = self._offsets[1:] + [self._index_offset]
        return [
            end - at - _RECORD.size - 4 - 4 * _FRAME_TYPES[FRAME_I if i else FRAME_P][1]
            for at, end, i in zip(self._offsets, ends, self.intra)
        ]

    def gop_start(self, frame: int) -> int:
        """The I-frame from which ``frame`` decodes (the last one at or before it)."""
        if not 0 <= frame < self.frames:
            raise FormatError(f"frame {frame} is outside 0..{self.frames - 1}")
        return max(i for i in range(frame + 1) if self.intra[i]) if frame else 0

    def read_frame(self, frame: int) -> tuple[bool, list[bytes]]:
        """``(intra, streams)`` of frame ``frame``: 2 streams (image ``y``, ``z``) for an
        I-frame, 4 (motion ``y``, ``z``, residual ``y``, ``z``) for a P-frame.

        Raises:
            FormatError: the record is damaged (CRC, frame number, type or size).
        """
        if not 0 <= frame < self.frames:
            raise FormatError(f"frame {frame} is outside 0..{self.frames - 1}")
        if self._streams is not None:
            return self.intra[frame], list(self._streams[frame])
        at = self._offsets[frame]
        end = self._offsets[frame + 1] if frame + 1 < self.frames else self._index_offset
        self._file.seek(at)
        data = self._file.read(end - at)
        damaged = f"frame {frame}'s record is damaged"
        if len(data) != end - at:
            raise FormatError(f"{damaged}: the file is shorter than its index says (truncated)")
        kind, number = _RECORD.unpack_from(data)
        if kind not in _FRAME_TYPES or (kind == FRAME_I) != self.intra[frame] or number != frame:
            raise FormatError(f"{damaged}: its type or number disagrees with the index")
        count = _FRAME_TYPES[kind][1]
        lengths = struct.unpack_from(f"<{count}I", data, _RECORD.size)
        head = _RECORD.size + 4 * count
        if head + 4 + sum(lengths) != len(data):
            raise FormatError(
                f"{damaged}: its streams hold {sum(lengths)} bytes, the record "
                f"{len(data) - head - 4} (corrupt file)"
            )
        (crc,) = struct.unpack_from("<I", data, head)
        body = memoryview(data)[head + 4 :]
        if zlib.crc32(body, zlib.crc32(memoryview(data)[:head])) != crc:
            raise FormatError(f"{damaged} (CRC32 mismatch); the file was damaged")
        streams, pos = [], head + 4
        for n in lengths:
            streams.append(data[pos : pos + n])
            pos += n
        return kind == FRAME_I, streams

    def verify(self, start: int = 0, stop: int | None = None) -> None:
        """Read and check the records of frames ``start`` to ``stop - 1`` (CRC, number, type,
        size) without keeping them: a damaged file is refused before any frame is decoded.

        Raises:
            FormatError: a record is damaged.
        """
        for frame in range(start, self.frames if stop is None else stop):
            self.read_frame(frame)

    def describe(self) -> dict[str, Any]:
        """What ``tinify info`` prints: the header's fields, the frame count, intra period,
        the I-frames (the index's GOP starts) and each frame's payload bytes."""
        starts = [i for i, intra in enumerate(self.intra) if intra]
        info = self.header.describe(self.size, frame_bytes=self.frame_bytes(), intra_frames=starts)
        if self._streams is None:
            info["index_offset"] = self._index_offset
        return info
