"""Variable-rate models: encode and decode of a Kodak image, tinify vs CompressAI 1.2.8.

mbt2018-mean-vbr (with the variable-step hyper-latent of the pretrained file) and mbt2018-vbr,
full size (N=192, M=320), with the same calibrated random weights in both libraries (see
``bench_models.calibrate``), on ``kodim01.png`` at a few quantization steps. CompressAI decodes
mbt2018-vbr's 32x48 latent one position at a time; tinify by wavefronts. The decode time is also
given against the model's own synthesis transform ``g_s`` (the floor of any decoder), on the
float path and on the fixed-point path (coding mode 1; its hyper-latent is coded at unit step,
so its bpp differs a little for the models with a variable-step hyper-latent).

Run: ``python benches/bench_vbr.py [--models mbt2018-mean-vbr,mbt2018-vbr] [--steps 5.1832,1.9305]
[--threads 2] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from _common import best_time, optional, set_threads
from bench_models import CAI, IMAGE, calibrate, load_image
from tinify.models import JointAutoregressiveHierarchicalPriorsVbr, MeanScaleHyperpriorVbr
from tinify.models.image.vbr import quant_step_to_scale

MODELS = {
    "mbt2018-mean-vbr": (MeanScaleHyperpriorVbr, {"vr_entbttlnck": True}),
    "mbt2018-vbr": (JointAutoregressiveHierarchicalPriorsVbr, {}),
}


def build_pair(name: str, x: torch.Tensor, cai: Any) -> tuple[nn.Module, nn.Module]:
    """(tinify model, CompressAI model): seeded, calibrated, tables built, loaded strictly."""
    cls, kwargs = MODELS[name]
    torch.manual_seed(0)
    reference = getattr(cai.models, cls.__name__)(192, 320, **kwargs).eval()
    calibrate(reference, x)
    reference.update(force=True)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    buffer.seek(0)
    model = cls.from_state_dict(torch.load(buffer, weights_only=True)).eval()
    return model, reference


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@torch.no_grad()
def measure(
    name: str, model: Any, reference: Any, x: torch.Tensor, step: float, repeat: int
) -> dict[str, Any]:
    """Streams, reconstructions and times at ``step``: each call timed once (after a warm-up of
    both models on a 64x64 crop), then ``repeat - 1`` more times keeping the best."""
    scale = quant_step_to_scale(step)
    if getattr(reference, "vr_entbttlnck", False):
        reference.update(force=True, scale=scale)  # CompressAI's z tables for this rate
    crop = x[..., :64, :64]
    model.decompress(**model.compress(crop, inputscale=scale), inputscale=scale)
    warm = reference.compress(crop, s=0, inputscale=scale)
    reference.decompress(warm["strings"], warm["shape"], s=0, inputscale=scale)
    seen: list[torch.Tensor] = []
    hook = model.g_s.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    out, enc = _timed(lambda: model.compress(x, inputscale=scale))
    decoded, dec = _timed(lambda: model.decompress(**out, inputscale=scale))
    hook.remove()
    ref, cai_enc = _timed(lambda: reference.compress(x, s=0, inputscale=scale))
    ref_hat, cai_dec = _timed(
        lambda: reference.decompress(ref["strings"], ref["shape"], s=0, inputscale=scale)
    )
    if repeat > 1:
        enc = min(enc, best_time(lambda: model.compress(x, inputscale=scale), repeat - 1))
        dec = min(dec, best_time(lambda: model.decompress(**out, inputscale=scale), repeat - 1))
    y_hat = seen[-1]
    fixed = model.compress(x, inputscale=scale, entropy_path="fixed")
    fixed_dec = best_time(
        lambda: model.decompress(**fixed, inputscale=scale, entropy_path="fixed"), repeat
    )
    return {
        "fixed_bytes": sum(len(s[0]) for s in fixed["strings"]),
        "fixed_dec": fixed_dec,
        "bytes": sum(len(s[0]) for s in out["strings"]),
        "cai_bytes": sum(len(s[0]) for s in ref["strings"]),
        "same_streams": out["strings"] == ref["strings"],
        "max_diff": float((decoded["x_hat"] - ref_hat["x_hat"]).abs().max()),
        "enc": enc,
        "dec": dec,
        "cai_enc": cai_enc,
        "cai_dec": cai_dec,
        "g_s": best_time(lambda: model._synthesize(y_hat), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="5.1832,1.9305", help="quantization steps")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    cai = optional("compressai")
    x = load_image(IMAGE)
    if cai is None or x is None:
        sys.exit(f"needs compressai and {IMAGE}")
    set_threads(args.threads)
    h, w = x.shape[-2:]
    print(f"kodim01 {w}x{h}, {args.threads} threads, best of {args.repeat} (after a warm-up)\n")
    print(
        f"| model | step | bpp | streams = {CAI}'s | enc tinify / {CAI} (s) | dec tinify / "
        f"{CAI} (s) | dec speed-up | tinify g_s (s) | dec / g_s | fixed bpp | fixed dec (s) "
        "| fixed dec / g_s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        model, reference = build_pair(name, x, cai)
        for step in (float(s) for s in args.steps.split(",")):
            r = measure(name, model, reference, x, step, args.repeat)
            same = "yes" if r["same_streams"] else f"no ({r['cai_bytes']} B; other order)"
            print(
                f"| {name} | {step:g} | {8 * r['bytes'] / (h * w):.3f} | {same} | "
                f"{r['enc']:.2f} / {r['cai_enc']:.2f} | {r['dec']:.2f} / {r['cai_dec']:.2f} | "
                f"{r['cai_dec'] / r['dec']:.1f}x | {r['g_s']:.2f} | {r['dec'] / r['g_s']:.2f} | "
                f"{8 * r['fixed_bytes'] / (h * w):.3f} | {r['fixed_dec']:.2f} | "
                f"{r['fixed_dec'] / r['g_s']:.2f} |",
                flush=True,
            )
            assert r["max_diff"] < 1e-3, r["max_diff"]


if __name__ == "__main__":
    main()
