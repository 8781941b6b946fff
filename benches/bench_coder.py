"""Raw rANS throughput: tinify.ans vs CompressAI 1.2.8 vs constriction 0.5, same symbols.

Two workloads, one thread everywhere:

- Gaussian conditional: 320x48x64 = 983,040 symbols, scales log-uniform in [0.2, 20], zero mean,
  coded against the 64 default scale tables (CompressAI's table) by index.
- Factorized: 192x32x48 symbols, one learned-looking pmf per channel.

Run: ``python benches/bench_coder.py`` (compressai and constriction are optional).
"""

from __future__ import annotations

import numpy as np
import torch

from _common import best_time, optional, row, set_threads
from tinify import _core
from tinify.ans import CdfTable, gaussian_table, pmf_to_quantized_cdf


def gaussian_workload(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = 320 * 48 * 64
    table = torch.exp(torch.linspace(np.log(0.11), np.log(256), 64)).numpy()
    scales = np.exp(rng.uniform(np.log(0.2), np.log(20), n)).astype(np.float32)
    indexes = np.searchsorted(table, scales).clip(0, 63).astype(np.int32)
    symbols = np.round(rng.standard_normal(n) * scales).astype(np.int32)
    return {"table": table, "scales": scales, "indexes": indexes, "symbols": symbols}


def factorized_workload(rng: np.random.Generator) -> dict[str, np.ndarray]:
    c, hw = 192, 32 * 48
    widths = rng.integers(8, 60, c)
    pmfs, symbols = [], []
    for ch in range(c):
        support = np.arange(widths[ch]) - widths[ch] // 2
        p = np.exp(-np.abs(support) / rng.uniform(0.5, 4))
        p = p / p.sum() * (1 - 1e-4)
        pmfs.append(np.append(p, 1e-4).astype(np.float32))
        symbols.append(rng.choice(support, hw, p=p / p.sum()))
    return {
        "pmfs": pmfs,
        "offsets": -(widths // 2).astype(np.int32),
        "symbols": np.concatenate(symbols).astype(np.int32),
        "indexes": np.repeat(np.arange(c), hw).astype(np.int32),
    }


def bench_tinify(table: CdfTable, symbols: np.ndarray, indexes: np.ndarray) -> tuple[float, float]:
    data = _core.encode_with_indexes(symbols, indexes, table)
    assert (_core.decode_with_indexes(data, indexes, table) == symbols).all()
    enc = best_time(lambda: _core.encode_with_indexes(symbols, indexes, table))
    dec = best_time(lambda: _core.decode_with_indexes(data, indexes, table))
    return enc, dec


def bench_compressai(cai, table: CdfTable, symbols, indexes) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    cdfs, lengths, offsets = (a.tolist() for a in table.to_padded())
    sym, idx = symbols.tolist(), indexes.tolist()
    data = cai.ans.RansEncoder().encode_with_indexes(sym, idx, cdfs, lengths, offsets)
    enc = best_time(
        lambda: cai.ans.RansEncoder().encode_with_indexes(sym, idx, cdfs, lengths, offsets), 3
    )
    dec = best_time(
        lambda: cai.ans.RansDecoder().decode_with_indexes(data, idx, cdfs, lengths, offsets), 3
    )
    return enc, dec


def main() -> None:
    set_threads(1)
    cai = optional("compressai")
    if cai is not None:
        optional("compressai.ans")
    cst = optional("constriction")
    rng = np.random.default_rng(0)

    g = gaussian_workload(rng)
    n = g["symbols"].size
    table = gaussian_table(g["table"])
    print(f"## Gaussian conditional, {n:,} symbols, 1 thread\n")
    print("| coder | Msym/s | ms | vs CompressAI |\n|---|---|---|---|")
    results: dict[str, tuple[float, float]] = {
        "tinify": bench_tinify(table, g["symbols"], g["indexes"])
    }
    if cai is not None:
        results["CompressAI 1.2.8 (lists in, Python API)"] = bench_compressai(
            cai, table, g["symbols"], g["indexes"]
        )
    if cst is not None:
        model = cst.stream.model.QuantizedGaussian(-5000, 5000)
        means = np.zeros(n)
        stds = g["scales"].astype(np.float64)

        def c_enc() -> np.ndarray:
            coder = cst.stream.stack.AnsCoder()
            coder.encode_reverse(g["symbols"], model, means, stds)
            return coder.get_compressed()

        comp = c_enc()
        assert (cst.stream.stack.AnsCoder(comp).decode(model, means, stds) == g["symbols"]).all()
        results["constriction 0.5 (QuantizedGaussian)"] = (
            best_time(c_enc, 3),
            best_time(lambda: cst.stream.stack.AnsCoder(comp).decode(model, means, stds), 3),
        )
    report(results, n)

    f = factorized_workload(rng)
    n = f["symbols"].size
    rows = [pmf_to_quantized_cdf(p) for p in f["pmfs"]]
    width = max(len(r) for r in rows)
    padded = np.zeros((len(rows), width), np.int32)
    for i, r in enumerate(rows):
        padded[i, : len(r)] = r
    ftable = CdfTable(padded, np.array([len(r) for r in rows], np.int32), f["offsets"])
    print(f"\n## Factorized (192 channel tables), {n:,} symbols, 1 thread\n")
    print("| coder | Msym/s | ms | vs CompressAI |\n|---|---|---|---|")
    results = {"tinify": bench_tinify(ftable, f["symbols"], f["indexes"])}
    if cai is not None:
        results["CompressAI 1.2.8 (lists in, Python API)"] = bench_compressai(
            cai, ftable, f["symbols"], f["indexes"]
        )
    if cst is not None:
        hw = n // 192
        models = [
            cst.stream.model.Categorical(p[:-1].astype(np.float64) / p[:-1].sum(), perfect=False)
            for p in f["pmfs"]
        ]
        shifted = [
            (f["symbols"][c * hw : (c + 1) * hw] - f["offsets"][c]).astype(np.int32)
            for c in range(192)
        ]

        def cf_enc() -> np.ndarray:
            coder = cst.stream.stack.AnsCoder()
            for c in reversed(range(192)):
                coder.encode_reverse(shifted[c], models[c])
            return coder.get_compressed()

        compf = cf_enc()

        def cf_dec() -> None:
            coder = cst.stream.stack.AnsCoder(compf)
            for c in range(192):
                coder.decode(models[c], hw)

        results["constriction 0.5 (Categorical per channel)"] = (
            best_time(cf_enc, 3),
            best_time(cf_dec, 3),
        )
    report(results, n)


def report(results: dict[str, tuple[float, float]], n: int) -> None:
    base = results.get("CompressAI 1.2.8 (lists in, Python API)")
    for op, k in (("encode", 0), ("decode", 1)):
        for name, times in results.items():
            print(row(f"{name} {op}", n, times[k], base[k] if base else None))
    others = [k for k in results if k.startswith("constriction")]
    if others:
        c = results[others[0]]
        t = results["tinify"]
        print(f"\ntinify vs constriction: encode {c[0] / t[0]:.1f}x, decode {c[1] / t[1]:.1f}x")


if __name__ == "__main__":
    main()
