"""Float vs fixed-point entropy path (issue 9): rate cost on Kodak and coding times.

``--rate``: the shipped default model (``tinify.codec.loading.load_default_model``, the only
trained weights available offline) codes every Kodak image (or the first ``--images``) with
``entropy_path="float"`` and ``"fixed"`` (the keyword option of ``compress`` /
``decompress``); the table gives the bytes of both and the relative difference. Each stream
is decoded back and checked against the encoder's latent.

``--timing``: best-of-``--repeat`` compress and decompress times of ``kodim01.png`` for the
shipped model and for a random-weight ``mbt2018`` (quality-3 size, N=M=192), both paths, on
``--threads`` threads.

Run: ``python benches/bench_fixed_path.py --rate [--images 24]`` or
``python benches/bench_fixed_path.py --timing [--threads 1] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", action="store_true")
    parser.add_argument("--timing", action="store_true")
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


if __name__ == "__main__":
    main()
