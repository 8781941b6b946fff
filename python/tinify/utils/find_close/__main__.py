# SPDX-License-Identifier: Apache-2.0
"""Find the setting of a classical codec closest to a target on one image, with CompressAI
1.2.8's command line.

::

    python -m tinify.utils.find_close webp picture.png 0.5 --metric bpp
    python -m tinify.utils.find_close jpeg picture.png 35 --metric psnr-rgb --save

Bisects the codec's setting range (JPEG, WebP, AVIF: 0-100; JPEG 2000 through Pillow: a
target PSNR of 0-100 dB; BPG and HM: a QP of 0-50, VTM and AV1: 0-63, lower is better) and prints
the numbers of the closest setting; ``--save`` writes its picture as
``output_<codec>_q<setting>.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from PIL import Image

from tinify.codec.baselines import find_quality
from tinify.exceptions import TinifyError
from tinify.utils.bench.codecs import ALL_CODECS, Codec, read_image

__all__ = ["find_closest", "get_codec_q_bounds", "main", "setup_args"]


def get_codec_q_bounds(codec: Codec) -> tuple[bool, int, int]:
    """``(lower_is_better, low, high)``: the settings strictly between ``low`` and ``high``
    are searched."""
    impl = codec.impl
    low, high = getattr(impl, "quality_range", (0, 100))
    return bool(getattr(impl, "lower_is_better", False)), low - 1, high + 1


def find_closest(
    codec: Codec, img: str, target: float, metric: str = "psnr-rgb"
) -> tuple[int, dict[str, Any], Image.Image]:
    """``(setting, numbers, decoded picture)`` of the setting whose ``metric`` on the image
    file ``img`` is closest to ``target``."""
    lower_is_better, low, high = get_codec_q_bounds(codec)

    def note(line: str) -> None:
        print(f"\r{line}", end="", file=sys.stderr, flush=True)

    found = find_quality(
        codec.impl, read_image(img), target, metric, (low, high), lower_is_better, note
    )
    print(file=sys.stderr)
    return found


def setup_args() -> tuple[argparse.ArgumentParser, Any]:
    """The parser and its sub-parsers; every codec takes ``IMAGE TARGET [-m METRIC]
    [--save]`` (``--metric`` only for BPG, whose ``-m`` is the chroma subsampling)."""
    parser = argparse.ArgumentParser(description="Collect codec metrics and performances.")
    subparsers = parser.add_subparsers(dest="codec", help="Select codec")
    subparsers.required = True
    return parser, subparsers


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=str, help="image filepath")
    parser.add_argument("target", type=float, help="target value to match")
    choices = ["bpp", "psnr-rgb", "ms-ssim-rgb"]
    try:
        parser.add_argument("-m", "--metric", choices=choices, default="bpp")
    except argparse.ArgumentError:  # BPG's -m is its chroma subsampling
        parser.add_argument("--metric", choices=choices, default="bpp")
    parser.add_argument("--save", action="store_true", help="Save reconstructed image to disk")


def main(argv: Sequence[str] | None = None) -> tuple[int, dict[str, Any]]:
    """Run the command; return the chosen setting and its numbers (also printed)."""
    parser, subparsers = setup_args()
    for cls in ALL_CODECS:
        if cls.__name__ == "TFCI":  # CompressAI's find_close has no TFCI
            continue
        sub = subparsers.add_parser(cls.__name__.lower(), help=cls.__doc__)
        cls.setup_args(sub)
        _common(sub)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    codec_cls = next(c for c in ALL_CODECS if c.__name__.lower() == args.codec)
    try:
        codec = codec_cls(args)
        quality, metrics, rec = find_closest(codec, args.image, args.target, args.metric)
    except (TinifyError, OSError, RuntimeError) as err:
        print(f"Error: {args.codec}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"quality: {quality}")
    for key, value in metrics.items():
        print(f"{key}: {'n/a' if value is None else format(value, '.4f')}")
    if args.save:
        rec.save(f"output_{args.codec}_q{quality}.png")
    return quality, metrics


if __name__ == "__main__":
    main(sys.argv[1:])
