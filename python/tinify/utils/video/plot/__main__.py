# SPDX-License-Identifier: Apache-2.0
"""Rate-distortion curves of video results (bit rate in kbit/s), with CompressAI 1.2.8's
command line: :mod:`tinify.utils.plot` with ``bitrate`` on the x axis and ``psnr-rgb`` as the
default metric.

::

    python -m tinify.utils.video.plot -f ssf.json x264.json -m psnr-yuv -o rd.png
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinify.utils.plot import __main__ as image_plot

__all__ = ["main", "matplotlib_plt", "parse_json_file", "plotly_plt", "setup_args"]

RATE_KEY = "bitrate"
KBPS_LABEL = "Bit-rate [kbps]"
DEFAULT_METRIC = "psnr-rgb"


def parse_json_file(filepath: str | Path, metric: str) -> dict[str, Any]:
    """``{"name", "xs", "ys"}``: the file's ``bitrate`` values and ``metric`` values."""
    return image_plot.parse_json_file(filepath, metric, RATE_KEY)


def matplotlib_plt(
    scatters: Sequence[dict[str, Any]],
    title: str | None,
    ylabel: str,
    output_file: str | None,
    limits: Sequence[float] | None = None,
    show: bool = False,
    figsize: Sequence[float] | None = None,
) -> None:
    """Draw the curves with matplotlib, bit rate in kbit/s."""
    image_plot.matplotlib_plt(
        scatters, title, ylabel, output_file, limits, show, figsize, KBPS_LABEL
    )


def plotly_plt(
    scatters: Sequence[dict[str, Any]],
    title: str | None,
    ylabel: str,
    output_file: str | None,
    limits: Sequence[float] | None = None,
    show: bool = False,
    figsize: Sequence[float] | None = None,
) -> None:
    """Write the curves as a plotly HTML page, bit rate in kbit/s."""
    image_plot.plotly_plt(scatters, title, ylabel, output_file, limits, show, figsize, KBPS_LABEL)


def setup_args() -> argparse.ArgumentParser:
    """The parser of :func:`tinify.utils.plot.__main__.setup_args`, default metric psnr-rgb."""
    return image_plot.setup_args(DEFAULT_METRIC)


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Run the command; return the curves drawn."""
    return image_plot.main(argv, RATE_KEY, KBPS_LABEL, DEFAULT_METRIC)


if __name__ == "__main__":
    main(sys.argv[1:])
