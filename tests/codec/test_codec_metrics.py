"""PSNR and MS-SSIM (tinify.utils.metrics), checked by hand and against pytorch_msssim and
CompressAI: one contract, ``data_range`` 255 by default."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

from tinify.exceptions import ParameterError
from tinify.utils import metrics
from tinify.utils.metrics import ms_ssim, ms_ssim_min_size, psnr, to_8bit


def test_psnr_hand_computed() -> None:
    a = torch.zeros(1, 3, 4, 4)
    b = a.clone()
    b[0, 0, 0, 0] = 12.0  # MSE = 144 / 48 = 3
    assert psnr(a, b) == pytest.approx(20 * math.log10(255) - 10 * math.log10(3.0))
    assert psnr(a, a) == math.inf
    assert psnr(a, b + 0, data_range=1.0) == pytest.approx(-10 * math.log10(3.0))


def test_psnr_shape_mismatch() -> None:
    with pytest.raises(ParameterError, match="shapes differ"):
        psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))


def test_one_psnr_and_ms_ssim_contract() -> None:
    """Every public path names the same functions, and the default range is 8-bit (255)."""
    import tinify.losses
    import tinify.training

    assert tinify.losses.ms_ssim is ms_ssim and tinify.losses.ssim is metrics.ssim
    assert not hasattr(tinify.training, "psnr")
    for fn in (psnr, ms_ssim, metrics.ssim):
        assert inspect.signature(fn).parameters["data_range"].default == 255.0
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 32, 32, generator=g, dtype=torch.float64)
    y = (x + 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    # The same images in [0, 1] with data_range=1 and in [0, 255] with the default agree.
    assert psnr(x, y, data_range=1.0) == pytest.approx(psnr(255 * x, 255 * y), rel=1e-12)
    assert float(ms_ssim(x, y, data_range=1.0)) == pytest.approx(
        float(ms_ssim(255 * x, 255 * y)), rel=1e-9
    )


def test_psnr_matches_compressai_eval_model() -> None:
    pytest.importorskip("compressai")
    from compressai.utils.eval_model.__main__ import psnr as compressai_psnr

    g = torch.Generator().manual_seed(2)
    a = to_8bit(torch.rand(1, 3, 24, 20, generator=g))
    b = to_8bit(torch.rand(1, 3, 24, 20, generator=g))
    assert psnr(a, b) == pytest.approx(float(compressai_psnr(a, b)), rel=1e-6)


def test_to_8bit_rounds_and_clamps() -> None:
    x = torch.tensor([-0.1, 0.0, 0.5, 1.0 / 255 * 0.49, 1.2])
    assert to_8bit(x).tolist() == [0.0, 0.0, 128.0, 0.0, 255.0]


def test_ms_ssim_identical_is_one() -> None:
    x = torch.rand(2, 3, 161, 165, dtype=torch.float64) * 255
    assert torch.allclose(ms_ssim(x, x, reduction="none"), torch.ones(2, dtype=torch.float64))


def test_ms_ssim_decreases_with_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(1, 3, 161, 161, generator=g) * 255).expand(3, -1, -1, -1)
    sigma = torch.tensor([2.0, 10.0, 40.0]).view(3, 1, 1, 1)
    noisy = (x + sigma * torch.randn(1, 3, 161, 161, generator=g)).clamp(0, 255)
    values = ms_ssim(x, noisy, reduction="none").tolist()
    assert 1 > values[0] > values[1] > values[2] > 0


def test_ms_ssim_size_limits() -> None:
    assert ms_ssim_min_size() == 161
    x = torch.rand(3, 161, 161)
    assert ms_ssim(x, x, data_range=1.0, reduction="none").dim() == 0
    # Below 161x161 the window is shortened at the coarse scales (documented extension).
    small = torch.rand(1, 3, 160, 300)
    assert float(ms_ssim(small, small, data_range=1.0)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ParameterError, match="needs H and W >= 16"):
        ms_ssim(torch.rand(1, 3, 15, 300), torch.rand(1, 3, 15, 300))
    with pytest.raises(ParameterError, match="shapes differ"):
        ms_ssim(torch.rand(1, 3, 170, 170), torch.rand(1, 3, 171, 170))


@pytest.mark.parametrize("size", [(161, 161), (200, 177)])
def test_ms_ssim_matches_pytorch_msssim(size: tuple[int, int]) -> None:
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(size[0])
    x = to_8bit(torch.rand(1, 3, *size, generator=g))
    y = to_8bit((x / 255 + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1))
    ours = ms_ssim(x.double(), y.double(), data_range=255.0, reduction="none")
    theirs = pytorch_msssim.ms_ssim(x.double(), y.double(), data_range=255, size_average=False)
    assert torch.allclose(ours, theirs.double(), atol=1e-10)
