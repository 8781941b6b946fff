"""Float vs fixed-point entropy path (issue 9): rate cost on Kodak and coding times.

``--rate``: the shipped default model (``tinify.codec.loading.load_default_model``, the only
trained weights available offline) codes every Kodak image (or the first ``--images``) with
``entropy_path="float"`` and ``"fixed"`` (the keyword option of ``compress`` /
``decompress``); the table gives the bytes of both and the relative difference. Each stream
is decoded back and checked against the encoder's latent.

``--timing``: best-of-``--repeat`` compress and decompress times of ``kodim01.png`` for the
shipped model and for a random-weight ``mbt2018`` (quality-3 size, N=M=192), both paths, on
``--threads`` threads.

``--ratio``: per model (random weights at its highest quality), the total compress plus
decompress time of the float and the fixed path, measured alternately (float, fixed, float,
...) and kept best of ``--repeat``, and their ratio (issue 14's goal: fixed/float <= 1.25), in
wall time and in process CPU time (steadier on a shared machine, best with ``--threads 1``).
``--size kodak`` codes ``kodim01.png`` (768x512); ``--size 12mp`` a 4032x3024 image tiled from
Kodak images (built in memory, never written). ``--models`` picks a comma-separated subset.

Run: ``python benches/bench_fixed_path.py --rate [--images 24]``,
``python benches/bench_fixed_path.py --timing [--threads 1] [--repeat 3]`` or
``python benches/bench_fixed_path.py --ratio [--size kodak|12mp] [--models a,b] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, set_threads  # noqa: E402
from tinify.codec.loading import load_default_model  # noqa: E402
from tinify.io.image import image_to_tensor, read_image  # noqa: E402
from tinify.models import CompressionModel  # noqa: E402

KODAK = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "kodak"


def _bytes(out: dict[str, Any]) -> int:
    return sum(len(s[0]) for s in out["strings"])


def rate(images: int) -> None:
    model = load_default_model().model
    paths = sorted(KODAK.glob("kodim*.png"))[:images]
    total = {"float": 0, "fixed": 0}
    print("| image | pixels | float bytes | fixed bytes | fixed/float - 1 |")
    print("|---|---:|---:|---:|---:|")
    for path in paths:
        x = image_to_tensor(read_image(path))
        sizes = {}
        for mode in ("float", "fixed"):
            with torch.no_grad():
                out = model.compress(x, entropy_path=mode)
                x_hat = model.decompress(**out, entropy_path=mode)["x_hat"]
            assert x_hat.shape == x.shape
            sizes[mode] = _bytes(out)
            total[mode] += sizes[mode]
        pixels = x.shape[-1] * x.shape[-2]
        delta = sizes["fixed"] / sizes["float"] - 1
        print(
            f"| {path.stem} | {pixels} | {sizes['float']} | {sizes['fixed']} | {delta:+.4%} |",
            flush=True,
        )
    delta = total["fixed"] / total["float"] - 1
    print(f"| **all {len(paths)}** | | {total['float']} | {total['fixed']} | {delta:+.4%} |")


def timing(threads: int, repeat: int) -> None:
    from tinify.zoo import create_model

    set_threads(threads)
    x = image_to_tensor(read_image(KODAK / "kodim01.png"))
    torch.manual_seed(0)
    mbt: CompressionModel = create_model("mbt2018", 3).eval()
    mbt.update(force=True)
    models = {"bmshj2018-hyperprior (shipped)": load_default_model().model, "mbt2018 q3": mbt}
    print(f"kodim01 768x512, {threads} thread(s), best of {repeat}")
    print("| model | path | compress s | decompress s |")
    print("|---|---|---:|---:|")
    for name, model in models.items():
        for mode in ("float", "fixed"):
            with torch.no_grad():
                out = model.compress(x, entropy_path=mode)
                enc = best_time(lambda m=model, p=mode: m.compress(x, entropy_path=p), repeat)
                dec = best_time(
                    lambda m=model, o=out, p=mode: m.decompress(**o, entropy_path=p), repeat
                )
            print(f"| {name} | {mode} | {enc:.3f} | {dec:.3f} |", flush=True)


#: The zoo models whose coding mode 1 runs the fixed-point path (``--ratio``).
RATIO_MODELS = (
    "bmshj2018-hyperprior",
    "mbt2018-mean",
    "mbt2018",
    "cheng2020-anchor",
    "cheng2020-attn",
    "cheng2020-anchor-checkerboard",
    "elic2022-official",
    "elic2022-chandelier",
)


def tiled_image(width: int, height: int) -> torch.Tensor:
    """A (1, 3, height, width) image tiled from the Kodak images (in memory only)."""
    paths = sorted(KODAK.glob("kodim*.png"))
    out = torch.empty(1, 3, height, width)
    tiles = [image_to_tensor(read_image(p)) for p in paths]
    tiles = [t.transpose(-1, -2) if t.shape[-2] > t.shape[-1] else t for t in tiles]
    i = 0
    for y in range(0, height, 512):
        for x in range(0, width, 768):
            t = tiles[i % len(tiles)][..., :512, :768]
            i += 1
            h, w = min(512, height - y), min(768, width - x)
            out[..., y : y + h, x : x + w] = t[..., :h, :w]
    return out


def _round_trip(model: CompressionModel, x: torch.Tensor, path: str) -> tuple[float, float]:
    """(wall, process CPU) seconds of one compress plus decompress."""
    start, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        out = model.compress(x, entropy_path=path)
        model.decompress(**out, entropy_path=path)
    return time.perf_counter() - start, time.process_time() - cpu


def _model(name: str) -> CompressionModel:
    """Random weights at the highest zoo quality (the registry's defaults outside the zoo)."""
    from tinify.registry import MODELS
    from tinify.zoo import create_model, list_models

    if name in list_models():
        return create_model(name, 6 if name.startswith("cheng2020") else 8)
    return MODELS[name]()


def ratio(models: list[str], size: str, threads: int, repeat: int) -> None:
    set_threads(threads)
    if size == "12mp":
        x = tiled_image(4032, 3024)
    else:
        x = image_to_tensor(read_image(KODAK / "kodim01.png"))
    label = f"{x.shape[-1]}x{x.shape[-2]}"
    print(f"{label}, {threads} thread(s), random weights, best of {repeat} (alternating)")
    print(
        "| model | float enc+dec s | fixed enc+dec s | fixed/float (wall) "
        "| float CPU s | fixed CPU s | fixed/float (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in models:
        torch.manual_seed(0)
        model = _model(name).eval()
        model.update(force=True)
        inf = float("inf")
        wall, cpu = {"float": inf, "fixed": inf}, {"float": inf, "fixed": inf}
        for _ in range(repeat):
            for path in wall:
                w, c = _round_trip(model, x, path)
                wall[path], cpu[path] = min(wall[path], w), min(cpu[path], c)
        print(
            f"| {name} | {wall['float']:.2f} | {wall['fixed']:.2f} | "
            f"{wall['fixed'] / wall['float']:.2f}x | {cpu['float']:.2f} | {cpu['fixed']:.2f} | "
            f"{cpu['fixed'] / cpu['float']:.2f}x |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", action="store_true")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--ratio", action="store_true")
    parser.add_argument("--size", choices=("kodak", "12mp"), default="kodak")
    parser.add_argument("--models", default=",".join(RATIO_MODELS))
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not KODAK.is_dir():
        print(f"Kodak images not found at {KODAK}; skipping")
        return
    if args.rate:
        rate(args.images)
    if args.timing:
        timing(args.threads, args.repeat)
    if args.ratio:
        ratio(args.models.split(","), args.size, args.threads, args.repeat)


if __name__ == "__main__":
    main()
