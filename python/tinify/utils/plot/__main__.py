# SPDX-License-Identifier: Apache-2.0
"""Rate-distortion curves from results files, with CompressAI 1.2.8's command line.

::

    python -m tinify.utils.plot -f a.json b.json -m psnr -o rd.png
    python -m tinify.utils.plot -f a.json --backend plotly -o rd.html

``-m`` takes ``psnr`` / ``ms-ssim`` (short for ``psnr-rgb`` / ``ms-ssim-rgb``) or any key of the
files' ``results``; MS-SSIM is drawn in dB, ``-10 log10(1 - MS-SSIM)``. ``--backend plotly``
writes an interactive HTML page (``plot.html`` by default) when plotly is installed.
:mod:`tinify.utils.video.plot` is the same command for video results (bit rate in kbit/s).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinify.codec.plot import Series, curve, draw_matplotlib, draw_plotly
from tinify.codec.results import load_results
from tinify.exceptions import ParameterError, TinifyError

__all__ = ["main", "matplotlib_plt", "parse_json_file", "plotly_plt", "setup_args"]

BACKENDS = ("matplotlib", "plotly")
#: x-axis label of image results.
BPP_LABEL = "Bit-rate [bpp]"


def parse_json_file(filepath: str | Path, metric: str, rate_key: str = "bpp") -> dict[str, Any]:
    """``{"name", "xs", "ys"}`` of a results file: its rates (``rate_key``) and ``metric``
    values sorted by rate (MS-SSIM in dB; ``psnr`` and ``ms-ssim`` mean the RGB metrics).

    Raises:
        ParameterError: not a results file, or no ``metric`` values in it.
    """
    if metric in ("psnr", "ms-ssim"):
        metric = f"{metric}-rgb"
    doc = load_results(filepath, rate_key)
    results = doc["results"]
    if metric not in results and not (metric == "ms-ssim-rgb" and "ms-ssim-db-rgb" in results):
        raise ParameterError(
            f'Error: metric "{metric}" not available. Available metrics: {", ".join(results)}'
        )
    points = curve(doc, metric, rate_key)
    if points is None:
        raise ParameterError(f"{filepath}: no {metric} values against {rate_key}")
    return {"name": doc["name"], "xs": points[0], "ys": points[1]}


def _series(scatters: Sequence[dict[str, Any]]) -> list[Series]:
    return [(str(s["name"]), list(s["xs"]), list(s["ys"])) for s in scatters]


def matplotlib_plt(
    scatters: Sequence[dict[str, Any]],
    title: str | None,
    ylabel: str,
    output_file: str | None,
    limits: Sequence[float] | None = None,
    show: bool = False,
    figsize: Sequence[float] | None = None,
    xlabel: str = BPP_LABEL,
) -> None:
    """Draw the curves of :func:`parse_json_file` with matplotlib (file and/or screen)."""
    draw_matplotlib(
        _series(scatters), output_file, xlabel, ylabel, title, figsize or (9, 6), limits, show
    )


def plotly_plt(
    scatters: Sequence[dict[str, Any]],
    title: str | None,
    ylabel: str,
    output_file: str | None,
    limits: Sequence[float] | None = None,
    show: bool = False,
    figsize: Sequence[float] | None = None,
    xlabel: str = BPP_LABEL,
) -> None:
    """Write the curves as a plotly HTML page (``output_file`` or ``plot.html``)."""
    draw_plotly(_series(scatters), output_file, xlabel, ylabel, title, limits, show)


def setup_args(default_metric: str = "psnr") -> argparse.ArgumentParser:
    """CompressAI's parser: ``-f FILES [-m METRIC] [-t TITLE] [-o OUT] [--figsize W H]
    [--axes XMIN XMAX YMIN YMAX] [--backend matplotlib|plotly] [--show]``."""
    parser = argparse.ArgumentParser(description="Plot rate-distortion curves.")
    parser.add_argument(
        "-f", "--results-file", metavar="", default="", type=str, nargs="*", required=True
    )
    parser.add_argument(
        "-m", "--metric", metavar="", type=str, default=default_metric, help="Metric"
    )
    parser.add_argument("-t", "--title", metavar="", type=str, help="Plot title")
    parser.add_argument("-o", "--output", metavar="", type=str, help="Output file name")
    parser.add_argument(
        "--figsize", metavar="", type=float, nargs=2, default=(9, 6), help="(width, height)"
    )
    parser.add_argument(
        "--axes", metavar="", type=float, nargs=4, default=None, help="xmin xmax ymin ymax"
    )
    parser.add_argument("--backend", type=str, metavar="", default=BACKENDS[0], choices=BACKENDS)
    parser.add_argument("--show", action="store_true", help="Open plot figure")
    return parser


def main(
    argv: Sequence[str] | None = None,
    rate_key: str = "bpp",
    xlabel: str = BPP_LABEL,
    default_metric: str = "psnr",
) -> list[dict[str, Any]]:
    """Run the command; return the curves drawn (``rate_key`` / ``xlabel``: see
    :mod:`tinify.utils.video.plot`)."""
    args = setup_args(default_metric).parse_args(sys.argv[1:] if argv is None else list(argv))
    if not args.results_file:
        print("Error: give results files with -f", file=sys.stderr)
        raise SystemExit(1)
    if not args.show and not args.output and args.backend == "matplotlib":
        print("Error: select an output file (-o) or --show", file=sys.stderr)
        raise SystemExit(1)
    try:
        scatters = [parse_json_file(f, args.metric, rate_key) for f in args.results_file]
        draw = matplotlib_plt if args.backend == "matplotlib" else plotly_plt
        draw(
            scatters,
            args.title,
            f"{args.metric} [dB]",
            args.output,
            limits=args.axes,
            show=args.show,
            figsize=args.figsize,
            xlabel=xlabel,
        )
    except (TinifyError, ValueError) as err:
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    return scatters


if __name__ == "__main__":
    main(sys.argv[1:])
