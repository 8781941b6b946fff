"""Small CompressAI paths: ``losses.utils.compute_rate_loss``, ``zoo.pretrained``,
``models.priors`` (deprecated), ``version``, ``models.google`` / ``waseda`` / ``video.google``."""

from __future__ import annotations

import importlib
import math
import sys
import warnings

import pytest
import torch

import tinify
from tinify.losses.utils import compute_rate_loss
from tinify.zoo.pretrained import load_pretrained, rename_key


def test_compute_rate_loss() -> None:
    likelihoods = {"y": torch.full((2, 4, 2, 2), 0.5), "z": torch.full((2, 2, 1, 1), 0.25)}
    out = compute_rate_loss(likelihoods, batch_size=2, bit_per_bpp=64)
    # y: 16 elements per item at 1 bit; z: 2 elements per item at 2 bits.
    assert out["bit_y_loss"].item() == 16 and out["bit_z_loss"].item() == 4
    assert out["bpp_y_loss"].item() == 16 / 64 and out["bpp_z_loss"].item() == 4 / 64
    assert out["bit_loss"].item() == 20 and out["bpp_loss"].item() == 20 / 64
    assert set(out) == {
        "bit_y_loss",
        "bit_z_loss",
        "bpp_y_loss",
        "bpp_z_loss",
        "bit_loss",
        "bpp_loss",
    }


def test_compute_rate_loss_matches_compressai() -> None:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai.losses.utils import compute_rate_loss as theirs

    torch.manual_seed(0)
    likelihoods = {"y": torch.rand(3, 5, 4, 4) + 0.01, "z": torch.rand(3, 2, 2, 2) + 0.01}
    a, b = compute_rate_loss(likelihoods, 3, 256), theirs(likelihoods, 3, 256)
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_pretrained_key_renaming() -> None:
    assert rename_key("module.g_a.0.weight") == "g_a.0.weight"
    assert rename_key("g_a.1.downsample.weight") == "g_a.1.skip.weight"
    assert rename_key("entropy_bottleneck._matrices.3") == "entropy_bottleneck.matrices.3"
    assert rename_key("entropy_bottleneck._bias2") == "entropy_bottleneck.biases.2"
    assert rename_key("hyper._factor1") == "hyper._factor1"  # not known to be a bottleneck
    assert rename_key("hyper._factor1", ["hyper."]) == "hyper.factors.1"
    old = {
        "module.entropy_bottleneck._biases.0": torch.zeros(1),
        "module.h_s.0.bias": torch.ones(1),
    }
    assert list(load_pretrained(old)) == ["entropy_bottleneck.biases.0", "h_s.0.bias"]
    assert tinify.zoo.load_state_dict is load_pretrained


def test_pretrained_renaming_loads_like_compressai() -> None:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai.models import FactorizedPrior as Theirs
        from compressai.zoo.pretrained import load_pretrained as their_load

    from tinify.models import FactorizedPrior

    state = FactorizedPrior(8, 12).state_dict()
    old = {
        f"module.{k.replace('matrices.', '_matrices.').replace('biases.', '_biases.')}": v
        for k, v in state.items()
    }
    ours = FactorizedPrior(8, 12)
    ours.load_state_dict(load_pretrained(old))
    theirs = Theirs(8, 12)
    theirs.load_state_dict(their_load(old))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in ours.state_dict().items():
        assert torch.equal(value, theirs.state_dict()[key]), key


def test_module_aliases() -> None:
    from tinify.models import Cheng2020Anchor, ScaleHyperprior, ScaleSpaceFlow
    from tinify.models.google import ScaleHyperprior as google_shp
    from tinify.models.video.google import ScaleSpaceFlow as video_ssf
    from tinify.models.waseda import Cheng2020Anchor as waseda_anchor

    assert google_shp is ScaleHyperprior and waseda_anchor is Cheng2020Anchor
    assert video_ssf is ScaleSpaceFlow
    sys.modules.pop("tinify.models.priors", None)
    with pytest.warns(DeprecationWarning, match="tinify.models.google"):
        priors = importlib.import_module("tinify.models.priors")
    assert priors.ScaleHyperprior is ScaleHyperprior
    from tinify.version import __version__

    assert __version__ == tinify.__version__ and len(__version__.split(".")) >= 2


def test_models_base_constants() -> None:
    from tinify.models.base import SCALES_LEVELS, SCALES_MAX, SCALES_MIN, get_scale_table

    table = get_scale_table()
    assert (SCALES_MIN, SCALES_MAX, SCALES_LEVELS) == (0.11, 256, 64)
    assert table.dtype == torch.float32 and table.shape == (64,)
    assert table[0].item() == pytest.approx(0.11) and table[-1].item() == pytest.approx(256)
    assert math.isclose(float(table[1] / table[0]), (256 / 0.11) ** (1 / 63), rel_tol=1e-5)


def test_scale_space_flow_methods() -> None:
    from tinify.models import ScaleSpaceFlow
    from tinify.models.video import gaussian_volume, warp_volume

    torch.manual_seed(1)
    x = torch.rand(1, 3, 32, 32)
    volume = ScaleSpaceFlow.gaussian_volume(x, 1.5, 3)
    assert torch.equal(volume, gaussian_volume(x, 1.5, 3)) and volume.shape == (1, 3, 4, 32, 32)
    flow, scale = torch.zeros(1, 2, 32, 32), torch.full((1, 1, 32, 32), -1.0 + 1.0 / 4)
    net = ScaleSpaceFlow()
    # Zero flow at the centre of slice 0 returns the frame itself.
    torch.testing.assert_close(net.warp_volume(volume, flow, scale), x)
    assert torch.equal(net.warp_volume(volume, flow, scale), warp_volume(volume, flow, scale))
    with pytest.raises(ValueError, match="5-D"):
        net.warp_volume(x, flow, scale)


def test_scale_space_flow_methods_match_compressai() -> None:
    pytest.importorskip("compressai")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from compressai.models.video import ScaleSpaceFlow as Theirs

    from tinify.models import ScaleSpaceFlow

    torch.manual_seed(2)
    x = torch.rand(1, 3, 32, 32)
    ours_volume = ScaleSpaceFlow.gaussian_volume(x, 1.5, 3)
    their_volume = Theirs.gaussian_volume(x, 1.5, 3)
    torch.testing.assert_close(ours_volume, their_volume, rtol=1e-5, atol=1e-6)
    flow = torch.randn(1, 2, 32, 32) * 0.1
    scale = torch.rand(1, 1, 32, 32) * 2 - 1
    torch.testing.assert_close(
        ScaleSpaceFlow().warp_volume(their_volume, flow, scale),
        Theirs().warp_volume(their_volume, flow, scale),
    )
