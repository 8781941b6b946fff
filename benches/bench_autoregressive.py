"""Autoregressive models: encode and decode of a Kodak image, tinify vs CompressAI 1.2.8.

mbt2018 (qualities 3 and 8), cheng2020_anchor and cheng2020_attn (quality 3), with the same
calibrated random weights in both libraries (see ``bench_models.py``), on ``kodim01.png``.
CompressAI decodes the 32x48 latent one position at a time (1,536 steps); tinify by wavefronts
(141 steps, ``tinify.models.image.wavefront``). A second table splits tinify's decode into its
stages (z decode + ``h_s``, the wavefront loop, ``g_s``) and gives CompressAI's loop by
difference (its decode minus its own z decode + ``h_s`` and ``g_s``, timed alone), and tinify's
whole decode on the float path (coding mode 0) and on the fixed-point path (mode 1) over its own
``g_s`` (issue 14's goal: at most 1.1x and 1.25x).

Run: ``python benches/bench_autoregressive.py [--configs mbt2018:3,cheng2020_attn:3]
[--threads 2] [--repeat 1] [--stage-repeat 3]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from _common import best_time, optional, set_threads
from bench_models import (
    CAI,
    IMAGE,
    build_pair,
    cells,
    check,
    compare,
    load_image,
    stream_bytes,
)
from tinify.models.image.wavefront import decompress_latent

CONFIGS = "mbt2018:3,mbt2018:8,cheng2020_anchor:3,cheng2020_attn:3"


@torch.no_grad()
def tinify_stages(model: nn.Module, out: dict[str, Any], repeat: int) -> dict[str, float]:
    """Seconds of each stage of tinify's decode (best of ``repeat``, after a warm-up)."""
    strings, shape = out["strings"], out["shape"]
    z_hat = model.entropy_bottleneck.decompress(strings[1], shape)
    params = model.h_s(z_hat)
    parts = (model.context_prediction, model.entropy_parameters, model.gaussian_conditional)
    order = model.context_order
    y_hat = decompress_latent(strings[0], params, *parts, order)

    def hyper() -> torch.Tensor:
        return model.h_s(model.entropy_bottleneck.decompress(strings[1], shape))

    return {
        "hyper": best_time(hyper, repeat),
        "loop": best_time(lambda: decompress_latent(strings[0], params, *parts, order), repeat),
        "g_s": best_time(lambda: model._synthesize(y_hat), repeat),
    }


@torch.no_grad()
def compressai_stages(reference: nn.Module, out: dict[str, Any], repeat: int) -> dict[str, float]:
    """Seconds of CompressAI's z decode + ``h_s`` and of its ``g_s`` (NCHW), timed alone."""
    strings, shape = out["strings"], out["shape"]
    y_hat = torch.zeros(1, reference.M, 4 * shape[0], 4 * shape[1])  # g_s's cost: size only

    def hyper() -> torch.Tensor:
        return reference.h_s(reference.entropy_bottleneck.decompress(strings[1], shape))

    return {
        "hyper": best_time(hyper, repeat),
        "g_s": best_time(lambda: reference.g_s(y_hat).clamp_(0, 1), repeat),
    }


@torch.no_grad()
def fixed_decode(model: nn.Module, x: torch.Tensor, repeat: int) -> float:
    """Seconds of tinify's whole decode on the fixed-point path (coding mode 1), best of
    ``repeat`` after a warm-up."""
    out = model.compress(x, entropy_path="fixed")
    return best_time(
        lambda: model.decompress(out["strings"], out["shape"], entropy_path="fixed"), repeat
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default=CONFIGS, help="model:quality,...")
    parser.add_argument("--threads", type=int, default=2, help="torch and tinify threads")
    parser.add_argument("--repeat", type=int, default=1, help="timed encode/decode calls")
    parser.add_argument("--stage-repeat", type=int, default=3, help="timed calls per stage")
    parser.add_argument("--image", type=Path, default=IMAGE)
    args = parser.parse_args()
    cai = optional("compressai.zoo")
    if cai is None:
        sys.exit(
            "bench_autoregressive: compressai is not installed (pip install compressai==1.2.8)"
        )
    x = load_image(args.image)
    if x is None:
        print(f"bench_autoregressive: {args.image} not found, skipping")
        return
    set_threads(args.threads)
    height, width = x.shape[-2:]
    rows, stages = [], []
    for config in args.configs.split(","):
        name, quality = config.strip().split(":")
        model, reference = build_pair(name, int(quality), x)
        best, outs, x_hats = compare({"tinify": model, CAI: reference}, x, args.repeat)
        check(name, outs, x_hats)
        bpp = stream_bytes(outs["tinify"]) * 8 / (height * width)
        cai_bpp = stream_bytes(outs[CAI]) * 8 / (height * width)
        rows.append(
            f"| {name} | {quality} | {bpp:.3f} / {cai_bpp:.3f} "
            f"{cells(best, 'encode')}{cells(best, 'decode')}|"
        )
        ts = tinify_stages(model, outs["tinify"], args.stage_repeat)
        cs = compressai_stages(reference, outs[CAI], args.stage_repeat)
        cai_loop = best[CAI]["decode"] - cs["hyper"] - cs["g_s"]
        fixed = fixed_decode(model, x, args.stage_repeat)
        stages.append(
            f"| {name} | {quality} | {ts['hyper'] * 1e3:.0f} | {ts['loop'] * 1e3:.0f} "
            f"| {ts['g_s'] * 1e3:.0f} | {cs['g_s'] * 1e3:.0f} | {cai_loop * 1e3:.0f} "
            f"| {cai_loop / ts['loop']:.1f}x | {best['tinify']['decode'] / ts['g_s']:.2f} "
            f"| {fixed * 1e3:.0f} | {fixed / ts['g_s']:.2f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
    print(f"## Autoregressive models, {args.image.name} ({width}x{height}), {threads}\n")
    print(
        "| model | quality | bpp tinify / CompressAI | encode tinify ms | encode CompressAI ms "
        "| encode speed-up | decode tinify ms | decode CompressAI ms | decode speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n### Where tinify's decode time goes (ms, best of --stage-repeat)\n")
    print(
        "| model | quality | z + h_s | wavefront loop | g_s (channels-last) | CompressAI g_s "
        "| CompressAI loop (by difference) | loop speed-up | float decode / g_s "
        "| fixed decode ms | fixed decode / g_s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(stages))


if __name__ == "__main__":
    main()
