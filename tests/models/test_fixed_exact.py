"""Exact float64 convolutions of the fixed-point path (``tinify.models.fixed.ExactConv``).

Every case is checked against a wide-integer reference (Python integers: no overflow at any
size) and against Rust's integer path (``FixedNetwork.forward``), with activations at the edge
of the ``2^53`` bound that decides the float64 path, and with tiny bands.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import tinify
from tinify.layers import MaskedConv2d
from tinify.models.fixed import (
    WINOGRAD_GROWTH,
    ExactConv,
    quantize_network,
    run_image,
    run_network,
    run_rows,
)
from tinify.models.image.wavefront import (
    FixedArithmetic,
    causal_taps,
    context_network,
    early_taps,
    wavefront_slope,
)

EDGE = (1 << 53) - 1


def _requantize(acc: int, bias: int, shift: int) -> int:
    acc += bias
    if shift:
        acc = (acc + (1 << (shift - 1))) >> shift
    return max(-(2**31), min(2**31 - 1, acc))


def reference(layer: ExactConv, x: np.ndarray) -> np.ndarray:
    """The layer in Python integers: every tap's product summed exactly, then requantized."""
    weight, shift, bias = layer.layer.quantized()
    cout, cin, k = weight.shape[0], layer.cin, layer.kernel
    w = weight.reshape(cout, cin, k, k).astype(object)
    s, p = layer.stride, layer.padding
    _, h, wd = x.shape
    xs = x.astype(object)
    if layer.transposed:
        ho = (h - 1) * s + k + layer.output_padding - 2 * p
        wo = (wd - 1) * s + k + layer.output_padding - 2 * p
        acc = np.zeros((cout, ho, wo), dtype=object)
        for iy in range(h):
            for ix in range(wd):
                for i in range(k):
                    for j in range(k):
                        oy, ox = iy * s + i - p, ix * s + j - p
                        if 0 <= oy < ho and 0 <= ox < wo:
                            acc[:, oy, ox] += w[:, :, i, j].dot(xs[:, iy, ix])
    else:
        ho, wo = (h + 2 * p - k) // s + 1, (wd + 2 * p - k) // s + 1
        acc = np.zeros((cout, ho, wo), dtype=object)
        for oy in range(ho):
            for ox in range(wo):
                for i in range(k):
                    for j in range(k):
                        iy, ix = oy * s + i - p, ox * s + j - p
                        if 0 <= iy < h and 0 <= ix < wd:
                            acc[:, oy, ox] += w[:, :, i, j].dot(xs[:, iy, ix])
    out = [
        _requantize(int(a), int(bias[o]), int(shift[o]))
        for o in range(cout)
        for a in acc[o].reshape(-1)
    ]
    return np.array(out, dtype=np.int32).reshape(acc.shape)


@st.composite
def cases(draw: st.DrawFn) -> tuple[nn.Module, np.ndarray]:
    transposed = draw(st.booleans())
    cin, cout = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    k, s = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    p = draw(st.integers(0, k - 1))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if transposed:
        op = draw(st.integers(0, s - 1))
        module: nn.Module = nn.ConvTranspose2d(cin, cout, k, s, p, op)
        if (h - 1) * s + k + op - 2 * p <= 0 or (w - 1) * s + k + op - 2 * p <= 0:
            h, w = h + p, w + p
    else:
        module = nn.Conv2d(cin, cout, k, s, p)
        h, w = max(h, k), max(w, k)
    torch.manual_seed(draw(st.integers(0, 2**16)))
    with torch.no_grad():
        for t in module.parameters():
            t.uniform_(-draw(st.floats(1e-3, 4.0)), 1.0)
        # Masked taps (all-zero kernel positions are skipped by the shifted products).
        zero = draw(st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), max_size=4))
        for i, j in zero:
            module.weight[:, :, i, j] = 0
    mode = draw(st.sampled_from(["small", "edge", "over", "any"]))
    layer = ExactConv.of(quantize_network(nn.Sequential(module)).layers[0])
    n = cin * h * w
    if mode == "small":
        x = np.array(draw(st.lists(st.integers(-(2**17), 2**17), min_size=n, max_size=n)))
    elif mode == "any":
        x = np.array(draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n, max_size=n)))
    else:
        # The largest magnitude that keeps every partial sum below 2^53 (or one more), with
        # all-equal or random signs (equal signs reach the bound where the weights agree).
        edge = min(EDGE // max(layer.row_sum, 1) + (mode == "over"), 2**31 - 1)
        signs = draw(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n))
        same = draw(st.booleans())
        x = np.array([edge if same else edge * sg for sg in signs])
    return module, x.astype(np.int32).reshape(cin, h, w)


@settings(max_examples=60, deadline=None)
@given(cases(), st.integers(1, 64))
def test_exact_conv_matches_wide_integers(case: tuple[nn.Module, np.ndarray], band: int) -> None:
    module, x = case
    net = quantize_network(nn.Sequential(module))
    layer = ExactConv.of(net.layers[0])
    expected = reference(layer, x)
    got = layer.forward(torch.from_numpy(x), band_values=band).numpy()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(net.forward(x), expected)
    np.testing.assert_array_equal(run_image(net, torch.from_numpy(x)).numpy(), expected)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(1, 9),
    st.integers(1, 9),
    st.sampled_from(["small", "edge", "over", "any"]),
    st.integers(0, 2**16),
    st.integers(1, 200),
)
def test_winograd_conv_matches_wide_integers(
    cin: int, cout: int, h: int, w: int, mode: str, seed: int, band: int
) -> None:
    """3x3 stride-1 layers take Winograd's F(2x2, 3x3) exactly when ``144 max|x| * row_sum <
    2^53`` (at the edge with equal or mixed signs, odd sizes, tiny bands), and the direct
    products above: the wide-integer result either way."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(cin, cout, 3, 1, 1)
    with torch.no_grad():
        for t in conv.parameters():
            t.uniform_(-1.0, 1.0)
    net = quantize_network(nn.Sequential(conv))
    layer = ExactConv.of(net.layers[0])
    assert layer.winograd
    generator = np.random.default_rng(seed)
    limit = EDGE // (WINOGRAD_GROWTH * layer.row_sum)
    if mode == "small":
        x = generator.integers(-(2**17), 2**17, (cin, h, w))
    elif mode == "any":
        x = generator.integers(-(2**31), 2**31, (cin, h, w))
    else:
        value = limit + (mode == "over")
        x = value * (generator.integers(0, 2, (cin, h, w)) * 2 - 1 if seed % 2 else 1)
        x = np.broadcast_to(x, (cin, h, w))
    x = np.ascontiguousarray(x, dtype=np.int32)
    xt = torch.from_numpy(x)
    expected = reference(layer, x)
    np.testing.assert_array_equal(layer.forward(xt, band_values=band).numpy(), expected)
    within = layer.exact_f64(xt, WINOGRAD_GROWTH * layer.row_sum)
    assert within == (int(np.abs(x.astype(np.int64)).max()) <= limit)
    if within:
        xd = xt.to(torch.float64)
        assert torch.equal(layer._winograd(xd, band), layer._shifted(xd, h, w))


def test_exact_conv_takes_the_float64_path_below_the_bound() -> None:
    """The float64 path is taken exactly when ``max|x| * row_sum < 2^53``, and it is exact
    where the partial sums reach ``2^53 - 1``; one more and Rust's i64 path answers."""
    wide = nn.Conv2d(64, 2, 3, bias=False, padding=1)
    with torch.no_grad():
        wide.weight.fill_(0.5)  # w_int = 2^14 each
        wide.weight[1].fill_(-0.5)
    net = quantize_network(nn.Sequential(wide))
    layer = ExactConv.of(net.layers[0])
    assert layer.row_sum == 64 * 9 * (1 << 14)
    edge = EDGE // layer.row_sum
    for value, float_path in ((edge, True), (-edge, True), (edge + 1, False), (2**31 - 1, False)):
        x = torch.full((64, 3, 3), value, dtype=torch.int32)
        assert layer.exact_f64(x) == float_path
        got = run_image(net, x).numpy()
        np.testing.assert_array_equal(got, reference(layer, x.numpy()))
        np.testing.assert_array_equal(got, net.forward(x.numpy()))


def test_run_network_keeps_rust_errors() -> None:
    net = quantize_network(nn.Sequential(nn.Conv2d(3, 12, 3), nn.PixelShuffle(2), nn.ReLU()))
    for shape in [(1, 2, 4, 4), (1, 3, 2, 2), (1, 3, 0, 4)]:
        with pytest.raises(tinify.TinifyError):
            run_network(net, torch.zeros(shape, dtype=torch.int32))
    up = quantize_network(nn.Sequential(nn.ConvTranspose2d(3, 2, 3, 1, 2)))
    with pytest.raises(tinify.TinifyError):  # an empty output: (1 - 1) + 3 - 4 <= 0
        run_network(up, torch.zeros((1, 3, 1, 1), dtype=torch.int32))
    out = run_network(net, torch.ones((2, 3, 4, 4), dtype=torch.int32))
    assert out.shape == (2, 3, 4, 4) and out.dtype == torch.int32


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 7),
    st.integers(0, 2**16),
    st.sampled_from(["small", "edge", "over", "any"]),
)
def test_run_rows_matches_rust_and_wide_integers(
    cin: int, hidden: int, rows: int, seed: int, mode: str
) -> None:
    """1x1 layers on rows (the autoregressive context and ``entropy_parameters``): the float64
    product equals Rust's ``forward_rows`` and the Python-integer reference."""
    torch.manual_seed(seed)
    net = quantize_network(
        nn.Sequential(nn.Conv2d(cin, hidden, 1), nn.LeakyReLU(0.2), nn.Conv2d(hidden, 3, 1))
    )
    first = ExactConv.of(net.layers[0])
    rng = np.random.default_rng(seed)
    if mode == "small":
        x = rng.integers(-(2**17), 2**17, (rows, cin))
    elif mode == "any":
        x = rng.integers(-(2**31), 2**31, (rows, cin))
    else:
        edge = min(EDGE // first.row_sum + (mode == "over"), 2**31 - 1)
        x = edge * rng.choice([-1, 1], (rows, cin))
    x = x.astype(np.int32)
    got = run_rows(net, torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, net.forward_rows(x))
    expected = reference(first, x.T.reshape(cin, 1, rows))[:, 0, :].T
    np.testing.assert_array_equal(first.rows(torch.from_numpy(x)).numpy(), expected)
    with pytest.raises(tinify.TinifyError):
        run_rows(quantize_network(nn.Sequential(nn.Conv2d(cin, 2, 3))), torch.from_numpy(x))


# -- the first entropy-parameter layer split into a hyper and a context part ------------------


def _values(mode: str, bound_sum: int, shape: tuple[int, int], rng: np.random.Generator) -> Tensor:
    """int32 rows: small, at the edge of the ``2^53`` bound of a part whose row sum is
    ``bound_sum`` (or one more), or anywhere in int32."""
    if mode == "small":
        x = rng.integers(-(2**17), 2**17, shape)
    elif mode == "any":
        x = rng.integers(-(2**31), 2**31, shape)
    else:
        edge = min(EDGE // max(bound_sum, 1) + (mode == "over"), 2**31 - 1)
        x = edge * rng.choice([-1, 1], shape)
    return torch.from_numpy(x.astype(np.int32))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 7),
    st.integers(0, 2**16),
    st.sampled_from(["small", "edge", "over", "any"]),
    st.sampled_from(["small", "edge", "over", "any"]),
)
def test_hyper_split_matches_the_joined_layer(
    c_hyp: int, c_ctx: int, rows: int, seed: int, hyper_mode: str, context_mode: str
) -> None:
    """``FixedArithmetic`` with the hyper part of the first layer computed ahead gives the
    entropy parameters of the unsplit ``run_rows`` on ``[hyper, context]`` and of Rust's
    ``forward_rows``, bit for bit, on both sides of each part's bound (over it, the front runs
    unsplit)."""
    torch.manual_seed(seed)
    # The context network is the identity (w_int = 2^14, shift 14), so the test picks the
    # context part's values directly.
    identity = nn.Conv2d(c_ctx, c_ctx, 1, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(c_ctx)[:, :, None, None])
    context_net = quantize_network(identity)
    parameter_net = quantize_network(
        nn.Sequential(nn.Conv2d(c_hyp + c_ctx, 5, 1), nn.LeakyReLU(), nn.Conv2d(5, 4, 1))
    )
    arithmetic = FixedArithmetic(context_net, parameter_net)
    first = arithmetic.first
    assert first is not None and arithmetic.ahead_channels == 5
    rng = np.random.default_rng(seed)
    hyper = _values(hyper_mode, first.part_row_sum(0, c_hyp), (rows, c_hyp), rng)
    context = _values(context_mode, first.part_row_sum(c_hyp, c_hyp + c_ctx), (rows, c_ctx), rng)
    assert torch.equal(run_rows(context_net, context), context)

    ahead = arithmetic.hyper_sums(hyper)
    got = arithmetic.params(context, hyper, ahead)
    joined = torch.cat([hyper, context], dim=1)
    expected = parameter_net.forward_rows(joined.numpy())
    np.testing.assert_array_equal(got.numpy(), expected)
    np.testing.assert_array_equal(arithmetic.params(context, hyper).numpy(), expected)
    np.testing.assert_array_equal(run_rows(parameter_net, joined).numpy(), expected)
    # The split is taken wherever both parts are below their bounds, never over them.
    context_part = first.rows_sums(context, c_hyp)
    for part, x, start in ((ahead, hyper, 0), (context_part, context, c_hyp)):
        largest = int(x.to(torch.int64).abs().max()) if x.numel() else 0
        below = largest * first.part_row_sum(start, start + x.shape[1]) < 2**53
        assert (part is not None) == below


def test_hyper_split_parts_are_exact_where_the_whole_row_is_not() -> None:
    """Each part of the first layer below its own bound is the exact integer sum even where the
    whole row's bound fails (the unsplit layer then runs in Rust's i64): the parts add to the
    Python-integer accumulator, and the split parameters equal Rust's."""
    c_hyp, c_ctx, cout = 300, 300, 3
    rng = np.random.default_rng(7)
    layer = nn.Conv2d(c_hyp + c_ctx, cout, 1)
    with torch.no_grad():
        signs = torch.from_numpy(rng.choice([-1.0, 1.0], (cout, c_hyp + c_ctx)))
        layer.weight.copy_(0.5 * signs[:, :, None, None])  # w_int = +-2^14
        layer.bias.uniform_(-1.0, 1.0)
    identity = nn.Conv2d(c_ctx, c_ctx, 1, bias=False)
    with torch.no_grad():
        identity.weight.copy_(torch.eye(c_ctx)[:, :, None, None])
    parameter_net = quantize_network(nn.Sequential(layer))
    arithmetic = FixedArithmetic(quantize_network(identity), parameter_net)
    first = arithmetic.first
    assert first is not None
    assert first.part_row_sum(0, c_hyp) == first.part_row_sum(c_hyp, c_hyp + c_ctx) == 300 << 14
    assert first.row_sum == 600 << 14
    edge = EDGE // (300 << 14)
    hyper = torch.from_numpy((edge * rng.choice([-1, 1], (9, c_hyp))).astype(np.int32))
    context = torch.from_numpy((edge * rng.choice([-1, 1], (9, c_ctx))).astype(np.int32))
    joined = torch.cat([hyper, context], dim=1)
    assert not first.exact_f64(joined)  # the unsplit layer takes Rust's i64 path

    hyper_part, context_part = first.rows_sums(hyper), first.rows_sums(context, c_hyp)
    assert hyper_part is not None and context_part is not None
    weight = parameter_net.layers[0].quantized()[0].reshape(cout, -1).astype(object)
    exact = joined.numpy().astype(object).dot(weight.T)
    np.testing.assert_array_equal((hyper_part + context_part).numpy().astype(object), exact)

    got = arithmetic.params(context, hyper, arithmetic.hyper_sums(hyper))
    np.testing.assert_array_equal(got.numpy(), parameter_net.forward_rows(joined.numpy()))
    expected = reference(first, joined.numpy().T.reshape(-1, 1, 9))[:, 0, :].T
    np.testing.assert_array_equal(got.numpy(), expected)
    # A part or a shape the split cannot take: None, and the unsplit path answers.
    assert first.rows_sums(context, c_hyp + 1) is None
    assert first.rows_sums(hyper[:, :0]) is None
    assert arithmetic.hyper_sums(joined) is None


# -- the context layer split into early taps (computed ahead) and late taps -------------------


def test_early_taps_are_a_prefix_on_earlier_fronts() -> None:
    """The 5x5 mask (slope 3): the early taps of blocks of 3 and 4 fronts are the first 8 and 7
    taps, each at least that many fronts back; never all taps, none for blocks of 0 fronts."""
    taps = causal_taps(MaskedConv2d(2, 2, 5, padding=2))
    slope = wavefront_slope(taps)
    assert (len(taps), slope) == (12, 3)
    counts = {d: early_taps(taps, slope, d) for d in range(7)}
    assert counts == {0: 0, 1: 11, 2: 9, 3: 8, 4: 7, 5: 4, 6: 3}
    for d, count in counts.items():
        assert all(slope * dh + dw <= -d for dh, dw in taps[:count])
    assert early_taps([(0, -1)], 1, 1) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 9),
    st.integers(1, 11),
    st.integers(0, 2**16),
    st.sampled_from(["small", "edge", "over", "any"]),
    st.sampled_from(["small", "edge", "over", "any"]),
)
def test_context_split_matches_the_joined_layer(
    channels: int, rows: int, early: int, seed: int, early_mode: str, late_mode: str
) -> None:
    """``FixedArithmetic`` with the products of the early taps' columns computed ahead gives
    the context layer of the unsplit ``run_rows`` and of Rust's ``forward_rows``, bit for bit,
    on both sides of each part's bound (over it, the front's context runs unsplit)."""
    torch.manual_seed(seed)
    conv = MaskedConv2d(channels, 4, 5, padding=2)
    context_net = context_network(conv)
    arithmetic = FixedArithmetic(context_net, quantize_network(nn.Sequential(nn.Conv2d(6, 2, 1))))
    layer = arithmetic.context_layer
    assert layer is not None and arithmetic.context_ahead_channels == 4
    columns = early * channels
    rng = np.random.default_rng(seed)
    x = torch.cat(
        [
            _values(early_mode, layer.part_row_sum(0, columns), (rows, columns), rng),
            _values(
                late_mode,
                layer.part_row_sum(columns, layer.cin),
                (rows, 12 * channels - columns),
                rng,
            ),
        ],
        dim=1,
    )
    sums = arithmetic.context_sums(x[:, :columns])
    expected = context_net.forward_rows(x.numpy())
    np.testing.assert_array_equal(run_rows(context_net, x).numpy(), expected)
    if sums is not None:
        np.testing.assert_array_equal(arithmetic._context(x, (columns, sums)).numpy(), expected)
    np.testing.assert_array_equal(arithmetic._context(x, None).numpy(), expected)
    # The split is taken wherever both parts are below their bounds, never over them.
    late = layer.rows_sums(x[:, columns:], start=columns)
    for part, start, stop in ((sums, 0, columns), (late, columns, layer.cin)):
        largest = int(x[:, start:stop].to(torch.int64).abs().max())
        below = largest * layer.part_row_sum(start, stop) < 2**53
        assert (part is not None) == below
    # Whole rows or no columns are not an early part.
    assert arithmetic.context_sums(x) is None
    assert arithmetic.context_sums(x[:, :0]) is None
