"""Decode time over the model's own ``g_s`` time, float and fixed-point paths, tinify alone.

Issue 14 asks the autoregressive models to decode in at most 1.1x (float path, coding mode 0)
and 1.25x (fixed path, mode 1) their synthesis transform ``g_s``; issue 13 asks ELIC and
mbt2018-vbr for 1.2x. This script measures those ratios on ``kodim01.png`` (768x512) with
random-weight models given trained-like latent statistics (``bench_models.calibrate``,
``bench_checkerboard.calibrate``), at the highest quality by default. Each model's float
decode, fixed decode and ``g_s`` (on the decoded latent, channels-last as the decoder runs it)
are timed alternately, best of ``--repeat``, in wall time and in process CPU time (both threads
summed: steadier than wall time on a shared machine). No CompressAI needed.

Run: ``python benches/bench_decode_ratio.py [--models mbt2018:8,cheng2020-anchor:6]
[--threads 2] [--repeat 3]``. A model is ``zoo-name:quality``; the VBR models take
``name:step`` (a quantization step) and ELIC ``elic2022-official:0``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from _common import set_threads
from bench_checkerboard import calibrate as calibrate_checkerboard
from bench_models import IMAGE, calibrate, load_image
from tinify.models.image.vbr import ScaleHyperpriorVbr, quant_step_to_scale
from tinify.zoo import image_models, model_architectures

MODELS = "mbt2018:8,cheng2020-anchor:6,cheng2020-attn:6,mbt2018-vbr:1.9305,elic2022-official:0"


def build(name: str, value: float, x: torch.Tensor) -> tuple[nn.Module, dict[str, Any]]:
    """A seeded, calibrated, ``update()``-d model and the keyword arguments of its coding calls."""
    torch.manual_seed(0)
    with torch.no_grad():
        if name.startswith("elic") or name.endswith("checkerboard"):
            model = model_architectures[name]().eval()
            calibrate_checkerboard(model, x)
        elif name.endswith("-vbr"):
            model = model_architectures[name](192, 320).eval()
            calibrate(model, x)
        else:
            model = image_models[name](quality=int(value)).eval()
            calibrate(model, x)
    model.update(force=True)
    rate = {"inputscale": quant_step_to_scale(value)} if name.endswith("-vbr") else {}
    return model, rate


def clocked(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall and process CPU seconds of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


@torch.no_grad()
def measure(model: nn.Module, rate: dict[str, Any], x: torch.Tensor, repeat: int) -> dict:
    """Best wall and CPU seconds of the float decode, the fixed decode and ``g_s``."""
    seen: list[torch.Tensor] = []
    hook = model.g_s.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    calls: dict[str, Callable[[], Any]] = {}
    for path in ("float", "fixed"):
        out = model.compress(x, entropy_path=path, **rate)
        out = {k: v for k, v in out.items() if k in ("strings", "shape")}
        calls[path] = lambda out=out, path=path: model.decompress(**out, entropy_path=path, **rate)
        calls[path]()  # warm-up, and the decoded latent for g_s
    hook.remove()
    y_hat = seen[-1]
    calls["g_s"] = lambda: model._synthesize(y_hat)
    calls["g_s"]()
    best = {k: [math.inf, math.inf] for k in calls}
    for _ in range(repeat):
        for key, fn in calls.items():
            wall, cpu = clocked(fn)
            best[key] = [min(best[key][0], wall), min(best[key][1], cpu)]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=MODELS, help="name:quality (or name:step), ...")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x = load_image(IMAGE)
    if x is None:
        sys.exit(f"bench_decode_ratio: {IMAGE} not found")
    set_threads(args.threads)
    print(f"kodim01 768x512, {args.threads} threads, best of {args.repeat}; seconds wall / CPU\n")
    print(
        "| model | g_s | float decode | fixed decode | float / g_s (wall, CPU) "
        "| fixed / g_s (wall, CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for spec in args.models.split(","):
        name, value = spec.strip().rsplit(":", 1)
        model, rate = build(name, float(value), x)
        assert not rate or isinstance(model, ScaleHyperpriorVbr)
        b = measure(model, rate, x, args.repeat)
        g, f, q = b["g_s"], b["float"], b["fixed"]
        print(
            f"| {spec} | {g[0]:.2f} / {g[1]:.2f} | {f[0]:.2f} / {f[1]:.2f} "
            f"| {q[0]:.2f} / {q[1]:.2f} | {f[0] / g[0]:.2f}, {f[1] / g[1]:.2f} "
            f"| {q[0] / g[0]:.2f}, {q[1] / g[1]:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
