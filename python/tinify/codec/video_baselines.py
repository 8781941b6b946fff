# SPDX-License-Identifier: Apache-2.0
"""Classical video codecs on raw sequences, as CompressAI 1.2.8's ``utils.video.bench`` runs
them: x264 and x265 through an ``ffmpeg`` binary, VTM and HM through their reference encoders.

Input sequences are raw 8-bit 4:2:0 files named ``Name_WxH_FPS.yuv`` (and, for the ffmpeg
codecs, ``.y4m`` files and folders of PNG frames, which are handed to ffmpeg as a temporary
``.y4m`` of their 4:2:0 planes, :func:`tinify.io.video.rgb_to_yuv`). They are read by
:func:`tinify.codec.video_evaluate.read_sequence`, the reader of the learned codecs'
evaluation. Each sequence is encoded at each QP into ``OUTDIR/<folder>/
<name>_<codec>_..._qpQP.<ext>`` (kept, and reused unless forced), decoded to a temporary raw
file, and measured against the source planes:

- per frame, the mean squared error of Y, U and V, and of 8-bit RGB (both sides converted with
  bicubic chroma upsampling and BT.709), and MS-SSIM on that RGB (``None`` under 161x161);
- per sequence (CompressAI's ``bench`` convention): ``psnr-y/u/v/rgb`` from the mean MSE over
  frames, ``psnr-yuv = (4 Y + U + V) / 6``, the mean MS-SSIM, and ``bitrate`` = file bytes x 8 x
  fps / (frames x 1000) in kbit/s, ``bpp`` = file bytes x 8 / (frames x pixels), the encoder's
  and decoder's wall times (``encoding_time``, ``decoding_time``, seconds: the whole ffmpeg
  runs, reading and writing included) and ``encoding_fps`` / ``decoding_fps``.

x264 and x265 run through ffmpeg's ``libx264`` / ``libx265`` encoders with CRF rate control
(``-crf QP``, 0-51, lower is better), ``-preset`` (medium) and ``-tune``; the low-delay
configuration of CompressAI's published anchors (``x264-medium-tune-zerolatency``) is
``tune="zerolatency"``, which ``tinify codecs`` uses by default: no B-frames and no lookahead
(every frame is coded in display order and sent at once, like the learned P-frame codec it is
compared with; x264: ``bframes=0``, ``rc-lookahead=0``, ``sync-lookahead=0``, no mbtree,
sliced threads; x265: ``bframes=0``, ``b-adapt=0``, ``rc-lookahead=0``, no scene-cut, one frame
thread). B-frames are also turned off explicitly (x264 ``-bf 0``, x265 ``-x265-params
bframes=0``) whatever the tune, as CompressAI does. ``gop`` sets the intra period (``-g N``: an
I-frame every N frames; default: the encoders' own, 250 frames), ``frames`` codes the first N
frames only (``-frames:v N``).

Missing programs raise :class:`~tinify.codec.external.ToolNotFoundError` saying what to install.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tinify.codec.external import (
    ToolError,
    ToolNotFoundError,
    ffmpeg_version,
    find_tool,
    run_command,
)
from tinify.codec.results import mean, results_json
from tinify.codec.video_evaluate import read_sequence
from tinify.io.image import InputError
from tinify.io.video import YUVFrame, read_yuv420, write_y4m, yuv_to_rgb
from tinify.utils.metrics import ms_ssim, ms_ssim_min_size, to_8bit
from tinify.utils.progress import report

__all__ = [
    "HMVideoCodec",
    "RawSequence",
    "VTMVideoCodec",
    "VideoCodec",
    "X264Codec",
    "X265Codec",
    "bench_sequence",
    "collect_raw_sequences",
    "frame_errors",
    "measure_decoded",
    "read_raw_sequence",
    "run_sequence",
    "run_video_codec",
    "sequence_errors",
]

#: The CRF values ``tinify codecs`` runs x264 and x265 at by default (the common test
#: conditions' four QPs).
DEFAULT_CRFS = (22, 27, 32, 37)
FFMPEG_HINT = "install ffmpeg (e.g. apt-get install ffmpeg) or give its path with --ffmpeg"


@dataclass
class RawSequence:
    """A source sequence: its planes, size and frame rate.

    ``path`` is what the encoder reads: the sequence file, or a temporary ``.y4m`` written by
    :func:`run_sequence` for a folder of PNG frames.
    """

    path: Path
    planes: list[YUVFrame]
    width: int
    height: int
    fps: Fraction


def collect_raw_sequences(root: str | Path, suffixes: Sequence[str] = (".yuv",)) -> list[Path]:
    """The sequence files under ``root`` (recursive, sorted)."""
    base = Path(root)
    found = (p for p in base.rglob("*") if p.suffix.lower() in suffixes)
    return sorted(p for p in found if p.is_file())


def read_raw_sequence(
    path: str | Path,
    max_frames: int | None = None,
    *,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
) -> RawSequence:
    """Read a ``Name_WxH_FPS.yuv`` (8-bit 4:2:0), ``.y4m`` or PNG-folder sequence with
    :func:`tinify.codec.video_evaluate.read_sequence` (the same options).

    Raises:
        InputError: a raw file without a size, or a malformed file.
    """
    seq = read_sequence(path, max_frames, size=size, fps=fps, rgb=False)
    return RawSequence(seq.path, seq.planes, seq.width, seq.height, seq.fps)


def _rgb8(frame: YUVFrame) -> torch.Tensor:
    return to_8bit(yuv_to_rgb(frame, "bicubic"))


def frame_errors(org: YUVFrame, dec: YUVFrame) -> dict[str, Any]:
    """``mse-y``, ``mse-u``, ``mse-v``, ``mse-rgb`` (8-bit RGB, bicubic chroma) and
    ``ms-ssim-rgb`` (``None`` under 161x161) of one decoded frame.

    Raises:
        InputError: the plane sizes differ.
    """
    row: dict[str, Any] = {}
    for name, pa, pb in zip("yuv", org, dec):
        if pa.shape != pb.shape:
            raise InputError(f"decoded plane {name} is {pb.shape}, the source {pa.shape}")
        row[f"mse-{name}"] = float(np.mean((pa.astype(np.float64) - pb) ** 2))
    ra, rb = _rgb8(org), _rgb8(dec)
    row["mse-rgb"] = float(torch.mean((ra.double() - rb.double()) ** 2))
    small = min(ra.shape[-2:]) < ms_ssim_min_size()
    row["ms-ssim-rgb"] = None if small else float(ms_ssim(ra, rb, 255.0).mean())
    return row


def sequence_errors(org: Sequence[YUVFrame], dec: Sequence[YUVFrame]) -> dict[str, Any]:
    """CompressAI's ``bench`` numbers of a decoded sequence (see the module docstring).

    Raises:
        InputError: the frame counts or sizes differ.
    """
    if len(org) != len(dec):
        raise InputError(f"the decoded sequence has {len(dec)} frames, the source {len(org)}")
    rows = [frame_errors(a, b) for a, b in zip(org, dec)]

    def db(mse: float | None) -> float | None:
        if mse is None:
            return None
        return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)

    out: dict[str, Any] = {"ms-ssim-rgb": mean([r["ms-ssim-rgb"] for r in rows])}
    for key in ("y", "u", "v", "rgb"):
        out[f"psnr-{key}"] = db(mean([r[f"mse-{key}"] for r in rows]))
    y, u, v = out["psnr-y"], out["psnr-u"], out["psnr-v"]
    out["psnr-yuv"] = (4 * y + u + v) / 6
    return out


class VideoCodec:
    """A video codec run by external programs; subclasses give the commands."""

    key = ""
    suffix = ".bin"

    def programs(self) -> list[tuple[str, str]]:
        """``(program, hint)`` for every program the codec runs."""
        return []

    def check(self) -> None:
        """Raise :class:`~tinify.codec.external.ToolNotFoundError` unless every program is
        there."""
        for program, hint in self.programs():
            find_tool(program, hint)

    def name_config(self) -> str:
        """The results' ``name``."""
        return self.key

    def description(self) -> str:
        """The results' ``description``."""
        return self.key

    def accepts(self, path: Path) -> bool:
        """Whether the codec reads this sequence file."""
        return path.suffix.lower() == ".yuv"

    def bin_path(self, seq: Path, qp: int, outdir: Path, inputdir: Path) -> Path:
        """Where the bitstream of ``seq`` at ``qp`` is kept."""
        sub = outdir / seq.parent.relative_to(inputdir)
        return sub / f"{seq.stem}_{self.name_config()}_qp{qp}{self.suffix}"

    def encode_cmd(self, seq: RawSequence, qp: int, out: Path) -> list[Any]:
        """The encoder command line."""
        raise NotImplementedError

    def decode_cmd(self, out: Path, dec: Path, seq: RawSequence) -> list[Any]:
        """The decoder command line writing raw 8-bit 4:2:0 ``dec``."""
        raise NotImplementedError


class X264Codec(VideoCodec):
    """H.264 with x264 through ffmpeg's libx264 (``-crf QP``, no B-frames; see the module
    docstring for the low-delay settings)."""

    key = "x264"
    suffix = ".mp4"
    encoder = "libx264"

    def __init__(
        self,
        preset: str = "medium",
        tune: str = "psnr",
        ffmpeg: str = "ffmpeg",
        gop: int | None = None,
    ) -> None:
        if gop is not None and gop < 1:
            raise InputError(f"the intra period must be at least 1 frame, got {gop}")
        self.preset, self.tune, self.ffmpeg, self.gop = preset, tune, ffmpeg, gop

    def programs(self) -> list[tuple[str, str]]:
        return [(self.ffmpeg, FFMPEG_HINT)]

    def check(self) -> None:
        """Raise :class:`~tinify.codec.external.ToolNotFoundError` unless ffmpeg is there and
        has the encoder."""
        path = find_tool(self.ffmpeg, FFMPEG_HINT)
        listing = run_command([path, "-hide_banner", "-encoders"])
        if not any(line.split()[1:2] == [self.encoder] for line in listing.splitlines()):
            raise ToolNotFoundError(
                f"{path} has no {self.encoder} encoder: install an ffmpeg built with it (Debian's "
                "ffmpeg package has libx264 and libx265) or give its path with --ffmpeg"
            )

    def name_config(self) -> str:
        gop = "" if self.gop is None else f"-gop{self.gop}"
        return f"{self.key}-{self.preset}-tune-{self.tune}{gop}"

    def description(self) -> str:
        version = ffmpeg_version(self.ffmpeg)
        gop = "" if self.gop is None else f", intra period {self.gop}"
        return f"{self.key} {self.preset}, {self.tune}{gop}, ffmpeg version {version}"

    def accepts(self, path: Path) -> bool:
        return path.is_dir() or path.suffix.lower() in (".yuv", ".y4m")

    def _input(self, seq: RawSequence) -> list[Any]:
        if seq.path.suffix.lower() == ".y4m":
            return ["-i", seq.path]
        return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s:v", f"{seq.width}x{seq.height}",
                "-framerate", str(seq.fps), "-i", seq.path]  # fmt: skip

    def codec_options(self) -> list[Any]:
        return ["-bf", 0]

    def encode_cmd(self, seq: RawSequence, qp: int, out: Path) -> list[Any]:
        gop = [] if self.gop is None else ["-g", self.gop]
        return [self.ffmpeg, "-y", "-loglevel", "error", *self._input(seq),
                "-frames:v", len(seq.planes), "-c:v", self.encoder, "-crf", qp,
                "-preset", self.preset, *self.codec_options(), "-tune", self.tune, *gop,
                "-pix_fmt", "yuv420p", "-threads", "4", out]  # fmt: skip

    def decode_cmd(self, out: Path, dec: Path, seq: RawSequence) -> list[Any]:
        return [self.ffmpeg, "-y", "-loglevel", "error", "-i", out, "-f", "rawvideo",
                "-pix_fmt", "yuv420p", dec]  # fmt: skip


class X265Codec(X264Codec):
    """HEVC with x265 through ffmpeg's libx265 (``-crf QP``, no B-frames)."""

    key = "x265"
    encoder = "libx265"

    def codec_options(self) -> list[Any]:
        return ["-x265-params", "bframes=0:log-level=error"]


class VTMVideoCodec(VideoCodec):
    """VVC through the VTM reference encoder and decoder (raw ``.yuv`` input)."""

    key = "VTM"
    tool_names = {
        "Darwin": ("EncoderApp", "DecoderApp"),
        "Linux": ("EncoderAppStatic", "DecoderAppStatic"),
    }

    def __init__(self, build_dir: str, config: str, rgb: bool = False) -> None:
        names = self.tool_names.get(platform.system())
        if names is None:
            raise RuntimeError(f'Unsupported platform "{platform.system()}"')
        self.encoder_path = os.path.join(build_dir, names[0])
        self.decoder_path = os.path.join(build_dir, names[1])
        self.config_path, self.rgb = config, rgb
        stem = Path(config).stem
        self.config = stem.split("_")[1] if "_" in stem else stem

    def programs(self) -> list[tuple[str, str]]:
        hint = f"build the {self.key} reference software and give its folder with -b"
        if not Path(self.config_path).is_file():
            raise InputError(f"{self.config_path} not found: give a {self.key} config with -c")
        return [(self.encoder_path, hint), (self.decoder_path, hint)]

    def version(self) -> str:
        """The encoder's version, from its ``--help`` banner."""
        lines = run_command([self.encoder_path, "--help"], [1]).splitlines()
        words = lines[1].split() if len(lines) > 1 else []
        return words[4].strip("[]") if len(words) > 4 else "unknown"

    def name_config(self) -> str:
        return f"{self.key}-{self.config}"

    def description(self) -> str:
        return f"{self.key} reference software, version {self.version()}"

    def encode_cmd(self, seq: RawSequence, qp: int, out: Path) -> list[Any]:
        cmd: list[Any] = [self.encoder_path, "-i", seq.path, "-c", self.config_path, "-q", qp,
                          "-o", os.devnull, "-b", out, "-wdt", seq.width, "-hgt", seq.height,
                          "-fr", round(float(seq.fps)), "-f", len(seq.planes),
                          "--InputBitDepth=8", "--OutputBitDepth=8"]  # fmt: skip
        if self.rgb:
            cmd += ["--InputColourSpaceConvert=RGBtoGBR", "--SNRInternalColourSpace=1",
                    "--OutputInternalColourSpace=0"]  # fmt: skip
        return cmd

    def decode_cmd(self, out: Path, dec: Path, seq: RawSequence) -> list[Any]:
        return [self.decoder_path, "-b", out, "-o", dec, "-d", 8]


class HMVideoCodec(VTMVideoCodec):
    """HEVC through the HM reference encoder and decoder (raw ``.yuv`` input)."""

    key = "HM"
    tool_names = {
        "Darwin": ("TAppEncoder", "TAppDecoder"),
        "Linux": ("TAppEncoderStatic", "TAppDecoderStatic"),
    }


def bench_sequence(
    codec: VideoCodec,
    path: Path,
    qp: int,
    outdir: Path,
    inputdir: Path,
    force: bool = False,
    *,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
) -> dict[str, Any]:
    """Encode (or reuse the kept bitstream), decode and measure one sequence at ``qp``; the
    bitstream is :meth:`VideoCodec.bin_path`. ``max_frames``, ``size`` and ``fps`` are the
    options of :func:`read_raw_sequence`.

    Raises:
        ToolNotFoundError: a program is missing.
        ToolError: a program failed.
        InputError: an unreadable sequence, or a decoded one of another shape.
    """
    codec.check()
    seq = read_raw_sequence(path, max_frames, size=size, fps=fps)
    binpath = codec.bin_path(path, qp, outdir, inputdir)
    binpath.parent.mkdir(parents=True, exist_ok=True)
    return run_sequence(codec, seq, qp, binpath, reuse=not force)


def run_sequence(
    codec: VideoCodec, seq: RawSequence, qp: int, binpath: Path, reuse: bool = False
) -> dict[str, Any]:
    """Encode ``seq`` at ``qp`` into ``binpath`` (kept; an existing one is used as it is when
    ``reuse``), decode it to a temporary raw file and measure it (:func:`measure_decoded`, with
    the encoder's and decoder's wall times)."""
    with tempfile.TemporaryDirectory(prefix="tinify-video-") as folder:
        if seq.path.is_dir():  # PNG frames: the encoders read their 4:2:0 planes as a .y4m
            source = Path(folder) / "source.y4m"
            write_y4m(source, seq.planes, (seq.fps.numerator, seq.fps.denominator))
            seq = RawSequence(source, seq.planes, seq.width, seq.height, seq.fps)
        encoding = 0.0
        if not (reuse and binpath.is_file()):
            start = time.perf_counter()
            run_command(codec.encode_cmd(seq, qp, binpath))
            encoding = time.perf_counter() - start
        dec = Path(folder) / "dec.yuv"
        start = time.perf_counter()
        run_command(codec.decode_cmd(binpath, dec, seq))
        decoding = time.perf_counter() - start
        if not dec.is_file():
            raise ToolError(f"the decoder wrote no {dec.name}")
        out = measure_decoded(seq, dec, binpath)
    count = len(seq.planes)
    if encoding:
        out.update(encoding_time=encoding, encoding_fps=count / encoding)
    out.update(decoding_time=decoding, decoding_fps=count / decoding if decoding else None)
    return out


def measure_decoded(seq: RawSequence, dec: Path, binpath: Path) -> dict[str, Any]:
    """:func:`sequence_errors` of the raw 4:2:0 file ``dec`` against ``seq``, and the
    ``bitrate`` (kbit/s) and ``bpp`` of the bitstream ``binpath``."""
    try:
        decoded = read_yuv420(dec, seq.width, seq.height)
    except ValueError as err:
        raise InputError(f"{dec}: {err}") from None
    out = sequence_errors(seq.planes, decoded)
    bits = binpath.stat().st_size * 8
    count = len(seq.planes)
    out["frames"] = count
    out["bpp"] = bits / (count * seq.width * seq.height)
    out["bitrate"] = bits * float(seq.fps) / (count * 1000)
    return out


def run_video_codec(
    codec: VideoCodec,
    sequences: Sequence[Path],
    qps: Sequence[int] | None = None,
    *,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
) -> dict[str, Any]:
    """Run ``codec`` on every sequence at every QP (default :data:`DEFAULT_CRFS`), bitstreams in
    a temporary folder; ``max_frames``, ``size``, ``fps``: see :func:`read_raw_sequence`.

    Returns:
        A results document in CompressAI's video layout: ``{"name", "description", "results":
        {"qp": [...], <the means over sequences of every key of :func:`run_sequence`>},
        "per-sequence": {"<qp>": [{"sequence": name, ...}, ...]}}``.

    Raises:
        ToolNotFoundError, ToolError, InputError: see :func:`bench_sequence`.
    """
    codec.check()
    qps = list(qps or DEFAULT_CRFS)
    rows: dict[int, list[dict[str, Any]]] = {q: [] for q in qps}
    with tempfile.TemporaryDirectory(prefix="tinify-codecs-") as folder:
        for i, path in enumerate(sequences):
            seq = read_raw_sequence(path, max_frames, size=size, fps=fps)
            for q in qps:
                binpath = Path(folder) / f"seq{i}_qp{q}{codec.suffix}"
                rows[q].append(
                    {"sequence": Path(path).name, **run_sequence(codec, seq, q, binpath)}
                )
                binpath.unlink()
            report("sequences", i + 1, len(sequences))
    points = []
    for q in qps:
        keys = [k for k in rows[q][0] if k != "sequence"]
        points.append({"qp": q, **{k: mean([r[k] for r in rows[q]]) for k in keys}})
    doc = results_json(codec.name_config(), codec.description(), points, keys=("qp",))
    doc["per-sequence"] = {str(q): rows[q] for q in qps}
    return doc
