"""ScaleSpaceFlow (ssf2020) on a 16-frame 640x360 clip: encode and decode frames per second.

tinify against CompressAI 1.2.8's ``ScaleSpaceFlow`` with the same weights (a seeded random
initialisation, ``update(force=True)``; tinify loads CompressAI's state dict, tables included),
on the CPU, one timed run each after a one-frame warm-up. Both get the same frames: CompressAI
is given them padded to 384x640 (its ``compress`` needs multiples of 128) and its output is
cropped back, tinify pads and crops itself. The I-frame streams are checked to be identical.

Run: ``python benches/bench_video.py [--clip davis_dog] [--frames 16] [--threads 2]``
(compressai is optional).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from _common import optional, set_threads
from tinify.io.video import read_png_frames
from tinify.models.video import ScaleSpaceFlow
from tinify.ops import crop, pad_to_multiple

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "video"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def stream_bytes(strings: list[Any]) -> int:
    total = 0
    for frame in strings:
        groups = frame.values() if isinstance(frame, dict) else [frame]
        total += sum(len(s) for group in groups for latent in group for s in latent)
    return total


def run_tinify(model: ScaleSpaceFlow, frames: list[torch.Tensor]) -> dict[str, Any]:
    model.compress(frames[:1])  # warm-up
    out, t_enc = timed(lambda: model.compress(frames))
    decoded, t_dec = timed(lambda: model.decompress(*out, x_size=out.x_size))
    assert decoded[0].shape == frames[0].shape
    return {"enc": t_enc, "dec": t_dec, "bytes": stream_bytes(out.strings), "key": out.strings[0]}


def run_compressai(net: Any, frames: list[torch.Tensor]) -> dict[str, Any]:
    def encode() -> tuple[Any, Any, tuple[int, int, int, int]]:
        padded = [pad_to_multiple(x, 128) for x in frames]
        strings, shapes = net.compress([p for p, _ in padded])
        return strings, shapes, padded[0][1]

    def decode() -> list[torch.Tensor]:
        return [crop(x, unpad) for x in net.decompress(strings, shapes)]

    with torch.no_grad():
        net.compress([pad_to_multiple(frames[0], 128)[0]])  # warm-up
        (strings, shapes, unpad), t_enc = timed(encode)
        decoded, t_dec = timed(decode)
    assert decoded[0].shape == frames[0].shape
    return {"enc": t_enc, "dec": t_dec, "bytes": stream_bytes(strings), "key": strings[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--clip", default="davis_dog")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()

    set_threads(args.threads)
    frames = read_png_frames(args.data / args.clip, count=args.frames)
    n = len(frames)
    h, w = frames[0].shape[-2:]
    video = optional("compressai.models.video")

    torch.manual_seed(0)
    if video is not None:
        net = video.ScaleSpaceFlow()
        net.update(force=True)
        net.eval()
        state = net.state_dict()
    else:
        net, state = None, None
    model = ScaleSpaceFlow()
    if state is not None:
        model.load_state_dict(state, strict=True)
    else:
        model.update(force=True)
    model.eval()

    results = {"tinify": run_tinify(model, frames)}
    if net is not None:
        results["CompressAI 1.2.8"] = run_compressai(net, frames)
        same = results["tinify"]["key"] == results["CompressAI 1.2.8"]["key"]
        assert same, "I-frame streams differ"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    coded = f"{-(-w // 128) * 128}x{-(-h // 128) * 128}"
    print(f"## ssf2020, {args.clip}: {n} frames of {w}x{h} (coded at {coded}), CPU,")
    print(f"{args.threads} threads, random-init weights; load average {load}\n")
    print(
        "| library | encode s | encode fps | decode s | decode fps | bytes | speed-up enc / dec |"
    )
    print("|---|---|---|---|---|---|---|")
    ref = results.get("CompressAI 1.2.8")
    for name, r in results.items():
        ratio = f"{ref['enc'] / r['enc']:.2f}x / {ref['dec'] / r['dec']:.2f}x" if ref else "-"
        print(
            f"| {name} | {r['enc']:.2f} | {n / r['enc']:.2f} | {r['dec']:.2f} | "
            f"{n / r['dec']:.2f} | {r['bytes']} | {ratio} |"
        )


if __name__ == "__main__":
    main()
