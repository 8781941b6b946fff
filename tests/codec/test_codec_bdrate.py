"""Bjøntegaard deltas (tinify.utils.bdrate) on curves whose answer is known by hand."""

from __future__ import annotations

import math

import pytest

from tinify.utils.bdrate import bd_psnr, bd_rate

PSNR = [30.0, 32.0, 34.0, 36.0]
RATE = [0.1 * math.exp((d - 30) / 4) for d in PSNR]  # log R = log 0.1 + (D - 30) / 4


def test_constant_rate_ratio() -> None:
    # The test curve needs 80% of the anchor's rate at every quality: exactly -20%.
    assert bd_rate(RATE, PSNR, [0.8 * r for r in RATE], PSNR) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0.0, abs=1e-9)


def test_linear_curves_by_hand() -> None:
    # Test: log R = log 0.1 + (D - 30) / 5, over D in [31, 37]. The gap of the log-rates is
    # (D - 30) (1/5 - 1/4) = -(D - 30) / 20; on the overlap [31, 36] its mean is -3.5 / 20.
    test_psnr = [31.0, 33.0, 35.0, 37.0]
    test_rate = [0.1 * math.exp((d - 30) / 5) for d in test_psnr]
    expected = 100 * (math.exp(-3.5 / 20) - 1)  # -16.054...%
    assert bd_rate(RATE, PSNR, test_rate, test_psnr) == pytest.approx(expected, rel=1e-9)


def test_bd_psnr_constant_shift() -> None:
    # Same rates, 0.5 dB better everywhere.
    assert bd_psnr(RATE, PSNR, RATE, [d + 0.5 for d in PSNR]) == pytest.approx(0.5, abs=1e-9)


def test_swapping_curves_inverts_the_ratio() -> None:
    a = bd_rate(RATE, PSNR, [0.5 * r for r in RATE], PSNR)
    b = bd_rate([0.5 * r for r in RATE], PSNR, RATE, PSNR)
    assert (1 + a / 100) * (1 + b / 100) == pytest.approx(1.0)


def test_fewer_points_use_a_lower_degree() -> None:
    # Two points: a straight line of log-rate; 0.9 x the rate gives exactly -10%.
    assert bd_rate(RATE[:2], PSNR[:2], [0.9 * r for r in RATE[:2]], PSNR[:2]) == pytest.approx(
        -10.0
    )


def test_published_kodak_ordering(reference_dir) -> None:  # type: ignore[no-untyped-def]
    import json

    folder = reference_dir / "results" / "image" / "kodak"
    jpeg = json.loads((folder / "jpeg.json").read_text())["results"]
    hyper = json.loads((folder / "compressai-bmshj2018-hyperprior_mse_cuda.json").read_text())
    mean = json.loads((folder / "compressai-mbt2018-mean_mse_cuda.json").read_text())
    h, m = hyper["results"], mean["results"]
    vs_jpeg = bd_rate(jpeg["bpp"], jpeg["psnr-rgb"], h["bpp"], h["psnr-rgb"])
    vs_hyper = bd_rate(h["bpp"], h["psnr-rgb"], m["bpp"], m["psnr-rgb"])
    assert -60 < vs_jpeg < -30  # the hyperprior saves a lot against JPEG
    assert -10 < vs_hyper < 0  # the mean-scale model is a few percent better


@pytest.mark.parametrize(
    ("rate", "dist", "message"),
    [
        ([0.1, 0.2], [30.0], "same length"),
        ([0.1, -0.2], [30.0, 31.0], "positive"),
        ([0.1, 0.1], [30.0, 30.0], "two distinct"),
        ([0.1, float("nan")], [30.0, 31.0], "non-finite"),
    ],
)
def test_bad_curves(rate: list[float], dist: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bd_rate(rate, dist, RATE, PSNR)


def test_no_overlap() -> None:
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate(RATE, PSNR, RATE, [d + 10 for d in PSNR])
