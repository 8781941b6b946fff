# SPDX-License-Identifier: Apache-2.0
"""Rate and distortion of a video model (ssf2020) over a folder of sequences.

The protocol is CompressAI 1.2.8's ``utils.video.eval_model``, with real coding through the
``.tfy`` container:

- a sequence is a ``.y4m`` file, a raw 8-bit 4:2:0 ``.yuv`` file named ``Name_WxH_FPS.yuv``
  (the frame rate defaults to 25 when the name has none), or a folder of PNG frames (25 fps);
- YUV input is converted to RGB with bicubic chroma upsampling and BT.709 (full range), the
  conversion CompressAI's evaluation uses; PNG frames are the RGB input and their YUV planes
  come from :func:`tinify.io.video.rgb_to_yuv`;
- the clip is padded (centred zeros) to multiples of 128, coded with :func:`encode_video` into
  one ``.tfy`` file, decoded with :func:`decode_video`, and cropped back;
- per frame: PSNR of the Y, U and V planes of the reconstruction converted back to 8-bit 4:2:0
  against the source planes, ``psnr-yuv = (4 Y + U + V) / 6``, and PSNR, MSE and MS-SSIM on
  8-bit RGB against the RGB-converted source (MS-SSIM ``None`` under 161x161); ``bpp`` is the
  frame's entropy-coded bytes x 8 / pixels;
- per sequence: the means of the per-frame values, ``bitrate`` = file bytes x 8 x fps /
  (frames x 1000) in kbit/s (the whole ``.tfy`` file, as CompressAI counts its own file), and
  ``bpp`` = payload bits / (frames x pixels).

``estimate=True`` runs ``forward_keyframe`` / ``forward_inter`` frame by frame instead (each
reconstruction clamped to [0, 1] before it is the next reference, as CompressAI's estimation
does), with the bits ``-sum(log2 likelihoods)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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

__all__ = [
    "SEQUENCE_SUFFIXES",
    "VideoSequence",
    "collect_sequences",
    "evaluate_sequence",
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
        frames: RGB frames (1, 3, H, W) in [0, 1], the model's input.
        planes: the 8-bit YUV planes the PSNR-Y/U/V are measured against.
        fps: the frame rate.
    """

    frames: list[Tensor]
    planes: list[YUVFrame]
    fps: Fraction


def collect_sequences(root: str | Path) -> list[Path]:
    """The sequences under ``root`` (recursive, sorted): ``.y4m`` and ``.yuv`` files, and
    folders holding ``.png`` frames."""
    base = Path(root)
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("*") if p.is_file() and p.suffix.lower() in SEQUENCE_SUFFIXES]
    folders = {p.parent for p in base.rglob("*.png") if p.is_file()}
    return sorted(found + list(folders))


def read_sequence(path: str | Path, max_frames: int | None = None) -> VideoSequence:
    """Read a sequence (see the module docstring for the formats).

    Raises:
        InputError: an unknown format, a ``.yuv`` name without a size, or a malformed file.
    """
    p = Path(path)
    try:
        if p.is_dir():
            frames = read_png_frames(p, count=max_frames)
            planes = [rgb_to_yuv(x) for x in frames]
            fps = DEFAULT_FPS
        elif p.suffix.lower() == ".y4m":
            planes, header = read_y4m(p, max_frames)
            fps = Fraction(*header.fps)
            frames = [yuv_to_rgb(f, "bicubic") for f in planes]
        elif p.suffix.lower() == ".yuv":
            fmt = yuv_name_format(p.name)
            if fmt is None:
                raise InputError(f"{p}: name a raw 4:2:0 file like Name_832x480_30.yuv")
            width, height, rate = fmt
            planes = read_yuv420(p, width, height, max_frames)
            fps = rate or DEFAULT_FPS
            frames = [yuv_to_rgb(f, "bicubic") for f in planes]
        else:
            raise InputError(f"{p}: not a sequence (.y4m, .yuv or a folder of .png frames)")
    except (ValueError, OSError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{p}: {err}") from None
    if not frames:
        raise InputError(f"{p}: holds no frames")
    return VideoSequence(frames, planes, fps)


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


def _estimate(loaded: LoadedModel, frames: Sequence[Tensor]) -> tuple[list[Tensor], list[float]]:
    net = loaded.model
    height, width = frames[0].shape[-2:]
    pad = padding_for(height, width, net.downsampling_factor)
    recs, bits = [], []
    ref: Tensor | None = None
    with torch.no_grad():
        for x in frames:
            xp = F.pad(x, pad)
            if ref is None:
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


def evaluate_sequence(
    loaded: LoadedModel,
    path: str | Path,
    device: str = "cpu",
    estimate: bool = False,
    max_frames: int | None = None,
    binary: str | Path | None = None,
) -> dict[str, Any]:
    """Code (or estimate) one sequence with the video model ``loaded``.

    Args:
        binary: also write the ``.tfy`` file there (CompressAI's ``--keep_binaries``).

    Returns:
        ``{"results": sequence means, "frames": per-frame records}``; the means have the keys
        of :func:`frame_metrics` plus ``bpp``, ``bitrate`` (kbit/s), and for real coding
        ``bpp-file``, ``encoding_time``, ``decoding_time``; every frame record has ``frame``,
        ``bits`` and ``bpp``.
    """
    import time

    seq = read_sequence(path, max_frames)
    frames = [x.to(device) for x in seq.frames]
    count = len(frames)
    pixels = frames[0].shape[-2] * frames[0].shape[-1]
    extra: dict[str, float] = {}
    if estimate:
        recs, bits = _estimate(loaded, frames)
        total_bits = sum(bits)
    else:
        start = time.perf_counter()
        data = encode_video(loaded, frames, seq.fps)
        middle = time.perf_counter()
        decoded = decode_video(data, loaded)
        end = time.perf_counter()
        recs = decoded.frames
        lengths = decoded.header.stream_lengths
        bits = [8.0 * sum(lengths[i] for i in r) for r in frame_streams(decoded.header)]
        total_bits = 8.0 * len(data)
        extra = {
            "bpp-file": total_bits / (count * pixels),
            "encoding_time": middle - start,
            "decoding_time": end - middle,
        }
        if binary is not None:
            from tinify.io.image import write_bytes

            write_bytes(binary, data)
    rows = []
    for i, (org, org_rgb, rec, b) in enumerate(zip(seq.planes, seq.frames, recs, bits)):
        rows.append({"frame": i, **frame_metrics(org, org_rgb, rec), "bits": b, "bpp": b / pixels})
    keys = [k for k in rows[0] if k not in ("frame", "bits")]
    results: dict[str, Any] = {k: mean([r[k] for r in rows]) for k in keys}
    results["bpp"] = sum(bits) / (count * pixels)
    results["bitrate"] = total_bits * float(seq.fps) / (count * 1000)
    results.update(extra)
    return {"results": results, "frames": rows}
