# SPDX-License-Identifier: Apache-2.0
"""The ``tinify`` command.

::

    tinify encode photo.png -o photo.tfy                  # the default model shipped with tinify
    tinify encode photo.png -o photo.tfy --model mbt2018-mean --quality 5
    tinify encode photo.png -o photo.tfy --model mbt2018-mean-vbr --quant-step 2.5  # any rate
    tinify decode photo.tfy -o photo.png
    tinify encode clip.y4m -o clip.tfy --checkpoint ssf.pth.tar   # video: ssf2020
    tinify decode clip.tfy -o frames/                      # or -o clip.y4m / clip.yuv
    tinify info photo.tfy
    tinify eval kodak/ --model bmshj2018-hyperprior -q 1 2 3 -o hyperprior.json
    tinify eval kodak/ --model mbt2018-vbr --quant-step 8 4 2 1 -o mbt2018-vbr.json
    torchrun --nproc_per_node 4 -m tinify.codec.cli eval kodak/ ...  # images split over ranks
    tinify codecs kodak/ --codec jpeg webp -o baselines.json
    tinify plot hyperprior.json baselines-*.json -o rd.png --anchor baselines-jpeg.json
    tinify update runs/q3/last.pt -o weights/ --model bmshj2018-hyperprior
    tinify train ...                                       # see tinify.training.cli

Every failure prints one line, ``tinify <command>: error: <what is wrong and what to do>``, on
stderr and exits with status 1 (2 for a malformed command line). Output files are written to a
temporary file in the target folder and renamed at the end, so a failed run leaves none.
Set ``TINIFY_DEBUG=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from tinify import __version__, thread_env_error
from tinify.exceptions import TinifyError

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
        "whole image at once; default: automatic (1024-pixel tiles above 4.2 megapixels). "
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


def _add_coding(p: argparse.ArgumentParser) -> None:
    # ``--coding`` is the CLI spelling of the Python API's ``entropy_path`` option (and of the
    # .tfy header's coding mode): one choice, stored in ``args.entropy_path``.
    p.add_argument(
        "--coding",
        dest="entropy_path",
        choices=("fixed", "float"),
        default=None,
        help="fixed = entropy parameters in integer arithmetic, decodable bit-exactly on any "
        "device (default for images; coding mode 1); float = CompressAI's arithmetic and "
        "streams (mode 0; the only mode of video and variable-rate models)",
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
    video.add_argument("--frames", type=int, metavar="N", help="code the first N frames only")
    video.add_argument(
        "--fps",
        metavar="RATE",
        help="frame rate to record, e.g. 25 or 30000/1001 (default: the .y4m header's, else 25)",
    )
    video.add_argument("--size", metavar="WxH", help="frame size of a raw .yuv file")
    _add_coding(p)
    _add_tile(p, "analysis")
    _add_limits(p)
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
    _add_tile(p, "synthesis")
    _add_limits(p)
    p.set_defaults(func=_cmd_decode)

    p = sub.add_parser("info", help="print the header of a .tfy file")
    p.add_argument("input", help=".tfy file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("eval", help="rate and distortion of a learned codec on a dataset")
    p.add_argument("dataset", help="folder of images (or one image)")
    _add_model_options(p, many=True)
    p.add_argument("-o", "--output", help="results JSON file (default: print)")
    p.add_argument("--estimate", action="store_true", help="entropy estimate, no real coding")
    p.add_argument("--name", help="results name (default: MODEL-METRIC)")
    p.add_argument("--per-image", action="store_true", help="also store per-image values")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    _add_quant_step(p, many=True)
    _add_chunks(p)
    _add_coding(p)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("codecs", help="classical codecs through Pillow on a dataset")
    p.add_argument("dataset", help="folder of images (or one image)")
    p.add_argument("--codec", nargs="+", default=["jpeg"], help="jpeg jpeg444 webp avif jpeg2000")
    p.add_argument("-q", "--quality", type=int, nargs="+", help="settings (default: per codec)")
    p.add_argument("-o", "--output", help="results JSON (several codecs: OUT-<codec>.json)")
    p.add_argument("--per-image", action="store_true", help="also store per-image values")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=_cmd_codecs)

    p = sub.add_parser("plot", help="rate-distortion curves and BD-rates from results files")
    p.add_argument("files", nargs="+", help="results JSON files")
    p.add_argument("-o", "--output", default="rd.png", help="figure (.png/.pdf/.svg)")
    p.add_argument("--metric", choices=("psnr-rgb", "ms-ssim-rgb"), default="psnr-rgb")
    p.add_argument("--anchor", metavar="FILE", help="print BD-rate and BD-PSNR against this")
    p.add_argument("--title", help="figure title")
    p.add_argument("--figsize", type=float, nargs=2, default=[9.0, 6.0], metavar=("W", "H"))
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("update", help="build coding tables, strip a checkpoint, hash-name it")
    p.add_argument("checkpoint", help="training checkpoint or state dict")
    p.add_argument("-m", "--model", help="zoo architecture (default: from the checkpoint)")
    p.add_argument("-o", "--output", default=".", help="folder or NAME (default: .)")
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
    from tinify.codec.format import MAX_VIDEO_FRAMES
    from tinify.exceptions import InputError
    from tinify.zoo import image_models, video_models

    if not video:
        for option, value in (
            ("--frames", args.frames),
            ("--fps", args.fps),
            ("--size", args.size),
        ):
            if value is not None:
                raise InputError(f"{option} is for video input; {args.input} is an image")
        _refuse_video_model(args.model, "give it a folder of PNG frames, a .y4m or a .yuv file")
        return
    if args.quant_step is not None:
        raise InputError("--quant-step is for the variable-rate image models (*-vbr)")
    if args.entropy_path == "fixed":
        raise InputError(
            "video models have no fixed-point path yet: drop --coding fixed (videos are coded "
            "with --coding float)"
        )
    if args.model in image_models:
        raise InputError(
            f"{args.model} is an image model; {args.input} is a video: use a video model "
            f"({', '.join(video_models)})"
        )
    if args.frames is not None and not 1 <= args.frames <= MAX_VIDEO_FRAMES:
        raise InputError(f"--frames must be 1..{MAX_VIDEO_FRAMES}, got {args.frames}")


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
    from tinify.codec.coding import encode_video
    from tinify.codec.format import MAX_VIDEO_FRAMES
    from tinify.codec.limits import check_frames, max_frames
    from tinify.codec.loading import load_model
    from tinify.exceptions import InputError
    from tinify.io.image import read_clip

    size = _parse_size(args.size) if args.size else None
    fps = _parse_fps(args.fps) if args.fps else None
    allowed = min(max_frames(args.max_frames), MAX_VIDEO_FRAMES)
    limit = args.frames if args.frames is not None else allowed + 1
    clip = read_clip(args.input, size, limit, max_pixels=args.max_pixels)
    if len(clip.frames) > MAX_VIDEO_FRAMES:
        raise InputError(
            f"{args.input}: more than {MAX_VIDEO_FRAMES} frames; code parts with --frames N"
        )
    check_frames(len(clip.frames), args.max_frames)
    name = args.model or DEFAULT_VIDEO_MODEL
    loaded = load_model(name, args.quality, args.metric, args.checkpoint, args.device)
    frames = [x.to(args.device) for x in clip.frames]
    rate = fps or clip.fps
    data = encode_video(
        loaded,
        frames,
        rate,
        clip.yuv444,
        stream_chunks=args.stream_chunks,
        max_pixels=args.max_pixels,
        max_frames=args.max_frames,
    )
    _write(output, data)
    height, width = frames[0].shape[-2:]
    count = len(frames)
    kbps = 8 * len(data) * float(rate) / count / 1000
    print(
        f"{output}: {len(data)} bytes, {count} frames {width}x{height} at {rate} fps, "
        f"{kbps:.1f} kbit/s ({loaded.name} q{loaded.quality}, {loaded.source} weights)",
        file=sys.stderr,
    )


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
    from tinify.codec.format import TfyHeader, unpack
    from tinify.codec.limits import check_frames, check_pixels, check_streams
    from tinify.io.image import (
        VIDEO_SUFFIXES,
        InputError,
        check_clip_output,
        check_output,
        output_format,
    )

    output = Path(args.output) if args.output else None
    if output is not None and output.suffix and output.suffix.lower() not in VIDEO_SUFFIXES:
        output_format(output)  # fail on an unknown suffix before reading anything
    data = _read_tfy(args.input)
    header, _ = _with_path(args.input, lambda: unpack(data))

    def check_limits() -> None:  # the decoders check again; here before torch is imported
        what = "a frame" if header.kind == "video" else "image"
        check_pixels(header.width, header.height, args.max_pixels, what)
        if header.kind == "video":
            check_frames(header.frames, args.max_frames)
        check_streams(header.stream_lengths, header.frames)

    _with_path(args.input, check_limits)
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

    (_decode_video if header.kind == "video" else _decode_image)(args, data, resolve, output)
    return 0


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


def _decode_video(args: argparse.Namespace, data: bytes, resolve: Any, output: Path) -> None:
    from tinify.codec.coding import decode_video
    from tinify.io.image import DEFAULT_FPS, write_clip

    decoded = _with_path(
        args.input,
        lambda: decode_video(data, resolve, max_pixels=args.max_pixels, max_frames=args.max_frames),
    )
    h = decoded.header
    if h.yuv444 and output.suffix.lower() == ".yuv":
        _note(f"{args.input} was coded from 4:4:4 YUV; a raw .yuv file is written as 4:2:0")
    chroma = "444" if h.yuv444 else "420"
    kind = write_clip(decoded.frames, output, h.fps or DEFAULT_FPS, chroma)
    print(
        f"{output}: {h.frames} frames {h.width}x{h.height} at {h.fps} fps ({kind}) from "
        f"{h.model} q{h.quality}",
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


def _header_dict(path: str, data: bytes) -> dict[str, Any]:
    from tinify.codec.format import unpack

    h, _ = _with_path(path, lambda: unpack(data))
    return {"file": path, **h.describe(file_bytes=len(data))}


def _cmd_info(args: argparse.Namespace) -> int:
    info = _header_dict(args.input, _read_tfy(args.input))
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
    from tinify.zoo.pretrained import is_variable_rate

    _check_model_options(args)
    _check_chunks(args.stream_chunks)
    check_device(args.device)
    if args.checkpoint and args.quality:
        raise InputError("give either --quality (zoo weights) or --checkpoint files, not both")
    _refuse_video_model(args.model, "tinify eval measures image models")
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


def _summary(label: str, point: dict[str, Any]) -> None:
    def fmt(key: str, spec: str) -> str:
        value = point.get(key)
        return "n/a" if value is None else format(value, spec)

    print(
        f"{label}: {fmt('bpp', '.4f')} bpp, {fmt('psnr-rgb', '.3f')} dB, MS-SSIM "
        f"{fmt('ms-ssim-rgb', '.4f')}, enc {fmt('encoding_time', '.3f')} s, dec "
        f"{fmt('decoding_time', '.3f')} s",
        file=sys.stderr,
    )


def _cmd_codecs(args: argparse.Namespace) -> int:
    from tinify.codec.baselines import get_codec, read_pictures, run_codec
    from tinify.codec.results import write_results
    from tinify.io.image import list_images

    codecs = [get_codec(key) for key in dict.fromkeys(args.codec)]
    pictures = read_pictures(list_images(args.dataset), _note)
    docs = []
    for codec in codecs:
        doc = run_codec(codec, pictures, args.quality, args.progress, args.per_image)
        docs.append(doc)
        if args.output:
            out = Path(args.output)
            if len(codecs) > 1:
                out = out.with_name(f"{out.stem}-{codec.key}{out.suffix or '.json'}")
            write_results(doc, out)
            print(f"{codec.key}: wrote {out}", file=sys.stderr)
    if not args.output:
        print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from tinify.codec.plot import bd_table, format_bd_table, labels_for, plot_curves
    from tinify.codec.results import load_results

    files = list(dict.fromkeys(args.files))
    if args.anchor and not any(_same_file(f, args.anchor) for f in files):
        files.insert(0, args.anchor)
    docs = [load_results(f) for f in files]
    labels = labels_for(docs, files)
    skipped = plot_curves(docs, args.output, args.metric, args.title, args.figsize, labels)
    for label in skipped:
        _note(f"{label} has no {args.metric} values; not plotted")
    print(f"wrote {args.output}", file=sys.stderr)
    if args.anchor:
        i = next(i for i, f in enumerate(files) if _same_file(f, args.anchor))
        others = [k for k in range(len(docs)) if k != i]
        rows = bd_table(
            [docs[k] for k in others], docs[i], args.metric, [labels[k] for k in others]
        )
        print(format_bd_table(rows, labels[i], args.metric))
    return 0


def _same_file(a: str, b: str) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _cmd_update(args: argparse.Namespace) -> int:
    from tinify.codec.update import update_checkpoint

    path = update_checkpoint(args.checkpoint, args.output, args.model)
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
