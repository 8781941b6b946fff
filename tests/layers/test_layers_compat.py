"""The layers CompressAI 1.2.8 has beyond the zoo's: GDN1, QReLU, checkerboard and spectral
convolutions, the basic layers, sequential_channel_ramp; and TorchScript on every layer."""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tinify.layers import (
    GDN,
    GDN1,
    AttentionBlock,
    CheckerboardMaskedConv2d,
    Gain,
    Interleave,
    Lambda,
    MaskedConv2d,
    NamedLayer,
    QReLU,
    Reshape,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    SpectralConv2d,
    SpectralConvTranspose2d,
    Transpose,
    conv,
    conv1x1,
    conv3x3,
    deconv,
    sequential_channel_ramp,
    subpel_conv3x3,
)
from tinify.ops import LowerBound, NonNegativeParametrizer, quantize_ste
from tinify.ops.bound_ops import LowerBoundFunction, lower_bound_bwd, lower_bound_fwd


def compressai_layers() -> Any:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import compressai.layers

    return compressai.layers


# -- GDN1 ---------------------------------------------------------------------------------------


def test_gdn1_formula() -> None:
    torch.manual_seed(0)
    layer = GDN1(4)
    with torch.no_grad():
        layer.gamma.add_(0.05 * torch.rand(4, 4))
        layer.beta.add_(0.2)
    x = torch.randn(2, 4, 3, 5)
    beta = layer.beta_reparam(layer.beta)
    gamma = layer.gamma_reparam(layer.gamma)
    norm = beta.reshape(1, 4, 1, 1) + torch.einsum("ij,njhw->nihw", gamma, x.abs())
    torch.testing.assert_close(layer(x), x / norm, rtol=1e-6, atol=1e-7)
    layer.inverse = True
    torch.testing.assert_close(layer(x), x * norm, rtol=1e-6, atol=1e-7)
    assert list(layer.state_dict()) == list(GDN(4).state_dict())


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn1_matches_compressai(inverse: bool) -> None:
    theirs = compressai_layers().GDN1(6, inverse=inverse)
    torch.manual_seed(1)
    ours = GDN1(6, inverse=inverse)
    with torch.no_grad():
        ours.gamma.add_(0.1 * torch.rand(6, 6))
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 8, 8, requires_grad=True)
    a, b = ours(x), theirs(x)
    assert torch.equal(a, b)
    (ga,) = torch.autograd.grad(a.square().sum(), x)
    (gb,) = torch.autograd.grad(b.square().sum(), x)
    assert torch.equal(ga, gb)


# -- QReLU --------------------------------------------------------------------------------------


def test_qrelu_values_and_gradient() -> None:
    x = torch.tensor([-3.0, 0.0, 100.0, 255.0, 300.0], requires_grad=True)
    y = QReLU.apply(x, 8, 100.0)
    assert torch.equal(y, torch.tensor([0.0, 0.0, 100.0, 255.0, 255.0]))
    (g,) = torch.autograd.grad(y.sum(), x)
    alpha = math.gamma(1.01)
    outside = [abs(2 * v / 255 - 1) for v in (-3.0, 300.0)]
    expected = [math.exp(-((alpha * t) ** 100)) for t in outside]
    assert g[1:4].tolist() == [1.0, 1.0, 1.0]
    assert g[0].item() == pytest.approx(expected[0], rel=1e-4)
    assert g[4].item() == pytest.approx(expected[1], rel=1e-4)
    assert 0 < g[0].item() < 1


def test_qrelu_matches_compressai() -> None:
    layers = compressai_layers()
    x = torch.linspace(-40, 300, 1001, requires_grad=True)
    a, b = QReLU.apply(x, 8, 100.0), layers.QReLU.apply(x, 8, 100.0)
    assert torch.equal(a, b)
    (ga,) = torch.autograd.grad(a.sum(), x)
    (gb,) = torch.autograd.grad(b.sum(), x)
    # CompressAI rounds Gamma(1 + 1/beta) to a constant and computes alpha**beta * t**beta;
    # tinify computes Gamma and (alpha * t)**beta: float32 rounding apart, the same gradient.
    torch.testing.assert_close(ga, gb, rtol=1e-4, atol=1e-5)


# -- masked and spectral convolutions ------------------------------------------------------------


def test_checkerboard_mask() -> None:
    conv_a = CheckerboardMaskedConv2d(2, 3, kernel_size=5, padding=2)
    expected = torch.tensor([[(i + j) % 2 for j in range(5)] for i in range(5)]).float()
    assert torch.equal(conv_a.mask, expected.expand(3, 2, 5, 5))
    conv_b = CheckerboardMaskedConv2d(2, 3, kernel_size=5, padding=2, mask_type="B")
    assert conv_b.mask[0, 0, 2, 2] == 1 and conv_b.mask.sum() == conv_a.mask.sum() + 6
    assert torch.all(conv_a.weight[conv_a.mask == 0] == 0)
    with pytest.raises(ValueError, match="mask_type"):
        CheckerboardMaskedConv2d(1, 1, 3, mask_type="C")
    # The anchors (mask 0 positions) never reach the output: changing them changes nothing.
    x = torch.randn(1, 2, 5, 5)
    y = x.clone()
    y[..., 2, 2] += 10.0
    y[..., 0, 0] -= 3.0
    assert torch.equal(conv_a(x)[..., 2, 2], conv_a(y)[..., 2, 2])


@pytest.mark.parametrize("cls", ["MaskedConv2d", "CheckerboardMaskedConv2d"])
@pytest.mark.parametrize(("kernel_size", "mask_type"), [(3, "A"), (5, "A"), (5, "B"), (4, "B")])
def test_masks_match_compressai(cls: str, kernel_size: int, mask_type: str) -> None:
    layers = compressai_layers()
    ours = {"MaskedConv2d": MaskedConv2d, "CheckerboardMaskedConv2d": CheckerboardMaskedConv2d}
    a = ours[cls](2, 3, kernel_size, mask_type=mask_type)
    b = getattr(layers, cls)(2, 3, kernel_size, mask_type=mask_type)
    assert torch.equal(a.mask, b.mask)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 2, 9, 9)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize("cls", [SpectralConv2d, SpectralConvTranspose2d])
def test_spectral_convolution_is_the_plain_one(cls: type[nn.Module]) -> None:
    torch.manual_seed(2)
    layer = cls(3, 4, kernel_size=5, stride=2, padding=2)
    assert list(layer.state_dict()) == ["bias", "weight_transformed"]  # CompressAI's keys
    assert layer.weight_transformed.is_complex()
    assert layer.weight_transformed.shape[-2:] == (5, 3)
    # The spatial kernel comes back exactly (orthonormal DFT round trip).
    kernel = layer.weight
    torch.testing.assert_close(
        torch.fft.rfftn(kernel, s=(5, 5), dim=(-2, -1), norm="ortho"), layer.weight_transformed
    )
    x = torch.randn(2, 3, 8, 8)
    plain = F.conv2d if cls is SpectralConv2d else F.conv_transpose2d
    torch.testing.assert_close(layer(x), plain(x, kernel, layer.bias, stride=2, padding=2))
    layer(x).sum().backward()
    assert layer.weight_transformed.grad is not None
    assert layer.weight_transformed.grad.abs().sum() > 0
    assert [n for n, _ in layer.named_parameters()] == ["bias", "weight_transformed"]


@pytest.mark.parametrize("name", ["SpectralConv2d", "SpectralConvTranspose2d"])
def test_spectral_matches_compressai(name: str) -> None:
    layers = compressai_layers()
    torch.manual_seed(3)
    theirs = getattr(layers, name)(3, 4, kernel_size=3, padding=1)
    ours = {"SpectralConv2d": SpectralConv2d, "SpectralConvTranspose2d": SpectralConvTranspose2d}[
        name
    ](3, 4, kernel_size=3, padding=1)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 6, 6)
    assert torch.equal(ours(x), theirs(x))


# -- basic layers -------------------------------------------------------------------------------


def test_basic_layers() -> None:
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
    assert torch.equal(Lambda(torch.neg)(x), -x)
    assert NamedLayer("here")(x) is x and "here" in repr(NamedLayer("here"))
    assert Reshape((3, 4))(x).shape == (2, 3, 4)
    with pytest.raises(RuntimeError):
        Reshape((5,))(x)
    t = Transpose(1, 2)(x)
    assert t.shape == (2, 3, 4) and t.is_contiguous() and torch.equal(t, x.transpose(1, 2))
    # Channels [a0, a1, b0, b1] -> [a0, b0, a1, b1].
    ch = torch.tensor([10.0, 11.0, 20.0, 21.0]).reshape(1, 4, 1, 1)
    assert Interleave(2)(ch).flatten().tolist() == [10.0, 20.0, 11.0, 21.0]
    gain = Gain((1, 4, 1, 1), factor=2.0)
    assert gain.gain.shape == (1, 4, 1, 1) and torch.equal(gain(ch), 2.0 * ch)
    assert Gain().gain.shape == ()


def test_basic_layers_match_compressai() -> None:
    layers = compressai_layers()
    x = torch.randn(2, 6, 4, 5)
    for ours, theirs in [
        (Interleave(3), layers.Interleave(3)),
        (Reshape((24, 5)), layers.Reshape((24, 5))),
        (Transpose(1, 3), layers.Transpose(1, 3)),
        (Gain((1, 6, 1, 1), 0.5), layers.Gain((1, 6, 1, 1), 0.5)),
    ]:
        theirs.load_state_dict(ours.state_dict())
        assert torch.equal(ours(x), theirs(x)), type(ours).__name__


def test_sequential_channel_ramp() -> None:
    ramp = sequential_channel_ramp(192, 32, num_layers=3, make_layer=conv1x1, make_act=nn.ReLU)
    convs = [m for m in ramp if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(192, 138), (138, 85), (85, 32)]
    assert [type(m) for m in ramp] == [nn.Conv2d, nn.ReLU, nn.Conv2d, nn.ReLU, nn.Conv2d]
    log = sequential_channel_ramp(
        8, 128, num_layers=2, interp="log", min_ch=40, make_layer=nn.Conv2d,
        make_act=nn.GELU, skip_last_act=False, kernel_size=3, padding=1,
    )  # fmt: skip
    # float32 logspace ends at 127.99..., rounded down as in CompressAI (same architectures,
    # hence the same checkpoints).
    assert [(m.in_channels, m.out_channels) for m in log if isinstance(m, nn.Conv2d)] == [
        (8, 40),
        (40, 127),
    ]
    assert isinstance(log[-1], nn.GELU) and log[0].kernel_size == (3, 3)
    with pytest.raises(ValueError, match="interp"):
        sequential_channel_ramp(4, 8, interp="cubic", make_layer=conv1x1, make_act=nn.ReLU)
    with pytest.raises(TypeError, match="make_layer"):
        sequential_channel_ramp(4, 8)


def test_sequential_channel_ramp_matches_compressai() -> None:
    layers = compressai_layers()
    for kwargs in ({"num_layers": 4}, {"num_layers": 3, "interp": "log", "min_ch": 50}):
        ours = sequential_channel_ramp(320, 24, make_layer=conv1x1, make_act=nn.ReLU, **kwargs)
        theirs = layers.sequential_channel_ramp(
            320, 24, make_layer=conv1x1, make_act=nn.ReLU, **kwargs
        )
        assert repr(ours) == repr(theirs)


# -- TorchScript ---------------------------------------------------------------------------------

SCRIPTABLE: dict[str, Callable[[], nn.Module]] = {
    "GDN": lambda: GDN(6),
    "IGDN": lambda: GDN(6, inverse=True),
    "GDN1": lambda: GDN1(6),
    "LowerBound": lambda: LowerBound(0.5),
    "NonNegativeParametrizer": lambda: NonNegativeParametrizer(),
    "conv": lambda: conv(6, 4),
    "deconv": lambda: deconv(6, 4),
    "conv1x1": lambda: conv1x1(6, 4),
    "conv3x3": lambda: conv3x3(6, 4, stride=2),
    "subpel_conv3x3": lambda: subpel_conv3x3(6, 4, 2),
    "ResidualBlock": lambda: ResidualBlock(6, 4),
    "ResidualBlockWithStride": lambda: ResidualBlockWithStride(6, 4),
    "ResidualBlockUpsample": lambda: ResidualBlockUpsample(6, 4),
    "AttentionBlock": lambda: AttentionBlock(6),
    "MaskedConv2d": lambda: MaskedConv2d(6, 4, 5, padding=2),
    "CheckerboardMaskedConv2d": lambda: CheckerboardMaskedConv2d(6, 4, 5, padding=2),
    "SpectralConv2d": lambda: SpectralConv2d(6, 4, 3, padding=1),
    "SpectralConvTranspose2d": lambda: SpectralConvTranspose2d(6, 4, 3, padding=1),
    "Gain": lambda: Gain((1, 6, 1, 1)),
    "Interleave": lambda: Interleave(3),
    "NamedLayer": lambda: NamedLayer("x"),
    "Reshape": lambda: Reshape((3, -1)),
    "Transpose": lambda: Transpose(2, 3),
    "sequential_channel_ramp": lambda: sequential_channel_ramp(
        6, 12, make_layer=conv1x1, make_act=nn.ReLU
    ),
}


def script(obj: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch >= 2.10 deprecates torch.jit.script
        return torch.jit.script(obj)


@pytest.mark.parametrize("name", sorted(SCRIPTABLE))
def test_layers_script(name: str) -> None:
    torch.manual_seed(4)
    module = SCRIPTABLE[name]().eval()
    scripted = script(module)
    x = torch.randn(2, 6, 8, 8)
    with torch.no_grad():
        assert torch.equal(scripted(x), module(x))
    # Scripted modules keep the state dict, and save and load.
    assert list(scripted.state_dict()) == list(module.state_dict())
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch >= 2.10 deprecates torch.jit.save and load
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
    with torch.no_grad():
        assert torch.equal(loaded(x), module(x))


def test_ops_script() -> None:
    x = torch.tensor([-1.5, -0.5, 0.2, 0.5, 2.5])
    assert torch.equal(script(quantize_ste)(x), torch.round(x))
    bound = torch.tensor([0.0])
    assert torch.equal(script(lower_bound_fwd)(x, bound), x.clamp(min=0))


def test_lower_bound_function_gradient() -> None:
    x = torch.tensor([-1.0, -1.0, 2.0], requires_grad=True)
    bound = torch.tensor([0.0])
    y = LowerBoundFunction.apply(x, bound)
    assert torch.equal(y, torch.tensor([0.0, 0.0, 2.0]))
    # Below the bound the gradient passes only if it pushes x up (a negative gradient).
    (g,) = torch.autograd.grad(y, x, torch.tensor([1.0, -1.0, 1.0]))
    assert g.tolist() == [0.0, -1.0, 1.0]
    grad_x, grad_bound = lower_bound_bwd(x.detach(), bound, torch.tensor([1.0, -1.0, 1.0]))
    assert grad_x.tolist() == [0.0, -1.0, 1.0] and grad_bound is None
