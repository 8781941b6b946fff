# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import types

import torch

from tinify.ops import quantize_ste


def test_rounds_half_to_even() -> None:
    x = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, -2.7, 3.2])
    assert torch.equal(quantize_ste(x), torch.tensor([0.0, 2.0, 2.0, -0.0, -2.0, 0.0, -3.0, 3.0]))


def test_identity_gradient() -> None:
    x = torch.tensor([0.2, 1.7, -3.4], requires_grad=True)
    upstream = torch.tensor([1.0, -2.0, 0.5])
    quantize_ste(x).backward(upstream)
    assert x.grad is not None
    assert torch.equal(x.grad, upstream)


def test_dtype_preserved() -> None:
    x = torch.tensor([1.4, 2.6], dtype=torch.float64)
    y = quantize_ste(x)
    assert y.dtype == torch.float64
    assert torch.equal(y, torch.tensor([1.0, 3.0], dtype=torch.float64))


def test_matches_compressai(compressai: types.ModuleType) -> None:
    torch.manual_seed(0)
    x0 = torch.randn(2, 3, 4, 4) * 10
    upstream = torch.randn(2, 3, 4, 4)
    results = []
    for fn in (quantize_ste, compressai.ops.quantize_ste):
        x = x0.clone().requires_grad_(True)
        y = fn(x)
        y.backward(upstream)
        results.append((y.detach(), x.grad))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=1e-6)
