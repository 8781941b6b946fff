"""Latent codecs: round trips, and CompressAI 1.2.8's codecs side by side (same weights, same
bytes, same decoded latents)."""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import tinify
import tinify.entropy_models
import tinify.latent_codecs
import tinify.layers
from tinify.latent_codecs import (
    ChannelGroupsLatentCodec,
    CheckerboardLatentCodec,
    EntropyBottleneckLatentCodec,
    GaussianConditionalLatentCodec,
    HyperLatentCodec,
    HyperpriorLatentCodec,
    LatentCodec,
    RasterScanLatentCodec,
)
from tinify.latent_codecs.checkerboard import checkerboard_mask
from tinify.models import SimpleVAECompressionModel, get_scale_table

M, SIDE = 8, 6


def _lib(module: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        lc=module.latent_codecs, em=module.entropy_models, layers=module.layers
    )


def _ours() -> types.SimpleNamespace:
    return _lib(tinify)


def _theirs(compressai: Any) -> types.SimpleNamespace:
    import compressai.latent_codecs  # noqa: F401  (submodule import)

    return _lib(compressai)


def _ep(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, 16, 1), nn.LeakyReLU(), nn.Conv2d(16, cout, 1))


def _h_a() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(M, SIDE, 3, stride=2, padding=1))


def _h_s() -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(SIDE, 2 * M, 4, stride=2, padding=1))


BUILDERS: dict[str, Callable[[types.SimpleNamespace], nn.Module]] = {
    "eb": lambda L: L.lc.EntropyBottleneckLatentCodec(channels=M),
    "gc": lambda L: L.lc.GaussianConditionalLatentCodec(
        entropy_parameters=_ep(SIDE, 2 * M), chunks=("means", "scales")
    ),
    "raster": lambda L: L.lc.RasterScanLatentCodec(
        L.em.GaussianConditional(None),
        _ep(SIDE + 2 * M, 2 * M),
        L.layers.MaskedConv2d(M, 2 * M, kernel_size=5, padding=2),
    ),
    "hyperprior": lambda L: L.lc.HyperpriorLatentCodec(
        latent_codec={
            "y": L.lc.GaussianConditionalLatentCodec(quantizer="ste"),
            "hyper": L.lc.HyperLatentCodec(L.em.EntropyBottleneck(SIDE), _h_a(), _h_s()),
        }
    ),
    "groups": lambda L: L.lc.ChannelGroupsLatentCodec(
        groups=[2, 6],
        channel_context={"y1": nn.Conv2d(2, 8, 3, padding=1)},
        latent_codec={
            "y0": L.lc.GaussianConditionalLatentCodec(entropy_parameters=_ep(SIDE, 4)),
            "y1": L.lc.GaussianConditionalLatentCodec(entropy_parameters=_ep(8 + SIDE, 12)),
        },
    ),
    "gain": lambda L: L.lc.GainHyperpriorLatentCodec(
        latent_codec={
            "y": L.lc.GaussianConditionalLatentCodec(),
            "hyper": L.lc.GainHyperLatentCodec(L.em.EntropyBottleneck(SIDE), _h_a(), _h_s()),
        }
    ),
}


def _args(kind: str, y: torch.Tensor) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """Extra arguments of (compress / forward, decompress) for a codec kind."""
    g = torch.Generator().manual_seed(1)
    if kind in ("gc", "raster", "groups"):
        side = torch.randn(y.size(0), SIDE, *y.shape[2:], generator=g)
        return (side,), (side,)
    if kind == "gain":
        y_gain, z_gain = (torch.rand(1, c, 1, 1, generator=g) + 0.5 for c in (M, SIDE))
        return (y_gain, z_gain, 1 / y_gain, 1 / z_gain), (1 / y_gain, 1 / z_gain)
    return (), ()


def _pair(compressai: Any, kind: str, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    theirs = BUILDERS[kind](_theirs(compressai))
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    for m in theirs.modules():  # tables, as CompressionModel.update() builds them
        if type(m).__name__ == "EntropyBottleneck":
            m.update(force=True)
        elif type(m).__name__ == "GaussianConditional":
            m.update_scale_table(get_scale_table(), force=True)
    ours = BUILDERS[kind](_ours())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return theirs.eval(), ours.eval()


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_same_bytes_as_compressai(compressai: Any, kind: str) -> None:
    theirs, ours = _pair(compressai, kind)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    y = torch.randn(1, M, 8, 12, generator=torch.Generator().manual_seed(0)) * 3
    args, dec_args = _args(kind, y)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_fwd, fwd = theirs(y, *args), ours(y, *args)
        ref, out = theirs.compress(y, *args), ours.compress(y, *args)
        # CompressAI's ChannelGroupsLatentCodec.decompress reads channel counts from shape[k][0],
        # which only the (C, H, W) shapes of checkerboard groups hold: use its encoder's y_hat.
        if kind == "groups":
            ref_dec = {"y_hat": ref["y_hat"]}
        else:
            ref_dec = theirs.decompress(ref["strings"], ref["shape"], *dec_args)
        dec = ours.decompress(ref["strings"], ref["shape"], *dec_args)
    for key, lik in ref_fwd["likelihoods"].items():
        torch.testing.assert_close(fwd["likelihoods"][key], lik)
    torch.testing.assert_close(fwd["y_hat"], ref_fwd["y_hat"])
    strings = ref["strings"]
    if kind == "raster":  # CompressAI lists a raster codec's streams item by item
        strings = [[s for item in strings for s in item]]
    assert out["strings"] == strings
    expected = ref_dec["y_hat"].reshape(dec["y_hat"].shape)
    if kind == "raster":  # same symbols; means from matmuls, not per-pixel convs: ulps apart
        torch.testing.assert_close(dec["y_hat"], expected, atol=1e-5, rtol=0)
    else:
        assert torch.equal(dec["y_hat"], expected)
    assert torch.equal(out["y_hat"], dec["y_hat"])


def test_raster_wavefront_order_decodes_the_same(compressai: Any) -> None:
    _, codec = _pair(compressai, "raster", seed=2)
    assert isinstance(codec, RasterScanLatentCodec)
    y = torch.randn(2, M, 6, 9, generator=torch.Generator().manual_seed(4)) * 3
    (side,), _ = _args("raster", y)
    with torch.no_grad():
        raster = codec.compress(y, side)
        codec.context_order = "wavefront"
        front = codec.compress(y, side)
        decoded = codec.decompress(front["strings"], front["shape"], side)["y_hat"]
    assert front["strings"] != raster["strings"]
    assert torch.equal(decoded, front["y_hat"])  # the decoder reproduces its encoder
    torch.testing.assert_close(decoded, raster["y_hat"], atol=1e-5, rtol=0)  # same symbols


def test_checkerboard_mask() -> None:
    mask = checkerboard_mask((2, 3, 5, 5))
    assert mask.shape == (2, 3, 5, 5) and int(mask[0, 0].sum()) == 12
    assert mask[0, 0, 2, 2] == 0 and mask[0, 0, 2, 1] == 1 and mask[0, 0, 1, 1] == 0
    assert checkerboard_mask((1, 1, 3, 3), "B")[0, 0, 1, 1] == 1
    with pytest.raises(ValueError, match="mask_type"):
        checkerboard_mask((1, 1, 3, 3), "C")


def test_checkerboard_unembed_embed_and_passes() -> None:
    torch.manual_seed(0)
    codec = CheckerboardLatentCodec(
        latent_codec={"y": GaussianConditionalLatentCodec()},
        entropy_parameters=_ep(2 * M + SIDE, 2 * M),
        context_prediction=nn.Conv2d(M, 2 * M, 5, padding=2),
        anchor_parity="odd",
    ).eval()
    codec.y.gaussian_conditional.update_scale_table(get_scale_table())
    y = torch.randn(2, M, 6, 8) * 4
    halves = codec.unembed(y)
    assert halves.shape == (2, 2, M, 6, 4) and torch.equal(codec.embed(halves), y)
    assert torch.equal(halves[0][..., 0, :], y[..., 0, 1::2])  # odd parity: anchors at h+w odd
    side = torch.randn(2, SIDE, 6, 8)
    with torch.no_grad():
        out = codec.compress(y, side)
        dec = codec.decompress(out["strings"], out["shape"], side)["y_hat"]
    assert len(out["strings"]) == 2 and tuple(out["shape"]) == (M, 6, 8)
    assert torch.equal(dec, out["y_hat"]) and float((dec - y).abs().max()) <= 0.5 + 1e-5
    for method in ("onepass", "twopass", "twopass_faster"):
        codec.forward_method = method
        lik = codec(y, side)["likelihoods"]["y"]
        assert lik.shape == y.shape and bool(((lik > 0) & (lik <= 1)).all())
    with pytest.raises(ValueError, match="even"):
        codec.compress(torch.randn(1, M, 4, 5), torch.randn(1, SIDE, 4, 5))


class TinyVAE(SimpleVAECompressionModel):
    """The README example: any transforms around any latent codec."""

    def __init__(self, N: int = 8) -> None:
        super().__init__()
        self.g_a = nn.Sequential(nn.Conv2d(3, N, 5, stride=4, padding=2))
        self.g_s = nn.Sequential(nn.ConvTranspose2d(N, 3, 4, stride=4))
        self.latent_codec = EntropyBottleneckLatentCodec(channels=N)


def test_simple_vae_round_trip() -> None:
    torch.manual_seed(0)
    model = TinyVAE().eval()
    model.update()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = model.compress(x)
        x_hat = model.decompress(**out)["x_hat"]
        forward = model(x)
    assert set(out) == {"strings", "shape", "y_hat", "x_size"}
    assert tuple(out["shape"]) == (16, 16) and x_hat.shape == x.shape
    torch.testing.assert_close(x_hat, forward["x_hat"].clamp(0, 1), atol=1e-5, rtol=0)
    assert isinstance(model.latent_codec, LatentCodec)


def test_composed_codecs_check_their_inputs() -> None:
    codec = HyperpriorLatentCodec(
        latent_codec={
            "y": GaussianConditionalLatentCodec(),
            "hyper": HyperLatentCodec(
                tinify.entropy_models.EntropyBottleneck(SIDE), _h_a(), _h_s()
            ),
        }
    )
    assert codec["y"] is codec.y and set(codec.state_dict()) == {
        *(f"y.{k}" for k in codec.y.state_dict()),
        *(f"hyper.{k}" for k in codec.hyper.state_dict()),
    }
    with pytest.raises(ValueError, match="z_strings"):
        codec.decompress([[b"1234"]], {"y": (2, 2), "hyper": (1, 1)})
    with pytest.raises(ValueError, match="shape"):
        codec.decompress([[b"1234"], [b"5678"]], (1, 1))
    with pytest.raises(ValueError, match="groups"):
        ChannelGroupsLatentCodec(latent_codec={}, channel_context={}, groups=[2, 0])
    with pytest.raises(ValueError, match="quantizer"):
        GaussianConditionalLatentCodec(quantizer="round")
