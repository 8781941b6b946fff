# SPDX-License-Identifier: Apache-2.0
"""``tinify plot``: rate-distortion curves from results files, and a BD-rate table.

Curves are drawn with matplotlib's Agg renderer (no display needed; the format follows the
output suffix: .png, .pdf, .svg). MS-SSIM is plotted in dB, ``-10 log10(1 - MS-SSIM)``, as
CompressAI's ``plot`` does; files that store ``ms-ssim-db-rgb`` (the published "paper" curves)
are used as they are. Bjøntegaard deltas (:mod:`tinify.utils.bdrate`) are computed on the same
axes: log rate against PSNR or MS-SSIM in dB.

The same drawing serves ``python -m tinify.utils.plot`` and ``tinify.utils.video.plot``
(CompressAI's commands; video results plot ``bitrate`` in kbit/s instead of ``bpp``), which can
also draw an interactive HTML figure with plotly (:func:`draw_plotly`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from tinify.exceptions import InputError
from tinify.io.image import atomic_output
from tinify.utils.bdrate import bd_psnr, bd_rate

__all__ = [
    "METRICS",
    "RATE_LABELS",
    "Series",
    "bd_table",
    "curve",
    "draw_matplotlib",
    "draw_plotly",
    "format_bd_table",
    "labels_for",
    "plot_curves",
]

PathLike = Union[str, Path]
#: One curve: ``(label, rates, values)``.
Series = tuple[str, Sequence[float], Sequence[float]]

#: ``--metric`` choices and their axis labels.
METRICS = {
    "psnr-rgb": "PSNR-RGB (dB)",
    "ms-ssim-rgb": "MS-SSIM-RGB (dB)",
    "psnr-yuv": "PSNR-YUV (dB), (4 Y + U + V) / 6",
    "psnr-y": "PSNR-Y (dB)",
}
#: Rate keys and their axis labels.
RATE_LABELS = {"bpp": "bits per pixel", "bitrate": "bit rate (kbit/s)"}


def curve(
    doc: Mapping[str, Any], metric: str, rate_key: str = "bpp"
) -> tuple[list[float], list[float]] | None:
    """``(rate, quality)`` points of a results document sorted by rate, or ``None`` when it has
    no values for ``metric``. Points with a missing value are left out. ``rate_key`` is
    ``"bpp"`` for images, ``"bitrate"`` (kbit/s) for videos."""
    results = doc["results"]
    rates = results.get(rate_key, [])
    if metric == "ms-ssim-rgb" and "ms-ssim-db-rgb" in results:
        values = results["ms-ssim-db-rgb"]
    elif metric in results:
        values = results[metric]
        if metric == "ms-ssim-rgb":
            values = [None if v is None or v >= 1 else -10 * math.log10(1 - v) for v in values]
    else:
        return None
    points = sorted(
        (float(r), float(v))
        for r, v in zip(rates, values)
        if r is not None and v is not None and math.isfinite(float(v)) and float(r) > 0
    )
    if not points:
        return None
    return [p[0] for p in points], [p[1] for p in points]


def labels_for(docs: Sequence[Mapping[str, Any]], files: Sequence[PathLike]) -> list[str]:
    """Legend labels: each document's ``name``, with its file name added where names repeat
    (CompressAI's cpu and cuda, or mse and ms-ssim, files share a name)."""
    names = [str(d["name"]) for d in docs]
    return [f"{n} ({Path(f).stem})" if names.count(n) > 1 else n for n, f in zip(names, files)]


def plot_curves(
    docs: Sequence[Mapping[str, Any]],
    output: PathLike,
    metric: str = "psnr-rgb",
    title: str | None = None,
    figsize: Sequence[float] = (9.0, 6.0),
    labels: Sequence[str] | None = None,
    rate_key: str = "bpp",
) -> list[str]:
    """Draw every document that has ``metric`` into ``output`` (written atomically).

    Args:
        labels: legend entries, one per document (default: their names).
        rate_key: the x axis, ``"bpp"`` or ``"bitrate"`` (kbit/s, video results).

    Returns:
        The labels of the documents left out (no values for ``metric``).

    Raises:
        InputError: matplotlib is not installed, or no document has the metric.
    """
    labels = list(labels) if labels is not None else [str(d["name"]) for d in docs]
    series: list[Series] = []
    skipped = []
    for doc, label in zip(docs, labels):
        points = curve(doc, metric, rate_key)
        if points is None:
            skipped.append(label)
        else:
            series.append((label, *points))
    if not series:
        raise InputError(f"no results file has values for {metric}")
    xlabel = RATE_LABELS.get(rate_key, rate_key)
    draw_matplotlib(series, output, xlabel, METRICS.get(metric, metric), title, figsize)
    return skipped


def draw_matplotlib(
    series: Sequence[Series],
    output: PathLike | None,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    figsize: Sequence[float] = (9.0, 6.0),
    limits: Sequence[float] | None = None,
    show: bool = False,
) -> None:
    """Draw curves with matplotlib into ``output`` (format from its suffix, written
    atomically) and/or on screen (``show``).

    Args:
        limits: ``(xmin, xmax, ymin, ymax)`` (default: automatic).

    Raises:
        InputError: matplotlib is not installed, or an unknown output format.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install 'tinify-codec[plot]'") from None
    size = (float(figsize[0]), float(figsize[1]))
    if show:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=size)
    else:
        fig = Figure(figsize=size)
    ax = fig.subplots()
    for i, (label, xs, ys) in enumerate(series):
        style = _STYLES[(i // 10) % len(_STYLES)]  # 10 colours per line style
        ax.plot(xs, ys, style, markersize=3, linewidth=1.2, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if limits is not None:
        xmin, xmax, ymin, ymax = (float(v) for v in limits)
        ax.axis((xmin, xmax, ymin, ymax))
    if len(series) <= 10:
        ax.legend(loc="lower right", fontsize="small")
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="x-small")
    if title:
        ax.set_title(title)
    if output:
        fmt = Path(output).suffix.lstrip(".").lower() or "png"
        with atomic_output(output) as tmp:
            try:
                fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
            except ValueError as err:
                raise InputError(f"{output}: {err}") from None
    if show:
        plt.show()


def draw_plotly(
    series: Sequence[Series],
    output: PathLike | None,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    limits: Sequence[float] | None = None,
    show: bool = False,
) -> Path:
    """Write the curves as an interactive plotly HTML page (``output``, default ``plot.html``);
    ``show`` opens it in a browser.

    Raises:
        InputError: plotly is not installed.
    """
    try:
        import plotly.graph_objects as go  # type: ignore[import-untyped, unused-ignore]
        import plotly.io as pio  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise InputError("the plotly backend needs plotly: pip install plotly") from None
    fig = go.Figure()
    for label, xs, ys in series:
        fig.add_trace(go.Scatter(x=list(xs), y=list(ys), name=label, mode="lines+markers"))
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text=ylabel)
    if title:
        fig.update_layout(title_text=title)
    if limits is not None:
        fig.update_xaxes(range=[limits[0], limits[1]])
        fig.update_yaxes(range=[limits[2], limits[3]])
    path = Path(output or "plot.html")
    with atomic_output(path) as tmp:
        pio.write_html(fig, file=str(tmp), auto_open=False)
    if show:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return path


_STYLES = ("o-", "s--", "^-.", "d:")


def bd_table(
    docs: Sequence[Mapping[str, Any]],
    anchor: Mapping[str, Any],
    metric: str = "psnr-rgb",
    labels: Sequence[str] | None = None,
    rate_key: str = "bpp",
) -> list[tuple[str, float | None, float | None]]:
    """BD-rate (%) and BD-quality (dB) of every document against ``anchor``.

    Returns:
        ``(name, bd_rate, bd_quality)`` rows; ``None`` where the curves do not overlap or a
        curve has fewer than two points.

    Raises:
        InputError: the anchor has no values for ``metric``.
    """
    base = curve(anchor, metric, rate_key)
    if base is None:
        raise InputError(f"the anchor {anchor['name']} has no values for {metric}")
    labels = list(labels) if labels is not None else [str(d["name"]) for d in docs]
    rows: list[tuple[str, float | None, float | None]] = []
    for doc, label in zip(docs, labels):
        points = curve(doc, metric, rate_key)
        rate: float | None = None
        quality: float | None = None
        if points is not None:
            try:
                rate = bd_rate(base[0], base[1], points[0], points[1])
            except ValueError:
                pass
            try:
                quality = bd_psnr(base[0], base[1], points[0], points[1])
            except ValueError:
                pass
        rows.append((label, rate, quality))
    return rows


def format_bd_table(
    rows: Sequence[tuple[str, float | None, float | None]], anchor: str, metric: str
) -> str:
    """A plain-text table of :func:`bd_table` rows."""
    unit = "dB"
    width = max([len(r[0]) for r in rows] + [len("curve")])
    lines = [
        f"BD against {anchor} ({metric})",
        f"{'curve':<{width}}  {'BD-rate %':>10}  {'BD-' + metric + ' ' + unit:>18}",
    ]
    for name, rate, quality in rows:
        r = "n/a" if rate is None else f"{rate:+.2f}"
        q = "n/a" if quality is None else f"{quality:+.3f}"
        lines.append(f"{name:<{width}}  {r:>10}  {q:>18}")
    return "\n".join(lines)
