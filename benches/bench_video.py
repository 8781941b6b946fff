"""ScaleSpaceFlow (ssf2020) on a 16-frame 640x360 clip and at 1080p: encode and decode fps.

tinify against CompressAI 1.2.8's ``ScaleSpaceFlow`` with the same weights (a seeded random
initialisation, ``update(force=True)``; tinify loads CompressAI's state dict, tables included),
on the CPU, after a one-frame warm-up: ``--repeat`` rounds, each timing every library once in
turn (alternating, so load changes hit all of them), and the best encode and decode time of
each. Both get the same frames: CompressAI is given them padded to 384x640 (its ``compress``
needs multiples of 128) and its output is cropped back, tinify pads and crops itself. The
I-frame streams are checked to be identical.

The 1080p rows code ``--hd-frames`` frames (default 3; 0 skips them) of the clip upscaled
bilinearly to 1920x1080 in the benchmark (nothing is written to disk), each library in a child
process of its own, so that its peak resident memory (``ru_maxrss``: weights, the Python runtime
and every frame held) is measured alone.

Both tables code with ``entropy_path="float"`` (coding mode 0, CompressAI's streams);
``--coding fixed`` times tinify's mode 1 instead, ``--coding float fixed`` both (one row each,
"tinify mode 0" and "tinify mode 1"; the I-frame streams are checked against CompressAI's in
mode 0 only).

``--frames-sweep 50,300`` measures instead that streaming memory does not grow with the clip's
length: for each count, a Y4M clip of that many frames (the DAVIS clip resized to
``--sweep-size``, default 320x192, and looped back and forth) is coded by ``tinify encode`` and
decoded by ``tinify decode`` (the command line, ``--coding`` as for the tables), each in a child
process whose own peak resident memory (``os.wait4``'s ``ru_maxrss``) is reported; the weights
are the same seeded random ``ScaleSpaceFlow``, saved to a temporary folder with the clips.

Run: ``python benches/bench_video.py [--clip davis_dog] [--frames 16] [--hd-frames 3]
[--threads 2] [--coding float|fixed ...] [--repeat 3]`` (compressai is optional), or
``python benches/bench_video.py --frames-sweep 50,300 [--sweep-size 320x192]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from _common import optional, set_threads
from tinify.io.video import Y4MWriter, read_png_frames
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
    """One timed encode and decode of ``frames`` by tinify on entropy path ``path``."""
    out, t_enc = timed(lambda: model.compress(frames, entropy_path=path))
    decoded, t_dec = timed(lambda: model.decompress(*out, x_size=out.x_size, entropy_path=path))
    assert decoded[0].shape == frames[0].shape
    return {"enc": t_enc, "dec": t_dec, "bytes": stream_bytes(out.strings), "key": out.strings[0]}


def run_compressai(net: Any, frames: list[torch.Tensor]) -> dict[str, Any]:
    """One timed encode and decode of ``frames`` by CompressAI (padded to 128, cropped back)."""

    def encode() -> tuple[Any, Any, tuple[int, int, int, int]]:
        padded = [pad_to_multiple(x, 128) for x in frames]
        strings, shapes = net.compress([p for p, _ in padded])
        return strings, shapes, padded[0][1]

    def decode() -> list[torch.Tensor]:
        return [crop(x, unpad) for x in net.decompress(strings, shapes)]

    with torch.no_grad():
        (strings, shapes, unpad), t_enc = timed(encode)
        decoded, t_dec = timed(decode)
    assert decoded[0].shape == frames[0].shape
    return {"enc": t_enc, "dec": t_dec, "bytes": stream_bytes(strings), "key": strings[0]}


def tinify_label(path: str, codings: list[str]) -> str:
    """tinify's row: "tinify" alone, "tinify mode 0/1" when several codings are timed."""
    return "tinify" if len(codings) == 1 else f"tinify mode {int(path == 'fixed')}"


def runners(
    model: ScaleSpaceFlow | None, net: Any, codings: list[str]
) -> dict[str, Callable[[list[torch.Tensor]], dict[str, Any]]]:
    """The libraries to time, by table label: tinify once per coding, then CompressAI."""
    found: dict[str, Callable[[list[torch.Tensor]], dict[str, Any]]] = {}
    if model is not None:
        for path in codings:
            found[tinify_label(path, codings)] = functools.partial(run_tinify, model, path=path)
    if net is not None:
        found["CompressAI 1.2.8"] = functools.partial(run_compressai, net)
    return found


def best_of(
    libraries: dict[str, Callable[[list[torch.Tensor]], dict[str, Any]]],
    frames: list[torch.Tensor],
    repeat: int,
) -> dict[str, Any]:
    """Warm each library up on one frame, then time them in turn ``repeat`` times; the best
    encode and decode time of each (the bytes and I-frame strings of its last run)."""
    for run in libraries.values():
        run(frames[:1])
    results: dict[str, Any] = {}
    for _ in range(repeat):
        for name, run in libraries.items():
            r = run(frames)
            if name in results:
                r["enc"] = min(r["enc"], results[name]["enc"])
                r["dec"] = min(r["dec"], results[name]["dec"])
            results[name] = r
    return results


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
        libraries = runners(model, None, args.coding)
    else:
        if net is None:
            print(json.dumps(None))
            return
        del model
        libraries = runners(None, net, [])
    (result,) = best_of(libraries, frames, args.repeat).values()
    result.pop("key")
    result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def hd_rows(args: argparse.Namespace) -> dict[str, Any]:
    """The 1080p rows: one child process per library (and per tinify coding)."""
    results = {}
    children = [(path, "tinify", label) for path, label in zip(args.coding, args.labels)]
    children.append((args.coding[0], "compressai", "CompressAI 1.2.8"))
    for path, name, label in children:
        command = [sys.executable, __file__, "--child", name, "--clip", args.clip]
        command += ["--hd-frames", str(args.hd_frames), "--threads", str(args.threads)]
        command += ["--data", str(args.data), "--coding", path, "--repeat", str(args.repeat)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        found = json.loads(out.strip().splitlines()[-1])
        if found is not None:
            results[label] = found
    return results


def looped_clip(path: Path, frames: list[torch.Tensor], count: int, size: tuple[int, int]) -> None:
    """Write ``count`` frames to the Y4M file ``path``: ``frames`` resized to ``size`` (H, W)
    and played forwards, backwards, forwards... (so consecutive frames stay neighbours)."""
    resized = upscaled(frames, *size)
    cycle = resized + resized[-2:0:-1] if len(resized) > 1 else resized
    with path.open("wb") as f:
        writer = Y4MWriter(f, fps=(25, 1))
        for i in range(count):
            writer.write(cycle[i % len(cycle)])
        writer.close()


#: Runs the command in its arguments and prints its exit status and peak RSS (KiB). A child
#: starts with its parent's peak RSS as its own (Linux keeps ``ru_maxrss`` across fork and
#: exec), so the command is started from this small process, not from the benchmark's.
LAUNCHER = (
    "import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); "
    "_, status, usage = os.wait4(p.pid, 0); "
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)"
)


def child_run(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its wall time (s) and its own peak resident memory (MiB)."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    status, peak_kib = (int(v) for v in done.stdout.split())
    if status:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return seconds, peak_kib / 1024


def frames_sweep(args: argparse.Namespace) -> None:
    """Peak memory of ``tinify encode`` / ``tinify decode`` for clips of each length."""
    counts = [int(n) for n in args.frames_sweep.split(",")]
    width, height = (int(v) for v in args.sweep_size.lower().split("x"))
    source = read_png_frames(args.data / args.clip)
    cli = [sys.executable, "-m", "tinify.codec.cli"]
    print(f"## Streaming memory: {args.clip} resized to {width}x{height} and looped, tinify")
    print(f"encode/decode in child processes, {args.threads} threads, coding {args.coding[0]}\n")
    print("| frames | encode s | encode peak MiB | decode s | decode peak MiB | .tfy bytes |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = folder / "ssf.pth"
        torch.manual_seed(0)
        model = ScaleSpaceFlow()
        model.update(force=True)
        torch.save(model.state_dict(), checkpoint)
        del model
        for count in counts:
            clip, coded, out = (folder / f"{count}.{ext}" for ext in ("y4m", "tfy", "out.y4m"))
            looped_clip(clip, source, count, (height, width))
            common = ["--checkpoint", str(checkpoint), "--quiet", "--max-frames", str(count)]
            encode = [*cli, "encode", str(clip), "-o", str(coded), "--coding", args.coding[0]]
            t_enc, m_enc = child_run([*encode, *common])
            t_dec, m_dec = child_run([*cli, "decode", str(coded), "-o", str(out), *common])
            size = coded.stat().st_size
            print(f"| {count} | {t_enc:.1f} | {m_enc:.0f} | {t_dec:.1f} | {m_dec:.0f} | {size} |")
            for path in (clip, coded, out):
                path.unlink()


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
    parser.add_argument("--coding", choices=("float", "fixed"), nargs="+", default=["float"])
    parser.add_argument("--repeat", type=int, default=1, help="alternating rounds; best of")
    parser.add_argument("--frames-sweep", metavar="N,M", help="peak memory of clips of N, M frames")
    parser.add_argument("--sweep-size", default="320x192", metavar="WxH")
    parser.add_argument("--child", choices=("tinify", "compressai"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.coding = list(dict.fromkeys(args.coding))
    args.labels = [tinify_label(path, args.coding) for path in args.coding]

    set_threads(args.threads)
    if args.child:
        child(args)
        return
    if args.frames_sweep:
        frames_sweep(args)
        return
    frames = read_png_frames(args.data / args.clip, count=args.frames)
    n = len(frames)
    h, w = frames[0].shape[-2:]
    model, net = build_models()

    results = best_of(runners(model, net, args.coding), frames, args.repeat)
    if net is not None and "float" in args.coding:
        label = args.labels[args.coding.index("float")]
        assert results[label]["key"] == results["CompressAI 1.2.8"]["key"], "I-frames differ"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    coded = f"{-(-w // 128) * 128}x{-(-h // 128) * 128}"
    print(f"## ssf2020, {args.clip}: {n} frames of {w}x{h} (coded at {coded}), CPU,")
    print(
        f"{args.threads} threads, random-init weights, tinify coding {' and '.join(args.coding)},"
    )
    print(f"best of {args.repeat} alternating runs; load average {load}\n")
    table(results, n)
    if args.hd_frames > 0:
        hd = hd_rows(args)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\n## 1080p: {args.hd_frames} frames of {args.clip} upscaled to 1920x1080 (coded at")
        print(f"1920x1152), one child process per library; load average {load}\n")
        table(hd, args.hd_frames, memory=True)


if __name__ == "__main__":
    main()
