# SPDX-License-Identifier: Apache-2.0
"""Measure a classical video codec on raw sequences, with CompressAI 1.2.8's command line.

::

    python -m tinify.utils.video.bench x264 UVG/ out/ -q 22,27,32,37 --tune zerolatency
    python -m tinify.utils.video.bench x265 UVG/ out/ -q 27 --ffmpeg /opt/ffmpeg/bin/ffmpeg
    python -m tinify.utils.video.bench VTM UVG/ out/ -q 32 -b vtm/bin -c encoder_lowdelay_vtm.cfg

Sequences are ``Name_WxH_FPS.yuv`` files (8-bit 4:2:0) under the dataset folder (recursive;
x264 and x265 also take ``.y4m``). Bitstreams and one JSON per sequence and QP are kept in the
output folder and reused unless ``-f``. Prints ``{"name", "description", "results": {"qp":
[...], "psnr-y": [...], ..., "bitrate": [...]}}`` (means over sequences). A missing ffmpeg or
encoder stops the command with one line saying what to install.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tinify.codec.external import ToolNotFoundError
from tinify.codec.results import mean, results_json, write_results
from tinify.codec.video_baselines import (
    bench_sequence,
    collect_raw_sequences,
    frame_errors,
    measure_decoded,
    read_raw_sequence,
)
from tinify.exceptions import TinifyError
from tinify.io.video import YUVFrame
from tinify.utils.video.bench.codecs import HM, VTM, Codec, x264, x265
from tinify.utils.video.eval_model.__main__ import to_tensors

__all__ = [
    "collect",
    "compute_metrics_for_frame",
    "create_parser",
    "evaluate",
    "func",
    "get_filesize",
    "main",
    "run_cmdline",
    "to_tensors",
]

#: The codecs, in sub-command order.
codec_classes: list[Callable[[], Codec]] = [x264, x265, VTM, HM]


def get_filesize(filepath: Path | str) -> int:
    """Size of a file in bytes."""
    return Path(filepath).stat().st_size


def run_cmdline(cmdline: Sequence[Any], logpath: Path | None = None, dry_run: bool = False) -> None:
    """Print and run a command (its output to ``logpath`` when given); only print it when
    ``dry_run``."""
    args = [str(c) for c in cmdline]
    print(f"--> Running: {' '.join(args)}", file=sys.stderr)
    if dry_run:
        return
    if logpath is None:
        subprocess.run(args, check=True)
        return
    with Path(logpath).open("w") as log:
        subprocess.run(args, check=True, stdout=log, stderr=subprocess.STDOUT)


def compute_metrics_for_frame(
    org_frame: Sequence[Any], dec_frame: Sequence[Any], bitdepth: int = 8
) -> dict[str, Any]:
    """``mse-y/u/v``, ``mse-rgb`` and ``ms-ssim-rgb`` of a decoded frame (8-bit planes)."""
    if bitdepth != 8:
        raise TinifyError("only 8-bit sequences are supported")
    import numpy as np

    def planes(frame: Sequence[Any]) -> YUVFrame:
        return YUVFrame(*(np.asarray(p, dtype=np.uint8) for p in frame))

    return frame_errors(planes(org_frame), planes(dec_frame))


def evaluate(
    org_seq_path: Path, dec_seq_path: Path, bitstream_path: Path, cuda: bool = False
) -> dict[str, Any]:
    """The numbers of a decoded raw sequence against its source, and the bit rate."""
    return measure_decoded(read_raw_sequence(org_seq_path), Path(dec_seq_path), bitstream_path)


def func(
    codec: Codec,
    i: int,
    filepath: Path,
    qp: int,
    outputdir: Path,
    inputdir: Path,
    cuda: bool,
    force: bool,
    dry_run: bool,
) -> tuple[int, int, dict[str, Any]]:
    """One sequence at one QP: ``(i, qp, numbers)``; the numbers are kept as JSON beside the
    bitstream and reused unless ``force``."""
    binpath = codec.get_bin_path(filepath, qp, str(outputdir), inputdir)
    if dry_run:
        run_cmdline(codec.get_encode_cmd(filepath, qp, binpath), dry_run=True)
        return i, qp, {}
    json_path = binpath.with_suffix(".json")
    if json_path.is_file() and not force:
        print(f"warning: using existing results {json_path}", file=sys.stderr)
        return i, qp, dict(json.loads(json_path.read_text())["results"])
    metrics = bench_sequence(codec.impl, Path(filepath), qp, Path(outputdir), Path(inputdir), force)
    doc = {
        "source": Path(filepath).stem,
        "name": codec.name_config(),
        "description": codec.description,
        "results": metrics,
    }
    write_results(doc, json_path)
    return i, qp, metrics


def collect(
    dataset: Path,
    codec_class: Codec,
    outputdir: Path,
    qps: list[int],
    num_jobs: int = 1,
    **args: Any,
) -> dict[str, Any]:
    """Means over the sequences of ``dataset`` at every QP: the ``results`` mapping."""
    Path(outputdir).mkdir(parents=True, exist_ok=True)
    paths = [p for p in collect_raw_sequences(dataset, (".yuv", ".y4m"))
             if codec_class.impl.accepts(p)]  # fmt: skip
    if not paths:
        raise TinifyError(f"no sequences (Name_WxH_FPS.yuv) under {dataset}")
    jobs = [(i, p, q) for i, q in enumerate(qps) for p in paths]

    def one(job: tuple[int, Path, int]) -> tuple[int, int, dict[str, Any]]:
        i, p, q = job
        return func(codec_class, i, p, q, Path(outputdir), Path(dataset), bool(args.get("cuda")),
                    bool(args.get("force")), bool(args.get("dry_run")))  # fmt: skip

    with ThreadPoolExecutor(max(1, num_jobs)) as pool:
        done = list(pool.map(one, jobs))
    points = []
    for i, q in enumerate(qps):
        rows = [m for j, _, m in done if j == i]
        keys = [k for k in rows[0]] if rows else []
        points.append({"qp": q, **{k: mean([r[k] for r in rows]) for k in keys}})
    return results_json("", "", points, keys=("qp",))["results"]


def create_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, Any]:
    """The parser, the options every codec shares, and the codec sub-parsers."""
    parser = argparse.ArgumentParser(
        description="Video codec baselines.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("dataset", type=str, help="sequences directory")
    parent.add_argument("outputdir", type=str, help="output directory")
    parent.add_argument("-n", "--dry-run", action="store_true", help="dry run")
    parent.add_argument("-f", "--force", action="store_true", help="overwrite previous runs")
    parent.add_argument("-j", "--num-jobs", type=int, metavar="N", default=1)
    parent.add_argument("-q", "--qps", dest="qps", type=str, default="1", help="e.g. 22,27,32")
    parent.add_argument("--cuda", action="store_true", help="(unused: metrics on the CPU)")
    subparsers = parser.add_subparsers(dest="codec", help="video codec")
    subparsers.required = True
    return parser, parent, subparsers


def main(args: Any = None) -> dict[str, Any]:
    """Run the command; return the results document (also printed as JSON)."""
    parser, parent, subparsers = create_parser()
    lookup: dict[str, Codec] = {}
    for cls in codec_classes:
        codec = cls()
        lookup[codec.name] = codec
        sub = subparsers.add_parser(
            codec.name, parents=[parent], formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        codec.add_parser_args(sub)
    parsed = parser.parse_args(sys.argv[1:] if args is None else list(args))
    codec = lookup[parsed.codec]
    options = vars(parsed)
    try:
        codec.set_args(parsed)
        codec.impl.check()
        qps = sorted(int(q) for q in options.pop("qps").split(",") if q)
        results = collect(
            Path(options.pop("dataset")),
            codec,
            Path(options.pop("outputdir")),
            qps,
            **options,
        )
        doc = {"name": codec.name_config(), "description": codec.description, "results": results}
    except (TinifyError, ToolNotFoundError, OSError, RuntimeError) as err:
        print(f"Error: {parsed.codec}: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(doc, indent=2))
    return doc


if __name__ == "__main__":
    main(sys.argv[1:])
