# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import types
from typing import Callable

import pytest
import torch
from torch import nn

from tinify.layers import (
    AttentionBlock,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    conv,
    conv1x1,
    conv3x3,
    deconv,
    subpel_conv3x3,
)

N = 4

GDN_KEYS = [
    "beta",
    "gamma",
    "beta_reparam.pedestal",
    "beta_reparam.lower_bound.bound",
    "gamma_reparam.pedestal",
    "gamma_reparam.lower_bound.bound",
]


def _attention_keys() -> list[str]:
    unit = [f"conv.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    keys = [f"conv_a.{u}.{k}" for u in range(3) for k in unit]
    keys += [f"conv_b.{u}.{k}" for u in range(3) for k in unit]
    return [*keys, "conv_b.3.weight", "conv_b.3.bias"]


# State-dict keys as they appear (under g_a.N. / g_s.N.) in CompressAI's cheng2020-attn.
EXPECTED_KEYS: dict[str, list[str]] = {
    "ResidualBlockWithStride": [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        *(f"gdn.{k}" for k in GDN_KEYS),
        "skip.weight",
        "skip.bias",
    ],
    "ResidualBlock": ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"],
    "ResidualBlockUpsample": [
        "subpel_conv.0.weight",
        "subpel_conv.0.bias",
        "conv.weight",
        "conv.bias",
        *(f"igdn.{k}" for k in GDN_KEYS),
        "upsample.0.weight",
        "upsample.0.bias",
    ],
    "AttentionBlock": _attention_keys(),
}

# (class name, tinify factory, constructor args, output shape for a (2, C, 7, 5) input)
BLOCKS: list[tuple[str, Callable[..., nn.Module], tuple[int, ...], tuple[int, ...]]] = [
    ("ResidualBlockWithStride", ResidualBlockWithStride, (3, N), (2, N, 4, 3)),
    ("ResidualBlockWithStride", ResidualBlockWithStride, (N, N, 1), (2, N, 7, 5)),
    ("ResidualBlock", ResidualBlock, (N, N), (2, N, 7, 5)),
    ("ResidualBlock", ResidualBlock, (3, N), (2, N, 7, 5)),
    ("ResidualBlockUpsample", ResidualBlockUpsample, (N, 3), (2, 3, 14, 10)),
    ("ResidualBlockUpsample", ResidualBlockUpsample, (N, N, 3), (2, N, 21, 15)),
    ("AttentionBlock", AttentionBlock, (N,), (2, N, 7, 5)),
]
IDS = [f"{name}{args}" for name, _, args, _ in BLOCKS]


def _input_for(args: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(2, args[0], 7, 5)


@pytest.mark.parametrize(("name", "factory", "args", "out_shape"), BLOCKS, ids=IDS)
def test_shapes(
    name: str, factory: Callable[..., nn.Module], args: tuple[int, ...], out_shape: tuple[int, ...]
) -> None:
    assert factory(*args)(_input_for(args)).shape == out_shape


def test_keys_match_cheng2020_attn() -> None:
    assert (
        list(ResidualBlockWithStride(3, 8).state_dict()) == EXPECTED_KEYS["ResidualBlockWithStride"]
    )
    assert list(ResidualBlock(8, 8).state_dict()) == EXPECTED_KEYS["ResidualBlock"]
    assert list(ResidualBlockUpsample(8, 8).state_dict()) == EXPECTED_KEYS["ResidualBlockUpsample"]
    assert list(AttentionBlock(8).state_dict()) == EXPECTED_KEYS["AttentionBlock"]
    sd = AttentionBlock(8).state_dict()
    assert sd["conv_a.0.conv.0.weight"].shape == (4, 8, 1, 1)
    assert sd["conv_a.0.conv.2.weight"].shape == (4, 4, 3, 3)
    assert sd["conv_b.3.weight"].shape == (8, 8, 1, 1)
    assert ResidualBlockUpsample(8, 8).state_dict()["upsample.0.weight"].shape == (32, 8, 3, 3)


def test_skip_rules() -> None:
    assert ResidualBlockWithStride(N, N, stride=1).skip is None
    assert ResidualBlockWithStride(N, N, stride=2).skip is not None
    assert ResidualBlockWithStride(3, N, stride=1).skip is not None
    assert ResidualBlock(N, N).skip is None
    assert ResidualBlock(3, N).skip is not None


def test_conv_helpers() -> None:
    x = torch.randn(1, 3, 16, 12)
    assert conv(3, 5)(x).shape == (1, 5, 8, 6)
    assert conv(3, 5, kernel_size=3, stride=1)(x).shape == (1, 5, 16, 12)
    assert deconv(3, 5)(x).shape == (1, 5, 32, 24)
    assert deconv(3, 5, kernel_size=3, stride=4)(x).shape == (1, 5, 64, 48)
    assert conv3x3(3, 5, stride=2)(x).shape == (1, 5, 8, 6)
    assert conv1x1(3, 5)(x).shape == (1, 5, 16, 12)
    up = subpel_conv3x3(3, 2, 2)
    assert list(up.state_dict()) == ["0.weight", "0.bias"]
    assert up.state_dict()["0.weight"].shape == (8, 3, 3, 3)
    assert up(x).shape == (1, 2, 32, 24)


def _compare(ours: nn.Module, theirs: nn.Module, x0: torch.Tensor, direction: str) -> None:
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if direction == "ours_to_theirs":
        theirs.load_state_dict(ours.state_dict(), strict=True)
    else:
        ours.load_state_dict(theirs.state_dict(), strict=True)
    results = []
    for module in (ours, theirs):
        x = x0.clone().requires_grad_(True)
        y = module(x)
        y.backward(torch.ones_like(y))
        grads = [p.grad for p in module.parameters()]
        results.append((y.detach(), x.grad, grads))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=1e-6)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=1e-6)
    for a, b in zip(results[0][2], results[1][2]):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("direction", ["ours_to_theirs", "theirs_to_ours"])
@pytest.mark.parametrize(("name", "factory", "args", "out_shape"), BLOCKS, ids=IDS)
def test_blocks_match_compressai(
    compressai: types.ModuleType,
    name: str,
    factory: Callable[..., nn.Module],
    args: tuple[int, ...],
    out_shape: tuple[int, ...],
    direction: str,
) -> None:
    torch.manual_seed(0)
    ours = factory(*args)
    theirs = getattr(compressai.layers, name)(*args)
    _compare(ours, theirs, _input_for(args), direction)


HELPERS = [
    ("conv", conv, "models.utils", (3, 5)),
    ("conv", conv, "models.utils", (3, 5, 3, 1)),
    ("deconv", deconv, "models.utils", (3, 5)),
    ("deconv", deconv, "models.utils", (3, 5, 3, 4)),
    ("conv3x3", conv3x3, "layers", (3, 5, 2)),
    ("conv1x1", conv1x1, "layers", (3, 5)),
    ("subpel_conv3x3", subpel_conv3x3, "layers", (3, 2, 2)),
]


@pytest.mark.parametrize("direction", ["ours_to_theirs", "theirs_to_ours"])
@pytest.mark.parametrize(("name", "factory", "where", "args"), HELPERS)
def test_helpers_match_compressai(
    compressai: types.ModuleType,
    name: str,
    factory: Callable[..., nn.Module],
    where: str,
    args: tuple[int, ...],
    direction: str,
) -> None:
    torch.manual_seed(0)
    namespace = compressai.models.utils if where == "models.utils" else compressai.layers
    theirs = getattr(namespace, name)(*args)
    ours = factory(*args)
    assert repr(ours) == repr(theirs)
    _compare(ours, theirs, torch.randn(1, 3, 8, 6), direction)
