# SPDX-License-Identifier: Apache-2.0
"""Rate and distortion of a video model (ssf2020) over a folder of sequences.

The protocol is CompressAI 1.2.8's ``utils.video.eval_model``, with real coding through the
``.tfy`` container:

- a sequence is a ``.y4m`` file, a raw 8-bit 4:2:0 ``.yuv`` file named ``Name_WxH_FPS.yuv``
  (the frame rate defaults to 25 when the name has none; ``size`` and ``fps`` options override
  the name), or a folder of PNG frames (25 fps unless ``fps`` is given);
- YUV input is converted to RGB with bicubic chroma upsampling and BT.709 (full range), the
  conversion CompressAI's evaluation uses; PNG frames are the RGB input and their YUV planes
  come from :func:`tinify.io.video.rgb_to_yuv`;
- the clip is padded (centred zeros) to multiples of 128, coded with :func:`encode_video` into
  one streaming ``.tfy`` file with an I-frame every ``gop`` frames (by default only the first,
  as CompressAI's evaluation codes it: one I-frame, then P-frames),
  decoded with :func:`decode_video`, and cropped back (all in :func:`code_clip`);
- per frame: PSNR of the Y, U and V planes of the reconstruction converted back to 8-bit 4:2:0
  against the source planes, ``psnr-yuv = (4 Y + U + V) / 6``, and PSNR, MSE and MS-SSIM on
  8-bit RGB against the RGB-converted source (MS-SSIM ``None`` under 161x161); ``bpp`` is the
  frame's entropy-coded bytes x 8 / pixels;
- per sequence: the means of the per-frame values, ``bitrate`` = file bytes x 8 x fps /
  (frames x 1000) in kbit/s (the whole ``.tfy`` file, as CompressAI counts its own file),
  ``bpp`` = payload bits / (frames x pixels), ``bpp-file`` = file bits / (frames x pixels), the
  coding times in seconds (``encoding_time``: ``encode_video`` of every group; ``decoding_time``:
  ``decode_video``; reading the sequence and the metrics are not timed) and the frame rates
  ``encoding_fps`` / ``decoding_fps`` = frames / time.

``estimate=True`` runs ``forward_keyframe`` / ``forward_inter`` frame by frame instead (each
reconstruction clamped to [0, 1] before it is the next reference, as CompressAI's estimation
does; ``forward_keyframe`` again at the start of every group of pictures), with the bits
``-sum(log2 likelihoods)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from tinify.codec.coding import decode_video, encode_video, padding_for
from tinify.codec.format import frame_streams
from tinify.codec.loading import LoadedModel
from tinify.codec.results import mean
from tinify.io.image import DEFAULT_FPS, InputError
from tinify.io.video import (
    YUVFrame,
    read_png_frames,
    read_y4m,
    read_yuv420,
    rgb_to_yuv,
    yuv_name_format,
    yuv_to_rgb,
)
from tinify.ops import crop
from tinify.utils.metrics import ms_ssim, ms_ssim_min_size, psnr, to_8bit
from tinify.utils.progress import report

__all__ = [
    "SEQUENCE_SUFFIXES",
    "CodedClip",
    "VideoSequence",
    "code_clip",
    "collect_sequences",
    "evaluate_sequence",
    "evaluate_video_model",
    "find_sequences",
    "frame_metrics",
    "likelihood_bits",
    "read_sequence",
]

#: Suffixes of sequence files (a folder of PNG frames is a sequence too).
SEQUENCE_SUFFIXES = (".y4m", ".yuv")


@dataclass
class VideoSequence:
    """A sequence read by :func:`read_sequence`.

    Attributes:
        frames: RGB frames (1, 3, H, W) in [0, 1], the model's input (empty when read with
            ``rgb=False`` from a YUV file).
        planes: the 8-bit YUV planes the PSNR-Y/U/V are measured against.
        fps: the frame rate.
        path: the file or folder read.
    """

    frames: list[Tensor]
    planes: list[YUVFrame]
    fps: Fraction
    path: Path = field(default_factory=Path)

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return int(self.planes[0].y.shape[1])

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return int(self.planes[0].y.shape[0])


def collect_sequences(root: str | Path) -> list[Path]:
    """The sequences under ``root`` (recursive, sorted): ``.y4m`` and ``.yuv`` files, and
    folders holding ``.png`` frames."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("*") if p.is_file() and p.suffix.lower() in SEQUENCE_SUFFIXES]
    folders = {p.parent for p in base.rglob("*.png") if p.is_file()}
    return sorted(found + list(folders))


def find_sequences(source: str | Path) -> list[Path]:
    """The sequences of a dataset: :func:`collect_sequences` of a folder, or one sequence file.

    Raises:
        InputError: a missing path, or one holding no sequence.
    """
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() not in SEQUENCE_SUFFIXES:
            raise InputError(f"{path}: not a sequence (.y4m, .yuv or a folder of .png frames)")
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    found = collect_sequences(path)
    if not found:
        raise InputError(
            f"{path}: no sequences (.y4m files, raw 4:2:0 .yuv files or folders of .png frames)"
        )
    return found


def read_sequence(
    path: str | Path,
    max_frames: int | None = None,
    *,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    rgb: bool = True,
) -> VideoSequence:
    """Read a sequence (see the module docstring for the formats).

    Args:
        max_frames: read the first frames only.
        size: ``(width, height)`` of a raw ``.yuv`` file (default: from its name).
        fps: the frame rate (default: the ``.y4m`` header's, the ``.yuv`` name's, else 25).
        rgb: also convert YUV input to RGB frames (the model's input; metrics-only callers such
            as the classical codecs skip it).

    Raises:
        InputError: an unknown format, a ``.yuv`` file without a size, or a malformed file.
    """
    p = Path(path)
    try:
        if p.is_dir():
            frames = read_png_frames(p, count=max_frames)
            planes = [rgb_to_yuv(x) for x in frames]
            rate = DEFAULT_FPS
        elif p.suffix.lower() == ".y4m":
            planes, header = read_y4m(p, max_frames)
            rate = Fraction(*header.fps)
            frames = []
        elif p.suffix.lower() == ".yuv":
            fmt = yuv_name_format(p.name)
            if size is None and fmt is None:
                raise InputError(
                    f"{p}: give the frame size of a raw 4:2:0 file (--size WxH) or name it like "
                    "Name_832x480_30.yuv"
                )
            width, height = size if size is not None else fmt[:2]  # type: ignore[index]
            planes = read_yuv420(p, width, height, max_frames)
            rate = (fmt[2] if fmt is not None else None) or DEFAULT_FPS
            frames = []
        else:
            raise InputError(f"{p}: not a sequence (.y4m, .yuv or a folder of .png frames)")
    except (ValueError, OSError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{p}: {err}") from None
    if not planes:
        raise InputError(f"{p}: holds no frames")
    if rgb and not frames:
        frames = [yuv_to_rgb(f, "bicubic") for f in planes]
    return VideoSequence(frames, planes, fps or rate, p)


def frame_metrics(org: YUVFrame, org_rgb: Tensor, rec: Tensor) -> dict[str, float | None]:
    """The per-frame numbers of a reconstruction ``rec`` (1, 3, H, W) in [0, 1] against the
    source planes ``org`` and their RGB conversion ``org_rgb``."""
    rec = rec.detach().float().cpu().clamp(0, 1)
    rec_planes = rgb_to_yuv(rec, org.chroma)
    out: dict[str, float | None] = {}
    for name, a, b in zip("yuv", org, rec_planes):
        out[f"psnr-{name}"] = psnr(torch.from_numpy(np.asarray(a)), torch.from_numpy(b))
    y, u, v = (float(out[f"psnr-{c}"]) for c in "yuv")  # type: ignore[arg-type]
    out["psnr-yuv"] = (4 * y + u + v) / 6
    a8, b8 = to_8bit(org_rgb.detach().float().cpu()), to_8bit(rec)
    out["mse-rgb"] = float(torch.mean((a8.double() - b8.double()) ** 2))
    out["psnr-rgb"] = psnr(a8, b8)
    small = min(a8.shape[-2:]) < ms_ssim_min_size()
    out["ms-ssim-rgb"] = None if small else float(ms_ssim(a8, b8, 255.0).mean())
    return out


def _estimate(
    loaded: LoadedModel, frames: Sequence[Tensor], gop: int | None = None
) -> tuple[list[Tensor], list[float]]:
    net = loaded.model
    height, width = frames[0].shape[-2:]
    pad = padding_for(height, width, net.downsampling_factor)
    recs, bits = [], []
    ref: Tensor | None = None
    with torch.no_grad():
        for i, x in enumerate(frames):
            xp = F.pad(x, pad)
            if ref is None or (gop is not None and i % gop == 0):
                x_rec, lik = net.forward_keyframe(xp)  # type: ignore[operator]
            else:
                x_rec, lik = net.forward_inter(xp, ref)  # type: ignore[operator]
            ref = x_rec.clamp(0, 1)
            recs.append(crop(ref, tuple(-p for p in pad)))  # type: ignore[arg-type]
            bits.append(likelihood_bits(lik))
    return recs, bits


def likelihood_bits(likelihoods: Any) -> float:
    """``-sum(log2 p)`` over a likelihood tensor or a (nested) dict or list of them."""
    if isinstance(likelihoods, Tensor):
        return float(-torch.log2(likelihoods).sum())
    values = likelihoods.values() if isinstance(likelihoods, dict) else likelihoods
    return sum(likelihood_bits(v) for v in values)


@dataclass
class CodedClip:
    """What :func:`code_clip` returns.

    Attributes:
        recs: the decoded frames (1, 3, H, W), cropped to the source size.
        frame_bits: the entropy-coded bits of each frame.
        file: the ``.tfy`` file (format version 2; I-frames every ``gop`` frames).
        encoding_time: seconds in ``encode_video``.
        decoding_time: seconds in ``decode_video``.
    """

    recs: list[Tensor]
    frame_bits: list[float]
    file: bytes
    encoding_time: float
    decoding_time: float


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def code_clip(
    loaded: LoadedModel,
    frames: Sequence[Tensor],
    fps: Fraction,
    gop: int | None = None,
    entropy_path: str | None = None,
) -> CodedClip:
    """Code ``frames`` into one streaming ``.tfy`` file with :func:`encode_video` (an I-frame
    every ``gop`` frames; ``None``: only the first) and decode it with :func:`decode_video`.

    This is the only place the evaluation calls the video coder.
    """
    if gop is not None and gop < 1:
        raise InputError(f"the intra period must be at least 1 frame, got {gop}")
    device = frames[0].device
    _sync(device)
    t0 = time.perf_counter()
    data = encode_video(loaded, frames, fps, gop=gop or 0, entropy_path=entropy_path)
    _sync(device)
    t1 = time.perf_counter()
    decoded = decode_video(data, loaded)
    _sync(device)
    t2 = time.perf_counter()
    lengths = decoded.header.stream_lengths
    frame_bits = [8.0 * sum(lengths[i] for i in r) for r in frame_streams(decoded.header)]
    return CodedClip(decoded.frames, frame_bits, data, t1 - t0, t2 - t1)


def evaluate_sequence(
    loaded: LoadedModel,
    path: str | Path,
    device: str = "cpu",
    estimate: bool = False,
    max_frames: int | None = None,
    binary: str | Path | None = None,
    *,
    gop: int | None = None,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    entropy_path: str | None = None,
) -> dict[str, Any]:
    """Code (or estimate) one sequence with the video model ``loaded``.

    Args:
        binary: also write the ``.tfy`` file there (CompressAI's ``--keep_binaries``).
        gop: the intra period in frames (``None``: one I-frame, at the start).
        entropy_path: the coding mode of the real coding (``"fixed"``/``"float"``; None: the
            default of :func:`encode_video`).
        size, fps: see :func:`read_sequence`.

    Returns:
        ``{"results": sequence means, "frames": per-frame records}``; the means have the keys
        of :func:`frame_metrics` plus ``frames``, ``bpp``, ``bitrate`` (kbit/s), and for real
        coding ``bpp-file``, ``encoding_time``, ``decoding_time``, ``encoding_fps``,
        ``decoding_fps``; every frame record has ``frame``, ``bits`` and ``bpp``.
    """
    seq = read_sequence(path, max_frames, size=size, fps=fps)
    frames = [x.to(device) for x in seq.frames]
    count = len(frames)
    pixels = frames[0].shape[-2] * frames[0].shape[-1]
    extra: dict[str, float] = {}
    if estimate:
        if gop is not None and gop < 1:
            raise InputError(f"the intra period must be at least 1 frame, got {gop}")
        recs, bits = _estimate(loaded, frames, gop)
        total_bits = sum(bits)
    else:
        coded = code_clip(loaded, frames, seq.fps, gop, entropy_path)
        recs, bits = coded.recs, coded.frame_bits
        total_bits = 8.0 * len(coded.file)
        extra = {
            "bpp-file": total_bits / (count * pixels),
            "encoding_time": coded.encoding_time,
            "decoding_time": coded.decoding_time,
            "encoding_fps": count / coded.encoding_time if coded.encoding_time else math.inf,
            "decoding_fps": count / coded.decoding_time if coded.decoding_time else math.inf,
        }
        if binary is not None:
            from tinify.io.image import write_bytes

            write_bytes(Path(binary), coded.file)
    rows = []
    for i, (org, org_rgb, rec, b) in enumerate(zip(seq.planes, seq.frames, recs, bits)):
        rows.append({"frame": i, **frame_metrics(org, org_rgb, rec), "bits": b, "bpp": b / pixels})
    keys = [k for k in rows[0] if k not in ("frame", "bits")]
    results: dict[str, Any] = {k: mean([r[k] for r in rows]) for k in keys}
    results["frames"] = count
    results["bpp"] = sum(bits) / (count * pixels)
    results["bitrate"] = total_bits * float(seq.fps) / (count * 1000)
    results.update(extra)
    return {"results": results, "frames": rows}


def evaluate_video_model(
    loaded: LoadedModel,
    sequences: Sequence[Path],
    device: str = "cpu",
    estimate: bool = False,
    max_frames: int | None = None,
    *,
    gop: int | None = None,
    size: tuple[int, int] | None = None,
    fps: Fraction | None = None,
    entropy_path: str | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`evaluate_sequence` on every sequence.

    Returns:
        ``(point, per_sequence)``: the means over sequences of every key of the sequence
        results, and one record per sequence ``{"sequence": name, "results": {...}, "frames":
        [...]}``, in the order of ``sequences``.
    """
    records = []
    for i, path in enumerate(sequences):
        out = evaluate_sequence(
            loaded,
            path,
            device,
            estimate,
            max_frames,
            gop=gop,
            size=size,
            fps=fps,
            entropy_path=entropy_path,
        )
        records.append({"sequence": Path(path).name, **out})
        report("sequences", i + 1, len(sequences))
    keys = list(records[0]["results"]) if records else []
    point = {k: mean([r["results"][k] for r in records]) for k in keys}
    return point, records
