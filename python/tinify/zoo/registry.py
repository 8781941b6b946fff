# SPDX-License-Identifier: Apache-2.0
"""The model registry: zoo names -> constructors and architectures, and the shared builder.

A zoo constructor is a plain function registered with :func:`register_model`; its name with
``_`` replaced by ``-`` is the zoo name (``mbt2018_mean`` -> ``"mbt2018-mean"``, CompressAI's
names). Every constructor delegates to :func:`create_model`, which does all the validation and
the pretrained loading.

Compatibility with ``compressai.zoo``: :data:`models` maps every name to its constructor,
:data:`image_models` and :data:`video_models` the image and video names alone, and
:data:`model_architectures` maps names to classes.
"""

from __future__ import annotations

import fnmatch
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

from tinify.exceptions import ParameterError
from tinify.models.base import CompressionModel, remap_legacy_keys
from tinify.registry.torch import MODELS
from tinify.zoo.hub import load_pretrained_state_dict
from tinify.zoo.pretrained import METRICS, architecture_kwargs, get_pretrained_cfg

__all__ = [
    "create_model",
    "image_models",
    "list_models",
    "model_architectures",
    "models",
    "register_model",
    "video_models",
]

Factory = Callable[..., CompressionModel]
F = TypeVar("F", bound=Factory)

#: zoo name -> constructor ``fn(quality, metric="mse", pretrained=False, progress=True, **kw)``.
models: dict[str, Factory] = {}
#: The image models of :data:`models` (CompressAI's ``compressai.zoo.image_models``).
image_models: dict[str, Factory] = {}
#: The video models of :data:`models` (CompressAI's ``compressai.zoo.video_models``).
video_models: dict[str, Factory] = {}
#: name -> model class: the same dictionary as :data:`tinify.registry.MODELS`, where each model
#: class files itself with ``@tinify.registry.register_model(name)`` (one registry, two paths).
model_architectures: dict[str, type[CompressionModel]] = MODELS  # type: ignore[assignment]


def register_model(
    architecture: type[CompressionModel], *, video: bool = False
) -> Callable[[F], F]:
    """Register the decorated constructor, which builds ``architecture``, under its zoo name.

    ``video=True`` files it under :data:`video_models`, otherwise under :data:`image_models`.

    Raises:
        ParameterError: the name is already registered.
    """

    def decorate(fn: F) -> F:
        name = fn.__name__.replace("_", "-")
        if name in models:
            raise ParameterError(f"model {name!r} is already registered")
        if model_architectures.get(name, architecture) is not architecture:
            raise ParameterError(f"model {name!r} is registered for another class")
        models[name] = fn
        (video_models if video else image_models)[name] = fn
        model_architectures[name] = architecture
        return fn

    return decorate


def list_models(pattern: str = "*", kind: str | None = None) -> list[str]:
    """Registered zoo names matching a shell-style ``pattern``, in registration order.

    ``kind`` is ``"image"`` or ``"video"`` to list one kind only (default: both).
    """
    pool = {None: models, "image": image_models, "video": video_models}.get(kind)
    if pool is None:
        raise ParameterError(f"kind must be 'image', 'video' or None, not {kind!r}")
    return [name for name in pool if fnmatch.fnmatchcase(name, pattern)]


def create_model(
    name: str,
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Build the zoo model ``name`` at ``quality`` (the one builder behind every constructor).

    Args:
        name: a zoo name from :func:`list_models`.
        quality: 1 (lowest rate) to 8 (6 for the cheng2020 models).
        metric: ``"mse"`` or ``"ms-ssim"`` (which pretrained weights to load).
        pretrained: download (or take from the cache) and load CompressAI's weights; the model
            is returned in eval mode.
        progress: show a download progress bar.
        **kwargs: extra constructor arguments (e.g. ``entropy_model="mixture"`` for cheng2020),
            which also override the quality's ``N`` / ``M`` (smaller models for experiments);
            with ``pretrained=True`` they must be compatible with the checkpoint.

    Raises:
        ParameterError: unknown name, metric or quality.
        WeightsError: no pretrained weights for this combination.
        tinify.zoo.hub.WeightsError: the weights cannot be fetched or fail their hash check.
    """
    if name not in model_architectures:
        raise ParameterError(f"unknown model {name!r}; choose from {list_models()}")
    if name not in models:
        raise ParameterError(
            f"{name} has no zoo qualities or pretrained weights: build "
            f"{model_architectures[name].__name__}(...) directly, or load a checkpoint"
        )
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {METRICS}, got {metric!r}")
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral):
        raise ParameterError(f"quality must be an integer, got {quality!r}")
    quality = int(quality)
    architecture = model_architectures[name]
    config = {**architecture_kwargs(name, quality), **kwargs}
    if not pretrained:
        return architecture(**config)
    cfg = get_pretrained_cfg(name, metric, quality)
    state_dict = remap_legacy_keys(load_pretrained_state_dict(cfg, progress=progress))
    model = architecture(**config)
    model.load_state_dict(state_dict, strict=True)
    return model.eval()
