"""GPU check, in one go: coding mode 1 decodes bit-exactly across devices, and GPU speed.

For every zoo image model (and tinify's default model), Kodak images are coded in coding mode 1
(``entropy_path="fixed"``: entropy parameters in integer arithmetic) on the GPU and decoded on
the CPU, and the other way round. A stream decodes bit-exactly when the latent the decoder
rebuilds (the input of ``g_s``, captured with a forward pre-hook) equals, bit for bit, the one
the same stream gives on the encoding device; pixels are not compared (``g_s`` itself may round
differently on another device). Expected: every image, both directions, every model.

Then ``tinify`` (mode 1 and the float path) and CompressAI 1.2.8 with the same weights encode
and decode images on the GPU (``--timing-models``, by default mbt2018 and cheng2020-anchor);
mean milliseconds per image after a warm-up, with ``torch.cuda.synchronize``.

Weights: ``--weights DIR`` holding trained checkpoints (``ARCH.pth``, ``ARCH-qQ.pth`` or
CompressAI's ``ARCH-Q-HASH.pth.tar``) where present; otherwise random weights calibrated to
trained latent statistics (``bench_models.calibrate``), said per row. Images: the 24 Kodak
images (``--kodak``, default ``../shared/data/kodak`` beside the repository), or synthetic
smooth images when that folder is absent (said in the header). The whole run keeps to
``--budget`` seconds (default 420, under 8 minutes on one H200 with the start): the
autoregressive models check ``--ar-images`` images (default 8), and a model whose share of the
budget runs out stops early; the table gives the images checked per model.

Run on a CUDA machine, from the repository root::

    python benches/gpu_check.py                       # everything, about 6 minutes on an H200
    python benches/gpu_check.py --weights ckpts/ --models mbt2018,cheng2020-anchor
    python benches/gpu_check.py --device cpu --images 2 --size 128 --models bmshj2018-hyperprior

Needs torch and tinify (the wheel; no Rust toolchain, no network); compressai is optional (its
columns say ``absent``).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_models import calibrate  # noqa: E402
from tinify.codec.loading import load_default_model, load_model_from_checkpoint  # noqa: E402
from tinify.exceptions import TinifyError  # noqa: E402
from tinify.zoo import create_model, image_models  # noqa: E402
from tinify.zoo.pretrained import is_variable_rate, qualities  # noqa: E402

KODAK = HERE.parent / ".." / "shared" / "data" / "kodak"
DEFAULT = "default"
MODELS = (*image_models, DEFAULT)
AUTOREGRESSIVE = ("mbt2018", "cheng2020-anchor", "cheng2020-attn", "mbt2018-vbr")
TIMING_MODELS = ("mbt2018", "cheng2020-anchor")


# -- inputs -------------------------------------------------------------------------------------


def load_images(kodak: Path, count: int, size: int | None) -> tuple[list[torch.Tensor], str]:
    """``count`` images (1, 3, H, W) in [0, 1] (cropped to ``size`` x ``size`` when given) and
    where they come from."""
    files = sorted(kodak.glob("kodim*.png"))[:count]
    if files:
        from PIL import Image

        images = []
        for f in files:
            with Image.open(f) as im:
                a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255
            x = torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()
            images.append(x[..., :size, :size].contiguous() if size else x)
        return images, f"Kodak ({kodak})"
    h, w = (size, size) if size else (512, 768)
    gen = torch.Generator().manual_seed(0)
    images = []
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for _ in range(count):
        f = torch.rand(3, 3, generator=gen) * 0.1 + 0.01
        waves = [torch.sin(f[c, 0] * yy + f[c, 1] * xx + f[c, 2] * 50) for c in range(3)]
        x = 0.5 + 0.4 * torch.stack(waves)
        x = (x + 0.03 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
        images.append((x * 255).round().div(255).unsqueeze(0))
    return images, f"synthetic {w}x{h} (no Kodak images in {kodak})"


def find_weights(folder: Path | None, name: str) -> Path | None:
    """A trained checkpoint of ``name`` in ``folder``: ``NAME.pth(.tar)``, ``NAME-qQ.pth(.tar)``
    or CompressAI's ``NAME-Q-HASH.pth.tar``; the highest quality when there are several."""
    if folder is None or not folder.is_dir():
        return None
    pattern = re.compile(rf"^{re.escape(name)}(?:-q?(\d+))?(?:-[0-9a-f]+)?\.pth(?:\.tar)?$")
    found = []
    for path in folder.iterdir():
        m = pattern.match(path.name)
        if m:
            found.append((int(m.group(1) or 0), path))
    return max(found)[1] if found else None


def build_model(
    name: str, quality: int, weights: Path | None, x: torch.Tensor
) -> tuple[nn.Module, str]:
    """The model (CPU, eval, coding tables built) and a word on its weights."""
    if name == DEFAULT:
        return load_default_model().model.eval(), "shipped"
    if weights is not None:
        loaded = load_model_from_checkpoint(weights, name)
        return loaded.model.eval(), f"trained ({weights.name})"
    if is_variable_rate(name):
        quality = 1
    else:
        quality = min(quality, max(qualities(name)))
    torch.manual_seed(0)
    model = create_model(name, quality).eval()
    calibrate(model, x[..., :256, :256])
    model.update(force=True)
    return model, f"random q{quality}"


def clone(model: nn.Module, device: str) -> nn.Module:
    """A copy of ``model`` on ``device``, rebuilt from its state dict (weights and tables)."""
    other = type(model).from_state_dict(model.state_dict())
    return other.eval().to(device)


# -- the exactness check ------------------------------------------------------------------------


class LatentProbe:
    """Records what enters ``model.g_s`` (the decoded latent, possibly in several calls)."""

    def __init__(self, model: nn.Module) -> None:
        self.seen: list[torch.Tensor] = []
        self.handle = model.g_s.register_forward_pre_hook(self._record)

    def _record(self, module: nn.Module, inputs: tuple[Any, ...]) -> None:
        self.seen.append(inputs[0].detach().to("cpu", copy=True))

    def take(self) -> list[torch.Tensor]:
        seen, self.seen = self.seen, []
        return seen


def same_bits(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    """Whether two captured latents are equal bit for bit (NaNs included)."""
    return (
        bool(a)
        and len(a) == len(b)
        and all(
            x.shape == y.shape
            and x.dtype == y.dtype
            and torch.equal(x.contiguous().view(torch.uint8), y.contiguous().view(torch.uint8))
            for x, y in zip(a, b)
        )
    )


@dataclass
class Direction:
    exact: int = 0
    checked: int = 0
    errors: list[str] = field(default_factory=list)

    def cell(self) -> str:
        text = f"{self.exact}/{self.checked}"
        if self.errors:
            text += f" ({self.errors[0][:60]})"
        return text


def code(model: nn.Module, x: torch.Tensor, device: str) -> dict[str, Any]:
    with torch.no_grad():
        return model.compress(x.to(device), entropy_path="fixed")


def decode_latent(model: nn.Module, probe: LatentProbe, out: dict[str, Any]) -> list[torch.Tensor]:
    with torch.no_grad():
        model.decompress(out["strings"], out["shape"], entropy_path="fixed")
    return probe.take()


def check_model(
    models: dict[str, nn.Module],
    probes: dict[str, LatentProbe],
    images: list[torch.Tensor],
    deadline: float,
) -> tuple[dict[tuple[str, str], Direction], str]:
    """Encode each image on each device and decode it on both; count exact latents."""
    devices = list(models)  # "cpu" and "cuda[:K]", or "cpu" and "cpu#2" (a second copy)
    results = {(a, b): Direction() for a in devices for b in devices if a != b}
    note = ""
    for i, x in enumerate(images):
        if time.monotonic() > deadline:
            note = f"stopped after {i} images (budget)"
            break
        failed = 0
        for (enc_dev, dec_dev), result in results.items():
            result.checked += 1
            try:
                out = code(models[enc_dev], x, enc_dev.split("#")[0])
                reference = decode_latent(models[enc_dev], probes[enc_dev], out)
                other = decode_latent(models[dec_dev], probes[dec_dev], out)
            except (TinifyError, RuntimeError, ValueError) as err:
                result.errors.append(" ".join(str(err).split()))
                failed += 1
                continue
            result.exact += same_bits(reference, other)
        if failed == len(results) and i == 0:
            note = "failed on the first image: not continued"
            break
    return results, note


# -- timing -------------------------------------------------------------------------------------


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def mean_ms(fn: Callable[[torch.Tensor], Any], images: list[torch.Tensor], device: str) -> float:
    """Mean milliseconds of ``fn(x)`` over ``images`` after one warm-up call."""
    fn(images[0])
    sync(device)
    start = time.perf_counter()
    for x in images:
        fn(x)
    sync(device)
    return (time.perf_counter() - start) * 1e3 / len(images)


@torch.no_grad()
def time_codec(
    model: nn.Module, images: list[torch.Tensor], device: str, **opts: Any
) -> tuple[float, float]:
    """(encode ms, decode ms) per image of ``model.compress`` / ``decompress`` on ``device``."""
    xs = [x.to(device) for x in images]
    outs: dict[int, Any] = {}

    def enc(x: torch.Tensor) -> None:
        outs[id(x)] = model.compress(x, **opts)

    encode = mean_ms(enc, xs, device)

    def dec(x: torch.Tensor) -> None:
        out = outs[id(x)]
        model.decompress(out["strings"], out["shape"], **opts)

    return encode, mean_ms(dec, xs, device)


def compressai_model(model: nn.Module) -> nn.Module | None:
    """CompressAI 1.2.8's class of the same name as ``model``'s, built from its state dict
    (weights and coding tables), or None when compressai is not installed."""
    if importlib.util.find_spec("compressai") is None:
        return None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai import models as cai_models
    cls = getattr(cai_models, type(model).__name__)
    return cls.from_state_dict(model.state_dict()).eval()


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:K, or cpu (both sides on the CPU)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: all)")
    p.add_argument(
        "--timing-models",
        default=",".join(TIMING_MODELS),
        help="timed against CompressAI (default mbt2018,cheng2020-anchor; 'none' for none)",
    )
    p.add_argument("--images", type=int, default=24, help="images checked per model (24)")
    p.add_argument("--ar-images", type=int, default=8, help="for autoregressive models (8)")
    p.add_argument("--timing-images", type=int, default=3, help="images timed per model (3)")
    p.add_argument("--size", type=int, help="crop the images to SIZE x SIZE (a quick check)")
    p.add_argument("--quality", type=int, default=3, help="quality of random weights (3)")
    p.add_argument("--weights", type=Path, help="folder of trained checkpoints")
    p.add_argument("--kodak", type=Path, default=KODAK, help="folder of kodim*.png")
    p.add_argument("--budget", type=float, default=420, help="seconds for the whole run (420)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.monotonic()
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; run with --device cpu to check on the CPU")
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    timing = [m.strip() for m in args.timing_models.split(",") if m.strip() not in ("", "none")]
    unknown = [m for m in models + timing if m not in MODELS]
    if unknown:
        print(f"gpu_check: unknown models {unknown}; choose from {', '.join(MODELS)}")
        return 2
    count = max(args.images, args.timing_images if timing else 0)
    images, source = load_images(args.kodak, count, args.size)
    has_cai = importlib.util.find_spec("compressai") is not None
    print(
        f"# gpu_check: encode on {device} -> decode on cpu and back, coding mode 1; images: "
        f"{source}; torch {torch.__version__}"
        + (f", {torch.cuda.get_device_name(device)}" if device.startswith("cuda") else "")
        + ("" if has_cai else "; compressai absent: no CompressAI timing")
    )
    timing_share = 0.25 if timing else 0.0
    check_end = start + args.budget * (1 - timing_share)
    rows = []
    built: dict[str, nn.Module] = {}
    for k, name in enumerate(models):
        weights_file = find_weights(args.weights, name)
        model, weights = build_model(name, args.quality, weights_file, images[0])
        built[name] = model
        ar = name in AUTOREGRESSIVE
        wanted = min(args.ar_images if ar else args.images, args.images)
        share = (check_end - time.monotonic()) / (len(models) - k)
        deadline = time.monotonic() + max(share, 0)
        sides = {"cpu": model, "cpu#2" if device == "cpu" else device: clone(model, device)}
        probes = {key: LatentProbe(net) for key, net in sides.items()}
        results, note = check_model(sides, probes, images[:wanted], deadline)
        for probe in probes.values():
            probe.handle.remove()
        if wanted < len(images[: args.images]) and not note:
            note = f"first {wanted} images (autoregressive: --ar-images)"
        row = {"model": name, "weights": weights, "note": note}
        for (enc_dev, dec_dev), result in results.items():
            row[f"{enc_dev}->{dec_dev}"] = result.cell()
        rows.append(row)
        print(f"  {name}: {row}", file=sys.stderr, flush=True)
        del sides, probes
    timed: dict[str, dict[str, str]] = {}
    for name in timing:
        label = next((r["weights"] for r in rows if r["model"] == name), "")
        if name not in built:
            weights_file = find_weights(args.weights, name)
            built[name], label = build_model(name, args.quality, weights_file, images[0])
        if time.monotonic() > start + args.budget:
            timed[name] = {"tinify": "skipped (budget)"}
            continue
        net = clone(built[name], device)
        sample = images[: args.timing_images]
        cells = {}
        for path in ("fixed", "float"):
            enc, dec = time_codec(net, sample, device, entropy_path=path)
            cells[path] = f"{enc:.0f} / {dec:.0f}"
        reference = compressai_model(built[name]) if has_cai else None
        if reference is None:
            cells["compressai"] = "absent"
        else:
            enc, dec = time_codec(reference.to(device), sample, device)
            cells["compressai"] = f"{enc:.0f} / {dec:.0f}"
        cells["images"] = str(len(sample))
        cells["weights"] = label
        timed[name] = cells
    print_table(rows, timed, device)
    print(f"# {time.monotonic() - start:.0f} s")
    return 0


def print_table(rows: list[dict[str, Any]], timed: dict[str, dict[str, str]], device: str) -> None:
    directions = [k for k in rows[0] if "->" in k] if rows else []
    head = ["model", "weights", *[f"exact {d}" for d in directions]]
    head += [
        f"tinify mode 1 enc/dec ms ({device})",
        "tinify float enc/dec ms",
        "CompressAI 1.2.8 enc/dec ms",
        "note",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    names = [r["model"] for r in rows] + [m for m in timed if m not in {r["model"] for r in rows}]
    by_name = {r["model"]: r for r in rows}
    for name in names:
        t = timed.get(name, {})
        r = by_name.get(name, {"model": name, "weights": t.get("weights", ""), "note": ""})
        note = r.get("note", "")
        if t.get("images"):
            note = (note + "; " if note else "") + f"timed on {t['images']} images"
        cells = [name, r.get("weights", ""), *[r.get(d, "-") for d in directions]]
        cells += [t.get("fixed", t.get("tinify", "-")), t.get("float", "-")]
        cells += [t.get("compressai", "-"), note]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
