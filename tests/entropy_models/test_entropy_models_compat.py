"""Entropy-model behaviours CompressAI code relies on: exception types before ``update()`` and
for bad scale tables, and ``pmf_to_quantized_cdf`` at CompressAI's path returning a tensor."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import tinify
from tinify.ans import pmf_to_quantized_cdf as pmf_to_quantized_cdf_numpy
from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.entropy_models.entropy_models import pmf_to_quantized_cdf


def test_pmf_to_quantized_cdf_returns_an_int32_tensor() -> None:
    pmf = torch.tensor([0.1, 0.2, 0.3, 0.4])
    cdf = pmf_to_quantized_cdf(pmf, 16)
    assert isinstance(cdf, torch.Tensor) and cdf.dtype == torch.int32
    assert cdf.tolist() == pmf_to_quantized_cdf_numpy(pmf.numpy(), 16).tolist()
    assert cdf[0] == 0 and cdf[-1] == 2**16 and len(cdf) == 5
    assert torch.all(cdf[1:] > cdf[:-1])
    # A zero-probability symbol still gets one count.
    assert torch.all(pmf_to_quantized_cdf(torch.tensor([0.0, 1.0, 0.0])).diff() >= 1)


def test_pmf_to_quantized_cdf_matches_compressai() -> None:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai.entropy_models.entropy_models import pmf_to_quantized_cdf as theirs

    rng = np.random.default_rng(0)
    for n in (2, 7, 300):
        pmf = torch.from_numpy(rng.dirichlet(np.ones(n)).astype(np.float32))
        a, b = pmf_to_quantized_cdf(pmf, 16), theirs(pmf, 16)
        assert a.dtype == b.dtype and torch.equal(a, b)


def test_using_tables_before_update_is_a_value_error() -> None:
    eb = EntropyBottleneck(3)
    for call in (
        lambda: eb.compress(torch.zeros(1, 3, 2, 2)),
        lambda: eb.decompress([b"\0" * 8], (2, 2)),
        lambda: GaussianConditional(None).build_indexes(torch.ones(1, 1, 2, 2)),
    ):
        with pytest.raises(ValueError, match="update"):
            call()
        with pytest.raises(tinify.TinifyError):
            call()


@pytest.mark.parametrize("table", [1, 0.5, "abc", {0.1: 1}, [], [[0.1, 0.2]], [0.2, 0.1], [-1.0]])
def test_bad_scale_tables_are_value_errors(table: Any) -> None:
    with pytest.raises(ValueError, match="scale_table"):
        GaussianConditional(table)


def test_scale_table_types_accepted() -> None:
    expected = torch.tensor([0.11, 0.5, 2.0])
    for table in ([0.11, 0.5, 2.0], (0.11, 0.5, 2.0), expected, np.array([0.11, 0.5, 2.0])):
        assert torch.equal(GaussianConditional(table).scale_table, expected)


def test_bad_scale_tables_match_compressai() -> None:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai.entropy_models import GaussianConditional as Theirs

    for table in (1, "abc", [], [0.2, 0.1]):
        with pytest.raises(ValueError):
            Theirs(table)
        with pytest.raises(ValueError):
            GaussianConditional(table)


def test_older_private_names_still_work() -> None:
    """Names older CompressAI-based model code calls: deprecated ``_quantize`` /
    ``_dequantize`` (with a warning), ``_standardized_cumulative``, ``_get_medians``."""
    gc = GaussianConditional(None)
    y = torch.tensor([[[[0.4, 1.6, -2.5]]]])
    with pytest.warns(DeprecationWarning, match="quantize"):
        symbols = gc._quantize(y, "symbols")
    assert symbols.tolist() == [[[[0, 2, -2]]]]
    with pytest.warns(DeprecationWarning, match="dequantize"):
        assert GaussianConditional._dequantize(symbols).dtype == torch.float32
    cdf = gc._standardized_cumulative(torch.tensor([0.0, 1.0]))
    assert cdf[0].item() == 0.5 and cdf[1].item() == pytest.approx(0.8413447, rel=1e-6)
    eb = EntropyBottleneck(3)
    assert torch.equal(eb._get_medians().flatten(), torch.zeros(3))
