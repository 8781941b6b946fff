"""RateDistortionLoss, the bpp estimate and MS-SSIM against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from tinify.losses import RateDistortionLoss, bits_per_pixel, ms_ssim, ssim


def _output(seed: int = 0) -> tuple[dict, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 48, generator=g)
    x_hat = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    likelihoods = {
        "y": torch.rand(2, 8, 2, 3, generator=g).clamp_min(1e-3),
        "z": torch.rand(2, 4, 1, 1, generator=g).clamp_min(1e-3),
    }
    return {"x_hat": x_hat, "likelihoods": likelihoods}, x


def test_bpp_is_bits_over_pixels() -> None:
    lik = {"y": torch.full((1, 2, 4, 4), 0.5), "z": torch.full((1, 1, 2, 2), 0.25)}
    # 32 symbols of 1 bit and 4 of 2 bits over a 16x16 image.
    assert bits_per_pixel(lik, 16 * 16).item() == pytest.approx((32 + 8) / 256)
    nested = {"y": [lik["y"]], "z": {"inner": lik["z"]}}
    assert bits_per_pixel(nested, 256).item() == pytest.approx((32 + 8) / 256)


def test_mse_loss_matches_hand_computation() -> None:
    out, x = _output()
    lmbda = 0.0130
    result = RateDistortionLoss(lmbda)(out, x)
    n, _, h, w = x.shape
    bits = sum(-torch.log2(t).sum() for t in out["likelihoods"].values())
    bpp = bits / (n * h * w)
    mse = ((out["x_hat"] - x) ** 2).mean()
    assert set(result) == {"bpp_loss", "mse_loss", "loss"}
    torch.testing.assert_close(result["bpp_loss"], bpp)
    torch.testing.assert_close(result["mse_loss"], mse)
    torch.testing.assert_close(result["loss"], lmbda * 255**2 * mse + bpp)


def test_ms_ssim_loss_matches_hand_computation() -> None:
    out, x = _output(1)
    result = RateDistortionLoss(8.73, metric="ms-ssim")(out, x)
    assert set(result) == {"bpp_loss", "ms_ssim_loss", "loss"}
    value = ms_ssim(out["x_hat"], x, data_range=1.0)
    torch.testing.assert_close(result["ms_ssim_loss"], value)
    torch.testing.assert_close(result["loss"], 8.73 * (1 - value) + result["bpp_loss"])


def test_return_type_and_errors() -> None:
    out, x = _output()
    full = RateDistortionLoss(0.01)(out, x)
    only = RateDistortionLoss(0.01, return_type="bpp_loss")(out, x)
    torch.testing.assert_close(only, full["bpp_loss"])
    with pytest.raises(ValueError, match="metric"):
        RateDistortionLoss(metric="psnr")
    with pytest.raises(ValueError, match="return_type"):
        RateDistortionLoss(metric="mse", return_type="ms_ssim_loss")


def test_loss_is_differentiable() -> None:
    out, x = _output()
    x_hat = out["x_hat"].clone().requires_grad_(True)
    y = out["likelihoods"]["y"].clone().requires_grad_(True)
    out = {"x_hat": x_hat, "likelihoods": {"y": y, "z": out["likelihoods"]["z"]}}
    for metric in ("mse", "ms-ssim"):
        x_hat.grad = None
        RateDistortionLoss(1.0, metric)(out, x)["loss"].backward()
        assert x_hat.grad is not None and torch.isfinite(x_hat.grad).all()
    assert y.grad is not None and (y.grad < 0).all()  # more likely -> fewer bits


def test_ms_ssim_identity_and_range() -> None:
    x = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    assert ms_ssim(x, x, data_range=1.0).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim(x, x, data_range=1.0).item() == pytest.approx(1.0, abs=1e-6)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    value = ms_ssim(noisy, x, data_range=1.0, reduction="none")
    assert value.shape == (2,) and ((value > 0) & (value < 1)).all()
    with pytest.raises(ValueError, match="needs H and W"):
        ms_ssim(x[..., :8, :8], x[..., :8, :8])


def test_ssim_of_a_constant_shift_is_the_luminance_term() -> None:
    # Constant images: no variance, so SSIM reduces to (2 a b + C1) / (a^2 + b^2 + C1).
    a, b = 0.4, 0.6
    x = torch.full((1, 1, 16, 16), a, dtype=torch.float64)
    y = torch.full((1, 1, 16, 16), b, dtype=torch.float64)
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    assert ssim(x, y, data_range=1.0).item() == pytest.approx(expected, rel=1e-5)


def test_ms_ssim_matches_pytorch_msssim() -> None:
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, 192, 176, generator=g)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    expected = pytorch_msssim.ms_ssim(x, y, data_range=1.0)
    torch.testing.assert_close(ms_ssim(x, y, data_range=1.0), expected, rtol=1e-5, atol=1e-6)


def test_matches_compressai_rate_distortion_loss(compressai) -> None:  # type: ignore[no-untyped-def]
    import importlib

    losses = importlib.import_module("compressai.losses")
    out, x = _output(2)
    theirs = losses.RateDistortionLoss(lmbda=0.0483)(out, x)
    ours = RateDistortionLoss(0.0483)(out, x)
    for key in ("bpp_loss", "mse_loss", "loss"):
        torch.testing.assert_close(ours[key], theirs[key])
    assert math.isfinite(float(ours["loss"]))
