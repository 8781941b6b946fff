"""Entropy models: round trips, tables, state dicts, errors, CompressAI equivalence."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tinify import BitstreamError
from tinify.entropy_models import (
    EntropyBottleneck,
    GaussianConditional,
    GaussianMixtureConditional,
)


def scale_table() -> torch.Tensor:
    return torch.exp(torch.linspace(np.log(0.11), np.log(256), 64))


def trained_like_bottleneck(channels: int, seed: int = 0) -> EntropyBottleneck:
    """A bottleneck with perturbed parameters and quantiles, as after some training."""
    torch.manual_seed(seed)
    eb = EntropyBottleneck(channels)
    with torch.no_grad():
        for p in eb.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return eb.eval()


@pytest.fixture(scope="module")
def gc() -> GaussianConditional:
    model = GaussianConditional(None)
    model.update_scale_table(scale_table())
    return model.eval()


@given(
    seed=st.integers(0, 2**31 - 1),
    spread=st.sampled_from([0.1, 1.0, 30.0, 1e4]),
    batch=st.integers(1, 3),
)
def test_gaussian_round_trip(gc: GaussianConditional, seed: int, spread: float, batch: int) -> None:
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(batch, 6, 5, 7, generator=g) * spread
    scales = torch.rand(batch, 6, 5, 7, generator=g) * spread + 0.01
    means = torch.randn(batch, 6, 5, 7, generator=g) * spread
    indexes = gc.build_indexes(scales)
    strings = gc.compress(y, indexes, means)
    assert len(strings) == batch
    out = gc.decompress(strings, indexes, means=means)
    assert torch.equal(out, gc.quantize(y, "dequantize", means))
    no_mean = gc.decompress(gc.compress(y, indexes), indexes)
    assert torch.equal(no_mean, torch.round(y))


@given(seed=st.integers(0, 2**31 - 1), spread=st.sampled_from([0.5, 10.0, 1e5]))
def test_bottleneck_round_trip(seed: int, spread: float) -> None:
    eb = trained_like_bottleneck(5, seed % 7)
    eb.update(force=True)
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(2, 5, 4, 6, generator=g) * spread
    strings = eb.compress(y)
    out = eb.decompress(strings, y.shape[2:])
    expected, _ = eb(y)
    assert torch.equal(out, expected)


def test_bottleneck_any_spatial_rank() -> None:
    eb = trained_like_bottleneck(3)
    eb.update()
    for shape in [(2, 3), (2, 3, 9), (1, 3, 2, 3, 4)]:
        y = torch.randn(shape) * 4
        out = eb.decompress(eb.compress(y), shape[2:])
        assert torch.equal(out, eb(y)[0])


def test_train_mode_adds_noise_eval_rounds() -> None:
    eb = trained_like_bottleneck(2)
    y = torch.randn(1, 2, 8, 8) * 3
    eb.train()
    noisy, _ = eb(y)
    assert (noisy - y).abs().max() <= 0.5 and not torch.equal(noisy, torch.round(noisy))
    eb.eval()
    rounded, lik = eb(y)
    medians = eb.quantiles[:, 0, 1].detach().view(1, -1, 1, 1)
    assert torch.equal(rounded, torch.round(y - medians) + medians)
    assert (lik > 0).all() and (lik <= 1).all()


def test_likelihoods_lower_bound() -> None:
    gc = GaussianConditional(scale_table()).eval()
    y = torch.tensor([[[[1e4]]]])
    _, lik = gc(y, torch.tensor([[[[0.2]]]]))
    assert lik.item() == pytest.approx(1e-9)


def test_compress_before_update_says_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"call update\(\)"):
        EntropyBottleneck(4).compress(torch.zeros(1, 4, 2, 2))
    gc = GaussianConditional(None)
    with pytest.raises(ValueError, match="update"):
        gc.compress(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.int32))


def test_bad_arguments(gc: GaussianConditional) -> None:
    y = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="same shape"):
        gc.compress(y, torch.zeros(1, 2, 3, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match="out of range"):
        gc.compress(y, torch.full((1, 2, 3, 3), 64, dtype=torch.int32))
    with pytest.raises(ValueError, match="strings"):
        gc.decompress([b"", b""], torch.zeros(1, 2, 3, 3, dtype=torch.int32))
    with pytest.raises(ValueError, match="mode"):
        gc.quantize(y, "bogus")
    with pytest.raises(ValueError, match="increasing"):
        GaussianConditional([1.0, 0.5])
    with pytest.raises(ValueError, match="entropy_coder"):
        EntropyBottleneck(2, entropy_coder="rangecoder")


def test_corrupt_strings_raise(gc: GaussianConditional) -> None:
    y = torch.randn(1, 4, 8, 8) * 5
    idx = gc.build_indexes(torch.ones_like(y) * 3)
    (data,) = gc.compress(y, idx)
    with pytest.raises(BitstreamError):
        gc.decompress([data[:-4]], idx)
    with pytest.raises(BitstreamError):
        gc.decompress([b"\x00" * 8], idx)


def test_build_indexes_rounds_scales_up(gc: GaussianConditional) -> None:
    table = gc.scale_table
    scales = torch.cat([table, table[:-1] * 1.0001, torch.tensor([0.0, 0.05, 1e6])])
    idx = gc.build_indexes(scales)
    ref = torch.tensor(
        [
            int(min(63, (table >= max(float(s), 0.11)).nonzero()[0])) if s <= table[-1] else 63
            for s in scales
        ]
    )
    assert torch.equal(idx.long(), ref)


def test_state_dict_round_trip_resizes_tables() -> None:
    src = trained_like_bottleneck(6, seed=3)
    src.update()
    gc_src = GaussianConditional(None)
    gc_src.update_scale_table(scale_table()[::2])
    buf = io.BytesIO()
    torch.save({"eb": src.state_dict(), "gc": gc_src.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    eb = EntropyBottleneck(6)
    eb.load_state_dict(state["eb"], strict=True)
    gc = GaussianConditional(None)
    gc.load_state_dict(state["gc"], strict=True)
    assert torch.equal(eb._quantized_cdf, src._quantized_cdf)
    assert gc.scale_table.shape == (32,) and gc._quantized_cdf.shape == gc_src._quantized_cdf.shape
    y = torch.randn(1, 6, 5, 5) * 3
    assert eb.compress(y) == src.compress(y)
    # Loaded tables are used as they are: no update() needed, and update() keeps them.
    assert eb.update() is False


def test_mixture_round_trip_and_rate() -> None:
    torch.manual_seed(0)
    k, m, h, w = 3, 32, 24, 24
    gm = GaussianMixtureConditional(K=k).eval()
    weights = torch.softmax(torch.randn(1, k, m, h, w) * 2, dim=1).reshape(1, k * m, h, w)
    means = (torch.randn(1, k * m, h, w) * 4).round() + torch.rand(1, k * m, h, w) - 0.5
    scales = torch.exp(torch.rand(1, k * m, h, w) * 4 - 1.5)
    # Draw y from the mixture itself, so the likelihoods are the true code lengths.
    comp = torch.multinomial(weights.reshape(k, -1).T, 1).T.reshape(1, m, h, w)
    pick = torch.stack([means.reshape(1, k, m, h, w)[0, c] for c in range(k)])
    spick = torch.stack([scales.reshape(1, k, m, h, w)[0, c] for c in range(k)])
    mu = torch.gather(pick, 0, comp)
    sd = torch.gather(spick, 0, comp)
    y = mu + sd * torch.randn_like(mu)
    y_hat, lik = gm(y, scales, means, weights)
    strings = gm.compress(y, scales, means, weights)
    out = gm.decompress(strings, scales, means, weights)
    assert torch.equal(out, y_hat)
    coded_bits = 8 * len(strings[0])
    ideal_bits = float(-torch.log2(lik).sum())
    assert abs(coded_bits - ideal_bits) <= 0.01 * ideal_bits + 64


def test_mixture_bad_parameters() -> None:
    gm = GaussianMixtureConditional(K=2)
    y = torch.zeros(1, 3, 2, 2)
    p = torch.ones(1, 6, 2, 2)
    with pytest.raises(ValueError, match="shape"):
        gm.compress(y, p[:, :5], p, p)
    with pytest.raises(ValueError, match="weight"):
        gm.compress(y, p, p, -p)
    with pytest.raises(ValueError, match="mean"):
        gm.compress(y, p, p * float("nan"), p)


# -- CompressAI 1.2.8 equivalence ---------------------------------------------------------------


def test_bottleneck_matches_compressai(compressai) -> None:  # type: ignore[no-untyped-def]
    ours = trained_like_bottleneck(8, seed=1)
    theirs = compressai.entropy_models.EntropyBottleneck(8)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs.eval()
    y = torch.randn(2, 8, 6, 5) * 6
    for a, b in zip(ours(y), theirs(y)):
        assert (a - b).abs().max() <= 1e-6
    assert (ours.loss() - theirs.loss()).abs() <= 1e-4
    ours.update(force=True)
    theirs.update(force=True)
    for name in ("_quantized_cdf", "_offset", "_cdf_length"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert ours.compress(y) == theirs.compress(y)
    ours_again = EntropyBottleneck(8)
    ours_again.load_state_dict(theirs.state_dict(), strict=True)
    assert ours_again.compress(y) == theirs.compress(y)


def test_gaussian_matches_compressai(compressai) -> None:  # type: ignore[no-untyped-def]
    theirs = compressai.entropy_models.GaussianConditional(None)
    theirs.update_scale_table(compressai.models.google.get_scale_table())
    theirs.eval()
    ours = GaussianConditional(None).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    g = torch.Generator().manual_seed(0)
    y = torch.randn(2, 16, 8, 8, generator=g) * 5
    scales = torch.rand(2, 16, 8, 8, generator=g) * 20
    means = torch.randn(2, 16, 8, 8, generator=g)
    for a, b in zip(ours(y, scales, means), theirs(y, scales, means)):
        assert (a - b).abs().max() <= 1e-6
    idx = ours.build_indexes(scales)
    assert torch.equal(idx, theirs.build_indexes(scales))
    assert ours.compress(y, idx, means) == theirs.compress(y, idx, means)
    # Our own deterministic tables agree with CompressAI's float32 ones on nearly every row.
    fresh = GaussianConditional(None)
    fresh.update_scale_table(compressai.models.google.get_scale_table())
    same = sum(torch.equal(a, b) for a, b in zip(fresh._quantized_cdf, theirs._quantized_cdf))
    assert same >= 62
    assert torch.equal(fresh._offset, theirs._offset)
    assert torch.equal(fresh._cdf_length, theirs._cdf_length)


def test_mixture_likelihood_matches_compressai(compressai) -> None:  # type: ignore[no-untyped-def]
    theirs = compressai.entropy_models.GaussianMixtureConditional(K=3).eval()
    ours = GaussianMixtureConditional(K=3).eval()
    g = torch.Generator().manual_seed(0)
    y = torch.randn(1, 4, 6, 6, generator=g) * 3
    w = torch.softmax(torch.randn(1, 3, 4, 6, 6, generator=g), 1).reshape(1, 12, 6, 6)
    s = torch.rand(1, 12, 6, 6, generator=g) * 4
    m = torch.randn(1, 12, 6, 6, generator=g)
    for a, b in zip(ours(y, s, m, w), theirs(y, s, m, w)):
        assert (a - b).abs().max() <= 1e-6
