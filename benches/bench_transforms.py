"""Where the time goes: compress + decompress at photo size, CompressAI 1.2.8 vs tinify.

For each zoo model (random weights at its highest quality, calibrated as in
``bench_models.calibrate`` on a 256x256 crop, loaded into both libraries from one state dict), an
image of ``--size`` (default 2048x1536, 3 MP, tiled from the Kodak images in
``../shared/data/kodak``; nothing is written to disk) is coded with ``compress`` +
``decompress`` by:

- ``CompressAI``: CompressAI 1.2.8;
- ``mode0``: tinify's float path (``entropy_path="float"``, CompressAI's streams; ``g_s`` runs as
  its inference copy, ``g_a`` as CompressAI's exact computation);
- ``mode1``: tinify's fixed-point path (``entropy_path="fixed"``, what ``tinify encode``
  writes; ``g_a`` and ``g_s`` run as their inference copies).

The time of each call is split into parts: the transforms ``g_a``, ``h_a``, ``h_s``, ``g_s``
(forward hooks; see :class:`Clock`), ``int`` (the fixed path's integer networks: ``h_s`` and the
context / entropy-parameter networks) and ``rest`` (entropy coding, padding, context loops).
The configurations alternate; the best total of ``--repeat`` is kept. The last column is
CompressAI's total over the configuration's; the PSNR column compares each decoded image with
CompressAI's (``inf``: identical; put ``CompressAI`` first in ``--configs``).

Run: ``python benches/bench_transforms.py [--models bmshj2018-factorized,mbt2018-mean]
[--size 2048x1536] [--configs CompressAI,mode1] [--repeat 1] [--threads 2] [--cpu]``
(``--cpu``: process CPU time instead of wall time). Needs compressai.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from _common import compressai_zoo_model, optional, set_threads
from bench_models import KODAK, calibrate
from tinify.zoo import create_model, image_models

#: Every zoo image model, then the registry's image models with no zoo qualities (built with
#: their constructor defaults in both libraries).
MODELS = (
    *image_models,
    "cheng2020-anchor-checkerboard",
    "elic2022-official",
    "elic2022-chandelier",
)
TRANSFORMS = ("g_a", "h_a", "h_s", "g_s")
CONFIGS = ("CompressAI", "mode0", "mode1")


def highest_quality(name: str) -> int:
    if name.endswith("-vbr"):
        return 0  # one network for every rate
    return 6 if name.startswith("cheng2020") else 8


def kodak_mosaic(width: int, height: int) -> torch.Tensor:
    """A (1, 3, height, width) image in [0, 1] tiled from the Kodak images (row-major)."""
    from PIL import Image

    files = sorted(KODAK.glob("kodim*.png"))
    if not files:
        sys.exit(f"bench_transforms: no Kodak images in {KODAK}")
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    index, top = 0, 0
    while top < height:
        left, row_height = 0, 0
        while left < width:
            with Image.open(files[index % len(files)]) as im:
                tile = np.asarray(im.convert("RGB"))
            index += 1
            h, w = min(tile.shape[0], height - top), min(tile.shape[1], width - left)
            canvas[top : top + h, left : left + w] = tile[:h, :w]
            left += w
            row_height = max(row_height, h)
        top += row_height
    x = torch.from_numpy(canvas).permute(2, 0, 1).unsqueeze(0).float().div_(255)
    return x.contiguous()


def build_pair(name: str, x_small: torch.Tensor) -> tuple[nn.Module, nn.Module]:
    """(tinify model, CompressAI model) with the same calibrated random weights and tables."""
    if name not in image_models:  # no zoo qualities: the registry's defaults
        from tinify.registry import MODELS as REGISTRY

        model = REGISTRY[name]().eval()
        torch.manual_seed(0)
        reference = getattr(optional("compressai.models"), type(model).__name__)().eval()
    else:
        quality = highest_quality(name)
        model = create_model(name, quality).eval()
        torch.manual_seed(0)
        reference = compressai_zoo_model(name, quality).eval()
    try:
        calibrate(reference, x_small)
    except AttributeError:  # ELIC, the checkerboard model: not the layout calibrate knows
        pass  # (random weights as built: small latents, so short streams)
    reference.update(force=True)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:  # a variant the zoo constructor does not build (vbr options)
        model = type(model).from_state_dict(state).eval()
    model.update(force=True)
    return model, reference


PARTS = ("g_a", "h_a", "h_s", "g_s", "int")

#: The clock of every figure: wall time, or the process's CPU time with ``--cpu``.
CLOCK: list[Callable[[], float]] = [time.perf_counter]


class Clock:
    """Wall time per part of one coding call.

    Forward hooks time the transforms ``g_a``, ``h_a``, ``h_s`` and ``g_s`` of CompressAI's model
    and of tinify's. tinify runs ``g_a`` (coding mode 1) and ``g_s`` as their cached inference
    copies, which are timed in their place: hooks on the model's own transform would make tinify
    run the transform itself (user hooks see every call, as in CompressAI). ``int`` is the fixed
    path's integer networks (:func:`tinify.models.fixed.run_image` / ``run_rows``, patched here
    for the duration of the call).
    """

    def __init__(self, net: nn.Module, options: dict[str, Any]) -> None:
        self.seconds = dict.fromkeys(PARTS, 0.0)
        self._starts: dict[str, float] = {}
        self.handles: list[Any] = []
        self._patched: list[tuple[Any, str, Any]] = []
        tinify_model = hasattr(net, "inference_transform")
        fixed = options.get("entropy_path") == "fixed"
        for name in TRANSFORMS:
            module = getattr(net, name, None)
            if not isinstance(module, nn.Module):
                continue
            if tinify_model and (name == "g_s" or (name == "g_a" and fixed)):
                module = net.inference_transform(name)
            self.handles.append(module.register_forward_pre_hook(self._pre(name)))
            self.handles.append(module.register_forward_hook(self._post(name)))
        if tinify_model:
            self._patch_integer_networks()

    def _pre(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            self._starts[name] = CLOCK[0]()

        return hook

    def _post(self, name: str) -> Callable[..., None]:
        def hook(*_: Any) -> None:
            self.seconds[name] += CLOCK[0]() - self._starts[name]

        return hook

    def _patch_integer_networks(self) -> None:
        import tinify.models.fixed as fixed_module

        for attr in ("run_image", "run_rows"):
            original = getattr(fixed_module, attr)

            def timed_call(*args: Any, _original: Any = original) -> Any:
                start = CLOCK[0]()
                try:
                    return _original(*args)
                finally:
                    self.seconds["int"] += CLOCK[0]() - start

            for module in list(sys.modules.values()):
                if getattr(module, "__name__", "").startswith("tinify") and (
                    getattr(module, attr, None) is original
                ):
                    self._patched.append((module, attr, original))
                    setattr(module, attr, timed_call)

    def close(self) -> None:
        for handle in self.handles:
            handle.remove()
        for module, attr, original in self._patched:
            setattr(module, attr, original)


def coders(model: nn.Module, reference: nn.Module) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
    """Configuration name -> (network, coding options)."""
    return {
        "CompressAI": (reference, {}),
        "mode0": (model, {"entropy_path": "float"}),
        "mode1": (model, {"entropy_path": "fixed"}),
    }


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = CLOCK[0]()
    out = fn()
    return out, CLOCK[0]() - start


@torch.no_grad()
def run(
    net: nn.Module, options: dict[str, Any], x: torch.Tensor
) -> tuple[float, dict[str, float], Any]:
    """(total seconds, seconds per part, decoded image) of one compress + decompress."""
    clock = Clock(net, options)
    try:
        out, t_enc = timed(lambda: net.compress(x, **options))
        dec, t_dec = timed(lambda: net.decompress(out["strings"], out["shape"], **options))
    finally:
        clock.close()
    return t_enc + t_dec, clock.seconds, dec["x_hat"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated zoo names")
    parser.add_argument("--size", default="2048x1536", help="WIDTHxHEIGHT (multiples of 64)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per configuration")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="report process CPU time instead of wall time (steadier on a shared machine; "
        "with --threads 1 it is the work done)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cai = optional("compressai.zoo")
    if cai is None:
        sys.exit("bench_transforms: compressai is not installed (pip install compressai==1.2.8)")
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.cpu:
        CLOCK[0] = time.process_time
    set_threads(args.threads)
    x = kodak_mosaic(width, height)
    x_small = x[..., :256, :256].contiguous()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    clock = "process CPU" if args.cpu else "wall"
    print(f"## compress + decompress, {width}x{height}, {args.threads} threads, {clock} seconds\n")
    print(
        "| model | config | total | g_a | h_a | h_s | g_s | int | rest "
        "| PSNR vs CompressAI dB | CompressAI / config |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in (n.strip() for n in args.models.split(",") if n.strip()):
        model, reference = build_pair(name, x_small)
        table = coders(model, reference)
        best: dict[str, tuple[float, dict[str, float], float]] = {}
        reference_image = x
        for _ in range(args.repeat):
            for config in configs:
                net, options = table[config]
                try:
                    total, parts, x_hat = run(net, options, x)
                except ValueError as err:  # no fixed-point path
                    best[config] = (math.nan, dict.fromkeys(PARTS, math.nan), math.nan)
                    print(f"<!-- {name} {config}: {err} -->", flush=True)
                    continue
                if config == "CompressAI":
                    reference_image = x_hat
                # Agreement with CompressAI's decoded image (random weights: no image quality).
                mse = float((x_hat - reference_image).pow(2).mean())
                psnr = 10 * math.log10(1 / mse) if mse > 0 else math.inf
                if config not in best or total < best[config][0]:
                    best[config] = (total, parts, psnr)
        base = best.get("CompressAI", (math.nan,))[0]
        for config in configs:
            total, parts, psnr = best[config]
            rest = total - sum(parts.values())
            cells = " | ".join(f"{parts[p]:.2f}" for p in PARTS)
            print(
                f"| {name} | {config} | {total:.2f} | {cells} | {rest:.2f} "
                f"| {psnr:.2f} | {base / total:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
