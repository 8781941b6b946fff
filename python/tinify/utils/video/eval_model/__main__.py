# SPDX-License-Identifier: Apache-2.0
"""Evaluate a video model (ssf2020) on a folder of sequences, with CompressAI 1.2.8's command
line.

::

    python -m tinify.utils.video.eval_model checkpoint UVG/ out/ -a ssf2020 -p ssf.pth.tar
    python -m tinify.utils.video.eval_model pretrained UVG/ out/ -a ssf2020 -q 1,3,5

Sequences are ``.y4m`` files, raw 4:2:0 ``Name_WxH_FPS.yuv`` files and folders of PNG frames,
found recursively (see :mod:`tinify.codec.video_evaluate` for the protocol). For each model and
sequence ``OUT/<folder>/<name>-<model>.json`` holds ``{"source", "name", "description",
"results": {sequence means}, "frames": [per-frame values]}`` (an existing one is reused unless
``-f``); the means over sequences are printed and written to ``OUT/<-o NAME or
ssf2020-ans>.json``: ``{"name": "ssf2020-mse", "description": "Inference (ans)", "results":
{"q": [...], "psnr-y": [...], ..., "bitrate": [...]}}``. ``OUT`` is ``-d DIR`` when given, else
the positional output folder. ``--frames N`` (tinify's) codes the first N frames only, and
``--gop N`` (tinify's) puts an I-frame every N frames (default: the first frame only, as
CompressAI). ``tinify eval SEQDIR -m ssf2020 ...`` runs the same evaluation.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
import torch
from torch import Tensor, nn

from tinify.codec.loading import wrap_model
from tinify.codec.results import mean, results_json, write_results
from tinify.codec.update import strip_suffixes
from tinify.codec.video_evaluate import (
    collect_sequences,
    evaluate_sequence,
    frame_metrics,
    likelihood_bits,
)
from tinify.exceptions import TinifyError
from tinify.io.video import YUVFrame, rgb2ycbcr, ycbcr2rgb, yuv_420_to_444, yuv_444_to_420
from tinify.ops import crop as crop_unpad
from tinify.ops import pad_to_multiple
from tinify.utils.bench.codecs import filesize
from tinify.utils.eval_model.__main__ import load_checkpoint, load_pretrained

__all__ = [
    "aggregate_results",
    "collect_videos",
    "compute_metrics_for_frame",
    "convert_rgb_to_yuv420",
    "convert_yuv420_to_rgb",
    "create_parser",
    "crop",
    "estimate_bits_frame",
    "eval_model",
    "eval_model_entropy_estimation",
    "filesize",
    "load_checkpoint",
    "load_pretrained",
    "main",
    "pad",
    "read_body",
    "read_bytes",
    "read_uchars",
    "read_uints",
    "run_inference",
    "to_tensors",
    "write_body",
    "write_bytes",
    "write_uchars",
    "write_uints",
]

Frame = Union[tuple[Tensor, Tensor, Tensor], tuple[Tensor, ...]]
#: The video models this command evaluates.
ARCHITECTURES = ("ssf2020",)


def collect_videos(rootpath: str) -> list[Path]:
    """The sequences under ``rootpath`` (recursive, sorted): ``.y4m``, ``.yuv`` and folders of
    PNG frames."""
    return collect_sequences(rootpath)


def to_tensors(
    frame: tuple[np.ndarray, np.ndarray, np.ndarray], max_value: int = 1, device: str = "cpu"
) -> Frame:
    """Planes as float32 tensors divided by ``max_value``."""
    return tuple(
        torch.from_numpy(np.true_divide(c, max_value, dtype=np.float32)).to(device) for c in frame
    )


def aggregate_results(filepaths: Sequence[Path]) -> dict[str, Any]:
    """Means over the per-sequence JSON files of every key of their ``results``."""
    values: dict[str, list[Any]] = {}
    for path in filepaths:
        for key, value in json.loads(Path(path).read_text())["results"].items():
            values.setdefault(key, []).append(value)
    return {k: mean(v) for k, v in values.items()}


def convert_yuv420_to_rgb(
    frame: tuple[np.ndarray, np.ndarray, np.ndarray], device: torch.device | str, max_val: int
) -> Tensor:
    """4:2:0 planes with values up to ``max_val`` -> RGB (1, 3, H, W) (bicubic chroma, BT.709,
    not clamped)."""
    planes = tuple(p[None, None] for p in to_tensors(frame, max_val, str(device)))
    return ycbcr2rgb(yuv_420_to_444(planes, mode="bicubic"))


def convert_rgb_to_yuv420(frame: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """RGB (N, 3, H, W) in [0, 1] -> ``(y, u, v)`` in [0, 1], chroma 2x2-averaged."""
    return yuv_444_to_420(rgb2ycbcr(frame))


def pad(x: Tensor, p: int = 2 ** (4 + 3)) -> tuple[Tensor, tuple[int, ...]]:
    """Zero-pad (centred) to multiples of ``p``; return the padded frame and the padding
    ``(left, right, top, bottom)``."""
    padded, unpad = pad_to_multiple(x, p)
    return padded, tuple(-u for u in unpad)


def crop(x: Tensor, padding: tuple[int, ...]) -> Tensor:
    """Undo :func:`pad`."""
    return crop_unpad(x, tuple(-p for p in padding))  # type: ignore[arg-type]


def compute_metrics_for_frame(
    org_frame: Any, rec_frame: Tensor, device: str = "cpu", max_val: int = 255
) -> dict[str, Any]:
    """PSNR-Y/U/V/YUV, MSE, PSNR and MS-SSIM (RGB) of a reconstruction against 8-bit source
    planes ``org_frame`` (arrays or tensors of 8-bit values)."""
    if max_val != 255:
        raise TinifyError("only 8-bit sequences are supported")
    planes = YUVFrame(*(np.asarray(torch.as_tensor(p).cpu(), dtype=np.uint8) for p in org_frame))
    org_rgb = convert_yuv420_to_rgb(tuple(planes), "cpu", max_val).clamp(0, 1)  # type: ignore[arg-type]
    return frame_metrics(planes, org_rgb, rec_frame)


def estimate_bits_frame(likelihoods: Any) -> float:
    """``-sum(log2 p)`` over a frame's likelihoods (a dict of dicts of tensors)."""
    return likelihood_bits(likelihoods)


def write_uints(fd: IO[bytes], values: Sequence[int], fmt: str = ">{:d}I") -> int:
    """Write big-endian uint32 values; return the bytes written."""
    fd.write(struct.pack(fmt.format(len(values)), *values))
    return len(values) * 4


def write_uchars(fd: IO[bytes], values: Sequence[int], fmt: str = ">{:d}B") -> int:
    """Write uint8 values; return the bytes written."""
    fd.write(struct.pack(fmt.format(len(values)), *values))
    return len(values)


def read_uints(fd: IO[bytes], n: int, fmt: str = ">{:d}I") -> tuple[int, ...]:
    """Read ``n`` big-endian uint32 values."""
    return struct.unpack(fmt.format(n), fd.read(n * 4))


def read_uchars(fd: IO[bytes], n: int, fmt: str = ">{:d}B") -> tuple[int, ...]:
    """Read ``n`` uint8 values."""
    return struct.unpack(fmt.format(n), fd.read(n))


def write_bytes(fd: IO[bytes], values: bytes, fmt: str = ">{:d}s") -> int:
    """Write raw bytes; return how many."""
    if len(values) == 0:
        return 0
    fd.write(struct.pack(fmt.format(len(values)), values))
    return len(values)


def read_bytes(fd: IO[bytes], n: int, fmt: str = ">{:d}s") -> bytes:
    """Read ``n`` raw bytes."""
    return struct.unpack(fmt.format(n), fd.read(n))[0]


def write_body(fd: IO[bytes], shape: Sequence[int], out_strings: Sequence[Sequence[bytes]]) -> int:
    """CompressAI's frame body: latent height, width and string count (uint32 BE), then every
    string's length (uint32 BE) and bytes (batch item 0); return the bytes written."""
    count = write_uints(fd, (shape[0], shape[1], len(out_strings)))
    for s in out_strings:
        count += write_uints(fd, (len(s[0]),))
        count += write_bytes(fd, s[0])
    return count


def read_body(fd: IO[bytes]) -> tuple[list[list[bytes]], tuple[int, ...]]:
    """Read what :func:`write_body` wrote: ``(strings, shape)``."""
    shape = read_uints(fd, 2)
    strings = [[read_bytes(fd, read_uints(fd, 1)[0])] for _ in range(read_uints(fd, 1)[0])]
    return strings, shape


def _device(net: nn.Module) -> str:
    return str(next(net.parameters()).device)


def eval_model(
    net: nn.Module, sequence: Path, binpath: Path, keep_binaries: bool = False, **kwargs: Any
) -> dict[str, Any]:
    """Code one sequence; its means (``kwargs["frames"]`` limits the frames, ``kwargs["gop"]``
    is the intra period; the per-frame values are in ``kwargs["per_frame"]`` when a list is
    given)."""
    out = evaluate_sequence(
        wrap_model(net, "ssf2020"),
        sequence,
        _device(net),
        max_frames=kwargs.get("frames"),
        binary=binpath if keep_binaries else None,
        gop=kwargs.get("gop"),
        entropy_path="float",  # coding mode 0: CompressAI's arithmetic, as its evaluation
    )
    if isinstance(kwargs.get("per_frame"), list):
        kwargs["per_frame"].extend(out["frames"])
    return out["results"]


def eval_model_entropy_estimation(net: nn.Module, sequence: Path, **kwargs: Any) -> dict[str, Any]:
    """Like :func:`eval_model` with the bits of the likelihoods (no coding)."""
    out = evaluate_sequence(
        wrap_model(net, "ssf2020"),
        sequence,
        _device(net),
        estimate=True,
        max_frames=kwargs.get("frames"),
    )
    if isinstance(kwargs.get("per_frame"), list):
        kwargs["per_frame"].extend(out["frames"])
    return out["results"]


def run_inference(
    filepaths: Sequence[Path],
    inputdir: Path | str,
    net: nn.Module,
    outputdir: Path | str,
    force: bool = False,
    entropy_estimation: bool = False,
    trained_net: str = "",
    description: str = "",
    **args: Any,
) -> dict[str, Any]:
    """Evaluate every sequence (one JSON each under ``outputdir``, reused unless ``force``);
    return the means over sequences."""
    paths = []
    for filepath in map(Path, filepaths):
        subdir = Path(outputdir) / filepath.parent.relative_to(Path(inputdir))
        subdir.mkdir(parents=True, exist_ok=True)
        path = subdir / f"{filepath.stem}-{trained_net}.json"
        paths.append(path)
        if force:
            path.unlink(missing_ok=True)
        if path.is_file():
            continue
        frames: list[dict[str, Any]] = []
        options = {"frames": args.get("frames"), "per_frame": frames, "gop": args.get("gop")}
        if entropy_estimation:
            metrics = eval_model_entropy_estimation(net, filepath, **options)
        else:
            binpath = path.with_suffix(".tfy")
            metrics = eval_model(net, filepath, binpath, bool(args.get("keep_binaries")), **options)
        doc = {
            "source": filepath.stem,
            "name": args.get("architecture", "ssf2020"),
            "description": f"Inference ({description})",
            "results": metrics,
            "frames": frames,
        }
        write_results(doc, path)
    return aggregate_results(paths)


def create_parser() -> argparse.ArgumentParser:
    """CompressAI's parser: ``{pretrained -q Q,..|checkpoint -p FILES} DATASET OUTPUT -a
    ssf2020 [...]`` (plus tinify's ``--frames N``)."""
    parser = argparse.ArgumentParser(
        description="Evaluate a video compression network on a video dataset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("dataset", type=str, help="sequences directory")
    parent.add_argument("output", type=str, help="output directory")
    parent.add_argument("-a", "--architecture", choices=ARCHITECTURES, required=True)
    parent.add_argument("-f", "--force", action="store_true", help="overwrite previous runs")
    parent.add_argument("--cuda", action="store_true", help="use cuda")
    parent.add_argument("--half", action="store_true", help="use AMP (not supported)")
    parent.add_argument("--entropy-estimation", action="store_true", help="no entropy coding")
    parent.add_argument("-c", "--entropy-coder", choices=["ans"], default="ans")
    parent.add_argument("--keep_binaries", action="store_true", help="keep the .tfy files")
    parent.add_argument("-v", "--verbose", action="store_true", help="verbose mode")
    parent.add_argument("-m", "--metric", choices=["mse", "ms-ssim"], default="mse")
    parent.add_argument("-d", "--output_directory", type=str, default="", help="JSON folder")
    parent.add_argument("-o", "--output-file", type=str, default="", help="JSON name")
    parent.add_argument("--frames", type=int, default=None, help="code the first N frames")
    parent.add_argument("--gop", type=int, default=None, help="an I-frame every N frames")
    sub = parser.add_subparsers(help="model source", dest="source")
    sub.required = True
    p = sub.add_parser("pretrained", parents=[parent])
    p.add_argument("-q", "--quality", dest="qualities", type=str, default="1")
    p = sub.add_parser("checkpoint", parents=[parent])
    p.add_argument("-p", "--path", dest="paths", type=str, nargs="*", required=True)
    p.add_argument("--no-update", action="store_true", help="do not rebuild the coding tables")
    return parser


def main(args: Any = None) -> dict[str, Any]:
    """Run the command; return the results document (also printed as JSON)."""
    parsed = create_parser().parse_args(sys.argv[1:] if args is None else list(args))
    if parsed.half:
        print("Error: --half is not supported by tinify's video evaluation", file=sys.stderr)
        raise SystemExit(1)
    filepaths = collect_videos(parsed.dataset)
    if not filepaths:
        print("Error: no video found in directory.", file=sys.stderr)
        raise SystemExit(1)
    description = "entropy-estimation" if parsed.entropy_estimation else parsed.entropy_coder
    outdir = Path(parsed.output_directory or parsed.output)
    outdir.mkdir(parents=True, exist_ok=True)
    device = "cuda" if parsed.cuda and torch.cuda.is_available() else "cpu"
    runs: list[Any]
    if parsed.source == "pretrained":
        runs = sorted(int(q) for q in parsed.qualities.split(",") if q)
    else:
        runs = list(parsed.paths)
    points = []
    try:
        for run in runs:
            if parsed.source == "pretrained":
                model = load_pretrained(parsed.architecture, parsed.metric, run)
                trained_net = f"{parsed.architecture}-{parsed.metric}-{run}-{description}"
            else:
                model = load_checkpoint(parsed.architecture, parsed.no_update, run)
                trained_net = f"{strip_suffixes(Path(run).name)}-{description}"
            if parsed.verbose:
                print(f"Using trained model {trained_net}", file=sys.stderr)
            options = {k: v for k, v in vars(parsed).items() if k != "entropy_estimation"}
            metrics = run_inference(
                filepaths,
                parsed.dataset,
                model.to(device),
                outdir,
                entropy_estimation=parsed.entropy_estimation,
                trained_net=trained_net,
                description=description,
                **options,
            )
            points.append({"q": trained_net, **metrics})
    except TinifyError as err:
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    label = "entropy estimation" if parsed.entropy_estimation else parsed.entropy_coder
    doc = results_json(
        f"{parsed.architecture}-{parsed.metric}", f"Inference ({label})", points, keys=("q",)
    )
    name = parsed.output_file or f"{parsed.architecture}-{description}"
    write_results(doc, (outdir / name).with_suffix(".json"))
    print(write_results(doc, None), end="")
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
