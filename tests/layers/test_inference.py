# SPDX-License-Identifier: Apache-2.0
"""Inference copies of the transforms (tinify.layers.inference): same function, frozen, cached."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tinify.exceptions import ParameterError
from tinify.layers import GDN, GDN1, IGDN, inference
from tinify.layers.inference import (
    GDN_BAND_COLUMNS,
    WINOGRAD_THREADED_WIDTH,
    FastPixelShuffle,
    FoldedGDN,
    InferenceTransform,
    SubpixelDeconv,
    WinogradConv,
    WinogradDeconv,
    inference_copy,
    pixel_shuffle,
    pixel_unshuffle,
    subpixel_applicable,
    winograd_available,
    winograd_convertible,
    winograd_plan,
)
from tinify.models import (
    Cheng2020Anchor,
    Cheng2020Attention,
    CompressionModel,
    FactorizedPrior,
    FactorizedPriorReLU,
    JointAutoregressiveHierarchicalPriors,
    JointAutoregressiveHierarchicalPriorsVbr,
    MeanScaleHyperprior,
    MeanScaleHyperpriorVbr,
    ScaleHyperprior,
    ScaleHyperpriorVbr,
)
from tinify.models.tiling import receptive_field

# Every zoo image architecture, small (the zoo's have N = 128..320).
ARCHITECTURES: dict[str, Callable[[], CompressionModel]] = {
    "bmshj2018-factorized": lambda: FactorizedPrior(8, 12),
    "bmshj2018-factorized-relu": lambda: FactorizedPriorReLU(8, 12),
    "bmshj2018-hyperprior": lambda: ScaleHyperprior(8, 12),
    "mbt2018-mean": lambda: MeanScaleHyperprior(8, 12),
    "mbt2018": lambda: JointAutoregressiveHierarchicalPriors(8, 12),
    "cheng2020-anchor": lambda: Cheng2020Anchor(8),
    "cheng2020-attn": lambda: Cheng2020Attention(8),
    "bmshj2018-hyperprior-vbr": lambda: ScaleHyperpriorVbr(8, 12),
    "mbt2018-mean-vbr": lambda: MeanScaleHyperpriorVbr(8, 12),
    "mbt2018-vbr": lambda: JointAutoregressiveHierarchicalPriorsVbr(8, 12),
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """These tests check the Winograd copies, which every transform gets on one thread (with
    more, only 3x3 stride-1 ones: see test_winograd_plan_follows_the_thread_count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` with every parameter perturbed (GDN's gamma gets off-diagonal terms), eval."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=generator)
            p.add_(0.1 * noise.abs() if name.endswith(("gamma", "beta")) else 0.02 * noise)
    return model.eval()


def assert_close(out: torch.Tensor, ref: torch.Tensor) -> None:
    assert out.shape == ref.shape and out.dtype == ref.dtype
    assert bool(ref.isfinite().all())
    scale = max(1.0, float(ref.abs().max()))
    err = float((out - ref).abs().max())
    assert err <= 2e-5 * scale, f"max error {err:.3g} (scale {scale:.3g})"


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_zoo_transforms_equal_originals(name: str) -> None:
    torch.manual_seed(1)
    model = randomized(ARCHITECTURES[name]())
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        y = model.g_a(x)
        inputs = {"g_a": x, "g_s": y.round()}
        if hasattr(model, "h_a"):
            inputs["h_a"] = y
            inputs["h_s"] = model.h_a(y).round()
        for transform, inp in inputs.items():
            ref = getattr(model, transform)(inp)
            copy = model.inference_transform(transform)
            assert isinstance(copy, InferenceTransform)
            out = copy(inp)
            assert out.is_contiguous()
            assert not out.requires_grad
            assert_close(out, ref)
            # A channels-last input gives the same result.
            assert_close(copy(inp.contiguous(memory_format=torch.channels_last)), ref)


def test_original_untouched_and_trainable() -> None:
    model = randomized(ScaleHyperprior(8, 12))
    x = torch.rand(1, 3, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copy = model.inference_transform("g_s")
    assert any(isinstance(m, FoldedGDN) for m in copy.modules())
    deconv = WinogradDeconv if winograd_available() else SubpixelDeconv
    assert any(isinstance(m, deconv) for m in copy.modules())
    # The original keeps its layers, layout, gradients and exact values.
    replaced = (FoldedGDN, SubpixelDeconv, WinogradDeconv, WinogradConv)
    assert not any(isinstance(m, replaced) for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]) and value.is_contiguous()
    assert all(p.requires_grad for p in model.parameters())
    out = model.g_s(model.g_a(x))
    out.sum().backward()
    assert model.g_s[0].weight.grad is not None
    # The copy's state is not part of the model's state dict.
    assert set(model.state_dict()) == set(before)


def test_cache_rebuilt_when_weights_change() -> None:
    model = randomized(MeanScaleHyperprior(8, 12), seed=0)
    y = torch.randn(1, 12, 4, 4)
    first = model.inference_transform("g_s")
    assert model.inference_transform("g_s") is first
    assert model.inference_transform("g_a") is not first
    # load_state_dict: new weights, new copy, the new function.
    other = randomized(MeanScaleHyperprior(8, 12), seed=1)
    model.load_state_dict(other.state_dict())
    second = model.inference_transform("g_s")
    assert second is not first
    with torch.no_grad():
        assert_close(second(y), other.g_s(y))
        assert float((first(y) - second(y)).abs().max()) > 1e-3
    # An in-place change of one weight (an optimizer step) is seen too.
    with torch.no_grad():
        model.g_s[1].beta.add_(0.5)
        third = model.inference_transform("g_s")
        assert third is not second
        assert_close(third(y), model.g_s(y))


def test_unknown_transform() -> None:
    with pytest.raises(ParameterError, match="no transform 'g_x'"):
        FactorizedPrior(8, 12).inference_transform("g_x")


@pytest.mark.parametrize("layer", [GDN(6), IGDN(6), GDN1(6), GDN1(6, inverse=True)])
def test_folded_gdn(layer: GDN) -> None:
    randomized(layer)
    x = torch.randn(2, 6, 5, 7)
    folded = FoldedGDN(layer)
    with torch.no_grad():
        assert_close(folded(x), layer(x))
        cl = x.contiguous(memory_format=torch.channels_last)
        assert_close(folded(cl), layer(x))


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "output_padding"),
    [(5, 2, 2, 1), (3, 2, 1, 1), (4, 2, 1, 0), (3, 1, 1, 0), (9, 4, 4, 3), (2, 2, 0, 0)],
)
@pytest.mark.parametrize("bias", [True, False])
def test_subpixel_deconv(
    kernel: int, stride: int, padding: int, output_padding: int, bias: bool
) -> None:
    torch.manual_seed(2)
    deconv = nn.ConvTranspose2d(
        5, 3, kernel, stride, padding=padding, output_padding=output_padding, bias=bias
    )
    assert subpixel_applicable(deconv)
    x = torch.randn(2, 5, 6, 9)
    with torch.no_grad():
        ref = deconv(x)
        out = SubpixelDeconv(deconv)(x)
    assert ref.shape == (2, 3, 6 * stride, 9 * stride)
    assert_close(out, ref)


def test_ssf_subpel_deconv_trains_as_the_transposed_convolution() -> None:
    """ssf2020's trainable SubpelDeconv rebuilds its sub-pixel kernel from the weight at each
    call (subpixel_weight is a gather): outputs and gradients are the transposed convolution's."""
    from tinify.models.video.ssf2020 import SubpelDeconv

    torch.manual_seed(3)
    layer = SubpelDeconv(6, 3)
    x = torch.randn(2, 6, 5, 7, requires_grad=True)
    out = layer(x)
    ref = F.conv_transpose2d(x, layer.weight, layer.bias, 2, 2, 1)
    assert out.shape == ref.shape == (2, 3, 10, 14)
    assert_close(out.detach(), ref.detach())
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, layer.weight, layer.bias), grad)
    want = torch.autograd.grad(ref, (x, layer.weight, layer.bias), grad)
    for g, w in zip(got, want):
        assert_close(g, w)
    with torch.no_grad():
        assert_close(layer(x.contiguous(memory_format=torch.channels_last)), ref)


def test_subpixel_not_applicable() -> None:
    assert not subpixel_applicable(nn.ConvTranspose2d(4, 3, 5, 2, padding=2))  # 2H - 1
    assert not subpixel_applicable(nn.ConvTranspose2d(4, 4, 5, 2, 2, 1, groups=2))
    with pytest.raises(ValueError):
        SubpixelDeconv(nn.ConvTranspose2d(4, 3, 5, 2, padding=2))
    # inference_copy leaves such a layer a transposed convolution, still correct.
    deconv = nn.ConvTranspose2d(4, 3, 5, 2, padding=2)
    x = torch.randn(1, 4, 5, 5)
    copy = inference_copy(nn.Sequential(deconv))
    assert isinstance(copy.net[0], nn.ConvTranspose2d)
    with torch.no_grad():
        assert_close(copy(x), deconv(x))


def test_wide_deconv_stays_transposed_convolution() -> None:
    # (float64: no Winograd copy, so the channels-last one)
    deconv = nn.ConvTranspose2d(20, 20, 5, 2, 2, 1).double()
    copy = inference_copy(nn.Sequential(deconv, nn.Sigmoid()))
    assert isinstance(copy.net[0], nn.ConvTranspose2d)
    assert copy.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(1, 20, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        assert_close(copy(x), deconv(x).sigmoid())


def test_folded_gdn_bands() -> None:
    """An NCHW input larger than one band runs as banded matrix products."""
    for layer in (GDN(6), IGDN(6)):
        randomized(layer)
        x = torch.randn(2, 6, 7, GDN_BAND_COLUMNS // 7 + 5)  # two bands per item
        with torch.no_grad():
            assert_close(FoldedGDN(layer)(x), layer(x))


WINOGRAD_LAYERS = [
    nn.Conv2d(5, 7, 5, 2, 2),
    nn.Conv2d(5, 7, 3, 2, 1),
    nn.Conv2d(5, 7, 4, 2, 1),
    nn.Conv2d(5, 7, 3, 1, 1),
    nn.Conv2d(5, 7, 3, 1, 1, bias=False),
    nn.ConvTranspose2d(5, 7, 5, 2, 2, 1),
    nn.ConvTranspose2d(5, 3, 4, 2, 1, 0, bias=False),
]


@pytest.mark.parametrize("layer", WINOGRAD_LAYERS, ids=repr)
def test_winograd_layers(layer: nn.Module) -> None:
    if not winograd_available():
        pytest.skip("torch's NNPACK is not available here")
    torch.manual_seed(3)
    assert winograd_convertible(layer)
    fast = WinogradDeconv(layer) if isinstance(layer, nn.ConvTranspose2d) else WinogradConv(layer)
    x = torch.randn(2, 5, 6, 10)
    with torch.no_grad():
        assert_close(fast(x), layer(x))
        if isinstance(fast, WinogradConv) and layer.stride == (2, 2):
            odd = torch.randn(1, 5, 7, 9)  # falls back to the original convolution
            assert_close(fast(odd), layer(odd))


@pytest.mark.parametrize("layer", WINOGRAD_LAYERS, ids=repr)
def test_winograd_bands(layer: nn.Module, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large inputs run in bands of rows (six-row multiples, a shorter last band, the first
    and last reading a zero row beyond the edge) with the same result."""
    if not winograd_available():
        pytest.skip("torch's NNPACK is not available here")
    torch.manual_seed(4)
    fast = WinogradDeconv(layer) if isinstance(layer, nn.ConvTranspose2d) else WinogradConv(layer)
    x = torch.randn(2, 5, 32, 10)  # 32 rows (16 after space-to-depth): 6 + 6 + ... + rest
    calls: list[int] = []
    nnpack = torch._nnpack_spatial_convolution

    def counted(*args: object) -> torch.Tensor:
        calls.append(1)
        return nnpack(*args)  # type: ignore[arg-type]

    with torch.no_grad():
        whole = fast(x)
        monkeypatch.setattr(inference, "WINOGRAD_BAND_BYTES", 1)  # six-row bands
        monkeypatch.setattr(torch, "_nnpack_spatial_convolution", counted)
        banded = fast(x)
        expected = layer(x)
    rows = 16 if isinstance(fast, WinogradConv) and fast.stride == 2 else 32
    assert len(calls) == -(-rows // 6)
    assert_close(banded, expected)
    # bands start on NNPACK's six-row tile grid, so the tiles and their rounding are the
    # unbanded call's
    assert torch.equal(banded, whole)


def test_winograd_not_convertible() -> None:
    assert not winograd_convertible(nn.Conv2d(4, 4, 5, 1, 2))  # 5x5 stride 1
    assert not winograd_convertible(nn.Conv2d(4, 4, 1))
    assert not winograd_convertible(nn.Conv2d(4, 4, 3, 2, 1, groups=2))
    assert not winograd_convertible(nn.ConvTranspose2d(4, 4, 9, 4, 4, 3))  # stride 4
    assert not winograd_convertible(nn.ConvTranspose2d(4, 4, 3, 2, 1, 1))  # 2x2 sub-pixel
    assert not winograd_convertible(nn.ReLU())
    with pytest.raises(ValueError):
        WinogradConv(nn.Conv2d(4, 4, 1))


def test_winograd_plan() -> None:
    available = winograd_available()
    hyperprior = ScaleHyperprior(8, 12)
    for name in ("g_a", "g_s", "h_a", "h_s"):
        assert winograd_plan(getattr(hyperprior, name)) == available
    assert winograd_plan(FactorizedPriorReLU(8, 12).g_s) == available
    cheng = Cheng2020Anchor(8)
    assert winograd_plan(cheng.g_a) == available and winograd_plan(cheng.g_s) == available
    assert not winograd_plan(nn.Sequential(nn.Conv2d(4, 4, 5, 1, 2), nn.Sigmoid()))
    assert not winograd_plan(ScaleHyperprior(8, 12).double().g_s)  # NNPACK: float32 only
    copy = inference_copy(ScaleHyperprior(8, 12).double().g_s)
    assert not any(isinstance(m, WinogradDeconv) for m in copy.modules())
    if available:  # masked convolutions are left alone
        context = JointAutoregressiveHierarchicalPriors(8, 12).context_prediction
        assert not winograd_plan(nn.Sequential(context))


def test_winograd_plan_follows_the_thread_count() -> None:
    """With more than one intra-op thread, transforms with narrow stride-2 layers are
    channels-last copies (3x3 stride-1 ones and wide ones stay Winograd); a model keeps a copy
    of each kind, so threads that disagree do not rebuild each other's."""
    if not winograd_available():
        pytest.skip("NNPACK is not available here")
    cheng = Cheng2020Anchor(8)
    model = randomized(ScaleHyperprior(8, 12))
    one = model.inference_transform("g_s")
    assert any(isinstance(m, WinogradDeconv) for m in one.modules())
    assert winograd_plan(cheng.g_a) and winograd_plan(cheng.g_s)
    torch.set_num_threads(2)
    assert not winograd_plan(model.g_s) and not winograd_plan(model.g_a)
    assert not winograd_plan(cheng.g_a)  # its stride-2 residual blocks
    assert winograd_plan(cheng.g_s)  # 3x3 stride-1 convolutions and pixel shuffles
    wide = ScaleHyperprior(WINOGRAD_THREADED_WIDTH, 8)  # N = 192: wide enough
    assert winograd_plan(wide.g_a) and winograd_plan(wide.g_s)
    two = model.inference_transform("g_s")
    assert two is not one and not any(isinstance(m, WinogradDeconv) for m in two.modules())
    assert model.inference_transform("g_s") is two  # cached again
    y = torch.randn(1, 12, 4, 4)
    assert_close(two(y), one(y))
    torch.set_num_threads(1)
    assert model.inference_transform("g_s") is one  # one copy of each kind is kept


@pytest.mark.parametrize("r", [1, 2, 3])
def test_fast_pixel_shuffles_equal_torch(r: int) -> None:
    """The permuting copies give torch's pixel (un)shuffle bit for bit: contiguous NCHW, a band
    of rows (not contiguous), channels-last (torch's function), and torch's errors."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4 * r * r, 6 * r, 5 * r, generator=g)
    band = x[:, :, r : 4 * r]
    last = x.contiguous(memory_format=torch.channels_last)
    for t in (x, band, last):
        assert torch.equal(pixel_shuffle(t, r), F.pixel_shuffle(t, r))
        assert torch.equal(pixel_unshuffle(t, r), F.pixel_unshuffle(t, r))
    assert torch.equal(pixel_unshuffle(pixel_shuffle(x, r), r), x)
    if r > 1:
        with pytest.raises(RuntimeError):
            pixel_unshuffle(x[..., :-1], r)
        with pytest.raises(RuntimeError):
            pixel_shuffle(x[:, :-1], r)
    net = nn.Sequential(nn.Conv2d(4 * r * r, 4 * r * r, 3, padding=1), nn.PixelShuffle(r))
    copy = inference_copy(net)
    fast = any(isinstance(m, FastPixelShuffle) for m in copy.modules())
    assert fast == winograd_available()  # Winograd copies (NCHW) shuffle by the fast copy
    assert receptive_field(FastPixelShuffle(r)) == receptive_field(nn.PixelShuffle(r))
    with torch.no_grad():
        torch.testing.assert_close(copy(x), net(x), rtol=1e-4, atol=1e-4)


def test_winograd_layers_initialize_nnpack_themselves() -> None:
    """A Winograd layer built directly (not through inference_copy) in a fresh process works:
    NNPACK refuses every call until it is initialized."""
    if not winograd_available():
        pytest.skip("torch's NNPACK is not available here")
    code = (
        "import torch\n"
        "from tinify.layers.inference import WinogradConv, WinogradDeconv\n"
        "from tinify.layers import deconv\n"
        "conv = torch.nn.Conv2d(3, 8, 5, 2, 2)\n"
        "x = torch.randn(1, 3, 32, 48)\n"
        "with torch.no_grad():\n"
        "    assert torch.allclose(WinogradConv(conv)(x), conv(x), atol=1e-4)\n"
        "    up = deconv(3, 4)\n"
        "    assert torch.allclose(WinogradDeconv(up)(x), up(x), atol=1e-4)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)
