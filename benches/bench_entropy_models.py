"""GaussianConditional and EntropyBottleneck: tensor -> bytes -> tensor, tinify vs CompressAI.

A (1, 320, 48, 64) latent (983,040 elements; a 768x512 image at M = 320), timed for
``compress`` and ``decompress`` separately, with 1 and 2 threads (torch and tinify alike).
Both libraries get the same tables (CompressAI's, loaded into tinify from its state dict), so the
bytes are checked to be identical.

Run: ``python benches/bench_entropy_models.py`` (compressai is optional).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from _common import best_time, optional, set_threads
from tinify.entropy_models import EntropyBottleneck, GaussianConditional

SHAPE = (1, 320, 48, 64)


def models(cai):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    eb = EntropyBottleneck(SHAPE[1])
    with torch.no_grad():
        for p in eb.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    eb.update(force=True)
    gc = GaussianConditional(None)
    gc.update_scale_table(torch.exp(torch.linspace(np.log(0.11), np.log(256), 64)))
    out = {"tinify": (eb.eval(), gc.eval())}
    if cai is not None:
        ceb = cai.entropy_models.EntropyBottleneck(SHAPE[1])
        # CompressAI's bare entropy models do not resize their tables on load: load the density
        # and rebuild (its tables are bit-identical to ours), and size the Gaussian tables first.
        ceb.load_state_dict(
            {k: v for k, v in eb.state_dict().items() if not k.startswith("_")}, strict=False
        )
        ceb.update(force=True)
        cgc = cai.entropy_models.GaussianConditional(None)
        cgc.update_scale_table(gc.scale_table)
        cgc.load_state_dict(gc.state_dict())
        out["CompressAI 1.2.8"] = (ceb.eval(), cgc.eval())
    return out


def main() -> None:
    cai = optional("compressai")
    if cai is not None:
        optional("compressai.entropy_models")
    g = torch.Generator().manual_seed(1)
    scales = torch.exp(torch.empty(SHAPE).uniform_(np.log(0.2), np.log(20), generator=g))
    means = torch.randn(SHAPE, generator=g)
    y = means + torch.randn(SHAPE, generator=g) * scales
    n = y.numel()
    impls = models(cai)
    print(f"## Entropy models, {SHAPE} = {n:,} elements, tensor -> bytes -> tensor\n")
    print(
        "| model | op | threads | tinify streams per item | "
        + " | ".join(f"{k} ms" for k in impls)
        + " | speed-up |"
    )
    print("|---|---|---|---|" + "---|" * len(impls) + "---|")
    # stream_chunks = 1 is CompressAI's format (bytes checked identical); 2 codes each item as
    # two parallel streams in tinify's chunked framing.
    for threads, chunks in ((1, 1), (2, 1), (2, 2)):
        set_threads(threads)
        for name in ("GaussianConditional", "EntropyBottleneck"):
            times: dict[str, tuple[float, float]] = {}
            outputs = {}
            for impl, (eb, gc) in impls.items():
                # tinify's option, per call; CompressAI has no stream_chunks.
                opts = {"stream_chunks": chunks} if impl == "tinify" else {}
                if name == "GaussianConditional":
                    idx = gc.build_indexes(scales)
                    strings = gc.compress(y, idx, means, **opts)
                    encode = functools.partial(gc.compress, y, idx, means, **opts)
                    decode = functools.partial(gc.decompress, strings, idx, means=means, **opts)
                else:
                    strings = eb.compress(y, **opts)
                    encode = functools.partial(eb.compress, y, **opts)
                    decode = functools.partial(eb.decompress, strings, SHAPE[2:], **opts)
                times[impl] = (best_time(encode, 5), best_time(decode, 5))
                outputs[impl] = strings
            if len(outputs) == 2 and chunks == 1:
                assert outputs["tinify"] == outputs["CompressAI 1.2.8"], "bytes differ"
            for op, k in (("compress", 0), ("decompress", 1)):
                cells = " | ".join(f"{t[k] * 1e3:.1f}" for t in times.values())
                ref = times.get("CompressAI 1.2.8")
                speed = f"{ref[k] / times['tinify'][k]:.1f}x" if ref else "-"
                print(f"| {name} | {op} | {threads} | {chunks} | {cells} | {speed} |")


if __name__ == "__main__":
    main()
