"""``tinify.models.utils`` (CompressAI's model helpers), a third-party-style model ported by
renaming ``compressai`` to ``tinify``, CompressionModel's deprecated arguments, and
``torch.compile`` on a model's forward."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

import tinify.entropy_models
import tinify.layers
import tinify.models
import tinify.models.utils
from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.models.utils import (
    BufferRegistrationError,
    conv,
    deconv,
    find_named_buffer,
    find_named_module,
    gaussian_blur,
    gaussian_kernel1d,
    gaussian_kernel2d,
    meshgrid2d,
    remap_old_keys,
    update_registered_buffers,
)


def compressai_modules() -> SimpleNamespace:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import compressai.entropy_models
        import compressai.layers
        import compressai.models
        import compressai.models.utils

    return SimpleNamespace(
        entropy_models=compressai.entropy_models,
        layers=compressai.layers,
        models=compressai.models,
        utils=compressai.models.utils,
    )


TINIFY = SimpleNamespace(
    entropy_models=tinify.entropy_models,
    layers=tinify.layers,
    models=tinify.models,
    utils=tinify.models.utils,
)


# -- lookups and buffers ------------------------------------------------------------------------


def test_find_named_module_and_buffer() -> None:
    net = nn.Sequential(OrderedDict(a=nn.Linear(2, 2), eb=EntropyBottleneck(3)))
    assert find_named_module(net, "eb") is net.eb
    assert find_named_module(net, "") is net
    assert find_named_module(net, "nope") is None
    assert find_named_buffer(net, "eb._offset") is net.eb._offset
    assert find_named_buffer(net, "eb.likelihood_lower_bound.bound") is not None
    assert find_named_buffer(net, "a.weight") is None  # a parameter, not a buffer


def test_update_registered_buffers_policies() -> None:
    eb = EntropyBottleneck(4)
    state = {"eb._quantized_cdf": torch.zeros(4, 23, dtype=torch.int32)}
    state["eb._offset"] = torch.zeros(4, dtype=torch.int32)
    update_registered_buffers(eb, "eb", ["_quantized_cdf", "_offset"], state)
    assert eb._quantized_cdf.shape == (4, 23) and eb._offset.shape == (4,)
    # resize_if_empty leaves filled buffers alone; resize does not.
    state["eb._quantized_cdf"] = torch.zeros(4, 30, dtype=torch.int32)
    update_registered_buffers(eb, "eb", ["_quantized_cdf"], state)
    assert eb._quantized_cdf.shape == (4, 23)
    update_registered_buffers(eb, "eb", ["_quantized_cdf"], state, policy="resize")
    assert eb._quantized_cdf.shape == (4, 30)
    # register creates new zero buffers of the given dtype.
    state["eb.extra"] = torch.ones(2, 3)
    update_registered_buffers(eb, "eb", ["extra"], state, policy="register", dtype=torch.float64)
    assert eb.extra.dtype == torch.float64 and torch.equal(eb.extra, torch.zeros(2, 3).double())
    assert "extra" in eb.state_dict()
    with pytest.raises(RuntimeError, match="already registered"):
        update_registered_buffers(eb, "eb", ["extra"], state, policy="register")
    with pytest.raises(ValueError, match="no buffer named 'nope'"):
        update_registered_buffers(eb, "eb", ["nope"], state)
    with pytest.raises(ValueError, match="policy"):
        update_registered_buffers(eb, "eb", ["_offset"], state, policy="grow")
    with pytest.raises(KeyError):
        update_registered_buffers(eb, "eb", ["_cdf_length"], state)
    assert issubclass(BufferRegistrationError, RuntimeError)
    assert issubclass(BufferRegistrationError, tinify.TinifyError)


def test_remap_old_keys() -> None:
    w = torch.zeros(1)
    old = {
        "entropy_bottleneck._matrix0": w,
        "entropy_bottleneck._bias4": w,
        "entropy_bottleneck._factors.2": w,
        "entropy_bottleneck.quantiles": w,
        "g_a.0._matrix0": w,  # not under the module: untouched
    }
    assert list(remap_old_keys("entropy_bottleneck", old)) == [
        "entropy_bottleneck.matrices.0",
        "entropy_bottleneck.biases.4",
        "entropy_bottleneck.factors.2",
        "entropy_bottleneck.quantiles",
        "g_a.0._matrix0",
    ]
    assert list(remap_old_keys("hyper.eb", {"hyper.eb._factor1": w})) == ["hyper.eb.factors.1"]


def test_remap_old_keys_matches_compressai() -> None:
    theirs = compressai_modules().utils
    keys = {
        f"entropy_bottleneck._{k}{i}": torch.zeros(1) for k in ("matrix", "bias") for i in (0, 4)
    }
    keys["entropy_bottleneck.quantiles"] = torch.zeros(1)
    keys["h_a.0.weight"] = torch.zeros(1)
    assert list(remap_old_keys("entropy_bottleneck", keys)) == list(
        theirs.remap_old_keys("entropy_bottleneck", keys)
    )


# -- Gaussian blur and grids --------------------------------------------------------------------


def test_gaussian_kernels() -> None:
    k1 = gaussian_kernel1d(5, 1.0, None, torch.float64)
    t = torch.arange(-2.0, 3.0, dtype=torch.float64)
    expected = torch.exp(-0.5 * t**2)
    torch.testing.assert_close(k1, expected / expected.sum())
    k2 = gaussian_kernel2d(5, 1.0, None, torch.float64)
    torch.testing.assert_close(k2, torch.outer(k1, k1))
    assert k2.sum().item() == pytest.approx(1.0)


def test_gaussian_blur_forms_agree() -> None:
    torch.manual_seed(5)
    x = torch.rand(2, 3, 16, 12)
    by_args = gaussian_blur(x, kernel_size=7, sigma=1.3)
    by_2d = gaussian_blur(x, gaussian_kernel2d(7, 1.3))
    by_1d = gaussian_blur(x, gaussian_kernel1d(7, 1.3))
    assert torch.equal(by_args, by_2d)
    torch.testing.assert_close(by_1d, by_2d, rtol=1e-5, atol=1e-6)
    assert by_2d.shape == x.shape
    flat = torch.full((1, 1, 9, 9), 0.25)
    torch.testing.assert_close(gaussian_blur(flat, kernel_size=5, sigma=2.0), flat)
    with pytest.raises(RuntimeError, match="kernel_size and sigma"):
        gaussian_blur(x, kernel_size=5)


def test_meshgrid2d() -> None:
    grid = meshgrid2d(2, 3, 4, 6, torch.device("cpu"))
    assert grid.shape == (2, 4, 6, 2)
    # Pixel centres in [-1, 1] with align_corners=False: x = (2j + 1) / W - 1.
    torch.testing.assert_close(grid[0, 0, :, 0], (2 * torch.arange(6.0) + 1) / 6 - 1)
    torch.testing.assert_close(grid[1, :, 0, 1], (2 * torch.arange(4.0) + 1) / 4 - 1)


def test_blur_and_grid_match_compressai() -> None:
    theirs = compressai_modules().utils
    x = torch.rand(1, 3, 20, 20)
    cpu = torch.device("cpu")
    for size, sigma in [(5, 1.0), (11, 1.5)]:
        assert torch.equal(
            gaussian_kernel2d(size, sigma, cpu, torch.float32),
            theirs.gaussian_kernel2d(size, sigma, cpu, torch.float32),
        )
        assert torch.equal(
            gaussian_blur(x, kernel_size=size, sigma=sigma),
            theirs.gaussian_blur(x, kernel_size=size, sigma=sigma),
        )
    assert torch.equal(meshgrid2d(2, 3, 8, 10, cpu), theirs.meshgrid2d(2, 3, 8, 10, cpu))
    for ours_fn, their_fn in [(conv, theirs.conv), (deconv, theirs.deconv)]:
        assert repr(ours_fn(3, 8, 3, 1)) == repr(their_fn(3, 8, 3, 1))


# -- a third-party model, ported by renaming ----------------------------------------------------


def make_third_party_model(lib: SimpleNamespace, N: int = 8, M: int = 12) -> nn.Module:
    """A scale hyperprior written the way CompressAI-based research code writes one: its own
    ``load_state_dict`` sizing the Gaussian tables with ``update_registered_buffers``, and its
    own ``compress`` / ``decompress``. ``lib`` is the ``compressai`` or ``tinify`` namespace."""
    conv_, deconv_ = lib.utils.conv, lib.utils.deconv
    GDN = lib.layers.GDN

    class HyperpriorModel(lib.models.CompressionModel):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.entropy_bottleneck = lib.entropy_models.EntropyBottleneck(N)
            self.gaussian_conditional = lib.entropy_models.GaussianConditional(None)
            self.g_a = nn.Sequential(conv_(3, N), GDN(N), conv_(N, M))
            self.g_s = nn.Sequential(deconv_(M, N), GDN(N, inverse=True), deconv_(N, 3))
            self.h_a = nn.Sequential(conv_(M, N, 3, 1), nn.ReLU(), conv_(N, N))
            self.h_s = nn.Sequential(deconv_(N, M), nn.ReLU())

        def forward(self, x: torch.Tensor) -> dict[str, Any]:
            y = self.g_a(x)
            z = self.h_a(torch.abs(y))
            z_hat, z_likelihoods = self.entropy_bottleneck(z)
            scales = self.h_s(z_hat)
            y_hat, y_likelihoods = self.gaussian_conditional(y, scales)
            return {
                "x_hat": self.g_s(y_hat),
                "likelihoods": {"y": y_likelihoods, "z": z_likelihoods},
            }

        def load_state_dict(self, state_dict: Any, strict: bool = True) -> Any:
            lib.utils.update_registered_buffers(
                self.gaussian_conditional,
                "gaussian_conditional",
                ["_quantized_cdf", "_offset", "_cdf_length", "scale_table"],
                state_dict,
            )
            return super().load_state_dict(state_dict, strict=strict)

        def compress(self, x: torch.Tensor) -> dict[str, Any]:
            y = self.g_a(x)
            z = self.h_a(torch.abs(y))
            z_strings = self.entropy_bottleneck.compress(z)
            z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
            indexes = self.gaussian_conditional.build_indexes(self.h_s(z_hat))
            y_strings = self.gaussian_conditional.compress(y, indexes)
            return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

        def decompress(self, strings: Any, shape: Any) -> dict[str, Any]:
            z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
            indexes = self.gaussian_conditional.build_indexes(self.h_s(z_hat))
            y_hat = self.gaussian_conditional.decompress(strings[0], indexes, z_hat.dtype)
            return {"x_hat": self.g_s(y_hat).clamp_(0, 1)}

    torch.manual_seed(6)
    return HyperpriorModel()


def perturbed(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


def test_third_party_model_round_trip_and_reload() -> None:
    model = perturbed(make_third_party_model(TINIFY)).eval()
    assert model.update() is True
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = model.compress(x)
        x_hat = model.decompress(out["strings"], out["shape"])["x_hat"]
        assert x_hat.shape == x.shape
        state = model.state_dict()
        fresh = make_third_party_model(TINIFY).eval()
        assert fresh.gaussian_conditional._quantized_cdf.numel() == 0
        fresh.load_state_dict(state)
        assert fresh.gaussian_conditional._quantized_cdf.shape[0] == 64
        again = fresh.compress(x)
        assert again["strings"] == out["strings"]
        assert torch.equal(fresh.decompress(out["strings"], out["shape"])["x_hat"], x_hat)


def test_third_party_model_streams_match_compressai() -> None:
    theirs = perturbed(make_third_party_model(compressai_modules())).eval()
    theirs.update()
    ours = make_third_party_model(TINIFY).eval()
    ours.load_state_dict(theirs.state_dict())  # CompressAI's tables, strict
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        a, b = ours.compress(x), theirs.compress(x)
        assert a["strings"] == b["strings"]
        torch.testing.assert_close(
            ours.decompress(b["strings"], b["shape"])["x_hat"],
            theirs.decompress(a["strings"], a["shape"])["x_hat"],
        )
        # And back: tinify's state dict loads into CompressAI's model.
        theirs_again = make_third_party_model(compressai_modules()).eval()
        theirs_again.load_state_dict(ours.state_dict())
        assert theirs_again.compress(x)["strings"] == a["strings"]


def test_compression_model_deprecated_arguments() -> None:
    with pytest.warns(DeprecationWarning, match="entropy_bottleneck_channels"):
        model = tinify.models.CompressionModel(entropy_bottleneck_channels=5)
    assert isinstance(model.entropy_bottleneck, EntropyBottleneck)
    assert model.entropy_bottleneck.quantiles.shape == (5, 1, 3)
    with pytest.warns(DeprecationWarning, match="init_weights"):
        tinify.models.CompressionModel(init_weights=True)
    assert list(tinify.models.ScaleHyperprior(8, 12).state_dict()) == list(
        tinify.models.ScaleHyperprior(N=8, M=12).state_dict()
    )
    assert isinstance(GaussianConditional(None), tinify.entropy_models.EntropyModel)


# -- torch.compile --------------------------------------------------------------------------------


def compile_or_skip(model: nn.Module) -> Any:
    dynamo = pytest.importorskip("torch._dynamo")
    if "aot_eager" not in dynamo.list_backends(exclude_tags=()):
        pytest.skip("torch.compile's aot_eager backend is not available")
    dynamo.reset()
    return torch.compile(model, backend="aot_eager", fullgraph=True)


def test_torch_compile_forward() -> None:
    torch.manual_seed(7)
    model = perturbed(tinify.models.ScaleHyperprior(8, 12)).eval()
    compiled = compile_or_skip(model)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        got, expected = compiled(x), model(x)
    torch.testing.assert_close(got["x_hat"], expected["x_hat"])
    for name in ("y", "z"):
        torch.testing.assert_close(got["likelihoods"][name], expected["likelihoods"][name])


@pytest.mark.slow
def test_torch_compile_training_step() -> None:
    # Noise quantization and the custom-gradient lower bounds compile too.
    torch.manual_seed(8)
    model = perturbed(tinify.models.ScaleHyperprior(8, 12)).train()
    compiled = compile_or_skip(model)
    out = compiled(torch.rand(2, 3, 64, 64))
    loss = out["x_hat"].square().mean() - sum(v.log2().sum() for v in out["likelihoods"].values())
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.g_a.parameters())
