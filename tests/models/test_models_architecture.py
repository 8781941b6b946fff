"""Model structure: state-dict keys/shapes/dtypes against CompressAI 1.2.8, forward, update."""

from __future__ import annotations

import functools
import json
import struct
from pathlib import Path
from typing import Any

import pytest
import torch

from tinify.entropy_models import EntropyBottleneck
from tinify.models import CompressionModel, get_scale_table
from tinify.zoo import create_model, list_models
from tinify.zoo.pretrained import qualities

# CompressAI's table has no entry for the ReLU factorized prior (its zoo function builds the GDN
# model); tests/models/test_models_sensetime.py checks that class against CompressAI's instead.
ALL_QUALITIES = [
    (name, q)
    for name in list_models(kind="image")
    if name != "bmshj2018-factorized-relu"
    for q in qualities(name)
]


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture
def reference(reference_dir: Path) -> Any:
    """``reference(file_name)``: a parsed JSON file of the CompressAI reference data."""
    return lambda name: _load(reference_dir / name)


@functools.cache
def _zoo_state(name: str, quality: int) -> tuple[list[tuple[str, tuple[int, ...], str]], int, str]:
    """(key, shape, dtype) of a full-size zoo model after update(force=True), params, class."""
    model = create_model(name, quality).eval()
    model.update(force=True)
    entries = [
        (k, tuple(v.shape), str(v.dtype).replace("torch.", ""))
        for k, v in model.state_dict().items()
    ]
    return entries, sum(p.numel() for p in model.parameters()), type(model).__name__


@pytest.mark.parametrize(("name", "quality"), ALL_QUALITIES)
def test_state_dict_matches_compressai(name: str, quality: int, reference: Any) -> None:
    shapes = reference("compressai_state_dicts.json")[name.replace("-", "_")][str(quality)]
    ref = reference("compressai_state_dict_dtypes.json")
    dtypes = ref["dtypes"][name.replace("-", "_")]
    info = ref["per_quality_info"][name.replace("-", "_")][str(quality)]
    entries, n_params, cls_name = _zoo_state(name, quality)
    assert [k for k, _, _ in entries] == list(shapes)  # same keys, same order
    assert {k: list(s) for k, s, _ in entries} == shapes
    assert {k: d for k, _, d in entries} == dtypes
    assert n_params == info["num_parameters"]
    assert cls_name == info["class"]


def test_default_scale_table_is_compressais(reference: Any) -> None:
    ref = reference("compressai_scale_table.json")
    table = get_scale_table()
    assert table.dtype == torch.float32 and table.shape == (64,)
    bits = [f"0x{struct.unpack('<I', struct.pack('<f', v))[0]:08x}" for v in table.tolist()]
    assert bits == ref["scale_table_float32_hexbits"]


def test_forward_shapes_and_likelihoods(model_name: str, make_small: Any) -> None:
    model = make_small(model_name)
    x = torch.rand(2, 3, 64, 128)
    for training in (True, False):
        model.train(training)
        out = model(x)
        assert out["x_hat"].shape == x.shape
        names = ("y",) if model_name.startswith("bmshj2018-factorized") else ("y", "z")
        assert tuple(out["likelihoods"]) == names
        factor = model.downsampling_factor
        for latent, lik in out["likelihoods"].items():
            size = 16 if latent == "y" else 64
            assert lik.shape[-2:] == (64 // size, 128 // size)
            assert bool(((lik > 0) & (lik <= 1)).all())
        assert factor == (16 if model_name.startswith("bmshj2018-factorized") else 64)


def test_backward_and_aux_loss(model_name: str, make_small: Any) -> None:
    model = make_small(model_name).train()
    out = model(torch.rand(1, 3, 64, 64))
    bpp = sum(-torch.log2(v).sum() for v in out["likelihoods"].values())
    (bpp + (out["x_hat"] ** 2).mean()).backward()
    aux = model.aux_loss()
    assert aux.dim() == 0
    expected = sum(m.loss() for m in model.modules() if isinstance(m, EntropyBottleneck))
    assert torch.allclose(aux, expected)
    aux.backward()
    assert model.entropy_bottleneck.quantiles.grad is not None


def test_update_flags(model_name: str, make_small: Any) -> None:
    model: CompressionModel = make_small(model_name)  # already updated
    assert model.update() is False
    assert model.update(force=True) is True
    fresh = create_model(model_name, 1)
    assert fresh.update() is True
    scales = torch.exp(torch.linspace(-2, 5, 16))
    assert fresh.update(scale_table=scales, force=True) is True
    if hasattr(fresh, "gaussian_conditional"):
        assert torch.equal(fresh.gaussian_conditional.scale_table, scales)


def test_mixture_variant_structure() -> None:
    model = create_model("cheng2020-anchor", 1, entropy_model="mixture")
    assert model.entropy_parameters[-1].out_channels == 9 * 128
    keys = set(model.state_dict())
    assert keys == set(create_model("cheng2020-anchor", 1).state_dict())
    with pytest.raises(ValueError, match="entropy_model"):
        create_model("cheng2020-anchor", 1, entropy_model="laplace")
