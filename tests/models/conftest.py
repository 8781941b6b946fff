"""Fixtures for the model tests: small models of every registered architecture, test images."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
import torch

from tinify.models import CompressionModel
from tinify.zoo import list_models, model_architectures

MakeModel = Callable[..., CompressionModel]


def small_kwargs(cls: type[CompressionModel]) -> dict[str, int]:
    """Tiny channel counts: N=16 (and M=24 where the class has an M)."""
    params = inspect.signature(cls.__init__).parameters
    return {"N": 16, "M": 24} if "M" in params else {"N": 16}


def build_small(name: str, seed: int = 0, **kwargs: Any) -> CompressionModel:
    """A small model with slightly perturbed weights (so nothing is trivially symmetric)."""
    torch.manual_seed(seed)
    cls = model_architectures[name]
    model = cls(**small_kwargs(cls), **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        for m in model.modules():  # masked taps stay zero, as in trained checkpoints
            if isinstance(getattr(m, "mask", None), torch.Tensor):
                m.weight.mul_(m.mask)
    model.update(force=True)
    return model.eval()


@pytest.fixture
def make_small() -> MakeModel:
    """``make_small(name, seed=0, **kwargs)``: see :func:`build_small`."""
    return build_small


@pytest.fixture(params=list_models(kind="image"))
def model_name(request: pytest.FixtureRequest) -> str:
    """Every registered zoo name."""
    return str(request.param)


def image(*shape: int, seed: int = 0) -> torch.Tensor:
    """A smooth-ish random image batch in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(*shape, generator=g)
    return torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


@pytest.fixture
def make_image() -> Callable[..., torch.Tensor]:
    """``make_image(N, 3, H, W, seed=0)``."""
    return image
