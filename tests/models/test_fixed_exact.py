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
from torch import nn

import tinify
from tinify.models.fixed import ExactConv, quantize_network, run_image, run_network, run_rows

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
