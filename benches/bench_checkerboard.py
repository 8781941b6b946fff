"""Checkerboard and ELIC models: encode and decode of a Kodak image, tinify vs CompressAI 1.2.8.

``cheng2020-anchor-checkerboard`` (N=192) and ``elic2022-official`` (N=192, M=320) are built in
CompressAI with random weights, given plausible latent statistics (``y`` of RMS about 1,
predicted scales about 1 and means about 0, see :func:`calibrate`), ``update()``-d, saved and
loaded into tinify's model with ``strict=True``. Both libraries then code ``kodim01.png``
(768x512) with ``compress`` / ``decompress`` under ``torch.no_grad()``, interleaved; the best
of the timed calls is reported, with the check that the streams are byte-identical and the
images agree. A second table puts each library's decode beside its own ``g_s`` (the synthesis
alone); the difference is the latent decode (hyperprior, context passes, entropy decoding).

Run: ``python benches/bench_checkerboard.py [--models cheng2020-anchor-checkerboard,
elic2022-official] [--threads 2] [--repeat 2] [--cpu-time]``. Needs compressai; skips without
the image.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from _common import optional, set_threads
from bench_models import CAI, IMAGE, cells, load_image, stream_bytes
from tinify.zoo import model_architectures

MODELS = "cheng2020-anchor-checkerboard,elic2022-official"
CLASSES = {
    "cheng2020-anchor-checkerboard": "Cheng2020AnchorCheckerboard",
    "elic2022-official": "Elic2022Official",
    "elic2022-chandelier": "Elic2022Chandelier",
}


@torch.no_grad()
def calibrate(net: nn.Module, x: torch.Tensor) -> None:
    """Scale ``g_a``'s output to RMS about 1 and make every Gaussian-parameter layer predict
    scales near 1 and means near 0 (random weights would give all-zero symbols)."""
    convs = [m for m in net.g_a.modules() if isinstance(m, nn.Conv2d)]
    y = net.g_a(x)
    rms = float(y.pow(2).mean().sqrt())
    layer = convs[-1] if isinstance(net.g_a[-1], nn.Conv2d) else None
    if layer is None:  # ELIC ends in an attention block: scale the last strided conv
        layer = [m for m in net.g_a if isinstance(m, nn.Conv2d)][-1]
    layer.weight.mul_(1 / max(rms, 1e-3))
    layer.bias.mul_(1 / max(rms, 1e-3))
    for module in net.modules():
        if type(module).__name__ != "CheckerboardLatentCodec":
            continue
        last = [m for m in module.entropy_parameters if isinstance(m, nn.Conv2d)][-1]
        chunks = module.latent_codec["y"].chunks
        half = last.out_channels // 2
        last.weight.mul_(0.01)
        scales = slice(0, half) if chunks[0] == "scales" else slice(half, None)
        last.bias.zero_()
        last.bias[scales] = 1.0


def build_pair(name: str, x: torch.Tensor, cai: Any) -> tuple[nn.Module, nn.Module]:
    """(tinify model, CompressAI model) with the same calibrated random weights and tables."""
    torch.manual_seed(0)
    reference = getattr(cai, CLASSES[name])().eval()
    calibrate(reference, x)
    reference.update(force=True)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)  # a CompressAI checkpoint
    buffer.seek(0)
    model = model_architectures[name]().eval()
    model.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    return model, reference


def best_of(fn: Callable[[], Any], clock: Callable[[], float], repeat: int) -> tuple[Any, float]:
    """``fn()``'s result and its best time over ``repeat`` calls on ``clock``."""
    best, out = math.inf, None
    for _ in range(repeat):
        start = clock()
        out = fn()
        best = min(best, clock() - start)
    return out, best


@torch.no_grad()
def measure(
    models: dict[str, nn.Module], x: torch.Tensor, clock: Callable[[], float], repeat: int
) -> tuple[dict[str, dict[str, float]], dict[str, Any], dict[str, torch.Tensor]]:
    """Best encode / decode times per library (libraries interleaved), streams and images, and
    each library's ``g_s`` alone (``best["g_s"][lib]``), timed between the decodes."""
    best: dict[str, dict[str, float]] = {
        k: {"encode": math.inf, "decode": math.inf} for k in models
    }
    best["g_s"] = {}
    outs: dict[str, Any] = {}
    x_hats: dict[str, torch.Tensor] = {}
    for _ in range(repeat):
        for lib, net in models.items():
            outs[lib], seconds = best_of(lambda net=net: net.compress(x), clock, 1)
            best[lib]["encode"] = min(best[lib]["encode"], seconds)
            out = outs[lib]
            dec, seconds = best_of(
                lambda net=net, out=out: net.decompress(out["strings"], out["shape"]), clock, 1
            )
            x_hats[lib] = dec["x_hat"]
            best[lib]["decode"] = min(best[lib]["decode"], seconds)
        # Each library's g_s alone, on the layout its decoder gives it (tinify: channels-last
        # on the CPU; CompressAI: NCHW).
        y_hat = outs["tinify"]["y_hat"]
        for lib, layout in (("tinify", torch.channels_last), (CAI, torch.contiguous_format)):
            y = y_hat.contiguous(memory_format=layout)
            _, seconds = best_of(lambda f=models[lib].g_s, y=y: f(y).clamp_(0, 1), clock, 1)
            best["g_s"][lib] = min(best["g_s"].get(lib, math.inf), seconds)
    return best, outs, x_hats


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=MODELS, help="comma-separated")
    parser.add_argument("--threads", type=int, default=2, help="torch and tinify threads")
    parser.add_argument("--repeat", type=int, default=2, help="timed calls")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="process CPU time instead of wall time (steadier on a shared machine; use with "
        "--threads 1)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cai = optional("compressai.models")
    if cai is None:
        sys.exit("bench_checkerboard: compressai is not installed (pip install compressai==1.2.8)")
    x = load_image(IMAGE)
    if x is None:
        print(f"bench_checkerboard: {IMAGE} not found, skipping")
        return
    set_threads(args.threads)
    height, width = x.shape[-2:]
    clock = time.process_time if args.cpu_time else time.perf_counter
    what = "CPU time" if args.cpu_time else "wall time"
    print(
        f"## Checkerboard / ELIC, {IMAGE.name} ({width}x{height}), {args.threads} threads, {what}\n"
    )
    print(
        "| model | bpp | encode tinify ms | encode CompressAI ms | encode speed-up "
        "| decode tinify ms | decode CompressAI ms | decode speed-up | bitstream |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    synthesis = []
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        model, reference = build_pair(name, x, cai)
        best, outs, x_hats = measure({"tinify": model, CAI: reference}, x, clock, args.repeat)
        same = outs["tinify"]["strings"] == outs[CAI]["strings"]
        diff = float((x_hats["tinify"] - x_hats[CAI]).abs().max())
        assert same and diff <= 1e-4, f"{name}: streams differ or images differ by {diff}"
        bpp = stream_bytes(outs["tinify"]) * 8 / (height * width)
        print(
            f"| {name} | {bpp:.3f} {cells(best, 'encode')}{cells(best, 'decode')}"
            f"| identical (images: max diff {diff:.1e}) |",
            flush=True,
        )
        synthesis.append((name, best))
    print(
        "\n| model | library | decode ms | its g_s alone ms | g_s share | latent decode "
        "(decode - g_s) ms |\n|---|---|---|---|---|---|"
    )
    for name, best in synthesis:
        for lib in ("tinify", CAI):
            decode, g_s = best[lib]["decode"], best["g_s"][lib]
            print(
                f"| {name} | {lib} | {decode * 1e3:.0f} | {g_s * 1e3:.0f} | {g_s / decode:.0%} "
                f"| {(decode - g_s) * 1e3:.0f} |"
            )


if __name__ == "__main__":
    main()
