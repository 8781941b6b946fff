"""The main/auxiliary parameter split and the two optimizers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tinify.models import FactorizedPrior, ScaleHyperprior
from tinify.training import configure_optimizers, net_aux_optimizer, split_parameters


@pytest.mark.parametrize("cls", [FactorizedPrior, ScaleHyperprior])
def test_split_is_disjoint_and_complete(cls: type) -> None:
    model = cls(8, 12)
    main, aux = split_parameters(model)
    assert list(aux) == ["entropy_bottleneck.quantiles"]
    ids_main = {id(p) for p in main.values()}
    assert not ids_main & {id(p) for p in aux.values()}
    assert ids_main | {id(p) for p in aux.values()} == {id(p) for p in model.parameters()}
    assert all(not name.endswith(".quantiles") for name in main)


def test_net_aux_optimizer_groups() -> None:
    model = ScaleHyperprior(8, 12)
    optimizers = net_aux_optimizer(
        model, {"net": {"type": "Adam", "lr": 1e-4}, "aux": {"type": "SGD", "lr": 1e-2}}
    )
    assert isinstance(optimizers["net"], torch.optim.Adam)
    assert isinstance(optimizers["aux"], torch.optim.SGD)
    aux_params = optimizers["aux"].param_groups[0]["params"]
    assert len(aux_params) == 1 and aux_params[0] is model.entropy_bottleneck.quantiles
    n_main = sum(len(g["params"]) for g in optimizers["net"].param_groups)
    assert n_main == len(list(model.parameters())) - 1
    main, aux = configure_optimizers(model, lr=2e-4, aux_lr=3e-3)
    assert main.param_groups[0]["lr"] == 2e-4 and aux.param_groups[0]["lr"] == 3e-3
    with pytest.raises(ValueError, match="optimizer type"):
        net_aux_optimizer(model, {"net": {"type": "Nope"}, "aux": {"type": "Adam"}})


def test_shared_parameter_on_both_sides_is_rejected() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = nn.Module()
            self.b.quantiles = self.a.weight  # the same tensor, main and auxiliary

    with pytest.raises(AssertionError, match="both main and auxiliary"):
        split_parameters(Odd())


def test_no_aux_parameters_is_an_error() -> None:
    with pytest.raises(ValueError, match="no auxiliary"):
        net_aux_optimizer(nn.Linear(2, 2), {"net": {}, "aux": {}})


def test_frozen_parameters_are_left_out() -> None:
    model = FactorizedPrior(8, 12)
    model.g_a[0].weight.requires_grad_(False)
    main, _ = split_parameters(model)
    assert all(p is not model.g_a[0].weight for p in main.values())
