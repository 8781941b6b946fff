"""``tinify.transforms``: BT.709 colour conversions with CompressAI's names, modes and checks."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import tinify
from tinify.transforms import RGB2YCbCr, YCbCr2RGB, YUV420To444, YUV444To420
from tinify.transforms.functional import rgb2ycbcr, ycbcr2rgb, yuv_420_to_444, yuv_444_to_420


def compressai_transforms() -> Any:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import compressai.transforms
        import compressai.transforms.functional

    return compressai.transforms


def test_bt709_values() -> None:
    # Pure red, green, blue, white and black, (Y, Cb, Cr) by hand from Kr=0.2126, Kb=0.0722.
    rgb = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0]], dtype=torch.float64)
    ycbcr = rgb2ycbcr(rgb.T.reshape(3, 5, 1)).reshape(3, 5).T
    kr, kb = 0.2126, 0.0722
    kg = 1 - kr - kb
    expected = torch.tensor(
        [
            [kr, 0.5 - 0.5 * kr / (1 - kb), 1.0],
            [kg, 0.5 - 0.5 * kg / (1 - kb), 0.5 - 0.5 * kg / (1 - kr)],
            [kb, 1.0, 0.5 - 0.5 * kb / (1 - kr)],
            [1.0, 0.5, 0.5],
            [0.0, 0.5, 0.5],
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(ycbcr, expected)
    x = torch.rand(2, 3, 4, 6, dtype=torch.float64)
    torch.testing.assert_close(ycbcr2rgb(rgb2ycbcr(x)), x)
    torch.testing.assert_close(YCbCr2RGB()(RGB2YCbCr()(x)), x)


@pytest.mark.parametrize(
    "bad",
    [
        torch.rand(3, 4),
        torch.rand(1, 1, 3, 4, 4),
        torch.rand(1, 4, 4, 4),
        torch.ones(3, 2, 2, dtype=torch.uint8),
        [0.5],
    ],
)
def test_colour_input_checks(bad: Any) -> None:
    for fn in (rgb2ycbcr, ycbcr2rgb):
        with pytest.raises(ValueError, match="floating-point tensor"):
            fn(bad)
        with pytest.raises(tinify.TinifyError):
            fn(bad)


def test_chroma_subsampling() -> None:
    x = torch.rand(2, 3, 8, 6)
    y, u, v = YUV444To420()(x)
    assert y.shape == (2, 1, 8, 6) and u.shape == v.shape == (2, 1, 4, 3)
    torch.testing.assert_close(u[0, 0, 0, 0], x[0, 1, :2, :2].mean())
    back = YUV420To444()((y, u, v))
    assert back.shape == x.shape and torch.equal(back[:, :1], y)
    planes = YUV420To444(mode="nearest", return_tuple=True)((y, u, v))
    assert isinstance(planes, tuple) and len(planes) == 3
    assert torch.equal(planes[1][..., :2, :2], u[..., :1, :1].expand(2, 1, 2, 2))
    assert torch.equal(yuv_444_to_420(x)[1], yuv_444_to_420((y, x[:, 1:2], x[:, 2:]))[1])
    with pytest.raises(ValueError, match="mode"):
        yuv_444_to_420(x, mode="bilinear")
    with pytest.raises(ValueError, match="mode"):
        yuv_420_to_444((y, u, v), mode="area")
    with pytest.raises(ValueError, match="3 tensors"):
        yuv_420_to_444((y, u))
    with pytest.raises(ValueError, match="3 tensors"):
        yuv_420_to_444((y, u, 1.0))
    assert repr(YUV420To444(return_tuple=True)) == "YUV420To444(return_tuple=True)"


def test_transforms_match_compressai() -> None:
    theirs = compressai_transforms()
    fn = theirs.functional
    x = torch.rand(2, 3, 8, 10)
    for ours_f, their_f in [(rgb2ycbcr, fn.rgb2ycbcr), (ycbcr2rgb, fn.ycbcr2rgb)]:
        torch.testing.assert_close(ours_f(x), their_f(x), rtol=0, atol=1e-6)
        torch.testing.assert_close(ours_f(x[0]), their_f(x[0]), rtol=0, atol=1e-6)
    planes = yuv_444_to_420(x)
    for a, b in zip(planes, fn.yuv_444_to_420(x)):
        assert torch.equal(a, b)
    for mode in ("bilinear", "bicubic", "nearest"):
        assert torch.equal(yuv_420_to_444(planes, mode=mode), fn.yuv_420_to_444(planes, mode=mode))
    assert torch.equal(YUV420To444()(planes), theirs.YUV420To444()(planes))
    for bad in (torch.rand(3, 4), torch.rand(1, 4, 4, 4)):
        for f in (rgb2ycbcr, fn.rgb2ycbcr):
            with pytest.raises(ValueError):
                f(bad)
