"""The ssf2020 zoo entry: qualities, metrics, the URL table and pretrained loading (offline)."""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

from tinify.models.video import ScaleSpaceFlow
from tinify.zoo import pretrained, registry


@pytest.fixture
def zoo_video() -> Iterator[ModuleType]:
    """``tinify.zoo.video``, registering ssf2020 only for the test when the zoo does not yet."""
    registered = "ssf2020" in registry.models
    module = importlib.import_module("tinify.zoo.video")
    try:
        yield module
    finally:
        if not registered:  # leave the registry as the other tests expect it
            registry.models.pop("ssf2020", None)
            registry.model_architectures.pop("ssf2020", None)
            sys.modules.pop("tinify.zoo.video", None)


def test_constructor(zoo_video: ModuleType) -> None:
    assert registry.models["ssf2020"] is zoo_video.ssf2020
    assert registry.model_architectures["ssf2020"] is ScaleSpaceFlow
    assert zoo_video.video_models == {"ssf2020": zoo_video.ssf2020}
    model = registry.create_model("ssf2020", 9)
    assert type(model) is ScaleSpaceFlow and model.training
    assert zoo_video.ssf2020(1, metric="ms-ssim").num_levels == 5  # untrained: any metric
    assert zoo_video.ssf2020(2, num_levels=4).num_levels == 4
    for quality in (0, 10, 1.5, True):
        with pytest.raises(ValueError, match="quality"):
            zoo_video.ssf2020(quality)
    with pytest.raises(ValueError, match="metric"):
        zoo_video.ssf2020(1, metric="psnr")
    with pytest.raises(RuntimeError, match="no pretrained"):
        zoo_video.ssf2020(1, metric="ms-ssim", pretrained=True)


def test_pretrained_table_matches_compressai(reference_dir: Path) -> None:
    data = json.loads((reference_dir / "compressai_urls.json").read_text())
    urls = data["video"]["ssf2020"]
    assert list(urls) == ["mse"] and pretrained.available_metrics("ssf2020") == ("mse",)
    assert list(pretrained.qualities("ssf2020")) == [int(q) for q in urls["mse"]]
    for q, url in urls["mse"].items():
        cfg = pretrained.get_pretrained_cfg("ssf2020", "mse", int(q))
        assert cfg.url == url and url.endswith(f"-{cfg.sha256_prefix}.pth.tar")
        assert dict(cfg.kwargs) == {}


def test_pretrained_loads_2021_checkpoint(
    zoo_video: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint with the 2021 bottleneck names (``_matrix0``...), found in a weights dir."""
    torch.manual_seed(4)
    reference = ScaleSpaceFlow()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    reference.update(force=True)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in reference.state_dict().items():
        for kind, singular in (("matrices", "matrix"), ("biases", "bias"), ("factors", "factor")):
            key = key.replace(f".entropy_bottleneck.{kind}.", f".entropy_bottleneck._{singular}")
        state[key] = value
    tmp = tmp_path / "tmp.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    name = f"ssf2020-mse-3-{digest}.pth.tar"
    tmp.rename(tmp_path / name)
    files = pretrained._FILES["ssf2020"]["mse"]
    monkeypatch.setitem(pretrained._FILES, "ssf2020", {"mse": files[:2] + (name,) + files[3:]})
    monkeypatch.setenv("TINIFY_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("TINIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINIFY_OFFLINE", "1")
    model = zoo_video.ssf2020(3, pretrained=True, progress=False)
    assert type(model) is ScaleSpaceFlow and not model.training
    for (key, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), key
