# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import types

import pytest
import torch

from tinify.layers import MaskedConv2d

MASK_5X5_A = torch.tensor(
    [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 1],
        [1, 1, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ],
    dtype=torch.float32,
)


def test_mask_5x5_type_a() -> None:
    conv = MaskedConv2d(3, 6, kernel_size=5, padding=2, stride=1)
    assert conv.mask.shape == conv.weight.shape == (6, 3, 5, 5)
    assert conv.mask.dtype == torch.float32
    assert torch.equal(conv.mask, MASK_5X5_A.expand(6, 3, 5, 5))
    assert conv.mask[0, 0].sum() == 12


@pytest.mark.parametrize(
    ("kernel_size", "mask_type", "ones"), [(5, "B", 13), (3, "A", 4), (3, "B", 5), (7, "A", 24)]
)
def test_mask_counts(kernel_size: int, mask_type: str, ones: int) -> None:
    conv = MaskedConv2d(1, 1, kernel_size, mask_type=mask_type)
    assert conv.mask.sum() == ones


def test_bad_mask_type() -> None:
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, mask_type="C")


def test_state_dict_keys() -> None:
    assert list(MaskedConv2d(2, 4, 5, padding=2).state_dict()) == ["weight", "bias", "mask"]


def test_weight_is_stored_masked() -> None:
    conv = MaskedConv2d(2, 4, 5, padding=2)
    assert torch.all(conv.weight[conv.mask == 0] == 0)
    assert torch.all(conv.weight[conv.mask == 1] != 0)


def test_load_masks_weight_without_touching_the_source() -> None:
    conv = MaskedConv2d(2, 4, 5, padding=2)
    sd = {k: v.clone() for k, v in conv.state_dict().items()}
    sd["weight"] = torch.randn_like(sd["weight"])
    source = sd["weight"].clone()
    for assign in (False, True):
        conv.load_state_dict(sd, strict=True, assign=assign)
        assert torch.equal(conv.weight.data, source * conv.mask)
        assert torch.equal(sd["weight"], source)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_causality(mask_type: str) -> None:
    torch.manual_seed(0)
    conv = MaskedConv2d(2, 3, 5, padding=2, mask_type=mask_type)
    x = torch.randn(1, 2, 6, 7)
    h, w = 3, 4
    y = conv(x)
    # Perturb every input at or after (h, w) in raster order (the centre excepted for "B").
    later = torch.zeros(6, 7, dtype=torch.bool)
    later[h, w:] = True
    later[h + 1 :] = True
    if mask_type == "B":
        later[h, w] = False
    x2 = torch.where(later, x + torch.randn_like(x), x)
    assert torch.equal(conv(x2)[..., h, w], y[..., h, w])
    # ...whereas an earlier input does change the output.
    x3 = x.clone()
    x3[..., h - 1, w] += 1.0
    assert not torch.equal(conv(x3)[..., h, w], y[..., h, w])


def test_masked_taps_get_no_gradient() -> None:
    conv = MaskedConv2d(2, 3, 5, padding=2)
    conv(torch.randn(1, 2, 6, 6)).sum().backward()
    assert conv.weight.grad is not None
    assert torch.all(conv.weight.grad[conv.mask == 0] == 0)


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("direction", ["ours_to_theirs", "theirs_to_ours"])
def test_matches_compressai(compressai: types.ModuleType, mask_type: str, direction: str) -> None:
    torch.manual_seed(0)
    ours = MaskedConv2d(3, 4, kernel_size=5, padding=2, stride=1, mask_type=mask_type)
    theirs = compressai.layers.MaskedConv2d(
        3, 4, kernel_size=5, padding=2, stride=1, mask_type=mask_type
    )
    assert torch.equal(ours.mask, theirs.mask)
    if direction == "ours_to_theirs":
        theirs.load_state_dict(ours.state_dict(), strict=True)
    else:
        ours.load_state_dict(theirs.state_dict(), strict=True)  # unmasked weights: masked on load

    x0 = torch.randn(2, 3, 6, 7)
    upstream = torch.randn(2, 4, 6, 7)
    results: list[list[torch.Tensor]] = []
    for module in (ours, theirs):
        x = x0.clone().requires_grad_(True)
        y = module(x)
        y.backward(upstream)
        assert module.bias is not None
        grads = [x.grad, module.bias.grad, module.weight.grad]
        assert all(g is not None for g in grads)
        results.append([y.detach(), *(g for g in grads if g is not None)])
    for a, b in zip(results[0][:3], results[1][:3]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    # After a forward pass CompressAI's stored weights are masked in place: equal to ours.
    assert torch.equal(ours.weight.data, theirs.weight.data)
    # Weight gradients agree on the live taps; CompressAI also reports (meaningless) gradients on
    # masked taps, tinify reports zero there (see MaskedConv2d's design note).
    live = ours.mask == 1
    torch.testing.assert_close(results[0][3][live], results[1][3][live], rtol=0, atol=1e-6)
