# SPDX-License-Identifier: Apache-2.0
"""Measure a classical codec on a folder of images, with CompressAI 1.2.8's command line.

::

    python -m tinify.utils.bench jpeg kodak/ -q 10,30,50,70,90
    python -m tinify.utils.bench webp kodak/ -q 50,75 -j 2
    python -m tinify.utils.bench bpg kodak/ -q 27,32,37 --encoder-path ~/bpg/bpgenc ...
    python -m tinify.utils.bench vtm kodak/ -q 32 -b ~/vtm/bin -c encoder_intra_vtm.cfg

Prints ``{"name", "description", "results": {"psnr-rgb": [...], "ms-ssim-rgb": [...], "bpp":
[...], "encoding_time": [...], "decoding_time": [...], "quality": [...]}}``, one entry per
setting (sorted), averaged over the images of the folder and its sub-folders. A codec whose
programs are missing stops with one line saying which and where to get them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinify.codec.baselines import read_pictures, run_codec
from tinify.exceptions import TinifyError
from tinify.io.image import IMAGE_EXTENSIONS
from tinify.utils.bench.codecs import ALL_CODECS, Codec

__all__ = ["collect", "func", "main", "setup_args", "setup_common_args"]


def func(codec: Codec, i: int, *args: Any) -> tuple[int, Any]:
    """``(i, codec.run(*args))``: one job of a parallel run, tagged with its setting index."""
    return i, codec.run(*args)


def _images(dataset: str) -> list[Path]:
    root = Path(dataset)
    if not root.is_dir():
        raise OSError(f"No such directory: {dataset}")
    found = (p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    return sorted(p for p in found if p.is_file())


def collect(
    codec: Codec, dataset: str, qps: list[int], metrics: list[str], num_jobs: int = 1
) -> dict[str, list[Any]]:
    """Means over the images of ``dataset`` (recursive) at every setting in ``qps``: the
    ``results`` mapping of the JSON (``bpp``, times, ``metrics``, ``quality``)."""
    paths = _images(dataset)
    if not paths:
        print("No images found in the dataset directory", file=sys.stderr)
        raise SystemExit(1)
    pictures = [
        (str(p.relative_to(dataset)), img) for p, (_, img) in zip(paths, read_pictures(paths))
    ]
    doc = run_codec(codec.impl, pictures, qps, progress=False, num_jobs=num_jobs)
    dropped = {"psnr-rgb", "ms-ssim-rgb"} - set(metrics)
    return {k: v for k, v in doc["results"].items() if k not in dropped}


def setup_args() -> tuple[argparse.ArgumentParser, Any]:
    """The parser and its sub-parsers (one per codec)."""
    parser = argparse.ArgumentParser(description="Collect codec metrics.")
    subparsers = parser.add_subparsers(dest="codec", help="Select codec")
    subparsers.required = True
    return parser, subparsers


def setup_common_args(parser: argparse.ArgumentParser) -> None:
    """``DATASET [-j N] [-q QPS] [--metrics ...]``."""
    parser.add_argument("dataset", type=str)
    parser.add_argument("-j", "--num-jobs", type=int, metavar="N", default=1)
    parser.add_argument(
        "-q", "--qps", dest="qps", type=str, default="75", help="settings, e.g. 10,50,90"
    )
    parser.add_argument("--metrics", dest="metrics", default=["psnr-rgb", "ms-ssim-rgb"], nargs="+")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the command; return the results document (also printed as JSON)."""
    parser, subparsers = setup_args()
    for cls in ALL_CODECS:
        sub = subparsers.add_parser(cls.__name__.lower(), help=cls.__doc__)
        setup_common_args(sub)
        cls.setup_args(sub)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    codec_cls = next(c for c in ALL_CODECS if c.__name__.lower() == args.codec)
    try:
        codec = codec_cls(args)
        qps = sorted(int(q) for q in args.qps.split(",") if q)
        results = collect(codec, args.dataset, qps, args.metrics, args.num_jobs)
        doc = {"name": codec.name, "description": codec.description, "results": results}
    except (TinifyError, OSError, RuntimeError) as err:
        print(f"Error: {args.codec}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(doc, indent=2))
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
