# SPDX-License-Identifier: Apache-2.0
"""The ``tinify`` command.

::

    tinify encode photo.png -o photo.tfy                  # the default model shipped with tinify
    tinify encode photo.png -o photo.tfy --model mbt2018-mean --quality 5
    tinify encode photo.png -o photo.tfy --model mbt2018-mean-vbr --quant-step 2.5  # any rate
    tinify decode photo.tfy -o photo.png
    tinify encode clip.y4m -o clip.tfy --checkpoint ssf.pth.tar   # video: ssf2020
    tinify encode clip.y4m -o clip.tfy --gop 32            # an I-frame every 32 frames
    tinify decode clip.tfy -o frames/                      # or -o clip.y4m / clip.yuv
    tinify decode clip.tfy -o part.y4m --frames 64:96      # from the GOP holding frame 64
    tinify info photo.tfy
    tinify eval kodak/ --model bmshj2018-hyperprior -q 1 2 3 -o hyperprior.json
    tinify eval kodak/ --model mbt2018-vbr --quant-step 8 4 2 1 -o mbt2018-vbr.json
    torchrun --nproc_per_node 4 -m tinify.codec.cli eval kodak/ ...  # images split over ranks
    tinify codecs kodak/ --codec jpeg webp -o baselines.json
    tinify eval sequences/ --model ssf2020 --checkpoint ssf.pth.tar --gop 32 -o ssf.json
    tinify codecs sequences/ --codec x264 x265 -q 22 27 32 37 -o anchors.json  # ffmpeg
    tinify plot hyperprior.json baselines-*.json -o rd.png --anchor baselines-jpeg.json
    tinify update runs/q3/last.pt -o weights/ --model bmshj2018-hyperprior
    tinify train ...                                       # see tinify.training.cli

Every failure prints one line, ``tinify <command>: error: <what is wrong and what to do>``, on
stderr and exits with status 1 (2 for a malformed command line; 3 when ``tinify codecs`` could
run none of the codecs asked for because a program is missing, e.g. x264 without ffmpeg).
Output files are written to a temporary file in the target folder and renamed at the end, so a
failed run leaves none; an existing output file is only replaced with ``-f/--force``.
Set ``TINIFY_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tinify import __version__, thread_env_error
from tinify.exceptions import TinifyError

if TYPE_CHECKING:
    import torch

__all__ = ["build_parser", "main"]

#: Files larger than this are refused by ``decode`` and ``info`` before being read.
MAX_INPUT_BYTES = 1 << 30
METRIC_CHOICES = ("mse", "ms-ssim")
#: The model ``encode`` uses for a video when ``--model`` is not given.
DEFAULT_VIDEO_MODEL = "ssf2020"


def _note(message: str) -> None:
    print(f"tinify: note: {message}", file=sys.stderr)


# -- shared options -----------------------------------------------------------------------------


def _add_model_options(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument("-m", "--model", help="zoo architecture, e.g. bmshj2018-hyperprior")
    if many:
        p.add_argument(
            "-q", "--quality", type=int, nargs="+", help="zoo qualities to evaluate (default 3)"
        )
    else:
        p.add_argument("-q", "--quality", type=int, help="zoo quality, 1 (low) to 8 (default 3)")
    p.add_argument("--metric", choices=METRIC_CHOICES, help="zoo weights trained for (mse)")
    p.add_argument(
        "--checkpoint",
        nargs="+" if many else None,
        metavar="FILE",
        help="weights file (state dict or training checkpoint) instead of zoo weights"
        + ("; one rate point per file" if many else ""),
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="use the zoo's pretrained weights (what --model does without --checkpoint)",
    )
    _add_device(p)


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K (default: cpu)")


def _add_chunks(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--stream-chunks",
        type=int,
        default=1,
        metavar="N",
        help="streams per latent: 1 = CompressAI-compatible (default); more code in parallel",
    )


def _add_quant_step(p: argparse.ArgumentParser, many: bool = False) -> None:
    p.add_argument(
        "--quant-step",
        type=float,
        nargs="+" if many else None,
        metavar="STEP",
        help="variable-rate models (*-vbr) only: quantization step(s) of the latent, e.g. 1 "
        "(high rate) to 10 (low rate); one network codes at any step"
        + (" (default: CompressAI's 8 steps 10 ... 1)" if many else " (default 5.1832)"),
    )


def _add_tile(p: argparse.ArgumentParser, transform: str) -> None:
    # the numbers are tinify.models.tiling's AUTO_TILE_SIZE / AUTO_TILE_PIXELS (not imported:
    # building the parser must not import torch)
    p.add_argument(
        "--tile",
        dest="tile_size",
        type=int,
        metavar="SIZE",
        help=f"run the {transform} transform on tiles of at most SIZE pixels a side (a multiple "
        "of 16), in bounded memory and with the same result up to float rounding; 0 = the "
        "whole image at once; default: automatic (tiles of up to 1024 pixels above 4.2 "
        "megapixels, smaller for transforms with wide receptive fields). "
        "Images only; the file does not depend on it",
    )


def _check_tile(n: int | None) -> None:
    from tinify.exceptions import InputError

    if n is not None and n < 0:
        raise InputError(f"--tile must be 0 (no tiling) or a positive number of pixels, got {n}")


def _add_limits(p: argparse.ArgumentParser) -> None:
    from tinify.codec.limits import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS

    p.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help=f"refuse images (video frames) of more pixels (default {DEFAULT_MAX_PIXELS}, or "
        "TINIFY_MAX_PIXELS; larger images code in tiles, in bounded memory)",
    )
    p.add_argument(
        "--max-frames",
        type=int,
        metavar="N",
        help=f"refuse videos of more frames (default {DEFAULT_MAX_FRAMES}, or TINIFY_MAX_FRAMES)",
    )


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f",
        "--force",
        action="store_true",
        help="overwrite an existing output file (never an input, a folder or a device)",
    )


def _add_sequence_options(p: argparse.ArgumentParser, what: str) -> argparse._ArgumentGroup:
    """The options of a folder of video sequences (``eval`` with a video model, ``codecs``
    with x264/x265); return the group for more."""
    group = p.add_argument_group(f"video sequences ({what})")
    group.add_argument("--frames", type=int, metavar="N", help="code the first N frames only")
    group.add_argument(
        "--gop",
        type=int,
        metavar="N",
        help="intra period: an I-frame every N frames (default: one I-frame at the start for "
        "the learned models, as CompressAI's evaluation; the encoders' own for x264/x265)",
    )
    group.add_argument(
        "--size", metavar="WxH", help="frame size of raw .yuv files (default: from Name_WxH.yuv)"
    )
    group.add_argument(
        "--fps",
        metavar="RATE",
        help="frame rate, e.g. 25 or 30000/1001 (default: the .y4m header's, the .yuv name's "
        "(Name_WxH_FPS.yuv), else 25)",
    )
    return group


def _add_coding(p: argparse.ArgumentParser) -> None:
    # ``--coding`` is the CLI spelling of the Python API's ``entropy_path`` option (and of the
    # .tfy header's coding mode): one choice, stored in ``args.entropy_path``.
    p.add_argument(
        "--coding",
        dest="entropy_path",
        choices=("fixed", "float"),
        default=None,
        help="fixed = entropy parameters in integer arithmetic, decodable bit-exactly on any "
        "device (default for images and video; coding mode 1); float = CompressAI's arithmetic "
        "and streams (mode 0; the only mode of the variable-rate models)",
    )


def _add_feedback(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing on stderr but an error (no progress bar, notes or summary line)",
    )
    g.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="after the job, print its wall and CPU time and the peak memory of the process",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars of long stages (tiles, wavefronts, frames) on stderr; default: "
        "when stderr is a terminal and tqdm is installed",
    )


def build_parser(load_train: bool = True) -> argparse.ArgumentParser:
    """The ``tinify`` argument parser with every subcommand.

    Args:
        load_train: import :mod:`tinify.training.cli` to register ``train`` with its options
            (it imports torch); otherwise ``train`` is listed with a placeholder.
    """
    parser = argparse.ArgumentParser(
        prog="tinify",
        description="Learned image compression: encode, decode, evaluate and compare codecs.",
    )
    parser.add_argument("--version", action="version", version=f"tinify {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("encode", help="compress an image or a video into a .tfy file")
    p.add_argument(
        "input",
        help="image file (PNG, JPEG, ... anything Pillow reads), or a video: a folder of PNG "
        "frames, a .y4m file or a raw 4:2:0 .yuv file",
    )
    p.add_argument(
        "-o", "--output", help="output .tfy file (default: INPUT with .tfy); - = standard output"
    )
    _add_force(p)
    _add_model_options(p)
    _add_quant_step(p)
    _add_chunks(p)
    video = p.add_argument_group("video input (default model: ssf2020)")
    video.add_argument(
        "--frames",
        metavar="A:B",
        help="code only frames A to B-1 of the input (0-based; N or :N the first N, A: from A "
        "to the end), as decode --frames",
    )
    video.add_argument(
        "--fps",
        metavar="RATE",
        help="frame rate to record, e.g. 25 or 30000/1001 (default: the .y4m header's, else 25)",
    )
    video.add_argument("--size", metavar="WxH", help="frame size of a raw .yuv file")
    video.add_argument(
        "--gop",
        type=int,
        metavar="N",
        help="intra period: an I-frame every N frames, so decoding can start there (--frames "
        "A:B of decode); default 0 = only the first frame, as CompressAI's video evaluation",
    )
    _add_coding(p)
    _add_tile(p, "analysis")
    _add_limits(p)
    _add_feedback(p)
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser("decode", help="decompress a .tfy file into an image or a video")
    p.add_argument("input", help=".tfy file")
    p.add_argument(
        "-o",
        "--output",
        help="image: output file, format from suffix (default: INPUT with .png; - = PNG on "
        "standard output); video: a new folder of PNG frames, a .y4m or a .yuv file (default: "
        "folder INPUT without .tfy)",
    )
    _add_force(p)
    p.add_argument("--checkpoint", metavar="FILE", help="the weights file used to encode")
    p.add_argument(
        "--no-download",
        action="store_true",
        help="never download the zoo weights a file names (as TINIFY_OFFLINE=1); by default "
        "missing ones are downloaded, with a line saying which",
    )
    _add_device(p)
    p.add_argument(
        "--frames",
        metavar="A:B",
        help="video: decode only frames A to B-1 (0-based; N or :N the first N, A: from A to "
        "the end), starting at the I-frame before A (see encode --gop)",
    )
    _add_tile(p, "synthesis")
    _add_limits(p)
    _add_feedback(p)
    p.set_defaults(func=_cmd_decode)

    p = sub.add_parser("info", help="print the header of a .tfy file")
    p.add_argument("input", help=".tfy file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("eval", help="rate and distortion of a learned codec on a dataset")
    p.add_argument(
        "dataset",
        help="folder of images (or one image); for a video model (ssf2020) a folder of "
        "sequences: .y4m, raw 4:2:0 .yuv and folders of PNG frames (or one sequence)",
    )
    _add_model_options(p, many=True)
    p.add_argument("-o", "--output", help="results JSON file (default: print)")
    _add_force(p)
    p.add_argument("--estimate", action="store_true", help="entropy estimate, no real coding")
    p.add_argument("--name", help="results name (default: MODEL-METRIC)")
    p.add_argument("--per-image", action="store_true", help="also store per-image values")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    _add_quant_step(p, many=True)
    _add_chunks(p)
    _add_coding(p)
    _add_sequence_options(p, "video models")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "codecs", help="classical codecs on a dataset: images through Pillow, video through ffmpeg"
    )
    p.add_argument(
        "dataset",
        help="folder of images (or one image); for x264/x265 a folder of sequences (.y4m, raw "
        "4:2:0 .yuv, folders of PNG frames) or one sequence",
    )
    p.add_argument(
        "--codec",
        nargs="+",
        default=["jpeg"],
        help="images: jpeg jpeg444 webp avif jpeg2000; video: x264 x265 (through ffmpeg; a "
        "missing ffmpeg or encoder skips the codec with a note, exit status 3 if none ran)",
    )
    p.add_argument(
        "-q",
        "--quality",
        type=int,
        nargs="+",
        help="settings (default: per codec; x264/x265: CRF 22 27 32 37)",
    )
    p.add_argument("-o", "--output", help="results JSON (several codecs: OUT-<codec>.json)")
    _add_force(p)
    p.add_argument("--per-image", action="store_true", help="also store per-image values")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    video = _add_sequence_options(p, "x264, x265")
    video.add_argument("--preset", default="medium", help="x264/x265 preset (default: medium)")
    video.add_argument(
        "--tune",
        default="zerolatency",
        help="x264/x265 tune (default: zerolatency, the low-delay anchors: no B-frames, no "
        "lookahead; psnr or ssim for other comparisons)",
    )
    video.add_argument("--ffmpeg", default="ffmpeg", help="the ffmpeg program (default: on PATH)")
    p.set_defaults(func=_cmd_codecs)

    p = sub.add_parser("plot", help="rate-distortion curves and BD-rates from results files")
    p.add_argument("files", nargs="+", help="results JSON files")
    p.add_argument("-o", "--output", default="rd.png", help="figure (.png/.pdf/.svg)")
    _add_force(p)
    p.add_argument(
        "--metric",
        choices=("psnr-rgb", "ms-ssim-rgb", "psnr-yuv", "psnr-y"),
        default="psnr-rgb",
        help="quality axis (psnr-yuv, psnr-y: video results)",
    )
    p.add_argument(
        "--rate",
        choices=("bpp", "bitrate"),
        help="rate axis: bits per pixel, or kbit/s (video); default bpp when every file has it, "
        "else bitrate",
    )
    p.add_argument("--anchor", metavar="FILE", help="print BD-rate and BD-PSNR against this")
    p.add_argument("--title", help="figure title")
    p.add_argument("--figsize", type=float, nargs=2, default=[9.0, 6.0], metavar=("W", "H"))
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("update", help="build coding tables, strip a checkpoint, hash-name it")
    p.add_argument("checkpoint", help="training checkpoint or state dict")
    p.add_argument("-m", "--model", help="zoo architecture (default: from the checkpoint)")
    p.add_argument("-o", "--output", default=".", help="folder or NAME (default: .)")
    _add_force(p)
    p.set_defaults(func=_cmd_update)

    _add_train(sub, load_train)
    return parser


def _add_train(sub: Any, load: bool) -> None:
    """Register ``tinify train`` from :mod:`tinify.training.cli` (``add_parser(subparsers)``).

    Raises:
        TinifyError: ``load`` and the training module is not available.
    """
    if not load:
        sub.add_parser("train", help="train a model on a folder of images (tinify train --help)")
        return
    try:
        module = importlib.import_module("tinify.training.cli")
        add_parser = module.add_parser
    except (ImportError, AttributeError) as err:
        raise TinifyError(f"training is not available in this install ({err})") from None
    add_parser(sub)


# -- commands -----------------------------------------------------------------------------------


def _check_model_options(args: argparse.Namespace) -> None:
    from tinify.exceptions import InputError

    if args.pretrained and args.checkpoint:
        raise InputError("--pretrained (zoo weights) and --checkpoint exclude each other")
    if args.pretrained and not args.model:
        raise InputError("--pretrained needs --model NAME")


def _check_encode_options(args: argparse.Namespace, video: bool) -> None:
    """Refuse options that do not fit the input kind, and a model of the other kind."""
    from tinify.codec.format import MAX_FRAMES
    from tinify.exceptions import InputError
    from tinify.zoo import image_models, video_models

    if not video:
        for option, value in (
            ("--frames", args.frames),
            ("--fps", args.fps),
            ("--size", args.size),
            ("--gop", args.gop),
        ):
            if value is not None:
                raise InputError(f"{option} is for video input; {args.input} is an image")
        _refuse_video_model(args.model, "give it a folder of PNG frames, a .y4m or a .yuv file")
        return
    if args.quant_step is not None:
        raise InputError("--quant-step is for the variable-rate image models (*-vbr)")
    if args.model in image_models:
        raise InputError(
            f"{args.model} is an image model; {args.input} is a video: use a video model "
            f"({', '.join(video_models)})"
        )
    if args.frames is not None:
        start, stop = _frame_range(args.frames)
        if stop is not None and stop - start > MAX_FRAMES:
            raise InputError(f"--frames {args.frames} spans more than {MAX_FRAMES} frames")
    if args.gop is not None and not 0 <= args.gop <= MAX_FRAMES:
        raise InputError(f"--gop must be 0 (only the first frame) to {MAX_FRAMES}, got {args.gop}")


def _refuse_video_model(name: str | None, what: str) -> None:
    """Raise :class:`InputError` when ``name`` is a video model; ``what`` says what to do."""
    from tinify.exceptions import InputError
    from tinify.zoo import video_models

    if name in video_models:
        raise InputError(f"{name} is a video model; {what}")


def _parse_fps(text: str) -> Fraction:
    from tinify.exceptions import InputError

    try:
        fps = Fraction(text.replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--fps must be a rate like 25 or 30000/1001, got {text!r}") from None
    if not 0 < fps < 1 << 20:
        raise InputError(f"--fps must be positive (and below 2^20), got {text!r}")
    return fps


def _parse_size(text: str) -> tuple[int, int]:
    from tinify.exceptions import InputError

    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise InputError(f"--size must be WIDTHxHEIGHT like 832x480, got {text!r}")
    return int(parts[0]), int(parts[1])


def _cmd_encode(args: argparse.Namespace) -> int:
    from tinify.io.image import check_output, is_video_path

    _check_model_options(args)
    _check_chunks(args.stream_chunks)
    video = is_video_path(args.input)
    _check_encode_options(args, video)
    output = Path(args.output) if args.output else Path(args.input).with_suffix(".tfy")
    if output != STDOUT:
        check_output(output, force=args.force, inputs=[args.input, args.checkpoint])
    (_encode_video if video else _encode_image)(args, output)
    return 0


#: ``-o -``: write to standard output.
STDOUT = Path("-")


def _write(output: Path, data: bytes) -> None:
    """Write ``data`` to ``output`` atomically, or to standard output for ``-``."""
    from tinify.io.image import write_bytes

    if output == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_bytes(output, data)


def _encode_image(args: argparse.Namespace, output: Path) -> None:
    from tinify.io.image import pil_to_tensor, read_image

    img = read_image(args.input, _note, max_pixels=args.max_pixels)  # before torch is imported
    from tinify.codec.coding import DEFAULT_QUANT_STEP, encode_image, is_variable_rate_model
    from tinify.codec.loading import load_model
    from tinify.zoo.pretrained import is_variable_rate

    quality = args.quality
    if quality is None and args.checkpoint is None and is_variable_rate(args.model or ""):
        quality = 0  # one network for every rate: the header records the step instead
    loaded = load_model(args.model, quality, args.metric, args.checkpoint, args.device)
    _refuse_video_model(loaded.name, f"{args.input} is an image")
    _note_tiny(args.input, img.width, img.height, loaded.model.downsampling_factor)
    _check_tile(args.tile_size)
    width, height, icc = img.width, img.height, img.info.get("icc_profile") or b""
    pixels = [pil_to_tensor(img, contiguous=False).unsqueeze(0).to(args.device)]
    del img  # from here on the only copy of the 8-bit pixels is the tensor
    data = encode_image(
        loaded,
        pixels.pop(),  # 8-bit: encode_image pads and scales it into the float image, then drops it
        entropy_path=args.entropy_path,  # None: the model's default (float for *-vbr models)
        stream_chunks=args.stream_chunks,
        quant_step=args.quant_step,
        max_pixels=args.max_pixels,
        icc_profile=icc,
        tile_size=args.tile_size,
    )
    _write(output, data)
    bpp = 8 * len(data) / (width * height)
    if is_variable_rate_model(loaded.model):
        rate = f"quant step {args.quant_step or DEFAULT_QUANT_STEP:g}"
    else:
        rate = f"q{loaded.quality}"
    print(
        f"{output}: {len(data)} bytes, {bpp:.4f} bpp ({width}x{height}, {loaded.name} "
        f"{rate} {loaded.metric}, {loaded.source} weights)",
        file=sys.stderr,
    )


def _note_tiny(path: str, width: int, height: int, factor: int) -> None:
    """Say so when padding dominates: a tiny or thin image codes at many bits per pixel."""
    from tinify.codec.coding import padding_for

    left, right, top, bottom = padding_for(height, width, factor)
    padded = (width + left + right) * (height + top + bottom)
    if padded >= 4 * width * height:
        _note(
            f"{path}: {width}x{height} is tiny or thin; it is padded to "
            f"{width + left + right}x{height + top + bottom} for the model, so it codes at "
            "many bits per pixel and low quality (learned codecs suit images of 64x64 and up)"
        )


def _encode_video(args: argparse.Namespace, output: Path) -> None:
    from tinify.codec.coding import encode_video_to
    from tinify.codec.loading import load_model
    from tinify.io.image import atomic_output, open_clip

    size = _parse_size(args.size) if args.size else None
    fps = _parse_fps(args.fps) if args.fps else None
    start, stop = _frame_range(args.frames) if args.frames else (0, None)
    clip = open_clip(args.input, size, stop, max_pixels=args.max_pixels)
    name = args.model or DEFAULT_VIDEO_MODEL
    loaded = load_model(name, args.quality, args.metric, args.checkpoint, args.device)
    frames = _skip_frames(clip.frames, start, args.input, args.device)
    rate = fps or clip.fps

    def encode(f: Any) -> Any:
        return encode_video_to(
            f,
            loaded,
            frames,
            rate,
            clip.yuv444,
            gop=args.gop or 0,
            entropy_path=args.entropy_path,
            stream_chunks=args.stream_chunks,
            max_pixels=args.max_pixels,
            max_frames=args.max_frames,
        )

    if output == STDOUT:
        header = encode(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        written = None
    else:
        with atomic_output(output) as tmp, open(tmp, "wb") as f:
            header = encode(f)
            written = f.tell()
    count = header.frames
    gop = f", an I-frame every {header.gop}" if header.gop else ""
    if written is None:
        print(
            f"{output}: {count} frames {header.width}x{header.height} at {rate} fps{gop} "
            f"({loaded.name} q{loaded.quality}, {loaded.source} weights)",
            file=sys.stderr,
        )
        return
    kbps = 8 * written * float(rate) / count / 1000
    print(
        f"{output}: {written} bytes, {count} frames {header.width}x{header.height} at {rate} "
        f"fps{gop}, {kbps:.1f} kbit/s ({loaded.name} q{loaded.quality}, {loaded.source} "
        "weights)",
        file=sys.stderr,
    )


def _open_tfy(path: str) -> Any:
    """A version-2 (streaming) video file as a :class:`VideoReader` over the open file (its
    header and index checked; frames are read when decoded; the caller closes it), anything
    else as its bytes (:func:`_read_tfy`)."""
    from tinify.codec.format import VIDEO_STREAM_VERSION, VideoReader
    from tinify.exceptions import InputError

    p = Path(path)
    if p.is_file():
        try:
            with open(p, "rb") as f:
                head = f.read(9)
        except OSError as err:
            raise InputError(f"{p}: cannot read ({err.strerror})") from None
        if len(head) == 9 and head[8] == VIDEO_STREAM_VERSION:
            return _with_path(path, lambda: VideoReader.open(p))
    return _read_tfy(path)


def _read_tfy(path: str) -> bytes:
    from tinify.exceptions import InputError

    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give a .tfy file")
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    if p.stat().st_size > MAX_INPUT_BYTES:
        raise InputError(f"{p}: {p.stat().st_size} bytes is too large for a .tfy file")
    try:
        return p.read_bytes()
    except OSError as err:
        raise InputError(f"{p}: cannot read ({err.strerror})") from None


def _cmd_decode(args: argparse.Namespace) -> int:
    from tinify.codec.format import VideoReader
    from tinify.io.image import VIDEO_SUFFIXES, output_format

    output = Path(args.output) if args.output else None
    if output is not None and output.suffix and output.suffix.lower() not in VIDEO_SUFFIXES:
        output_format(output)  # fail on an unknown suffix before reading anything
    data = _open_tfy(args.input)
    try:
        return _decode(args, data, output)
    finally:
        if isinstance(data, VideoReader):
            data.close()


def _decode(args: argparse.Namespace, data: Any, output: Path | None) -> int:
    from tinify.codec.format import TfyHeader, VideoReader, unpack
    from tinify.codec.limits import check_frames, check_pixels, check_streams
    from tinify.io.image import InputError, check_clip_output, check_output, output_format

    if isinstance(data, VideoReader):
        header = data.header
    else:
        header, _ = _with_path(args.input, lambda: unpack(data))

    def check_limits() -> None:  # the decoders check again; here before torch is imported
        what = "a frame" if header.kind == "video" else "image"
        check_pixels(header.width, header.height, args.max_pixels, what)
        if header.kind == "video":
            check_frames(header.frames, args.max_frames)
        if not isinstance(data, VideoReader):
            check_streams(header.stream_lengths, header.frames)

    _with_path(args.input, check_limits)
    frame_range = _parse_frames(args.frames, header.frames) if args.frames else None
    if frame_range is not None and header.kind != "video":
        raise InputError(f"--frames is for videos; {args.input} holds an image")
    from tinify.codec.loading import (
        LoadedModel,
        check_device,
        load_default_model,
        load_model_from_checkpoint,
        load_zoo_model,
    )

    check_device(args.device)
    inputs = [args.input, args.checkpoint]
    if header.kind == "video":
        if output == STDOUT:
            raise InputError(
                f"{args.input} holds a video: decode it to a .y4m or .yuv file or a folder, not "
                "to standard output"
            )
        output = output or Path(args.input).with_suffix("")
        check_clip_output(output, force=args.force, inputs=inputs)
    elif output != STDOUT:
        output = output or Path(args.input).with_suffix(".png")
        output_format(output)
        check_output(output, force=args.force, inputs=inputs)

    def resolve(header: TfyHeader) -> LoadedModel:
        if args.checkpoint:
            loaded = load_model_from_checkpoint(
                args.checkpoint, header.model, header.quality, header.metric
            )
        elif header.source == "zoo":
            if args.no_download:
                os.environ["TINIFY_OFFLINE"] = "1"
            loaded = load_zoo_model(header.model, header.quality, header.metric)
        elif header.source == "default":
            loaded = load_default_model()
        else:
            raise InputError(
                f"{args.input} was encoded with a checkpoint ({header.model}); pass the same "
                "file with --checkpoint FILE"
            )
        if header.on_cuda != args.device.startswith("cuda"):
            _note(
                f"{args.input} was encoded on {'CUDA' if header.on_cuda else 'the CPU'}; "
                "networks may differ slightly across devices, which can break decoding"
            )
        loaded.model.to(args.device)
        return loaded

    if header.kind == "video":
        _decode_video(args, data, resolve, output, frame_range)
    else:
        _decode_image(args, data, resolve, output)
    return 0


def _frame_range(text: str) -> tuple[int, int | None]:
    """``--frames`` of ``encode`` and ``decode``, one rule for both: ``A:B`` is frames A to
    B-1 (0-based), ``N`` and ``:N`` the first N, ``A:`` from A to the end (``None``).

    Raises:
        InputError: not of that form, or an empty or negative range.
    """
    from tinify.exceptions import InputError

    first, colon, last = text.partition(":")
    stop: int | None
    try:
        if not colon:
            start, stop = 0, int(first)
        else:
            start = int(first) if first.strip() else 0
            stop = int(last) if last.strip() else None
    except ValueError:
        raise InputError(
            f"--frames must be A:B, N (the first N), :N or A: (frame numbers), got {text!r}"
        ) from None
    if start < 0 or (stop is not None and stop <= start):
        raise InputError(f"--frames {text} is an empty range: give A:B with 0 <= A < B")
    return start, stop


def _parse_frames(text: str, frames: int) -> tuple[int, int]:
    """``--frames`` of ``decode`` (:func:`_frame_range`) within a video of ``frames``."""
    from tinify.exceptions import InputError

    start, last = _frame_range(text)
    stop = frames if last is None else last
    if stop > frames:
        raise InputError(
            f"--frames {text} is outside the video's frames 0..{frames - 1}: give A:B with "
            f"B <= {frames}"
        )
    return start, stop


def _skip_frames(
    frames: Iterator[torch.Tensor], start: int, source: str, device: str
) -> Iterator[torch.Tensor]:
    """The frames of ``encode --frames A:B`` from A on (the reader stops at B), moved to
    ``device``; fewer than A+1 frames in ``source`` raise :class:`InputError`."""
    from tinify.exceptions import InputError

    seen = 0
    for seen, x in enumerate(frames, 1):
        if seen > start:
            yield x.to(device)
    if seen <= start:
        raise InputError(
            f"{source}: --frames starts at frame {start} but the clip has {seen} frames"
        )


def _decode_image(args: argparse.Namespace, data: bytes, resolve: Any, output: Path) -> None:
    from tinify.codec.coding import decode_image
    from tinify.io.image import save_image, tensor_to_image

    _check_tile(args.tile_size)
    decoded = _with_path(
        args.input,
        lambda: decode_image(data, resolve, max_pixels=args.max_pixels, tile_size=args.tile_size),
    )
    image = tensor_to_image(decoded.x_hat)
    icc = decoded.header.icc_profile
    if output == STDOUT:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", **({"icc_profile": icc} if icc else {}))
        _write(output, buffer.getvalue())
    else:
        save_image(image, output, icc_profile=icc)
    h = decoded.header
    rate = f"q{h.quality}" if h.quant_step is None else f"quant step {h.quant_step:g}"
    print(f"{output}: {h.width}x{h.height} from {h.model} {rate}", file=sys.stderr)


def _decode_video(
    args: argparse.Namespace,
    data: Any,
    resolve: Any,
    output: Path,
    frame_range: tuple[int, int] | None,
) -> None:
    from tinify.codec.coding import decode_video_frames, open_video
    from tinify.io.image import DEFAULT_FPS, clip_writer

    reader = _with_path(args.input, lambda: open_video(data))
    h = reader.header
    start, stop = frame_range or (0, h.frames)
    if h.yuv444 and output.suffix.lower() == ".yuv":
        _note(f"{args.input} was coded from 4:4:4 YUV; a raw .yuv file is written as 4:2:0")
    chroma = "444" if h.yuv444 else "420"
    frames = decode_video_frames(
        reader,
        resolve,
        start=start,
        stop=stop,
        max_pixels=args.max_pixels,
        max_frames=args.max_frames,
    )

    def write_all() -> None:
        with clip_writer(output, h.fps or DEFAULT_FPS, chroma) as write:
            for _, x in frames:
                write(x)

    _with_path(args.input, write_all)
    kind = output.suffix.lower()[1:] or "png"
    part = f"frames {start}:{stop} of {h.frames}" if frame_range else f"{h.frames} frames"
    print(
        f"{output}: {part} {h.width}x{h.height} at {h.fps} fps ({kind}) from {h.model} "
        f"q{h.quality}",
        file=sys.stderr,
    )


def _with_path(path: str, fn: Any) -> Any:
    """Run ``fn``; prefix the message of a tinify error (format, limit, corrupt stream, ...)
    with ``path`` unless it names a file already."""
    try:
        return fn()
    except TinifyError as err:
        if str(err).startswith(str(path)):
            raise
        try:
            named = type(err)(f"{path}: {err}")
        except TypeError:  # an exception class with another signature
            raise err from None
        raise named from None


def _header_dict(path: str, data: Any) -> dict[str, Any]:
    from tinify.codec.format import VideoReader, unpack

    if isinstance(data, VideoReader):
        with data:
            _with_path(path, data.verify)  # every record's CRC, as unpack checks version 1's
            return {"file": path, **data.describe()}
    h, _ = _with_path(path, lambda: unpack(data))
    return {"file": path, **h.describe(file_bytes=len(data))}


def _cmd_info(args: argparse.Namespace) -> int:
    info = _header_dict(args.input, _open_tfy(args.input))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(len(k) for k in info)
        for key, value in info.items():
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            print(f"{key:<{width}}  {shown}")
    return 0


def _check_chunks(n: int) -> None:
    from tinify.codec.format import MAX_STREAM_CHUNKS
    from tinify.exceptions import InputError

    if not 1 <= n <= MAX_STREAM_CHUNKS:
        raise InputError(f"--stream-chunks must be 1..{MAX_STREAM_CHUNKS}, got {n}")


def _cmd_eval(args: argparse.Namespace) -> int:
    from tinify.codec.coding import is_variable_rate_model
    from tinify.codec.evaluate import DEFAULT_QUANT_STEPS, evaluate_model
    from tinify.codec.loading import check_device, load_model
    from tinify.codec.results import results_json, write_results
    from tinify.exceptions import InputError
    from tinify.io.image import list_images
    from tinify.utils.distributed import finish_distributed, init_distributed
    from tinify.zoo import video_models
    from tinify.zoo.pretrained import is_variable_rate

    _check_model_options(args)
    _check_chunks(args.stream_chunks)
    check_device(args.device)
    if args.checkpoint and args.quality:
        raise InputError("give either --quality (zoo weights) or --checkpoint files, not both")
    _check_results_output(args.output, args.force, [args.dataset, *(args.checkpoint or [])])
    model = args.model
    if model is None and args.checkpoint:  # a training checkpoint names its architecture
        model = _checkpoint_model(args.checkpoint[0])
    if model in video_models:
        return _eval_video(args)
    _refuse_sequence_options(args, "only for video models (ssf2020)")
    images = list_images(args.dataset)
    if args.device.startswith("cuda"):
        import torch

        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    if args.checkpoint:
        jobs: list[dict[str, Any]] = [{"checkpoint": c} for c in args.checkpoint]
    elif args.model and is_variable_rate(args.model):
        jobs = [{"quality": 0}]  # one network for every rate: the steps are the rate points
    elif args.model:
        jobs = [{"quality": q} for q in (args.quality or [3])]
    else:
        jobs = [{}]
    # Under torchrun each rank codes its share of the images; rank 0 writes the results.
    ctx = init_distributed(args.device)
    device = str(ctx.device)
    points, per_image = [], {}
    name = args.name
    for job in jobs:
        loaded = load_model(
            args.model, job.get("quality"), args.metric, job.get("checkpoint"), device
        )
        _refuse_video_model(loaded.name, "tinify eval measures image models")
        job_label = Path(job["checkpoint"]).name if "checkpoint" in job else f"q{loaded.quality}"
        if is_variable_rate_model(loaded.model):
            steps: list[float | None] = list(args.quant_step or DEFAULT_QUANT_STEPS)
        elif args.quant_step is not None:
            raise InputError(f"--quant-step is for the variable-rate models; {loaded.name} is not")
        else:
            steps = [None]
        for step in steps:
            label = job_label if step is None else f"step {step:g}"
            if step is not None and "checkpoint" in job:
                label = f"{job_label} {label}"
            point, rows = evaluate_model(
                loaded,
                images,
                device=device,
                stream_chunks=args.stream_chunks,
                estimate=args.estimate,
                entropy_path=args.entropy_path,  # None: the model's default (float for *-vbr)
                progress=args.progress and ctx.is_main,
                note=_note,
                label=f"{loaded.name} {label}",
                ctx=ctx,
                quant_step=step,
            )
            extra = {} if step is None else {"quant_step": step}
            points.append({**point, "quality": job.get("quality", loaded.quality), **extra})
            per_image[label] = rows
            if ctx.is_main:
                _summary(f"{loaded.name} {label}", point)
        name = name or f"{loaded.name}-{loaded.metric}"
    if ctx.is_main:
        description = "Inference (entropy estimation)" if args.estimate else "Inference (ans)"
        doc = results_json(name, description, points, per_image if args.per_image else None)
        text = write_results(doc, args.output)
        if args.output is None:
            print(text, end="")
    finish_distributed()
    return 0


def _check_results_output(output: str | None, force: bool, inputs: Sequence[Any]) -> None:
    """Refuse a results file ``-o`` that exists (without ``-f``) or is an input, before any
    work (:func:`tinify.io.image.check_output`, the check of ``encode`` and ``decode``)."""
    from tinify.io.image import check_output

    if output is not None:
        check_output(output, force=force, inputs=inputs)


def _refuse_sequence_options(args: argparse.Namespace, why: str) -> None:
    """Raise :class:`InputError` when a video-sequence option is given; ``why`` ends the
    message (``"--gop: <why>"``)."""
    from tinify.exceptions import InputError

    given = [f"--{k}" for k in ("frames", "gop", "size", "fps") if getattr(args, k) is not None]
    if given:
        raise InputError(f"{', '.join(given)}: {why}")


def _sequence_options(args: argparse.Namespace) -> dict[str, Any]:
    """``max_frames``, ``size`` and ``fps`` of the video-sequence options, checked."""
    from tinify.exceptions import InputError

    for option in ("frames", "gop"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise InputError(f"--{option} must be at least 1, got {value}")
    return {
        "max_frames": args.frames,
        "size": _parse_size(args.size) if args.size else None,
        "fps": _parse_fps(args.fps) if args.fps else None,
    }


def _checkpoint_model(path: str) -> str | None:
    """The architecture a checkpoint's training configuration names (``None``: none, or an
    unreadable file, which loading it reports)."""
    from tinify.utils.checkpoint import read_state_dict

    try:
        name = read_state_dict(path).config.get("model")
    except TinifyError:
        return None
    return name if isinstance(name, str) else None


def _eval_video(args: argparse.Namespace) -> int:
    """``tinify eval`` of a video model on a folder of sequences
    (:func:`tinify.codec.video_evaluate.evaluate_video_model`, the code of
    ``python -m tinify.utils.video.eval_model``)."""
    from tinify.codec.loading import load_model
    from tinify.codec.results import results_json, write_results
    from tinify.codec.video_evaluate import evaluate_video_model, find_sequences
    from tinify.exceptions import InputError

    if args.quant_step is not None:
        raise InputError("--quant-step is for the variable-rate image models (*-vbr)")
    if args.stream_chunks != 1:
        raise InputError("--stream-chunks is for image models")
    options = _sequence_options(args)
    sequences = find_sequences(args.dataset)
    if args.checkpoint:
        jobs: list[dict[str, Any]] = [{"checkpoint": c} for c in args.checkpoint]
    else:
        jobs = [{"quality": q} for q in (args.quality or [3])]
    points, per_sequence = [], {}
    name = args.name
    for job in jobs:
        loaded = load_model(
            args.model, job.get("quality"), args.metric, job.get("checkpoint"), args.device
        )
        if "checkpoint" in job:
            from tinify.codec.update import strip_suffixes

            label: Any = strip_suffixes(Path(job["checkpoint"]).name)
        else:
            label = loaded.quality
        point, records = evaluate_video_model(
            loaded,
            sequences,
            args.device,
            args.estimate,
            gop=args.gop,
            entropy_path=args.entropy_path,
            **options,
        )
        points.append({"q": label, **point})
        per_sequence[str(label)] = records
        if args.progress:
            _video_summary(f"{loaded.name} {label}", point)
        name = name or f"{loaded.name}-{loaded.metric}"
    description = "Inference (entropy estimation)" if args.estimate else "Inference (ans)"
    doc = results_json(name or "", description, points, keys=("q",))
    doc["per-sequence"] = per_sequence
    text = write_results(doc, args.output)
    if args.output is None:
        print(text, end="")
    return 0


#: ``(before, key, format, after)`` of each part of a ``tinify eval``/``codecs`` summary line.
SummaryParts = Sequence[tuple[str, str, str, str]]
_VIDEO_SUMMARY: SummaryParts = (
    ("", "bitrate", ".1f", " kbit/s"),
    ("", "bpp", ".4f", " bpp"),
    ("", "psnr-rgb", ".3f", " dB RGB"),
    ("", "psnr-yuv", ".3f", " dB YUV"),
    ("MS-SSIM ", "ms-ssim-rgb", ".4f", ""),
    ("enc ", "encoding_fps", ".2f", " fps"),
    ("dec ", "decoding_fps", ".2f", " fps"),
)
_IMAGE_SUMMARY: SummaryParts = (
    ("", "bpp", ".4f", " bpp"),
    ("", "psnr-rgb", ".3f", " dB"),
    ("MS-SSIM ", "ms-ssim-rgb", ".4f", ""),
    ("enc ", "encoding_time", ".3f", " s"),
    ("dec ", "decoding_time", ".3f", " s"),
)


def _video_summary(label: str, point: dict[str, Any]) -> None:
    _summary(label, point, _VIDEO_SUMMARY)


def _summary(label: str, point: dict[str, Any], parts: SummaryParts = _IMAGE_SUMMARY) -> None:
    """Print ``label: <parts>`` on stderr (``n/a`` for a missing value)."""
    texts = []
    for before, key, spec, after in parts:
        value = point.get(key)
        texts.append(f"{before}{'n/a' if value is None else format(value, spec)}{after}")
    print(f"{label}: {', '.join(texts)}", file=sys.stderr)


#: The ``tinify codecs`` keys of the video codecs (x264 and x265 through ffmpeg).
VIDEO_CODECS = ("x264", "x265")
#: Exit status of ``tinify codecs`` when no codec asked for could run (a missing program).
EXIT_SKIPPED = 3


def _codec_outputs(
    output: str | None, keys: Sequence[str], force: bool, inputs: list[Any]
) -> list[Path | None]:
    """Where each codec's results go (several codecs: ``OUT-<codec>.json``), checked."""
    if not output:
        return [None] * len(keys)
    out = Path(output)
    paths: list[Path | None] = []
    for key in keys:
        path = out.with_name(f"{out.stem}-{key}{out.suffix or '.json'}") if len(keys) > 1 else out
        _check_results_output(str(path), force, inputs)
        paths.append(path)
    return paths


def _cmd_codecs(args: argparse.Namespace) -> int:
    from tinify.codec.results import write_results
    from tinify.exceptions import InputError

    keys = list(dict.fromkeys(args.codec))
    video = [k for k in keys if k in VIDEO_CODECS]
    if video and len(video) != len(keys):
        raise InputError(
            f"{' and '.join(video)} code video sequences, the others images: run them separately"
        )
    if video:
        return _codecs_video(args, keys)
    from tinify.codec.baselines import get_codec, read_pictures, run_codec
    from tinify.io.image import list_images

    _refuse_sequence_options(args, "only for the video codecs (x264, x265)")
    codecs = [get_codec(key) for key in keys]
    outputs = _codec_outputs(args.output, keys, args.force, [args.dataset])
    pictures = read_pictures(list_images(args.dataset), _note)
    docs = []
    for codec, out in zip(codecs, outputs):
        doc = run_codec(codec, pictures, args.quality, args.progress, args.per_image)
        docs.append(doc)
        if out is not None:
            write_results(doc, out)
            print(f"{codec.key}: wrote {out}", file=sys.stderr)
    if not args.output:
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    return 0


def _codecs_video(args: argparse.Namespace, keys: Sequence[str]) -> int:
    """``tinify codecs`` with x264/x265 on a folder of sequences
    (:func:`tinify.codec.video_baselines.run_video_codec`); a codec whose program is missing is
    skipped with a note, and the command exits with :data:`EXIT_SKIPPED` when none ran."""
    from tinify.codec.external import ToolNotFoundError
    from tinify.codec.results import write_results
    from tinify.codec.video_baselines import X264Codec, X265Codec, run_video_codec
    from tinify.codec.video_evaluate import find_sequences

    options = _sequence_options(args)
    outputs = _codec_outputs(args.output, keys, args.force, [args.dataset])
    sequences = find_sequences(args.dataset)
    runnable, skipped = [], []
    for key, out in zip(keys, outputs):
        kind = X264Codec if key == "x264" else X265Codec
        codec = kind(args.preset, args.tune, args.ffmpeg, args.gop)
        try:
            codec.check()
        except ToolNotFoundError as err:
            skipped.append(f"{key} skipped: {_one_line(err)}")
            continue
        runnable.append((codec, out))
    if not runnable:
        print(f"tinify codecs: {'; '.join(skipped)}", file=sys.stderr)
        return EXIT_SKIPPED
    for line in skipped:
        _note(line)
    docs = []
    for codec, out in runnable:
        doc = run_video_codec(codec, sequences, args.quality, **options)
        docs.append(doc)
        if args.progress:
            for i, qp in enumerate(doc["results"]["qp"]):
                point = {k: v[i] for k, v in doc["results"].items()}
                _video_summary(f"{codec.key} crf {qp}", point)
        if out is not None:
            write_results(doc, out)
            print(f"{codec.key}: wrote {out}", file=sys.stderr)
    if not args.output:
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from tinify.codec.plot import bd_table, format_bd_table, labels_for, plot_curves
    from tinify.codec.results import load_results
    from tinify.exceptions import InputError

    files = list(dict.fromkeys(args.files))
    if args.anchor and not any(_same_file(f, args.anchor) for f in files):
        files.insert(0, args.anchor)
    _check_results_output(args.output, args.force, files)
    docs = [load_results(f, args.rate) for f in files]
    rate = args.rate
    if rate is None:
        rate = "bpp" if all(isinstance(d["results"].get("bpp"), list) for d in docs) else "bitrate"
        for f, d in zip(files, docs):
            if not isinstance(d["results"].get(rate), list):
                raise InputError(
                    f"{f}: has no {rate} values while another file has no bpp values: plot "
                    "image (bpp) and video (bitrate) results separately"
                )
    labels = labels_for(docs, files)
    skipped = plot_curves(
        docs, args.output, args.metric, args.title, args.figsize, labels, rate_key=rate
    )
    for label in skipped:
        _note(f"{label} has no {args.metric} values; not plotted")
    print(f"wrote {args.output}", file=sys.stderr)
    if args.anchor:
        i = next(i for i, f in enumerate(files) if _same_file(f, args.anchor))
        others = [k for k in range(len(docs)) if k != i]
        rows = bd_table(
            [docs[k] for k in others],
            docs[i],
            args.metric,
            [labels[k] for k in others],
            rate_key=rate,
        )
        print(format_bd_table(rows, labels[i], args.metric))
    return 0


def _same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _cmd_update(args: argparse.Namespace) -> int:
    from tinify.codec.update import update_checkpoint

    path = update_checkpoint(args.checkpoint, args.output, args.model, force=args.force)
    print(path)
    return 0


# -- entry point --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tinify`` command; return its exit status (0 ok, 1 error, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    problem = thread_env_error()
    if problem is not None:
        print(f"tinify: error: {problem}", file=sys.stderr)
        return 1
    train = bool(argv) and argv[0] == "train"
    try:
        parser = build_parser(load_train=train)
    except TinifyError as err:
        print(f"tinify train: error: {_one_line(err)}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    command = f"tinify {args.command}"
    previous = _catch_termination()
    try:
        with _feedback(command, args):
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Terminated as stop:
        name = signal.Signals(stop.signum).name
        print(f"{command}: stopped by {name}; no partial output is left", file=sys.stderr)
        return 128 + stop.signum
    except BrokenPipeError:
        # The reader of standard output went away (`tinify info F | head`): as cat and ls do,
        # stop quietly. Point stdout at devnull so the interpreter's final flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by SIGPIPE
    except (TinifyError, OSError, ValueError, RuntimeError, MemoryError) as err:
        if os.environ.get("TINIFY_DEBUG"):
            raise
        print(f"{command}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _feedback(command: str, args: argparse.Namespace) -> Any:
    """``--quiet``, ``-v`` and the progress bars of the commands that have them (encode,
    decode); nothing for the others."""
    if not hasattr(args, "quiet"):
        return contextlib.nullcontext()
    from tinify.codec.feedback import job_feedback

    return job_feedback(command, quiet=args.quiet, verbose=args.verbose, progress=args.progress)


class Terminated(BaseException):
    """Raised in the ``tinify`` command by SIGTERM or SIGHUP, so that every temporary file is
    removed on the way out (like Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def _catch_termination() -> dict[int, Any]:
    """Turn SIGTERM and SIGHUP into :class:`Terminated`; return the handlers replaced."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            previous[signum] = signal.signal(signum, _raise_terminated)
    return previous


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if isinstance(err, MemoryError) and not isinstance(err, TinifyError):
        text = "out of memory; code a smaller input (--max-pixels) or free memory"
    if isinstance(err, OSError) and err.filename is not None:
        text = f"{err.filename}: {err.strerror or text}"
    return text


if __name__ == "__main__":
    sys.exit(main())
