"""ScaleSpaceFlow (ssf2020) on a 16-frame 640x360 clip and at 1080p: encode and decode fps.

tinify against CompressAI 1.2.8's ``ScaleSpaceFlow`` with the same weights (a seeded random
initialisation, ``update(force=True)``; tinify loads CompressAI's state dict, tables included),
on the CPU, one timed run each after a one-frame warm-up. Both get the same frames: CompressAI
is given them padded to 384x640 (its ``compress`` needs multiples of 128) and its output is
cropped back, tinify pads and crops itself. The I-frame streams are checked to be identical.

The 1080p rows code ``--hd-frames`` frames (default 3; 0 skips them) of the clip upscaled
bilinearly to 1920x1080 in the benchmark (nothing is written to disk), each library in a child
process of its own, so that its peak resident memory (``ru_maxrss``: weights, the Python runtime
and every frame held) is measured alone.

Both tables code with ``entropy_path="float"`` (coding mode 0, CompressAI's streams);
``--coding fixed`` times tinify's mode 1 instead (the I-frame check is then skipped).

Run: ``python benches/bench_video.py [--clip davis_dog] [--frames 16] [--hd-frames 3]
[--threads 2] [--coding float|fixed]`` (compressai is optional).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

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


def run_tinify(
    model: ScaleSpaceFlow, frames: list[torch.Tensor], path: str = "float"
) -> dict[str, Any]:
    model.compress(frames[:1], entropy_path=path)  # warm-up
    out, t_enc = timed(lambda: model.compress(frames, entropy_path=path))
    decoded, t_dec = timed(lambda: model.decompress(*out, x_size=out.x_size, entropy_path=path))
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


def build_models() -> tuple[ScaleSpaceFlow, Any]:
    """tinify's model and CompressAI's (None when absent), with the same seeded weights."""
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
    return model.eval(), net


def upscaled(frames: list[torch.Tensor], height: int = 1080, width: int = 1920) -> list[Any]:
    """The frames resized (bilinear) to ``height`` x ``width``, in [0, 1]."""
    size = (height, width)
    return [F.interpolate(x, size=size, mode="bilinear").clamp_(0, 1) for x in frames]


def child(args: argparse.Namespace) -> None:
    """One library on the 1080p frames; prints a JSON line with times, bytes and peak RSS."""
    model, net = build_models()
    frames = upscaled(read_png_frames(args.data / args.clip, count=args.hd_frames))
    if args.child == "tinify":
        del net
        result = run_tinify(model, frames, args.coding)
    else:
        if net is None:
            print(json.dumps(None))
            return
        del model
        result = run_compressai(net, frames)
    result.pop("key")
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def hd_rows(args: argparse.Namespace) -> dict[str, Any]:
    results = {}
    for name, label in (("tinify", "tinify"), ("compressai", "CompressAI 1.2.8")):
        command = [sys.executable, __file__, "--child", name, "--clip", args.clip]
        command += ["--hd-frames", str(args.hd_frames), "--threads", str(args.threads)]
        command += ["--data", str(args.data), "--coding", args.coding]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        found = json.loads(out.strip().splitlines()[-1])
        if found is not None:
            results[label] = found
    return results


def table(results: dict[str, Any], n: int, memory: bool = False) -> None:
    extra = " peak MiB |" if memory else ""
    print(
        "| library | encode s | encode fps | decode s | decode fps | bytes | speed-up enc / dec |"
        + extra
    )
    print("|---|---|---|---|---|---|---|" + ("---|" if memory else ""))
    ref = results.get("CompressAI 1.2.8")
    for name, r in results.items():
        ratio = f"{ref['enc'] / r['enc']:.2f}x / {ref['dec'] / r['dec']:.2f}x" if ref else "-"
        peak = f" {r['peak_mib']:.0f} |" if memory else ""
        print(
            f"| {name} | {r['enc']:.2f} | {n / r['enc']:.2f} | {r['dec']:.2f} | "
            f"{n / r['dec']:.2f} | {r['bytes']} | {ratio} |" + peak
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--clip", default="davis_dog")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--hd-frames", type=int, default=3, help="1080p frames (0: skip)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--coding", choices=("float", "fixed"), default="float")
    parser.add_argument("--child", choices=("tinify", "compressai"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    set_threads(args.threads)
    if args.child:
        child(args)
        return
    frames = read_png_frames(args.data / args.clip, count=args.frames)
    n = len(frames)
    h, w = frames[0].shape[-2:]
    model, net = build_models()

    results = {"tinify": run_tinify(model, frames, args.coding)}
    if net is not None:
        results["CompressAI 1.2.8"] = run_compressai(net, frames)
        same = results["tinify"]["key"] == results["CompressAI 1.2.8"]["key"]
        assert same or args.coding == "fixed", "I-frame streams differ"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    coded = f"{-(-w // 128) * 128}x{-(-h // 128) * 128}"
    print(f"## ssf2020, {args.clip}: {n} frames of {w}x{h} (coded at {coded}), CPU,")
    print(f"{args.threads} threads, random-init weights, tinify coding {args.coding}; load ")
    print(f"average {load}\n")
    table(results, n)
    if args.hd_frames > 0:
        hd = hd_rows(args)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\n## 1080p: {args.hd_frames} frames of {args.clip} upscaled to 1920x1080 (coded at")
        print(f"1920x1152), one child process per library; load average {load}\n")
        table(hd, args.hd_frames, memory=True)


if __name__ == "__main__":
    main()
