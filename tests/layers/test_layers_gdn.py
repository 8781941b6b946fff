# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import math
import types

import pytest
import torch

from tinify.layers import GDN, IGDN

KEYS = [
    "beta",
    "gamma",
    "beta_reparam.pedestal",
    "beta_reparam.lower_bound.bound",
    "gamma_reparam.pedestal",
    "gamma_reparam.lower_bound.bound",
]


def test_state_dict_keys_and_shapes() -> None:
    sd = GDN(5).state_dict()
    assert list(sd) == KEYS
    assert sd["beta"].shape == (5,)
    assert sd["gamma"].shape == (5, 5)
    for key in KEYS[2:]:
        assert sd[key].shape == (1,) and sd[key].dtype == torch.float32
    assert list(IGDN(5).state_dict()) == KEYS


def test_init_values() -> None:
    gdn = GDN(3)
    pedestal = 2.0**-36
    # Stored values: sqrt(v + pedestal) with v = 1 for beta and 0.1 * I for gamma.
    assert torch.equal(gdn.beta.data, torch.full((3,), math.sqrt(1 + pedestal)))
    stored_gamma = torch.full((3, 3), 2.0**-18)
    stored_gamma.fill_diagonal_(math.sqrt(0.1 + pedestal))
    assert torch.equal(gdn.gamma.data, stored_gamma)
    # Effective values.
    with torch.no_grad():
        torch.testing.assert_close(gdn.beta_reparam(gdn.beta), torch.ones(3))
        torch.testing.assert_close(gdn.gamma_reparam(gdn.gamma), 0.1 * torch.eye(3))
    assert (
        gdn.beta_reparam.lower_bound.bound.item()
        == torch.tensor(math.sqrt(1e-6 + pedestal), dtype=torch.float32).item()
    )
    assert gdn.gamma_reparam.lower_bound.bound.item() == 2.0**-18


def _set_effective(gdn: GDN, beta: list[float], gamma: list[list[float]]) -> None:
    with torch.no_grad():
        gdn.beta.copy_(gdn.beta_reparam.init(torch.tensor(beta)))
        gdn.gamma.copy_(gdn.gamma_reparam.init(torch.tensor(gamma)))


@pytest.mark.parametrize("inverse", [False, True])
def test_forward_hand_computed(inverse: bool) -> None:
    gdn = GDN(2, inverse=inverse)
    beta, gamma = [1.0, 2.0], [[0.5, 0.25], [0.0, 1.0]]
    _set_effective(gdn, beta, gamma)
    x = torch.tensor([3.0, -1.0, 0.5, 2.0]).reshape(1, 2, 1, 2)  # pixels (3, 0.5), (-1, 2)
    expected = torch.empty(1, 2, 1, 2)
    for w, (x0, x1) in enumerate([(3.0, 0.5), (-1.0, 2.0)]):
        for i, xi in enumerate((x0, x1)):
            norm = beta[i] + gamma[i][0] * x0**2 + gamma[i][1] * x1**2
            expected[0, i, 0, w] = xi * math.sqrt(norm) if inverse else xi / math.sqrt(norm)
    torch.testing.assert_close(gdn(x), expected, rtol=1e-5, atol=1e-6)


def test_igdn_is_gdn_inverse_true() -> None:
    torch.manual_seed(0)
    a = GDN(4, inverse=True)
    b = IGDN(4)
    assert isinstance(b, GDN) and b.inverse
    b.load_state_dict(a.state_dict(), strict=True)
    x = torch.randn(2, 4, 3, 3)
    assert torch.equal(a(x), b(x))
    assert GDN(4)(x).shape == x.shape


def _perturb(gdn: GDN) -> None:
    """Random parameters, with a few gamma entries below their bound (exercises LowerBound)."""
    with torch.no_grad():
        gdn.beta.copy_(torch.rand_like(gdn.beta) + 0.5)
        gdn.gamma.copy_(torch.rand_like(gdn.gamma) * 0.3)
        gdn.gamma[0, 1] = 0.0
        gdn.gamma[2, 0] = -0.1


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("direction", ["ours_to_theirs", "theirs_to_ours"])
def test_matches_compressai(compressai: types.ModuleType, inverse: bool, direction: str) -> None:
    torch.manual_seed(0)
    ours = GDN(4, inverse=inverse)
    theirs = compressai.layers.GDN(4, inverse=inverse)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in ours.state_dict().items():  # identical initialization
        assert torch.equal(value, theirs.state_dict()[key]), key
    if direction == "ours_to_theirs":
        _perturb(ours)
        theirs.load_state_dict(ours.state_dict(), strict=True)
    else:
        _perturb(theirs)
        ours.load_state_dict(theirs.state_dict(), strict=True)

    x0 = torch.randn(2, 4, 3, 5)
    upstream = torch.randn(2, 4, 3, 5)
    results = []
    for module in (ours, theirs):
        x = x0.clone().requires_grad_(True)
        y = module(x)
        y.backward(upstream)
        results.append((y.detach(), x.grad, module.beta.grad, module.gamma.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    # Stored gamma entries below their bound only receive gradients that push them up.
    gamma_grad = results[0][3]
    assert gamma_grad is not None
    assert gamma_grad[0, 1] <= 0 and gamma_grad[2, 0] <= 0
