"""Checkpoints: legacy key renaming, and CompressAI-saved checkpoints loaded and reproduced."""

from __future__ import annotations

import io
import warnings
from collections import OrderedDict
from typing import Any

import pytest
import torch

from tinify.models import remap_legacy_keys
from tinify.zoo import model_architectures

AUTOREGRESSIVE = {"mbt2018", "cheng2020-anchor", "cheng2020-attn"}


def _to_legacy(state: dict[str, torch.Tensor], style: str) -> OrderedDict[str, torch.Tensor]:
    """Rewrite current keys the way old CompressAI checkpoints spelled them."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state.items():
        head, _, leaf = key.rpartition(".")
        parent, _, kind = head.rpartition(".")
        if kind in ("matrices", "biases", "factors") and "entropy_bottleneck" in parent:
            singular = {"matrices": "matrix", "biases": "bias", "factors": "factor"}[kind]
            key = f"{parent}._{kind}.{leaf}" if style == "2020" else f"{parent}._{singular}{leaf}"
        key = key.replace(".skip.", ".downsample.")
        out["module." + key] = value
    return out


@pytest.mark.parametrize("style", ["2020", "2021"])
def test_legacy_keys_load(model_name: str, make_small: Any, style: str) -> None:
    model = make_small(model_name)
    state = model.state_dict()
    legacy = _to_legacy(state, style)
    assert set(legacy) != set(state)
    assert list(remap_legacy_keys(legacy)) == list(state)
    other = make_small(model_name, seed=3)
    other.load_state_dict(legacy, strict=True)  # renamed on the way in
    rebuilt = type(model).from_state_dict(legacy)
    for (k, a), b, c in zip(
        state.items(), other.state_dict().values(), rebuilt.state_dict().values()
    ):
        assert torch.equal(a, b) and torch.equal(a, c), k


def test_legacy_keys_nested_and_untouched() -> None:
    w = torch.zeros(1)
    state = {
        "module.codec.entropy_bottleneck._matrices.10": w,
        "codec.entropy_bottleneck.quantiles": w,
        "img_hyperprior.eb._bias3": w,
        "img_hyperprior.eb.quantiles": w,
        "g_a.0.downsample.weight": w,
        "g_s.2.upsample.0.weight": w,
        "other._bias3": w,  # not a bottleneck: left alone
        "entropy_bottleneck.matrices.1": w,  # already current
    }
    assert list(remap_legacy_keys(state)) == [
        "codec.entropy_bottleneck.matrices.10",
        "codec.entropy_bottleneck.quantiles",
        "img_hyperprior.eb.biases.3",
        "img_hyperprior.eb.quantiles",
        "g_a.0.skip.weight",
        "g_s.2.upsample.0.weight",
        "other._bias3",
        "entropy_bottleneck.matrices.1",
    ]
    with pytest.raises(ValueError, match="two entries"):
        remap_legacy_keys({"module.a.skip.w": w, "a.downsample.w": w})


# -- CompressAI side by side ------------------------------------------------------------------

_COMPRESSAI_CLASSES = {
    "bmshj2018-factorized": ("FactorizedPrior", (16, 24)),
    "bmshj2018-hyperprior": ("ScaleHyperprior", (16, 24)),
    "mbt2018-mean": ("MeanScaleHyperprior", (16, 24)),
    "mbt2018": ("JointAutoregressiveHierarchicalPriors", (16, 24)),
    "cheng2020-anchor": ("Cheng2020Anchor", (16,)),
    "cheng2020-attn": ("Cheng2020Attention", (16,)),
}


def _compressai_model(compressai: Any, name: str, seed: int = 0) -> Any:
    cls_name, args = _COMPRESSAI_CLASSES[name]
    torch.manual_seed(seed)
    net = getattr(compressai.models, cls_name)(*args)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.update()
    return net


@pytest.mark.parametrize("name", list(_COMPRESSAI_CLASSES))
def test_compressai_checkpoint_reproduced(compressai: Any, name: str, make_image: Any) -> None:
    reference = _compressai_model(compressai, name)
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)  # a CompressAI-saved checkpoint
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    model = model_architectures[name].from_state_dict(state).eval()
    strict = model_architectures[name](*_COMPRESSAI_CLASSES[name][1])
    strict.load_state_dict(state, strict=True)
    assert list(model.state_dict()) == list(state)

    x = make_image(1, 3, 128, 128)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_forward = reference(x)
        ref_out = reference.compress(x)
        ref_x_hat = reference.decompress(ref_out["strings"], ref_out["shape"])["x_hat"]
        forward = model(x)
        if name in AUTOREGRESSIVE:
            model.context_order = "raster"  # CompressAI's stream layout
        out = model.compress(x)
        x_hat = model.decompress(**out)["x_hat"]
        cross = model.decompress(ref_out["strings"], ref_out["shape"])["x_hat"]

    assert float((forward["x_hat"] - ref_forward["x_hat"]).abs().max()) <= 1e-4
    for key, lik in ref_forward["likelihoods"].items():
        torch.testing.assert_close(forward["likelihoods"][key], lik, atol=1e-6, rtol=1e-4)
    assert float((x_hat - ref_x_hat).abs().max()) <= 1e-4
    assert float((cross - ref_x_hat).abs().max()) <= 1e-4  # CompressAI's stream decodes here
    assert tuple(out["shape"]) == tuple(ref_out["shape"])
    assert out["strings"] == ref_out["strings"]  # byte for byte


@pytest.mark.parametrize("name", sorted(AUTOREGRESSIVE))
def test_wavefront_decodes_like_compressai(compressai: Any, name: str, make_image: Any) -> None:
    """The default (wavefront) streams differ in order but decode to CompressAI's image."""
    reference = _compressai_model(compressai, name, seed=5)
    model = model_architectures[name].from_state_dict(reference.state_dict()).eval()
    x = make_image(2, 3, 128, 192, seed=5)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_out = reference.compress(x)
        ref_x_hat = reference.decompress(ref_out["strings"], ref_out["shape"])["x_hat"]
        out = model.compress(x)
        x_hat = model.decompress(**out)["x_hat"]
    assert out["strings"][1] == ref_out["strings"][1]
    assert float((x_hat - ref_x_hat).abs().max()) <= 1e-4
    # Same symbols, other order: stream lengths agree to within a few words.
    for a, b in zip(out["strings"][0], ref_out["strings"][0]):
        assert abs(len(a) - len(b)) <= 16
