# SPDX-License-Identifier: Apache-2.0
"""``tinify eval``: rate and distortion of a learned codec over a folder of images.

The protocol is CompressAI 1.2.8's ``eval_model`` with real coding through the ``.tfy``
container:

- each image is read with Pillow, converted to RGB, scaled to [0, 1];
- it is padded (centred zeros) to the model's factor, coded into a complete ``.tfy`` file in
  memory, parsed back and decoded, and the padding is cropped off;
- PSNR and MS-SSIM compare ``(x * 255).round().clamp(0, 255)`` of the original and of the
  reconstruction (RGB, data range 255); MS-SSIM is ``null`` for images under 161x161;
- ``bpp`` = 8 x (payload bytes: the sum of the entropy-coded stream lengths, which is exactly what
  CompressAI counts) / (original height x width); ``bpp-file`` also counts the ``.tfy`` header
  (the whole file); both are averaged over images, not pooled;
- ``encoding_time``: ``model.compress`` plus writing the container; ``decoding_time``: parsing
  the container plus ``model.decompress`` and the crop (CUDA synchronized), in seconds, averaged
  over images. Reading the image file and computing the metrics are not timed.

A variable-rate model is evaluated at one quantization step per call (``quant_step``; ``tinify
eval`` sweeps a list of them with one downloaded network).

``estimate=True`` runs ``forward`` instead: ``bpp = -sum(log2 likelihoods) / pixels`` and each
time is half of the forward pass (CompressAI's convention).

Under ``torchrun`` (a :class:`~tinify.utils.distributed.DistContext` with several ranks) each
rank evaluates every ``world_size``-th image and the per-image records are gathered back in the
dataset's order, so every rank returns what one process would (times aside).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tinify.codec.coding import decode_image, encode_image, padding_for, rate_options
from tinify.codec.loading import LoadedModel
from tinify.codec.results import mean
from tinify.io.image import image_to_tensor, progress_bar, read_image
from tinify.ops import crop
from tinify.utils.distributed import DistContext, gather_shards, shard
from tinify.utils.metrics import ms_ssim, ms_ssim_min_size, psnr, to_8bit

__all__ = ["DEFAULT_QUANT_STEPS", "distortion", "evaluate_image", "evaluate_model"]

#: The quantization steps ``tinify eval`` sweeps for a variable-rate model by default: those of
#: CompressAI's ``eval_model --vbr_quantstep``, from the lowest rate to the highest.
DEFAULT_QUANT_STEPS = (10.0, 7.1715, 5.1832, 3.7211, 2.6833, 1.9305, 1.3897, 1.0)

Note = Callable[[str], None]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def distortion(org: Tensor, rec: Tensor, max_val: int = 255) -> dict[str, float | None]:
    """PSNR and MS-SSIM of a reconstruction in [0, 1] on values rounded to ``max_val`` levels
    (8-bit RGB by default); MS-SSIM is ``None`` when the image is too small for five scales.

    This is CompressAI's ``eval_model.compute_metrics(org, rec, max_val)``.
    """
    if max_val == 255:
        a, b = to_8bit(org.detach().cpu()), to_8bit(rec.detach().cpu())
    else:
        a, b = ((t.detach().cpu() * max_val).round().clamp(0, max_val) for t in (org, rec))
    small = min(a.shape[-2:]) < ms_ssim_min_size()
    return {
        "psnr-rgb": psnr(a, b, data_range=float(max_val)),
        "ms-ssim-rgb": None
        if small
        else float(ms_ssim(a.double(), b.double(), data_range=float(max_val))),
    }


def _code(
    loaded: LoadedModel,
    x: Tensor,
    entropy_path: str | None,
    stream_chunks: int,
    quant_step: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    device = x.device
    pixels = x.size(-2) * x.size(-1)
    _sync(device)
    start = time.perf_counter()
    data = encode_image(
        loaded, x, entropy_path=entropy_path, stream_chunks=stream_chunks, quant_step=quant_step
    )
    _sync(device)
    middle = time.perf_counter()
    decoded = decode_image(data, loaded)
    _sync(device)
    end = time.perf_counter()
    stats = {
        "bpp": 8.0 * decoded.header.payload_size / pixels,
        "bpp-file": 8.0 * len(data) / pixels,
        "encoding_time": middle - start,
        "decoding_time": end - middle,
    }
    return decoded.x_hat, stats


def _estimate(
    loaded: LoadedModel, x: Tensor, quant_step: float | None = None
) -> tuple[Tensor, dict[str, float]]:
    net = loaded.model
    rate = rate_options(net, quant_step)
    height, width = x.shape[-2:]
    pad = padding_for(height, width, net.downsampling_factor)
    _sync(x.device)
    start = time.perf_counter()
    with torch.no_grad():
        out = net(F.pad(x, pad), **rate)
    _sync(x.device)
    elapsed = time.perf_counter() - start
    bits = sum(float(-torch.log2(lik).sum()) for lik in out["likelihoods"].values())
    x_hat = crop(out["x_hat"].clamp(0, 1), tuple(-p for p in pad))  # type: ignore[arg-type]
    stats = {
        "bpp": bits / (height * width),
        "encoding_time": elapsed / 2,
        "decoding_time": elapsed / 2,
    }
    return x_hat, stats


def evaluate_image(
    loaded: LoadedModel,
    x: Tensor,
    stream_chunks: int = 1,
    estimate: bool = False,
    *,
    entropy_path: str | None = None,
    quant_step: float | None = None,
) -> dict[str, float | None]:
    """Code (or estimate) one image (1, 3, H, W) on the model's device; return its numbers.

    ``entropy_path`` (``"fixed"`` or ``"float"``, stored as the ``.tfy`` coding mode; None: the
    model's default), ``stream_chunks`` and a variable-rate model's ``quant_step`` are the
    options of :func:`tinify.codec.coding.encode_image`.
    """
    if estimate:
        x_hat, stats = _estimate(loaded, x, quant_step)
    else:
        x_hat, stats = _code(loaded, x, entropy_path, stream_chunks, quant_step)
    return {**distortion(x, x_hat), **stats}


def evaluate_model(
    loaded: LoadedModel,
    images: Sequence[Path],
    device: str = "cpu",
    stream_chunks: int = 1,
    estimate: bool = False,
    progress: bool = True,
    note: Note | None = None,
    label: str = "",
    ctx: DistContext | None = None,
    *,
    entropy_path: str | None = None,
    quant_step: float | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Evaluate ``loaded`` on every image (``entropy_path``, ``stream_chunks`` and a
    variable-rate model's ``quant_step``: the options of :func:`tinify.codec.coding.encode_image`).

    With ``ctx`` of several ranks, this rank codes its share of ``images`` and the records of
    all ranks are gathered (a collective call: every rank must make it).

    Returns:
        ``(point, per_image)``: the means over images (keys ``psnr-rgb``, ``ms-ssim-rgb``,
        ``bpp``, [``bpp-file``,] ``encoding_time``, ``decoding_time``) and one record per image
        (the same keys plus ``image``), in the order of ``images``.
    """
    mine = shard(images, ctx)
    part: list[dict[str, Any]] = []
    for path in progress_bar(mine, len(mine), label or loaded.name, progress):
        x = image_to_tensor(read_image(path, note)).to(device)
        row = evaluate_image(
            loaded,
            x,
            stream_chunks,
            estimate,
            entropy_path=entropy_path,
            quant_step=quant_step,
        )
        part.append({"image": Path(path).name, **row})
    rows = gather_shards(part, ctx)
    keys = [k for k in rows[0] if k != "image"]
    point = {k: mean([r[k] for r in rows]) for k in keys}
    return point, rows
