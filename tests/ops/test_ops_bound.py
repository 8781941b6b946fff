# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import types

import pytest
import torch

from tinify.ops import LowerBound, lower_bound


def test_buffer_shape_dtype_and_key() -> None:
    lb = LowerBound(0.25)
    assert list(lb.state_dict()) == ["bound"]
    assert lb.bound.shape == (1,)
    assert lb.bound.dtype == torch.float32
    assert lb.bound.item() == 0.25
    assert not lb.bound.requires_grad


def test_forward_is_max() -> None:
    x = torch.tensor([-2.0, 0.0, 0.5, 0.75, 3.0])
    assert torch.equal(LowerBound(0.5)(x), torch.tensor([0.5, 0.5, 0.5, 0.75, 3.0]))


@pytest.mark.parametrize("use_module", [True, False])
def test_gradient_rule(use_module: bool) -> None:
    # x below / at / above the bound 0.5, each with a positive and a negative upstream gradient.
    x = torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0], requires_grad=True)
    upstream = torch.tensor([2.0, -2.0, 3.0, -3.0, 4.0, -4.0])
    bound = torch.tensor([0.5])
    y = LowerBound(0.5)(x) if use_module else lower_bound(x, bound)
    y.backward(upstream)
    # Below the bound only a negative gradient (a descent step upward) passes.
    expected = torch.tensor([0.0, -2.0, 3.0, -3.0, 4.0, -4.0])
    assert x.grad is not None
    assert torch.equal(x.grad, expected)


def test_matches_compressai(compressai: types.ModuleType) -> None:
    torch.manual_seed(0)
    x0 = torch.randn(2, 3, 4, 5)
    upstream = torch.randn(2, 3, 4, 5)
    ours = LowerBound(0.1)
    theirs = compressai.ops.LowerBound(0.1)
    assert torch.equal(ours.bound, theirs.bound)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    grads = []
    for module in (ours, theirs):
        x = x0.clone().requires_grad_(True)
        y = module(x)
        y.backward(upstream)
        grads.append((y.detach(), x.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=0, atol=1e-6)
