# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import math
import types

import pytest
import torch

from tinify.ops import NonNegativeParametrizer

PEDESTAL = 2.0**-36  # reparam_offset**2 with the default offset 2**-18


def test_buffers_and_keys() -> None:
    p = NonNegativeParametrizer(minimum=1e-6)
    assert list(p.state_dict()) == ["pedestal", "lower_bound.bound"]
    assert p.pedestal.shape == (1,) and p.pedestal.dtype == torch.float32
    assert p.pedestal.item() == PEDESTAL
    expected_bound = torch.tensor(math.sqrt(1e-6 + PEDESTAL), dtype=torch.float32)
    assert p.lower_bound.bound.item() == expected_bound.item()
    assert NonNegativeParametrizer().lower_bound.bound.item() == 2.0**-18


def test_init_values() -> None:
    p = NonNegativeParametrizer()
    x = torch.tensor([0.0, 1.0, -1.0, 4.0, 0.1], dtype=torch.float64)
    expected = torch.tensor(
        [
            2.0**-18,
            math.sqrt(1 + PEDESTAL),
            2.0**-18,
            math.sqrt(4 + PEDESTAL),
            math.sqrt(0.1 + PEDESTAL),
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(p.init(x), expected, rtol=1e-12, atol=0)


def test_forward_values() -> None:
    p = NonNegativeParametrizer()  # bound 2**-18
    s = torch.tensor([2.0**-18, 1.0, 0.0, -3.0, 3.0])
    # max(s, 2**-18)^2 - 2**-36
    expected = torch.tensor([0.0, 1.0 - PEDESTAL, 0.0, 0.0, 9.0 - PEDESTAL])
    assert torch.equal(p(s), expected)


def test_minimum_is_enforced() -> None:
    p = NonNegativeParametrizer(minimum=1e-6)
    out = p(torch.tensor([-1.0, 0.0, 1e-9]))
    torch.testing.assert_close(out, torch.full((3,), 1e-6), rtol=1e-4, atol=0)


@pytest.mark.parametrize("minimum", [0.0, 1e-6])
def test_round_trip(minimum: float) -> None:
    p = NonNegativeParametrizer(minimum=minimum)
    v = torch.tensor([1e-3, 0.1, 1.0, 7.5])
    torch.testing.assert_close(p(p.init(v)), v, rtol=1e-6, atol=1e-9)


def test_gradient() -> None:
    p = NonNegativeParametrizer()
    s = torch.tensor([0.5, 2.0, 0.0, 0.0], requires_grad=True)
    p(s).backward(torch.tensor([1.0, 1.0, 1.0, -1.0]))
    # d(s^2)/ds = 2s above the bound; below it a positive upstream gradient is blocked and a
    # negative one passes (scaled by 2 * bound).
    expected = torch.tensor([1.0, 4.0, 0.0, -(2.0 * 2.0**-18)])
    assert s.grad is not None
    assert torch.equal(s.grad, expected)


@pytest.mark.parametrize("minimum", [0.0, 1e-6, 0.25])
def test_matches_compressai(compressai: types.ModuleType, minimum: float) -> None:
    ours = NonNegativeParametrizer(minimum=minimum)
    theirs = compressai.ops.NonNegativeParametrizer(minimum=minimum)
    for key, value in ours.state_dict().items():
        assert torch.equal(value, theirs.state_dict()[key]), key
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)

    torch.manual_seed(0)
    v = torch.rand(3, 4) * 2 - 0.5
    torch.testing.assert_close(ours.init(v), theirs.init(v), rtol=0, atol=1e-6)
    upstream = torch.randn(3, 4)
    grads = []
    for module in (ours, theirs):
        s = v.clone().requires_grad_(True)
        out = module(s)
        out.backward(upstream)
        grads.append((out.detach(), s.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=0, atol=1e-6)
