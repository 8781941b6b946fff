"""The rANS coder through tinify.ans: round trips, CompressAI compatibility, bad input."""

from __future__ import annotations

import hashlib
import multiprocessing
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinify
from tinify import BitstreamError, CdfError, ParameterError, TinifyError
from tinify.ans import (
    BufferedRansEncoder,
    CdfTable,
    RansDecoder,
    RansEncoder,
    as_cdf_table,
    decode_mixture,
    encode_mixture,
    gaussian_table,
    pmf_to_quantized_cdf,
)

SMALLEST = [0, 1, 65534, 65535, 65536]  # CompressAI's row for scale 0.11, offset -1
INT32 = st.integers(-(2**31), 2**31 - 1)


def default_scale_table() -> np.ndarray:
    """CompressAI's 64 default scales (float32, as torch computes them)."""
    return torch.exp(torch.linspace(np.log(0.11), np.log(256), 64)).numpy()


@pytest.fixture(scope="module")
def gc_table() -> CdfTable:
    return gaussian_table(default_scale_table())


def lcg_symbols(n: int, seed: int, spread: int) -> np.ndarray:
    """Platform-independent pseudo-random ints (integer arithmetic only)."""
    state = seed
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out[i] = (state >> 33) % (2 * spread + 1) - spread
    return out.astype(np.int32)


# -- known bytes and CompressAI compatibility ----------------------------------------------------


def test_compressai_reference_example() -> None:
    data = RansEncoder().encode_with_indexes([0, 0], [0, 0], [SMALLEST], [5], [-1])
    assert data == bytes.fromhex("0e00038000000000")
    out = RansDecoder().decode_with_indexes(data, [0, 0], [SMALLEST], [5], [-1])
    assert out.tolist() == [0, 0]


def test_empty_and_single_symbol_streams(gc_table: CdfTable) -> None:
    empty = RansEncoder().encode_with_indexes([], [], gc_table)
    assert len(empty) == 8
    assert RansDecoder().decode_with_indexes(empty, [], gc_table).size == 0
    for value in (0, 7, -(2**31), 2**31 - 1):
        one = RansEncoder().encode_with_indexes([value], [10], gc_table)
        assert RansDecoder().decode_with_indexes(one, [10], gc_table).tolist() == [value]


@st.composite
def pmf_rows(draw: st.DrawFn) -> list[float]:
    n = draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["uniform", "skewed", "sparse", "single"]))
    if kind == "single":
        return [1.0]
    if kind == "skewed":
        pmf = [1e-9] * n
        pmf[draw(st.integers(0, n - 1))] = 1.0
        return pmf
    values = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    # Entries far below 2^-16 quantize to zero counts; keep at least one that does not.
    values = [v if v > (0.8 if kind == "sparse" else 1e-4) else 0.0 for v in values]
    if sum(values) == 0:
        values[0] = 1.0
    return values


@given(
    rows=st.lists(pmf_rows(), min_size=1, max_size=4),
    data=st.data(),
)
def test_round_trip_arbitrary_cdfs(rows: list[list[float]], data: st.DataObject) -> None:
    cdfs = [pmf_to_quantized_cdf(np.array(r + [1e-6], dtype=np.float32)) for r in rows]
    offsets = data.draw(st.lists(st.integers(-1000, 1000), min_size=len(rows), max_size=len(rows)))
    lengths = [len(c) for c in cdfs]
    n = data.draw(st.integers(0, 200))
    indexes = data.draw(st.lists(st.integers(0, len(rows) - 1), min_size=n, max_size=n))
    symbols = [
        data.draw(st.one_of(st.integers(offsets[i] - 3, offsets[i] + lengths[i] + 3), INT32))
        for i in indexes
    ]
    table = as_cdf_table([c.tolist() for c in cdfs], lengths, offsets)
    encoded = RansEncoder().encode_with_indexes(symbols, indexes, table)
    assert len(encoded) % 4 == 0 and len(encoded) >= 8
    decoded = RansDecoder().decode_with_indexes(encoded, indexes, table)
    assert decoded.tolist() == symbols


@given(hnp.arrays(np.int32, st.integers(0, 500), elements=INT32))
def test_round_trip_inputs_as_numpy_torch_and_lists(symbols: np.ndarray) -> None:
    table = as_cdf_table([SMALLEST], [5], [-1])
    indexes = np.zeros_like(symbols)
    ref = RansEncoder().encode_with_indexes(symbols, indexes, table)
    assert RansEncoder().encode_with_indexes(symbols.tolist(), indexes.tolist(), table) == ref
    assert RansEncoder().encode_with_indexes(torch.from_numpy(symbols), indexes, table) == ref
    assert RansDecoder().decode_with_indexes(ref, indexes, table).tolist() == symbols.tolist()


def test_full_precision_rows() -> None:
    # Every count used: 65536 one-count slots would leave no escape; 65535 + escape slot is full.
    cdf = np.arange(65537, dtype=np.int32)
    table = CdfTable(cdf[None, :], np.array([65537], np.int32), np.array([0], np.int32))
    symbols = lcg_symbols(300, 3, 70000)
    data = RansEncoder().encode_with_indexes(symbols, np.zeros(300, np.int32), table)
    assert RansDecoder().decode_with_indexes(data, np.zeros(300, np.int32), table).tolist() == (
        symbols.tolist()
    )


def test_buffered_encoder_and_incremental_decoder(gc_table: CdfTable) -> None:
    enc = BufferedRansEncoder()
    parts = [lcg_symbols(50, s, 20) for s in range(4)]
    idx = [np.full(50, 5 * s, np.int32) for s in range(4)]
    for p, i in zip(parts, idx):
        enc.encode_with_indexes(p, i, gc_table)
    data = enc.flush()
    assert data == RansEncoder().encode_with_indexes(
        np.concatenate(parts), np.concatenate(idx), gc_table
    )
    dec = RansDecoder()
    dec.set_stream(data)
    for p, i in zip(parts, idx):
        assert dec.decode_stream(i, gc_table).tolist() == p.tolist()
    dec.finish()


def test_buffered_encoder_keeps_nothing_on_error(gc_table: CdfTable) -> None:
    enc = BufferedRansEncoder()
    enc.encode_with_indexes([1, 2], [0, 0], gc_table)
    with pytest.raises(ParameterError, match="out of range"):
        enc.encode_with_indexes([1, 2, 3], [0, 64, 0], gc_table)
    assert enc.flush() == RansEncoder().encode_with_indexes([1, 2], [0, 0], gc_table)


def test_golden_stream(gc_table: CdfTable) -> None:
    symbols = lcg_symbols(4000, 7, 40)
    indexes = (lcg_symbols(4000, 11, 31) + 31).astype(np.int32)
    data = RansEncoder().encode_with_indexes(symbols, indexes, gc_table)
    # Changing this hash means the stream format or the Gaussian tables changed.
    assert hashlib.sha256(data).hexdigest()[:16] == GOLDEN_GC_SHA256
    assert RansDecoder().decode_with_indexes(data, indexes, gc_table).tolist() == symbols.tolist()


GOLDEN_GC_SHA256 = "246a79bfd0355752"


def test_streams_match_compressai_both_ways(compressai, gc_table: CdfTable) -> None:  # type: ignore[no-untyped-def]
    from compressai.ans import RansDecoder as CDec
    from compressai.ans import RansEncoder as CEnc

    cdfs, lengths, offsets = (a.tolist() for a in gc_table.to_padded())
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 2000))
        idx = rng.integers(0, 64, n).tolist()
        sym = (rng.standard_normal(n) * rng.choice([1, 30, 1e5], n)).astype(np.int64).tolist()
        theirs = CEnc().encode_with_indexes(sym, idx, cdfs, lengths, offsets)
        ours = RansEncoder().encode_with_indexes(sym, idx, cdfs, lengths, offsets)
        assert ours == theirs
        assert RansDecoder().decode_with_indexes(theirs, idx, gc_table).tolist() == sym
        assert CDec().decode_with_indexes(ours, idx, cdfs, lengths, offsets) == sym


@given(st.lists(st.floats(0, 10, allow_subnormal=False, width=32), min_size=1, max_size=400))
def test_pmf_to_quantized_cdf_invariants(pmf: list[float]) -> None:
    if sum(pmf) * 65536 < 0.5:
        with pytest.raises(CdfError):
            pmf_to_quantized_cdf(pmf)
        return
    cdf = pmf_to_quantized_cdf(pmf)
    assert cdf.dtype == np.int32 and len(cdf) == len(pmf) + 1
    assert cdf[0] == 0 and cdf[-1] == 65536
    assert (np.diff(cdf) >= 1).all()


def test_pmf_to_quantized_cdf_matches_compressai(compressai) -> None:  # type: ignore[no-untyped-def]
    from compressai._CXX import pmf_to_quantized_cdf as theirs

    rng = np.random.default_rng(1)
    for _ in range(300):
        n = int(rng.integers(1, 500))
        pmf = rng.random(n) ** rng.uniform(1, 30)
        pmf[rng.random(n) < 0.2] = 0
        if pmf.sum() == 0:
            pmf[0] = 1
        pmf = (pmf / pmf.sum()).astype(np.float32)
        assert pmf_to_quantized_cdf(pmf).tolist() == theirs(pmf.tolist(), 16)


# -- robustness ----------------------------------------------------------------------------------


def test_every_truncation_raises(gc_table: CdfTable) -> None:
    symbols = lcg_symbols(300, 5, 200)  # many escapes
    indexes = np.full(300, 3, np.int32)
    data = RansEncoder().encode_with_indexes(symbols, indexes, gc_table)
    for cut in range(len(data)):
        with pytest.raises(BitstreamError):
            RansDecoder().decode_with_indexes(data[:cut], indexes, gc_table)
    with pytest.raises(BitstreamError, match="left after"):
        RansDecoder().decode_with_indexes(data + b"\0\0\0\0", indexes, gc_table)


def test_every_byte_flip_raises_or_returns(gc_table: CdfTable) -> None:
    symbols = lcg_symbols(200, 9, 30)
    indexes = (lcg_symbols(200, 4, 31) + 31).astype(np.int32)
    data = bytearray(RansEncoder().encode_with_indexes(symbols, indexes, gc_table))
    caught = 0
    for pos in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            try:
                out = RansDecoder().decode_with_indexes(bytes(bad), indexes, gc_table)
            except BitstreamError:
                caught += 1
            else:
                assert out.shape == (200,)
    # A near-optimal code leaves little redundancy, so some flipped streams are valid encodings of
    # other symbols; the end-of-stream check (all words read, state back at its start) still
    # catches most of them.
    assert caught > 0.6 * 3 * len(data)


@given(st.binary(max_size=200), st.integers(0, 300))
def test_garbage_never_crashes(garbage: bytes, n: int) -> None:
    table = as_cdf_table([SMALLEST], [5], [-1])
    try:
        out = RansDecoder().decode_with_indexes(garbage, np.zeros(n, np.int32), table)
    except BitstreamError:
        return
    assert out.shape == (n,)


def test_clear_errors_for_bad_arguments(gc_table: CdfTable) -> None:
    enc = RansEncoder()
    with pytest.raises(CdfError, match="strictly increasing"):
        enc.encode_with_indexes([0], [0], [[0, 5, 5, 65536]], [4], [0])
    with pytest.raises(CdfError, match="must be 65536|16-bit"):
        enc.encode_with_indexes([0], [0], [[0, 5, 65535]], [3], [0])
    with pytest.raises(CdfError, match="length"):
        enc.encode_with_indexes([0], [0], [[0, 65536]], [7], [0])
    with pytest.raises(ParameterError, match="index 64"):
        enc.encode_with_indexes([0], [64], gc_table)
    with pytest.raises(ParameterError, match="expected length 2"):
        enc.encode_with_indexes([0, 1], [0], gc_table)
    with pytest.raises(TypeError, match="integers"):
        enc.encode_with_indexes([0.5], [0], gc_table)
    with pytest.raises(ValueError, match="outside int32"):
        enc.encode_with_indexes([2**40], [0], gc_table)
    with pytest.raises(CdfError, match="non-negative"):
        pmf_to_quantized_cdf([0.5, -0.1])
    with pytest.raises(RuntimeError, match="set_stream"):
        RansDecoder().decode_stream([0], gc_table)
    with pytest.raises(TypeError, match="bytes"):
        RansDecoder().decode_with_indexes("abc", [0], gc_table)  # type: ignore[arg-type]
    assert issubclass(BitstreamError, TinifyError) and issubclass(TinifyError, ValueError)


# -- mixtures, threads, fork ---------------------------------------------------------------------


@given(st.integers(1, 4), st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_mixture_round_trip(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    weights = rng.random((n, k)) + 1e-3
    means = rng.normal(0, 50, (n, k))
    scales = np.exp(rng.uniform(-4, 7, (n, k)))
    symbols = np.round(means[:, 0] + rng.normal(0, 1, n) * scales[:, 0] * 3).astype(np.int32)
    data = encode_mixture(symbols, weights, means, scales)
    assert decode_mixture(data, weights, means, scales).tolist() == symbols.tolist()


def test_output_independent_of_thread_count(gc_table: CdfTable) -> None:
    from tinify import _core

    symbols = lcg_symbols(4 * 500, 1, 50).reshape(4, 500)
    indexes = np.full((4, 500), 20, np.int32)
    before = tinify.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            tinify.set_num_threads(n)
            results.append(_core.encode_batch(symbols, indexes, gc_table))
            decoded = _core.decode_batch(results[-1], indexes, gc_table)
            assert (decoded == symbols).all()
        assert results[0] == results[1] == results[2]
    finally:
        tinify.set_num_threads(before)


def _encode_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from tinify import _core

    table = gaussian_table(default_scale_table())
    streams = _core.encode_batch(np.ones((3, 100), np.int32), np.full((3, 100), 5, np.int32), table)
    queue.put([len(s) for s in streams])


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_coding_works_in_forked_children(gc_table: CdfTable) -> None:
    from tinify import _core

    _core.encode_batch(np.ones((3, 100), np.int32), np.full((3, 100), 5, np.int32), gc_table)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_encode_in_child, args=(queue,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == 0
    assert len(queue.get(timeout=5)) == 3
