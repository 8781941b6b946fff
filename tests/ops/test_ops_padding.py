# SPDX-License-Identifier: Apache-2.0
from __future__ import annotations

import itertools
import types

import pytest
import torch

from tinify.ops import compute_padding, crop, pad_to_multiple


def test_hand_example() -> None:
    # 5x7 -> 8x8: one extra column (0 left, 1 right), three extra rows (1 top, 2 bottom).
    assert compute_padding(5, 7, min_div=4) == ((0, 1, 1, 2), (0, -1, -1, -2))


def test_explicit_output_size() -> None:
    assert compute_padding(3, 4, out_h=8, out_w=9) == ((2, 3, 2, 3), (-2, -3, -2, -3))
    # A smaller target gives negative pads, i.e. a centred crop.
    assert compute_padding(8, 8, out_h=4, out_w=6) == ((-1, -1, -2, -2), (1, 1, 2, 2))


def test_no_padding_needed() -> None:
    assert compute_padding(64, 128, min_div=64) == ((0, 0, 0, 0), (0, 0, 0, 0))
    assert compute_padding(3, 5) == ((0, 0, 0, 0), (0, 0, 0, 0))


def test_bad_min_div() -> None:
    with pytest.raises(ValueError, match="min_div"):
        compute_padding(4, 4, min_div=0)
    with pytest.raises(ValueError, match="multiple of min_div=4"):
        compute_padding(5, 7, out_h=9, min_div=4)


@pytest.mark.parametrize(("h", "w", "multiple"), [(5, 7, 4), (1, 1, 2), (17, 9, 16), (13, 13, 8)])
def test_round_trip_odd_sizes(h: int, w: int, multiple: int) -> None:
    x = torch.arange(2 * 3 * h * w, dtype=torch.float32).reshape(2, 3, h, w) + 1
    padded, unpad = pad_to_multiple(x, multiple)
    hp, wp = padded.shape[-2:]
    assert hp % multiple == 0 and wp % multiple == 0
    assert hp - h < multiple and wp - w < multiple
    top, left = (hp - h) // 2, (wp - w) // 2
    assert torch.equal(padded[..., top : top + h, left : left + w], x)
    assert padded.sum() == x.sum()  # the border is zeros
    out = crop(padded, unpad)
    assert torch.equal(out, x)
    assert out.untyped_storage().data_ptr() == padded.untyped_storage().data_ptr()  # a view


def test_pad_to_multiple_noop_returns_input() -> None:
    x = torch.zeros(1, 1, 8, 8)
    padded, unpad = pad_to_multiple(x, 4)
    assert padded is x
    assert unpad == (0, 0, 0, 0)


def test_crop_with_positive_entries_pads() -> None:
    x = torch.ones(1, 1, 2, 2)
    assert crop(x, (1, 0, 0, 1)).shape == (1, 1, 3, 3)


def test_matches_compressai(compressai: types.ModuleType) -> None:
    theirs = compressai.ops.compute_padding
    for h, w, div in itertools.product([1, 5, 16, 31, 64], [2, 7, 33], [1, 2, 16, 64]):
        assert compute_padding(h, w, min_div=div) == theirs(h, w, min_div=div)
    for h, w, oh, ow in [(5, 7, 9, 12), (8, 8, 4, 6), (3, 3, 3, 10)]:
        assert compute_padding(h, w, out_h=oh, out_w=ow) == theirs(h, w, out_h=oh, out_w=ow)
    assert compute_padding(5, 7, out_h=12, min_div=4) == theirs(5, 7, out_h=12, min_div=4)
    for ours_or_theirs in (compute_padding, theirs):
        with pytest.raises(ValueError):
            ours_or_theirs(5, 7, out_h=9, min_div=4)
