"""``tinify.registry``, ``tinify.typing`` and ``tinify.optimizers``: CompressAI's registries and
optimizer factories."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import tinify
import tinify.registry as registry
from tinify.losses import RateDistortionLoss
from tinify.models import CompressionModel, ScaleHyperprior, ScaleSpaceFlow
from tinify.optimizers import net_aux_optimizer, net_optimizer
from tinify.typing import TCriterion, TModel, TOptimizer


def test_builtin_entries() -> None:
    assert registry.MODELS["bmshj2018-hyperprior"] is ScaleHyperprior
    assert registry.MODELS["ssf2020"] is ScaleSpaceFlow
    assert {
        "bmshj2018-factorized",
        "mbt2018-mean",
        "mbt2018",
        "cheng2020-anchor",
        "cheng2020-attn",
    } <= set(registry.MODELS)
    assert registry.CRITERIONS["RateDistortionLoss"] is RateDistortionLoss
    assert registry.OPTIMIZERS["Adam"] is torch.optim.Adam
    assert registry.OPTIMIZERS["net_aux"] is net_aux_optimizer
    assert registry.OPTIMIZERS["net"] is net_optimizer
    assert registry.SCHEDULERS["ReduceLROnPlateau"] is torch.optim.lr_scheduler.ReduceLROnPlateau
    assert tinify.models.register_model is registry.register_model
    assert TModel is nn.Module and TCriterion is nn.Module
    assert TOptimizer.__args__[0] is torch.optim.Optimizer  # type: ignore[attr-defined]


def test_register_decorators() -> None:
    @registry.register_model("test-only-model")
    class Tiny(CompressionModel):
        pass

    @registry.register_criterion("TestOnlyLoss")
    class Loss(nn.Module):
        pass

    @registry.register_transform("TestOnlyTransform")
    class Transform:
        pass

    try:
        assert Tiny.__name__ == "Tiny"  # the decorator returns the class itself
        assert registry.MODELS["test-only-model"] is Tiny
        assert registry.CRITERIONS["TestOnlyLoss"] is Loss
        assert registry.TRANSFORMS["TestOnlyTransform"] is Transform
    finally:
        del registry.MODELS["test-only-model"], registry.CRITERIONS["TestOnlyLoss"]
        del registry.TRANSFORMS["TestOnlyTransform"]
    with pytest.raises(AttributeError):
        registry.NOPE  # noqa: B018


def test_optimizers() -> None:
    torch.manual_seed(0)
    model = ScaleHyperprior(8, 12)
    conf = {"net": {"type": "Adam", "lr": 1e-4}, "aux": {"type": "SGD", "lr": 1e-3}}
    opts = net_aux_optimizer(model, conf)
    assert isinstance(opts["net"], torch.optim.Adam) and isinstance(opts["aux"], torch.optim.SGD)
    names = {id(p): n for n, p in model.named_parameters()}
    net_names = [names[id(p)] for p in opts["net"].param_groups[0]["params"]]
    assert net_names == sorted(net_names)  # CompressAI's order, so its optimizer states load
    assert [names[id(p)] for p in opts["aux"].param_groups[0]["params"]] == [
        "entropy_bottleneck.quantiles"
    ]
    single = net_optimizer(model, {"net": {"type": "AdamW", "lr": 1e-3}})
    assert list(single) == ["net"] and isinstance(single["net"], torch.optim.AdamW)
    assert len(single["net"].param_groups[0]["params"]) == len(list(model.parameters()))
    with pytest.raises(KeyError, match="unknown optimizer type 'Nope'"):
        net_optimizer(model, {"net": {"type": "Nope"}})
    with pytest.raises(ValueError, match="unknown optimizer type"):
        net_optimizer(model, {"net": {"type": "Nope"}})

    @registry.register_optimizer("TestOnlySGD")
    def make_sgd(params: object, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=lr, momentum=0.5)  # type: ignore[arg-type]

    try:
        custom = net_optimizer(model, {"net": {"type": "TestOnlySGD", "lr": 0.1}})
        assert custom["net"].param_groups[0]["momentum"] == 0.5
    finally:
        del registry.OPTIMIZERS["TestOnlySGD"]


def test_optimizer_state_matches_compressai() -> None:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai.optimizers import net_aux_optimizer as theirs

    model = ScaleHyperprior(8, 12)
    conf = {"net": {"type": "Adam", "lr": 1e-4}, "aux": {"type": "Adam", "lr": 1e-3}}
    ours_opts, their_opts = net_aux_optimizer(model, conf), theirs(model, conf)
    for key in ("net", "aux"):
        ours_params = ours_opts[key].param_groups[0]["params"]
        their_params = their_opts[key].param_groups[0]["params"]
        assert [id(p) for p in ours_params] == [id(p) for p in their_params]


def test_entropy_coder_choice() -> None:
    from tinify.entropy_models import EntropyBottleneck
    from tinify.entropy_models.entropy_models import default_entropy_coder

    assert tinify.available_entropy_coders() == ["ans"]
    assert tinify.get_entropy_coder() == "ans" == default_entropy_coder()
    tinify.set_entropy_coder("ans")
    assert EntropyBottleneck(2).entropy_coder == "ans"
    for bad in ("rangecoder", "ANS", ""):
        with pytest.raises(ValueError, match="entropy coder"):
            tinify.set_entropy_coder(bad)
    assert tinify.get_entropy_coder() == "ans"
    with pytest.raises(ValueError, match="entropy_coder"):
        EntropyBottleneck(2, entropy_coder="rangecoder")
    # The returned list is a copy: callers cannot add coders that do not exist.
    tinify.available_entropy_coders().append("rangecoder")
    assert tinify.available_entropy_coders() == ["ans"]
