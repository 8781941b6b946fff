# SPDX-License-Identifier: Apache-2.0
"""Evaluate an image model on a folder of images, with CompressAI 1.2.8's command line.

::

    python -m tinify.utils.eval_model pretrained kodak/ -a bmshj2018-hyperprior -q 1,2,3
    python -m tinify.utils.eval_model checkpoint kodak/ -a bmshj2018-hyperprior -p a.pth b.pth
    torchrun --nproc_per_node 2 -m tinify.utils.eval_model checkpoint kodak/ -a ... -p a.pth

Prints (and with ``-d DIR`` writes ``DIR/<-o NAME or ARCH-ans>.json``) CompressAI's results
layout: ``{"name": "<arch>-<metric>", "description": "Inference (ans)", "results": {"psnr-rgb":
[...], "ms-ssim-rgb": [...], "bpp": [...], "encoding_time": [...], "decoding_time": [...]}}``,
one entry per quality or checkpoint, plus tinify's ``bpp-file`` (the ``.tfy`` file with its
header). Each image really goes through ``compress`` / ``decompress`` (in CompressAI's float
arithmetic, coding mode 0) inside a ``.tfy`` container, see :mod:`tinify.codec.evaluate`;
``--entropy-estimation`` uses the likelihoods of ``forward`` instead. Under ``torchrun`` the
images are split over the ranks and rank 0 prints and writes the merged results.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tinify.codec.evaluate import distortion as compute_metrics
from tinify.codec.evaluate import evaluate_image, evaluate_model
from tinify.codec.loading import (
    LoadedModel,
    load_model_from_checkpoint,
    load_zoo_model,
    wrap_model,
)
from tinify.codec.results import results_json, write_results
from tinify.codec.update import strip_suffixes
from tinify.exceptions import TinifyError
from tinify.io.image import InputError, image_to_tensor, list_images
from tinify.io.image import read_image as read_pil_image
from tinify.utils.distributed import DistContext, finish_distributed, init_distributed
from tinify.utils.metrics import psnr as _psnr

__all__ = [
    "collect_images",
    "compute_metrics",
    "eval_model",
    "inference",
    "inference_entropy_estimation",
    "load_checkpoint",
    "load_pretrained",
    "main",
    "psnr",
    "read_image",
    "setup_args",
]

#: The ``entropy_path`` of this command (coding mode 0): CompressAI's float arithmetic and
#: streams.
ENTROPY_PATH = "float"


def psnr(a: torch.Tensor, b: torch.Tensor, max_val: int = 255) -> float:
    """PSNR in dB for values in ``[0, max_val]``: :func:`tinify.utils.metrics.psnr` with
    CompressAI's argument name."""
    return _psnr(a, b, float(max_val))


def _coders() -> list[str]:
    import tinify

    available = getattr(tinify, "available_entropy_coders", None)
    return list(available()) if available is not None else ["ans"]


def _architectures() -> list[str]:
    from tinify.zoo import image_models

    return list(image_models)


def collect_images(rootpath: str) -> list[str]:
    """The image files directly in ``rootpath`` (sorted; an empty list when there are none)."""
    if not Path(rootpath).is_dir():
        return []
    try:
        return [str(p) for p in list_images(rootpath)]
    except InputError:
        return []


def read_image(filepath: str) -> torch.Tensor:
    """An image file as a (3, H, W) float tensor in [0, 1] (RGB)."""
    return image_to_tensor(read_pil_image(filepath))[0]


def _batch(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(0) if x.dim() == 3 else x


def _loaded(model: nn.Module | LoadedModel) -> LoadedModel:
    return model if isinstance(model, LoadedModel) else wrap_model(model)


def _refuse_vbr(vbr_stage: Any, vbr_scale: Any) -> None:
    if vbr_stage is not None or vbr_scale is not None:
        raise TinifyError("variable-bit-rate evaluation is not supported by this command yet")


def inference(
    model: nn.Module, x: torch.Tensor, vbr_stage: Any = None, vbr_scale: Any = None
) -> dict[str, Any]:
    """Compress and decompress one image ((3, H, W) or (1, 3, H, W) in [0, 1]); return its
    ``psnr-rgb``, ``ms-ssim-rgb``, ``bpp``, ``bpp-file``, ``encoding_time``, ``decoding_time``."""
    _refuse_vbr(vbr_stage, vbr_scale)
    return evaluate_image(_loaded(model), _batch(x), entropy_path=ENTROPY_PATH)


def inference_entropy_estimation(
    model: nn.Module, x: torch.Tensor, vbr_stage: Any = None, vbr_scale: Any = None
) -> dict[str, Any]:
    """Like :func:`inference` with ``bpp`` from the likelihoods of ``forward`` (no coding)."""
    _refuse_vbr(vbr_stage, vbr_scale)
    return evaluate_image(_loaded(model), _batch(x), estimate=True)


def load_pretrained(model: str, metric: str, quality: int) -> nn.Module:
    """The zoo's pretrained ``model`` at ``quality``, in eval mode."""
    return load_zoo_model(model, quality, metric).model


def load_checkpoint(arch: str, no_update: bool, checkpoint_path: str) -> nn.Module:
    """The checkpoint at ``checkpoint_path`` (a state dict or a training checkpoint) loaded
    into ``arch``; its coding tables are rebuilt (``update(force=True)``) unless ``no_update``."""
    net = load_model_from_checkpoint(checkpoint_path, arch).model
    if not no_update:
        net.update(force=True)
    return net.eval()


def eval_model(
    model: nn.Module,
    outputdir: Path | str,
    inputdir: Path | str,
    filepaths: Sequence[str | Path],
    entropy_estimation: bool = False,
    trained_net: str = "",
    description: str = "",
    vbr_stage: Any = None,
    vbr_scale: Any = None,
    **args: Any,
) -> dict[str, Any]:
    """Average numbers of ``model`` over ``filepaths``.

    With ``per_image=True`` and an ``outputdir``, one JSON per image is written to
    ``outputdir/<folder of the image relative to inputdir>/<stem>-<trained_net>.json``. A
    ``ctx`` (:class:`~tinify.utils.distributed.DistContext`) splits the images over ranks.
    """
    _refuse_vbr(vbr_stage, vbr_scale)
    ctx: DistContext | None = args.get("ctx")
    device = next(model.parameters()).device
    loaded = _loaded(model)
    paths = [Path(p) for p in filepaths]
    point, rows = evaluate_model(
        loaded,
        paths,
        device=str(device),
        estimate=entropy_estimation,
        progress=False,
        entropy_path=ENTROPY_PATH,
        ctx=ctx,
    )
    if args.get("per_image") and outputdir and (ctx is None or ctx.is_main):
        for path, row in zip(paths, rows):
            subdir = Path(outputdir) / path.parent.relative_to(Path(inputdir))
            subdir.mkdir(parents=True, exist_ok=True)
            doc = {
                "source": path.stem,
                "name": args.get("architecture", loaded.name),
                "description": f"Inference ({description})",
                "results": {k: v for k, v in row.items() if k != "image"},
            }
            write_results(doc, subdir / f"{path.stem}-{trained_net}.json")
    return point


def setup_args() -> argparse.ArgumentParser:
    """CompressAI's parser: ``pretrained`` (``-q 1,2,3``) or ``checkpoint`` (``-p FILES``)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("dataset", type=str, help="dataset path")
    parent.add_argument(
        "-a", "--architecture", choices=_architectures(), required=True, help="model architecture"
    )
    coders = _coders()
    parent.add_argument(
        "-c", "--entropy-coder", choices=coders, default=coders[0], help="entropy coder"
    )
    parent.add_argument("--cuda", action="store_true", help="enable CUDA")
    parent.add_argument("--half", action="store_true", help="convert the model to float16")
    parent.add_argument(
        "--entropy-estimation",
        action="store_true",
        help="use evaluated entropy estimation (no entropy coding)",
    )
    parent.add_argument("-v", "--verbose", action="store_true", help="verbose mode")
    parent.add_argument(
        "-m", "--metric", choices=["mse", "ms-ssim"], default="mse", help="metric trained against"
    )
    parent.add_argument(
        "-d", "--output_directory", type=str, default="", help="folder for the JSON files"
    )
    parent.add_argument(
        "-o", "--output-file", type=str, default="", help="JSON name (default: ARCH-CODER.json)"
    )
    parent.add_argument(
        "--per-image", action="store_true", help="store each image's results (needs -d)"
    )
    parent.add_argument(
        "--vbr_quantstep",
        dest="vbr_quantstepsizes",
        type=str,
        default="10.0000,7.1715,5.1832,3.7211,2.6833,1.9305,1.3897,1.0000",
        help="quantization steps of variable-bit-rate models (not supported yet)",
    )
    parent.add_argument("--vbr_tr_stage", type=int, choices=[1, 2], default=2)
    parser = argparse.ArgumentParser(description="Evaluate a model on an image dataset.")
    sub = parser.add_subparsers(help="model source", dest="source")
    p = sub.add_parser("pretrained", parents=[parent])
    p.add_argument(
        "-q", "--quality", dest="qualities", type=str, default="1", help="e.g. '1,2,3,4'"
    )
    p = sub.add_parser("checkpoint", parents=[parent])
    p.add_argument("-p", "--path", dest="checkpoint_paths", type=str, nargs="*", required=True)
    p.add_argument(
        "--no-update",
        action="store_true",
        help="do not rebuild the entropy coding tables before evaluating",
    )
    return parser


def _fail(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the command; return the results document (also printed as JSON on rank 0)."""
    parser = setup_args()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.source not in ("checkpoint", "pretrained"):
        print("Error: missing 'checkpoint' or 'pretrained' source.", file=sys.stderr)
        parser.print_help(sys.stderr)
        raise SystemExit(1)
    if args.architecture.endswith("-vbr"):
        _fail("variable-bit-rate models are not supported by this command yet")
    if args.half and not args.cuda:
        _fail("--half needs --cuda (float16 networks on the CPU are not supported)")
    filepaths = collect_images(args.dataset)
    if not filepaths:
        _fail(f"no images found in {args.dataset}")
    description = "entropy-estimation" if args.entropy_estimation else args.entropy_coder
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # CompressAI's timing protocol; restored at the end
    try:
        return _run(args, filepaths, description)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace, filepaths: list[str], description: str) -> dict[str, Any]:
    device = "cuda" if args.cuda and torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    ctx = init_distributed(device)
    if args.output_directory:
        Path(args.output_directory).mkdir(parents=True, exist_ok=True)
    if args.source == "pretrained":
        runs: list[Any] = sorted(int(q) for q in args.qualities.split(",") if q)
    else:
        runs = list(args.checkpoint_paths)
    points = []
    for run in runs:
        try:
            if args.source == "pretrained":
                model = load_pretrained(args.architecture, args.metric, run)
                trained_net = f"{args.architecture}-{args.metric}-{run}-{description}"
            else:
                model = load_checkpoint(args.architecture, args.no_update, run)
                trained_net = f"{strip_suffixes(Path(run).name)}-{description}"
        except TinifyError as err:
            _fail(str(err))
        if args.verbose and ctx.is_main:
            print(f"Using trained model {trained_net}", file=sys.stderr)
        model = model.to(ctx.device)
        if args.half:
            model = model.half()
        options = {k: v for k, v in vars(args).items() if k != "entropy_estimation"}
        points.append(
            eval_model(
                model,
                args.output_directory,
                args.dataset,
                filepaths,
                entropy_estimation=args.entropy_estimation,
                trained_net=trained_net,
                description=description,
                ctx=ctx,
                **options,
            )
        )
    label = "entropy estimation" if args.entropy_estimation else args.entropy_coder
    doc = results_json(f"{args.architecture}-{args.metric}", f"Inference ({label})", points)
    if ctx.is_main:
        if args.output_directory:
            name = args.output_file or f"{args.architecture}-{label}"
            write_results(doc, Path(args.output_directory, name).with_suffix(".json"))
        print(write_results(doc, None), end="")
    finish_distributed()
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
