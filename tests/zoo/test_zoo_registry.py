"""The zoo registry, the shared builder, and the pretrained table (against CompressAI's data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tinify.zoo as zoo
from tinify.models import (
    Cheng2020Anchor,
    Cheng2020Attention,
    FactorizedPrior,
    FactorizedPriorReLU,
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
    ScaleHyperprior,
)
from tinify.zoo.pretrained import (
    ROOT_URL,
    architecture_kwargs,
    available_metrics,
    get_pretrained_cfg,
    qualities,
)
from tinify.zoo.registry import register_model

NAMES = [
    "bmshj2018-factorized",
    "bmshj2018-factorized-relu",
    "bmshj2018-hyperprior",
    "mbt2018-mean",
    "mbt2018",
    "cheng2020-anchor",
    "cheng2020-attn",
]
CLASSES = [
    FactorizedPrior,
    FactorizedPriorReLU,
    ScaleHyperprior,
    MeanScaleHyperprior,
    JointAutoregressiveHierarchicalPriors,
    Cheng2020Anchor,
    Cheng2020Attention,
]


def test_names_and_classes() -> None:
    assert zoo.list_models(kind="image") == NAMES
    assert zoo.list_models() == [*NAMES, "ssf2020"]
    assert zoo.list_models(kind="video") == ["ssf2020"]
    assert zoo.list_models("mbt2018*") == ["mbt2018-mean", "mbt2018"]
    assert list(zoo.image_models) == NAMES and list(zoo.models) == [*NAMES, "ssf2020"]
    assert zoo.video_models == {"ssf2020": zoo.ssf2020}
    with pytest.raises(ValueError, match="kind"):
        zoo.list_models(kind="audio")
    assert [zoo.model_architectures[n] for n in NAMES] == CLASSES
    for name in NAMES:
        fn = getattr(zoo, name.replace("-", "_"))
        assert zoo.models[name] is fn and zoo.image_models[name] is fn
    with pytest.raises(ValueError, match="already registered"):
        register_model(FactorizedPrior)(zoo.bmshj2018_factorized)


@pytest.mark.parametrize("name", NAMES)
def test_constructors_build_the_right_model(name: str) -> None:
    fn = zoo.models[name]
    for quality in (qualities(name)[0], qualities(name)[-1]):
        model = fn(quality)
        assert type(model) is zoo.model_architectures[name]
        expected = architecture_kwargs(name, quality)
        assert model.N == expected["N"] and model.M == expected.get("M", expected["N"])
        assert model.training  # like CompressAI, untrained models come in train mode


@pytest.mark.parametrize("quality", [0, 9, -1, 1.5, True, "3", None])
def test_bad_quality(quality: Any) -> None:
    with pytest.raises(ValueError, match="quality"):
        zoo.bmshj2018_hyperprior(quality)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="quality"):
        zoo.cheng2020_attn(7)
    with pytest.raises(ValueError, match="metric"):
        zoo.mbt2018(1, metric="psnr")
    with pytest.raises(ValueError, match="unknown model"):
        zoo.create_model("bmshj2018-factorized-gelu", 1)
    with pytest.raises(ValueError, match="no zoo qualities"):
        zoo.create_model("elic2022-official", 1)  # a known architecture without zoo entries
    with pytest.raises(RuntimeError, match="no pretrained"):
        zoo.bmshj2018_factorized_relu(1, pretrained=True)
    with pytest.raises(TypeError):
        zoo.bmshj2018_factorized(1, bogus=3)
    model = zoo.cheng2020_anchor(2, entropy_model="mixture", context_order="raster")
    assert model.mixture and model.context_order == "raster"


def test_pretrained_table_matches_compressai(reference_dir: Path) -> None:
    data = json.loads((reference_dir / "compressai_urls.json").read_text())
    assert data["root_url"] == ROOT_URL
    for name in NAMES:
        cfgs = data["cfgs_image"][name]
        assert list(qualities(name)) == [int(q) for q in cfgs]
        for q, values in cfgs.items():
            kwargs = architecture_kwargs(name, int(q))
            assert list(kwargs.values()) == values
        urls = data["image"].get(name, {})  # none for bmshj2018-factorized-relu
        assert available_metrics(name) == tuple(urls)
        for metric, by_quality in urls.items():
            for q, url in by_quality.items():
                cfg = get_pretrained_cfg(name, metric, int(q))
                assert cfg.url == url
                assert cfg.tag == f"{metric}-{q}"
                assert url.endswith(f"-{cfg.sha256_prefix}.pth.tar")
                assert dict(cfg.kwargs) == architecture_kwargs(name, int(q))


def test_pretrained_cfg_errors() -> None:
    with pytest.raises(RuntimeError, match="no pretrained"):
        get_pretrained_cfg("ssf2020", "ms-ssim", 1)
    with pytest.raises(ValueError, match="unknown architecture"):
        get_pretrained_cfg("nope", "mse", 1)
    with pytest.raises(ValueError, match="metric"):
        get_pretrained_cfg("mbt2018", "l1", 1)


def test_weights_url_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINIFY_WEIGHTS_URL", "http://127.0.0.1:9/mirror/")
    cfg = get_pretrained_cfg("mbt2018", "mse", 3)
    assert cfg.url == "http://127.0.0.1:9/mirror/mbt2018-3-22901978.pth.tar"


def test_keyword_arguments_override_the_quality_channels() -> None:
    model = zoo.create_model("mbt2018-mean", 3, N=16, M=24)
    assert (model.N, model.M) == (16, 24)
    assert zoo.cheng2020_anchor(1, N=16).N == 16


def test_checkpoint_only_architectures() -> None:
    """CompressAI's models without zoo entries are known by name (for checkpoints) only."""
    from tinify.models import Cheng2020AnchorCheckerboard, Elic2022Chandelier, Elic2022Official
    from tinify.registry import MODELS

    expected = {
        "cheng2020-anchor-checkerboard": Cheng2020AnchorCheckerboard,
        "elic2022-official": Elic2022Official,
        "elic2022-chandelier": Elic2022Chandelier,
    }
    for name, cls in expected.items():
        assert zoo.model_architectures[name] is cls
        assert name not in zoo.models and name not in zoo.list_models()
    assert zoo.model_architectures is MODELS  # one registry, CompressAI's and the zoo's path
