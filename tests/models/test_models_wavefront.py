"""The wavefront schedule of the autoregressive coder."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from tinify.entropy_models import GaussianConditional
from tinify.layers import MaskedConv2d
from tinify.models import get_scale_table
from tinify.models.fixed import quantize_network, to_fixed
from tinify.models.image.wavefront import (
    ContextCoder,
    FixedArithmetic,
    FloatArithmetic,
    causal_taps,
    coding_fronts,
    compress_latent,
    context_network,
    decompress_latent,
    wavefront_slope,
)

MINNEN_TAPS = [(dh, dw) for dh in (-2, -1) for dw in range(-2, 3)] + [(0, -2), (0, -1)]


def test_taps_and_slope_of_the_5x5_mask() -> None:
    conv = MaskedConv2d(4, 8, kernel_size=5, padding=2, stride=1)
    assert causal_taps(conv) == MINNEN_TAPS
    assert wavefront_slope(MINNEN_TAPS) == 3  # (h-1, w+2) rules out 2*h + w
    assert wavefront_slope([(-1, 1), (0, -1)]) == 2  # a 3x3 mask
    assert wavefront_slope([(0, -1)]) == 1


def test_non_causal_or_unusual_convs_are_rejected() -> None:
    with pytest.raises(ValueError, match="causal"):
        causal_taps(nn.Conv2d(4, 8, 5, padding=2))  # no mask: sees the future
    with pytest.raises(ValueError, match="stride-1"):
        causal_taps(MaskedConv2d(4, 8, kernel_size=5, padding=2, stride=2))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 7), (5, 1), (4, 6), (9, 13)])
def test_fronts_partition_and_respect_dependencies(height: int, width: int) -> None:
    fronts = coding_fronts(height, width, 3)
    assert len(fronts) == 3 * (height - 1) + width
    order = torch.cat(fronts)
    assert sorted(order.tolist()) == list(range(height * width))
    step = {int(p): i for i, f in enumerate(fronts) for p in f}
    for p, t in step.items():
        h, w = divmod(p, width)
        for dh, dw in MINNEN_TAPS:
            hh, ww = h + dh, w + dw
            if 0 <= hh < height and 0 <= ww < width:
                assert step[hh * width + ww] < t  # every neighbour is decoded earlier
    for f in fronts:  # rows increase within a front
        assert torch.equal(f, torch.sort(f).values)
    raster = coding_fronts(height, width, 3, "raster")
    assert [int(f) for f in raster] == list(range(height * width))
    with pytest.raises(ValueError, match="order"):
        coding_fronts(2, 2, 3, "zigzag")


def _parts(m: int = 6, seed: int = 0) -> tuple[MaskedConv2d, nn.Sequential]:
    """A context model and a parameter network for an M-channel latent."""
    torch.manual_seed(seed)
    context = MaskedConv2d(m, 2 * m, kernel_size=5, padding=2, stride=1)
    params = nn.Sequential(nn.Conv2d(4 * m, 3 * m, 1), nn.LeakyReLU(), nn.Conv2d(3 * m, 2 * m, 1))
    return context, params


def test_context_matches_the_masked_convolution() -> None:
    context, entropy_parameters = _parts()
    y_hat = torch.round(torch.randn(2, 6, 5, 7) * 3)
    hyper = torch.randn(2, 12, 5, 7)
    coder = ContextCoder(context, entropy_parameters, hyper)
    for pos in coder.fronts:  # fill with the final values, then compare every position
        coder.write(pos, y_hat.flatten(2).transpose(1, 2)[:, pos].reshape(-1, 6))
    assert torch.equal(coder.latent(), y_hat)
    with torch.no_grad():
        expected = entropy_parameters(torch.cat([hyper, context(y_hat)], dim=1))
    everything = torch.arange(35)
    got = coder.entropy_params(everything).reshape(2, 35, -1).transpose(1, 2).reshape(2, -1, 5, 7)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("order", ["wavefront", "raster"])
def test_latent_round_trip(order: str) -> None:
    context, entropy_parameters = _parts(seed=1)
    gc = GaussianConditional(None)
    gc.update_scale_table(get_scale_table())
    y = torch.randn(2, 6, 6, 9) * 4
    hyper = torch.randn(2, 12, 6, 9)
    strings, y_hat = compress_latent(y, hyper, context, entropy_parameters, gc, order)
    assert float((y_hat - y).abs().max()) <= 0.5
    decoded = decompress_latent(strings, hyper, context, entropy_parameters, gc, order)
    assert torch.equal(decoded, y_hat)
    with pytest.raises(ValueError, match="streams"):
        decompress_latent(strings[:1], hyper, context, entropy_parameters, gc, order)


def test_streams_do_not_depend_on_the_torch_thread_count() -> None:
    # Multi-threaded BLAS may sum in another order: with the front loops on torch's thread
    # count, a stream encoded with 2 threads decoded wrongly with 1 (thousands of latents off at
    # M=64). The loops now run on one intra-op thread and leave the caller's setting alone.
    m = 64
    context, entropy_parameters = _parts(m=m, seed=2)
    gc = GaussianConditional(None)
    gc.update_scale_table(get_scale_table())
    y = torch.randn(1, m, 12, 16) * 4
    hyper = torch.randn(1, 2 * m, 12, 16)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        strings, y_hat = compress_latent(y, hyper, context, entropy_parameters, gc)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        decoded = decompress_latent(strings, hyper, context, entropy_parameters, gc)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(decoded, y_hat)


def test_an_arithmetic_of_the_first_protocol_still_codes() -> None:
    """An arithmetic with only ``hyper``, ``params(context_in, hyper)``, ``gaussian``,
    ``mixture``, ``context_values`` and ``latent`` (no ahead attributes) still drives a
    ContextCoder, with the parameters of the float arithmetic it wraps."""
    torch.manual_seed(0)
    context = MaskedConv2d(4, 8, 5, padding=2)
    params_net = nn.Sequential(nn.Conv2d(16, 12, 1), nn.LeakyReLU(), nn.Conv2d(12, 8, 1))
    inner = FloatArithmetic(context, params_net)

    class Plain:
        def hyper(self, params: Tensor) -> Tensor:
            return inner.hyper(params)

        def params(self, context_in: Tensor, hyper: Tensor) -> Tensor:
            return inner.params(context_in, hyper)

    hyper = torch.randn(1, 8, 5, 7)
    plain = ContextCoder(context, params_net, hyper, arithmetic=Plain())  # type: ignore[arg-type]
    ref = ContextCoder(context, params_net, hyper, arithmetic=inner)
    for i in range(len(plain.fronts)):
        values = torch.randn(plain.fronts[i].numel(), 4)
        torch.testing.assert_close(plain.front_params(i), ref.front_params(i), rtol=0, atol=0)
        plain.write_front(i, values)
        ref.write_front(i, values)


@pytest.mark.parametrize("width", [1, 2])
@pytest.mark.parametrize("order", ["wavefront", "raster"])
@pytest.mark.parametrize("fixed", [False, True], ids=["float", "fixed"])
def test_latents_narrower_than_the_wavefront_slope(width: int, order: str, fixed: bool) -> None:
    """A latent 1 or 2 positions wide has empty wavefronts (slope 3): it codes and decodes to
    the encoder's latent on both arithmetics, instead of failing on an empty front."""
    torch.manual_seed(0)
    context = MaskedConv2d(4, 8, 5, padding=2)
    params_net = nn.Sequential(nn.Conv2d(16, 12, 1), nn.LeakyReLU(), nn.Conv2d(12, 8, 1))
    conditional = GaussianConditional(None)
    conditional.update_scale_table(get_scale_table())
    conditional.update()
    y = torch.randn(2, 4, 5, width) * 3
    params = torch.randn(2, 8, 5, width)
    arithmetic = None
    if fixed:
        arithmetic = FixedArithmetic(context_network(context), quantize_network(params_net))
        params = to_fixed(params)
    strings, y_hat = compress_latent(
        y, params, context, params_net, conditional, order, arithmetic=arithmetic
    )
    decoded = decompress_latent(
        strings, params, context, params_net, conditional, order, arithmetic=arithmetic
    )
    assert torch.equal(decoded, y_hat)
