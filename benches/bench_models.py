"""Image models: encode and decode of a Kodak image, tinify vs CompressAI 1.2.8, same weights.

For every model a CompressAI zoo model is built with random weights, given realistic latent
statistics (see :func:`calibrate`), ``update()``-d, and its state dict, saved and reloaded like a
checkpoint, is loaded into tinify's model with ``strict=True``. Both libraries then code
``kodim01.png`` (768x512, from ``../shared/data/kodak`` beside the repository) with
``compress`` / ``decompress`` under ``torch.no_grad()``, interleaved, and the best of the timed
calls is reported.

Checks: the decoded images agree (the non-autoregressive models give byte-identical streams, so
only float rounding in ``g_s`` differs; the autoregressive ones code the same symbols in
wavefront order, see ``tinify.models.image.wavefront``). Encoding a non-autoregressive model is
``g_a`` (+ ``h_a``, ``h_s``) plus entropy coding, and those transforms must do CompressAI's exact
arithmetic for the bytes to match, so they cost the same in both libraries.

Run: ``python benches/bench_models.py [--models mbt2018,cheng2020_attn] [--quality 3]
[--threads 2] [--repeat 3] [--ar-repeat 1]``. Needs compressai; skips when the image is absent.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from _common import compressai_zoo_model, optional, set_threads
from tinify.zoo import create_model

KODAK = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "kodak"
IMAGE = KODAK / "kodim01.png"
MODELS = (
    "bmshj2018_factorized",
    "bmshj2018_hyperprior",
    "mbt2018_mean",
    "mbt2018",
    "cheng2020_anchor",
    "cheng2020_attn",
)
AUTOREGRESSIVE = {"mbt2018", "cheng2020_anchor", "cheng2020_attn"}
CAI = "CompressAI 1.2.8"


def load_image(path: Path) -> torch.Tensor | None:
    """The RGB image at ``path`` as (1, 3, H, W) floats in [0, 1], or None if it is absent."""
    if not path.is_file():
        return None
    from PIL import Image

    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()


def _last_conv(seq: nn.Sequential) -> nn.Conv2d:
    return [m for m in seq if isinstance(m, nn.Conv2d)][-1]


@torch.no_grad()
def _rescale_output(seq: nn.Sequential, inputs: torch.Tensor, target: torch.Tensor) -> None:
    """Scale the output rows of ``seq``'s last convolution until channel c's RMS is target[c]."""
    conv = _last_conv(seq)
    for _ in range(3):  # exact for a final conv, converges when an attention block follows
        rms = seq(inputs).pow(2).mean(dim=(0, 2, 3)).sqrt().clamp_min(1e-6)
        factor = target / rms
        conv.weight.mul_(factor[:, None, None, None])
        if conv.bias is not None:
            conv.bias.mul_(factor)


@torch.no_grad()
def calibrate(net: nn.Module, x: torch.Tensor) -> None:
    """Give a randomly initialized model the latent statistics of a trained one, in place.

    With random weights ``|y| < 0.3``, so every symbol would be 0 and each stream a few bytes.
    Instead: channel c of ``y`` gets RMS ``s_c``, log-spaced from 0.05 to 3 (many quiet
    channels, a few busy ones, as in trained models); ``z`` gets RMS 1.5; and the layer that
    predicts the Gaussian scales (and means) outputs about ``s_c`` (and 0), so the entropy
    models fit the data.
    """
    m = int(net.M)
    s = torch.logspace(math.log10(0.05), math.log10(3.0), m)
    _rescale_output(net.g_a, x, s)
    y = net.g_a(x)
    if hasattr(net, "h_a"):
        hyper_input = y.abs() if type(net).__name__ == "ScaleHyperprior" else y
        _rescale_output(net.h_a, hyper_input, torch.full((int(net.N),), 1.5))
        head = net.entropy_parameters if hasattr(net, "entropy_parameters") else net.h_s
        conv = _last_conv(head)
        conv.weight.mul_(0.05)  # rows 0..M-1: scales; M..2M-1 (when present): means
        conv.bias.zero_()
        conv.bias[:m] = s
        y = net.h_a(hyper_input)
    _fit_density(net.entropy_bottleneck, y)


def _fit_density(bottleneck: nn.Module, latent: torch.Tensor, steps: int = 150) -> None:
    """A short fit of the factorized density to ``latent`` (an untrained one is far too wide)."""
    flat = latent.detach().flatten(2)  # (N, C, H*W); a subsample of 256 values per channel
    sample = flat[:, :, torch.randperm(flat.size(2), generator=torch.Generator().manual_seed(0))]
    latent = sample[:, :, :256]
    params = [p for n, p in bottleneck.named_parameters() if n != "quantiles"]
    optimizer = torch.optim.Adam(params, lr=0.05)
    bottleneck.train()
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            _, likelihoods = bottleneck(latent)
            (-likelihoods.log2().mean()).backward()
            optimizer.step()
    bottleneck.eval()


def build_pair(name: str, quality: int, x: torch.Tensor) -> tuple[nn.Module, nn.Module]:
    """(tinify model, CompressAI model) with the same calibrated random weights and tables."""
    zoo_name = name.replace("_", "-")
    torch.manual_seed(0)
    reference = compressai_zoo_model(zoo_name, quality).eval()
    calibrate(reference, x)
    reference.update(force=True, update_quantiles=True)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)  # a CompressAI checkpoint
    buffer.seek(0)
    model = create_model(zoo_name, quality).eval()
    model.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    return model, reference


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and its wall time in seconds."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float((a - b).pow(2).mean())
    return 10 * math.log10(1 / mse) if mse > 0 else math.inf


@torch.no_grad()
def compare(
    models: dict[str, nn.Module], x: torch.Tensor, repeat: int
) -> tuple[dict[str, dict[str, float]], dict[str, Any], dict[str, torch.Tensor]]:
    """Best encode and decode seconds per library (calls interleaved), streams, decoded images."""
    best: dict[str, dict[str, float]] = {
        k: {"encode": math.inf, "decode": math.inf} for k in models
    }
    outs: dict[str, Any] = {}
    x_hats: dict[str, torch.Tensor] = {}
    for _ in range(repeat):
        for lib, net in models.items():
            outs[lib], seconds = timed(lambda net=net: net.compress(x))
            best[lib]["encode"] = min(best[lib]["encode"], seconds)
        for lib, net in models.items():
            out = outs[lib]
            dec, seconds = timed(
                lambda net=net, out=out: net.decompress(out["strings"], out["shape"])
            )
            x_hats[lib] = dec["x_hat"]
            best[lib]["decode"] = min(best[lib]["decode"], seconds)
    return best, outs, x_hats


def check(name: str, outs: dict[str, Any], x_hats: dict[str, torch.Tensor]) -> str:
    """Check both libraries decode the same image; return the bitstream verdict."""
    diff = float((x_hats["tinify"] - x_hats[CAI]).abs().max())
    if name in AUTOREGRESSIVE:
        # Same symbols in another order; the encoders' means may differ by float rounding, so
        # a rare latent can round the other way: compare the images, not the bits.
        agreement = psnr(x_hats["tinify"], x_hats[CAI])
        assert agreement >= 50, f"{name}: decoded images differ ({agreement:.1f} dB)"
        return f"wavefront order (images agree: max diff {diff:.1e})"
    assert outs["tinify"]["strings"] == outs[CAI]["strings"], f"{name}: streams differ"
    assert diff <= 1e-4, f"{name}: decoded images differ by {diff}"
    return f"identical (images: max diff {diff:.1e})"


def cells(best: dict[str, dict[str, float]], op: str) -> str:
    """``| tinify ms | CompressAI ms | speed-up x`` for ``op`` ("encode" or "decode")."""
    t, c = best["tinify"][op], best[CAI][op]
    return f"| {t * 1e3:.0f} | {c * 1e3:.0f} | {c / t:.1f}x "


def stream_bytes(out: dict[str, Any]) -> int:
    return sum(len(s) for group in out["strings"] for s in group)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--quality", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and tinify threads")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls, non-AR models")
    parser.add_argument("--ar-repeat", type=int, default=1, help="timed calls, AR models")
    parser.add_argument("--image", type=Path, default=IMAGE)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cai = optional("compressai.zoo")
    if cai is None:
        sys.exit("bench_models: compressai is not installed (pip install compressai==1.2.8)")
    x = load_image(args.image)
    if x is None:
        print(f"bench_models: {args.image} not found, skipping")
        return
    set_threads(args.threads)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    height, width = x.shape[-2:]
    threads = f"{args.threads} thread{'s' if args.threads != 1 else ''}"
    print(f"## Image models, {args.image.name} ({width}x{height}), {threads}\n")
    print(
        "| model | quality | bpp | encode tinify ms | encode CompressAI ms | encode speed-up "
        "| decode tinify ms | decode CompressAI ms | decode speed-up | bitstream |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        model, reference = build_pair(name, args.quality, x)
        repeat = args.ar_repeat if name in AUTOREGRESSIVE else args.repeat
        best, outs, x_hats = compare({"tinify": model, CAI: reference}, x, repeat)
        verdict = check(name, outs, x_hats)
        bpp = stream_bytes(outs["tinify"]) * 8 / (height * width)
        print(
            f"| {name} | {args.quality} | {bpp:.3f} {cells(best, 'encode')}{cells(best, 'decode')}"
            f"| {verdict} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
