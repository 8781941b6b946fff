"""Checkerboard and ELIC models: encode and decode of a Kodak image, tinify vs CompressAI 1.2.8.

``cheng2020-anchor-checkerboard`` (N=192) and ``elic2022-official`` (N=192, M=320) are built in
CompressAI with random weights, given plausible latent statistics (``y`` of RMS about 1,
predicted scales about 1 and means about 0, see :func:`calibrate`), ``update()``-d, saved and
loaded into tinify's model with ``strict=True``. Both libraries then code ``kodim01.png``
(768x512) with ``compress`` / ``decompress`` under ``torch.no_grad()``, interleaved; the best
of the timed calls is reported, with the check that the streams are byte-identical and the
images agree. A second table puts tinify's decode beside its own ``g_s`` (the synthesis alone).

Run: ``python benches/bench_checkerboard.py [--models cheng2020-anchor-checkerboard,
elic2022-official] [--threads 2] [--repeat 2]``. Needs compressai; skips without the image.
"""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

import torch
from torch import nn

from _common import best_time, optional, set_threads
from bench_models import CAI, IMAGE, cells, compare, load_image, stream_bytes
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=MODELS, help="comma-separated")
    parser.add_argument("--threads", type=int, default=2, help="torch and tinify threads")
    parser.add_argument("--repeat", type=int, default=2, help="timed calls")
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
    print(f"## Checkerboard / ELIC, {IMAGE.name} ({width}x{height}), {args.threads} threads\n")
    print(
        "| model | bpp | encode tinify ms | encode CompressAI ms | encode speed-up "
        "| decode tinify ms | decode CompressAI ms | decode speed-up | bitstream |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    synthesis = []
    for name in [n.strip() for n in args.models.split(",") if n.strip()]:
        model, reference = build_pair(name, x, cai)
        best, outs, x_hats = compare({"tinify": model, CAI: reference}, x, args.repeat)
        same = outs["tinify"]["strings"] == outs[CAI]["strings"]
        diff = float((x_hats["tinify"] - x_hats[CAI]).abs().max())
        assert same and diff <= 1e-4, f"{name}: streams differ or images differ by {diff}"
        bpp = stream_bytes(outs["tinify"]) * 8 / (height * width)
        print(
            f"| {name} | {bpp:.3f} {cells(best, 'encode')}{cells(best, 'decode')}"
            f"| identical (images: max diff {diff:.1e}) |",
            flush=True,
        )
        with torch.no_grad():
            # The layout tinify's decoder gives g_s on the CPU (channels-last).
            y_hat = outs["tinify"]["y_hat"].contiguous(memory_format=torch.channels_last)
            g_s = best_time(lambda f=model.g_s, y=y_hat: f(y).clamp_(0, 1), args.repeat)
        synthesis.append((name, best["tinify"]["decode"], g_s))
    print("\n| model | tinify decode ms | its g_s alone ms | g_s share |\n|---|---|---|---|")
    for name, decode, g_s in synthesis:
        print(f"| {name} | {decode * 1e3:.0f} | {g_s * 1e3:.0f} | {g_s / decode:.0%} |")


if __name__ == "__main__":
    main()
