"""Checkerboard and ELIC models, and the ReLU factorized prior, against CompressAI 1.2.8.

Small random-weight CompressAI models are saved, loaded here with ``strict=True``, and must give
the same forward outputs, the same ``compress()`` bytes and the same reconstructions.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest
import torch

from tinify.models import (
    Cheng2020AnchorCheckerboard,
    Elic2022Chandelier,
    Elic2022Official,
    FactorizedPriorReLU,
    SimpleVAECompressionModel,
    last_latent_size,
)
from tinify.zoo import model_architectures

# class name -> (constructor kwargs, zoo name)
SMALL = {
    "Cheng2020AnchorCheckerboard": ({"N": 16}, "cheng2020-anchor-checkerboard"),
    "Elic2022Official": ({"N": 16, "M": 48, "groups": [8, 8, 16, 16]}, "elic2022-official"),
    "Elic2022Chandelier": ({"N": 16, "M": 48, "groups": [8, 8, 16, 16]}, "elic2022-chandelier"),
    "FactorizedPriorReLU": ({"N": 16, "M": 24}, "bmshj2018-factorized-relu"),
}


def _perturbed(net: torch.nn.Module, seed: int) -> None:
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for m in net.modules():  # trained checkpoints have zeros at masked taps
            if isinstance(getattr(m, "mask", None), torch.Tensor):
                m.weight.mul_(m.mask)


def _compressai_model(compressai: Any, cls_name: str, seed: int = 0) -> Any:
    kwargs, _ = SMALL[cls_name]
    torch.manual_seed(seed)
    net = getattr(compressai.models, cls_name)(**kwargs)
    _perturbed(net, seed)
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.update(force=True)
    return net


def _saved(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("cls_name", list(SMALL))
def test_compressai_checkpoint_reproduced(compressai: Any, cls_name: str, make_image: Any) -> None:
    reference = _compressai_model(compressai, cls_name)
    state = _saved(reference)
    kwargs, zoo_name = SMALL[cls_name]
    model = model_architectures[zoo_name](**kwargs)
    model.load_state_dict(state, strict=True)
    model.eval()
    assert list(model.state_dict()) == list(state)
    assert type(model).from_state_dict(state).state_dict().keys() == state.keys()

    x = make_image(2, 3, 64, 128)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_forward = reference(x)
        ref_out = reference.compress(x)
        ref_x_hat = reference.decompress(ref_out["strings"], ref_out["shape"])["x_hat"]
        forward = model(x)
        out = model.compress(x)
        x_hat = model.decompress(out["strings"], out["shape"], x_size=out["x_size"])["x_hat"]
        cross = model.decompress(ref_out["strings"], ref_out["shape"])["x_hat"]

    assert float((forward["x_hat"] - ref_forward["x_hat"]).abs().max()) <= 1e-4
    assert list(forward["likelihoods"]) == list(ref_forward["likelihoods"])
    for key, lik in ref_forward["likelihoods"].items():
        torch.testing.assert_close(forward["likelihoods"][key], lik, atol=1e-6, rtol=1e-4)
    assert out["strings"] == ref_out["strings"]  # byte for byte
    assert out["shape"] == ref_out["shape"]
    if "y_hat" in ref_out:
        assert torch.equal(out["y_hat"], ref_out["y_hat"])
    assert float((x_hat - ref_x_hat).abs().max()) <= 1e-4
    assert float((cross - ref_x_hat).abs().max()) <= 1e-4


@pytest.mark.parametrize("cls_name", ["Cheng2020AnchorCheckerboard", "Elic2022Official"])
def test_training_forward_matches_compressai(compressai: Any, cls_name: str) -> None:
    """``forward_method="twopass"`` in training (STE quantization): same outputs, gradients."""
    reference = _compressai_model(compressai, cls_name).train()
    kwargs, zoo_name = SMALL[cls_name]
    model = model_architectures[zoo_name](**kwargs)
    model.load_state_dict(_saved(reference), strict=True)
    model.train()
    x = torch.rand(1, 3, 64, 64)
    torch.manual_seed(3)
    ref = reference(x)
    torch.manual_seed(3)
    out = model(x)
    torch.testing.assert_close(out["x_hat"], ref["x_hat"], atol=1e-5, rtol=1e-4)
    for key in ("y", "z"):
        torch.testing.assert_close(out["likelihoods"][key], ref["likelihoods"][key])


def test_state_dict_matches_compressai_full_size(compressai: Any) -> None:
    for cls_name in ("Cheng2020AnchorCheckerboard", "Elic2022Official", "Elic2022Chandelier"):
        ref = getattr(compressai.models, cls_name)().state_dict()
        ours = getattr(__import__("tinify.models", fromlist=[cls_name]), cls_name)().state_dict()
        assert [(k, v.shape) for k, v in ours.items()] == [(k, v.shape) for k, v in ref.items()]
        masks = [(k, v) for k, v in ref.items() if k.endswith(".mask")]
        assert masks and all(torch.equal(ours[k], v) for k, v in masks)


@pytest.mark.parametrize("cls_name", ["Cheng2020AnchorCheckerboard", "Elic2022Chandelier"])
def test_round_trip_any_size_and_batch(cls_name: str, make_image: Any) -> None:
    kwargs, zoo_name = SMALL[cls_name]
    model = model_architectures[zoo_name](**kwargs)
    _perturbed(model, 1)
    model.update(force=True)
    model.eval()
    x = make_image(2, 3, 70, 100, seed=2)  # padded to 128x128 inside compress
    with torch.no_grad():
        out = model.compress(x)
        dec = model.decompress(**out)["x_hat"]
        alone = model.decompress([[s[1]] for s in out["strings"]], out["shape"])["x_hat"]
        y_hat = model.latent_codec.decompress(out["strings"], out["shape"])["y_hat"]
    assert dec.shape == x.shape
    assert torch.equal(y_hat, out["y_hat"])  # compress() reports the decoder's latent
    padded = model.decompress(out["strings"], out["shape"])["x_hat"]
    assert padded.shape[-2:] == (128, 128)
    torch.testing.assert_close(alone[0], padded[1])  # an item decodes alone
    # The codec container records only the hyper-latent size; that suffices.
    size = last_latent_size(out["shape"])
    assert size == (2, 2)
    again = model.decompress(out["strings"], size)["x_hat"]
    assert torch.equal(again, padded)
    assert len(out["strings"]) == len(model.latent_names)


def test_decompress_rejects_bad_arguments(make_image: Any) -> None:
    model = Cheng2020AnchorCheckerboard(N=16).eval()
    model.update()
    with torch.no_grad():
        out = model.compress(make_image(1, 3, 64, 64))
    with pytest.raises(ValueError, match="strings"):
        model.decompress(out["strings"][:1], out["shape"])
    with pytest.raises(ValueError, match="shape"):
        model.decompress(out["strings"], {"y": out["shape"]["y"]})
    with pytest.raises(ValueError, match="one entry per item"):
        model.decompress([out["strings"][0] * 2, *out["strings"][1:]], out["shape"])
    # A parameter network without an integer version: the fixed path refuses, update() works.
    model.latent_codec.hyper.h_s[1] = torch.nn.Softplus()
    model.update(force=True)
    model.entropy_path = "fixed"
    with pytest.raises(ValueError, match="no fixed-point version of hyper:h_s"):
        model.compress(make_image(1, 3, 64, 64))


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="sum to M"):
        Elic2022Official(N=16, M=48, groups=[8, 8])
    with pytest.raises(ValueError, match="M > 128"):
        Elic2022Chandelier(N=16, M=48)
    assert issubclass(Elic2022Chandelier, SimpleVAECompressionModel)
    model = Elic2022Official(N=16, M=48, groups=[8, 8, 16, 16])
    assert type(model).from_state_dict(model.state_dict()).groups == [8, 8, 16, 16]
    assert model["y"] is model.latent_codec.y and model["hyper"] is model.latent_codec.hyper


def test_factorized_relu_has_no_gdn() -> None:
    model = FactorizedPriorReLU(16, 24)
    kinds = {type(m).__name__ for m in [*model.g_a, *model.g_s]}
    assert kinds == {"Conv2d", "ConvTranspose2d", "ReLU"}
    assert not any("beta" in k for k in model.state_dict())


def _small(cls_name: str, seed: int = 0) -> SimpleVAECompressionModel:
    kwargs, zoo_name = SMALL[cls_name]
    torch.manual_seed(seed)
    model = model_architectures[zoo_name](**kwargs)
    _perturbed(model, seed)
    model.update(force=True)
    return model.eval()


def _decoded_latent(model: SimpleVAECompressionModel, out: dict[str, Any]) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    handle = model.g_s.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model.decompress(out["strings"], out["shape"])
    finally:
        handle.remove()
    return seen[0]


@pytest.mark.parametrize("cls_name", ["Cheng2020AnchorCheckerboard", "Elic2022Chandelier"])
def test_fixed_path(cls_name: str, make_image: Any) -> None:
    """Integer entropy parameters: exact round trips, independent of the float networks."""
    model = _small(cls_name)
    model.entropy_path = "fixed"
    x = make_image(2, 3, 64, 128, seed=3)
    with torch.no_grad():
        out = model.compress(x)
        y = model.g_a(x)
    y_hat = _decoded_latent(model, out)
    assert torch.equal(y_hat, out["y_hat"].contiguous(memory_format=torch.channels_last))
    assert float((y_hat - y).abs().max()) <= 0.5 + 1e-3
    single = {"strings": [[s[1]] for s in out["strings"]], "shape": out["shape"]}
    assert torch.equal(_decoded_latent(model, single), y_hat[1:])

    # A float64 decoder, and one whose float parameter networks are poisoned after the
    # integer networks were built, decode the same latent.
    double = _small(cls_name).double()
    double.entropy_path = "fixed"
    assert torch.equal(_decoded_latent(double, out), y_hat.double())
    poisoned = _small(cls_name)
    poisoned.entropy_path = "fixed"
    with torch.no_grad():
        for name, p in poisoned.latent_codec.named_parameters():
            if "entropy_bottleneck" not in name:
                p.fill_(float("nan"))
    assert torch.equal(_decoded_latent(poisoned, out), y_hat)
