"""Time per megapixel of tiled against whole-image transforms (issue 14's 1.2x goal).

For each zoo model (random weights at ``--quality``, or the highest), on a random image of
``--size`` (default 2048x1536: 3 MP, where the whole image fits), the analysis transform ``g_a``
and the synthesis transform ``g_s`` run as coding mode 1 runs them (the inference copies) on the
whole image and on the automatic tiles (``tiling.auto_tile``, forced at this size: the
automatic mode tiles only above 4.2 MP). Process CPU time, best of ``--repeat``, alternating
the two; the largest difference of the tiled result from the whole-image one is printed too
(float rounding only). Sequential analysis transforms stream in bands of rows
(``tiling._RowStream``); ``--overlap`` also times ``g_a`` on the overlapping tiles it replaced.

Run: ``python benches/bench_tiles.py [--models cheng2020-anchor,cheng2020-attn]
[--size 2048x1536] [--threads 1] [--repeat 2] [--tile N] [--overlap]`` (zoo models with
qualities).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Callable, Iterator

import torch

from _common import set_threads
from bench_large import highest_quality
from tinify.models import tiling
from tinify.models.tiling import auto_tile, receptive_field
from tinify.zoo import image_models

MODELS = "mbt2018-mean,cheng2020-anchor,cheng2020-attn"


def _cpu(fn: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


@contextlib.contextmanager
def overlapping() -> Iterator[None]:
    """Analysis on overlapping tiles, as before the streamed analysis."""
    stream = tiling._row_stream
    tiling._row_stream = lambda *args: None  # type: ignore[assignment]
    try:
        yield
    finally:
        tiling._row_stream = stream


@torch.no_grad()
def measure(
    name: str,
    quality: int,
    height: int,
    width: int,
    repeat: int,
    tile: int | None = None,
    overlap: bool = False,
) -> dict[str, object]:
    """Tiles and CPU seconds (whole, tiled) of ``g_a`` and ``g_s``, and the largest
    differences of the tiled results; ``tile`` forces a tile side (default: automatic);
    ``overlap``: also ``g_a`` on overlapping tiles (``"g_a overlap"``)."""
    torch.manual_seed(0)
    model = image_models[name](quality=quality).eval()
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(1))
    tiles = {key: tile or auto_tile(receptive_field(getattr(model, key))) for key in ("g_a", "g_s")}
    best = {k: math.inf for k in ("g_a whole", "g_a tiled", "g_s whole", "g_s tiled")}
    diff = {}
    for _ in range(repeat):
        outs = {}
        for label, whole in (("whole", True), ("tiled", False)):
            options = model.coding_options("fixed", None, 0 if whole else tiles["g_a"])
            seconds, y = _cpu(lambda o=options: model._analyze(x, o))
            best[f"g_a {label}"] = min(best[f"g_a {label}"], seconds)
            options = model.coding_options("fixed", None, 0 if whole else tiles["g_s"])
            seconds, x_hat = _cpu(lambda o=options, y=y: model._synthesize(y, o))
            best[f"g_s {label}"] = min(best[f"g_s {label}"], seconds)
            outs[label] = (y, x_hat)
        if overlap:
            options = model.coding_options("fixed", None, tiles["g_a"])
            with overlapping():
                seconds, _ = _cpu(lambda o=options: model._analyze(x, o))
            best["g_a overlap"] = min(best.get("g_a overlap", math.inf), seconds)
        diff["g_a"] = float((outs["tiled"][0] - outs["whole"][0]).abs().max())
        diff["g_s"] = float((outs["tiled"][1] - outs["whole"][1]).abs().max())
    return {"tiles": tiles, "seconds": best, "diff": diff}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=MODELS, help=f"comma-separated zoo names ({MODELS})")
    p.add_argument("--quality", type=int, help="quality (default: each model's highest)")
    p.add_argument("--size", default="2048x1536", help="WxH, multiples of 64 (2048x1536)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--tile", type=int, help="force this tile side (default: automatic)")
    p.add_argument("--overlap", action="store_true", help="also g_a on overlapping tiles")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    set_threads(args.threads)
    print(f"{width}x{height}, {args.threads} thread(s), CPU seconds, best of {args.repeat}\n")
    extra = " g_a overlapping / whole |" if args.overlap else ""
    print(
        "| model | g_a tile | g_a whole / tiled s | g_a tiled / whole | g_s tile | "
        f"g_s whole / tiled s | g_s tiled / whole | max diff g_a, g_s |{extra}"
    )
    print("|---|---|---|---|---|---|---|---|" + ("---|" if args.overlap else ""))
    for name in (m.strip() for m in args.models.split(",") if m.strip()):
        quality = args.quality or highest_quality(name)
        r = measure(name, quality, height, width, args.repeat, args.tile, args.overlap)
        t, s, d = r["tiles"], r["seconds"], r["diff"]
        assert isinstance(t, dict) and isinstance(s, dict) and isinstance(d, dict)
        cells = [f"{name} q{quality}"]
        for key in ("g_a", "g_s"):
            whole, tiled = s[f"{key} whole"], s[f"{key} tiled"]
            cells += [str(t[key]), f"{whole:.2f} / {tiled:.2f}", f"{tiled / whole:.2f}x"]
        cells.append(f"{d['g_a']:.1e}, {d['g_s']:.1e}")
        if args.overlap:
            cells.append(f"{s['g_a overlap'] / s['g_a whole']:.2f}x")
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
