# SPDX-License-Identifier: Apache-2.0
"""Finding the model a file is coded with: zoo weights, a checkpoint file or the shipped default.

Every loaded model comes with a *weights id*: the first 8 bytes of a SHA-256 over its state dict
(names, dtypes, shapes and values, coding tables included), computed on the CPU before the model
moves to a device. The encoder writes it into the ``.tfy`` header and the decoder refuses a model
whose id differs, so decoding with the wrong weights fails with a clear message instead of
producing garbage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import torch

from tinify.entropy_models.base import EntropyModel
from tinify.exceptions import InputError, LimitError, WeightsMismatchError, first_line
from tinify.models import CompressionModel
from tinify.utils.arrays import to_numpy
from tinify.utils.checkpoint import read_state_dict

__all__ = [
    "LoadedModel",
    "WeightsMismatchError",
    "load_default_model",
    "load_model",
    "load_model_from_checkpoint",
    "load_zoo_model",
    "weights_id",
    "wrap_model",
]

PathLike = Union[str, Path]


@dataclass
class LoadedModel:
    """A model ready to code, with what the ``.tfy`` header records about it.

    Attributes:
        model: the network, in eval mode, coding tables built, on its device.
        name: zoo architecture name.
        quality: zoo quality (0 when unknown).
        metric: ``"mse"`` or ``"ms-ssim"``.
        source: ``"zoo"``, ``"checkpoint"`` or ``"default"``.
        weights_id: 8-byte fingerprint of the weights and tables (see :func:`weights_id`).
    """

    model: CompressionModel
    name: str
    quality: int
    metric: str
    source: str
    weights_id: bytes


def weights_id(model: torch.nn.Module) -> bytes:
    """First 8 bytes of a SHA-256 over ``model.state_dict()`` (sorted names, dtypes, shapes,
    raw values), independent of the device the tensors live on."""
    digest = hashlib.sha256()
    state = model.state_dict()
    for key in sorted(state):
        t = state[key].detach().to("cpu").contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            digest.update(to_numpy(t.reshape(-1).view(torch.uint8)).tobytes())
    return digest.digest()[:8]


def _has_tables(model: torch.nn.Module) -> bool:
    return all(m._quantized_cdf.numel() > 0 for m in model.modules() if isinstance(m, EntropyModel))


def load_model_from_checkpoint(
    path: PathLike,
    name: str | None = None,
    quality: int | None = None,
    metric: str | None = None,
) -> LoadedModel:
    """Build the architecture ``name`` sized for the checkpoint at ``path`` and load it.

    ``name``, ``quality`` and ``metric`` default to the checkpoint's training configuration.
    Coding tables are rebuilt (``update(force=True)``) for training checkpoints, whose tables
    are stale, and built for state dicts without tables; an updated state dict (from
    ``tinify update``) is used as it is.

    Raises:
        InputError: unreadable file, unknown architecture, or weights that do not fit it.
    """
    from tinify.zoo import list_models, model_architectures

    state, config, training = read_state_dict(path)
    name = name or config.get("model")
    if not name:
        raise InputError(f"{path}: the checkpoint does not name its architecture; pass --model")
    if name not in model_architectures:
        raise InputError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    try:
        model = model_architectures[name].from_state_dict(state)
    except LimitError as err:  # a model beyond the limits: refused before it was built
        raise LimitError(f"{path}: {err}") from None
    except (ValueError, RuntimeError, KeyError, TypeError) as err:
        raise InputError(
            f"{path}: the weights do not fit model {name} ({first_line(err)})"
        ) from None
    if training or not _has_tables(model):
        model.update(force=True)
    return LoadedModel(
        model=model.eval(),
        name=name,
        quality=int(quality if quality is not None else config.get("quality") or 0),
        metric=str(metric or config.get("metric") or "mse"),
        source="checkpoint",
        weights_id=weights_id(model),
    )


def load_zoo_model(name: str, quality: int, metric: str = "mse") -> LoadedModel:
    """Pretrained zoo weights (downloaded or taken from the cache, hash-checked).

    Raises:
        InputError: unknown model, metric or quality, no weights, or the download failed.
    """
    from tinify.zoo import WeightsError, create_model

    try:
        model = create_model(name, quality, metric, pretrained=True, progress=False)
    except (ValueError, RuntimeError, WeightsError, OSError) as err:
        raise InputError(first_line(err)) from None
    if not _has_tables(model):
        model.update()
    return LoadedModel(model.eval(), name, int(quality), metric, "zoo", weights_id(model))


def load_default_model() -> LoadedModel:
    """The small model that ships inside tinify (:func:`tinify.weights.load_default_model`,
    described by :data:`tinify.weights.DEFAULT_MODEL`); its file holds the coding tables.

    Raises:
        InputError: its file is missing or corrupt.
    """
    from tinify.weights import DEFAULT_MODEL
    from tinify.weights import load_default_model as load_shipped

    try:
        model = load_shipped()
    except (OSError, RuntimeError, ValueError) as err:
        raise InputError(
            f"the default model cannot be loaded ({first_line(err)}); reinstall tinify, or pass "
            "--model NAME or --checkpoint FILE"
        ) from None
    return LoadedModel(
        model=model,
        name=str(DEFAULT_MODEL["architecture"]),
        quality=int(DEFAULT_MODEL["quality"]),
        metric=str(DEFAULT_MODEL["metric"]),
        source="default",
        weights_id=weights_id(model),
    )


def _zoo_name(model: torch.nn.Module) -> str:
    from tinify.zoo import model_architectures

    for name, cls in model_architectures.items():
        if type(model) is cls:
            return name
    raise InputError(f"{type(model).__name__} is not a zoo architecture")


def load_model(
    name: str | None = None,
    quality: int | None = None,
    metric: str | None = None,
    checkpoint: PathLike | None = None,
    device: str = "cpu",
) -> LoadedModel:
    """The model an ``encode``/``eval`` command asks for, on ``device``.

    - ``checkpoint``: that file (architecture ``name`` or the checkpoint's own);
    - else ``name``: the zoo's pretrained weights at ``quality`` (default 3) and ``metric``;
    - else the default model that ships with tinify (``quality``/``metric`` not allowed).

    Raises:
        InputError: see the loaders; also an unusable device.
    """
    check_device(device)
    if checkpoint is not None:
        loaded = load_model_from_checkpoint(checkpoint, name, quality, metric)
    elif name is not None:
        loaded = load_zoo_model(name, 3 if quality is None else quality, metric or "mse")
    else:
        if quality is not None or metric is not None:
            raise InputError("--quality and --metric select zoo weights: add --model NAME")
        loaded = load_default_model()
    loaded.model.to(device)
    return loaded


def wrap_model(
    model: torch.nn.Module,
    name: str | None = None,
    quality: int = 0,
    metric: str = "mse",
    source: str = "checkpoint",
) -> LoadedModel:
    """A model built elsewhere (CompressAI-style code passes bare networks) as a
    :class:`LoadedModel`; ``name`` defaults to its zoo architecture.

    Raises:
        InputError: ``name`` is not given and the class is not a zoo architecture.
    """
    if not isinstance(model, CompressionModel):
        raise InputError(f"{type(model).__name__} is not a tinify CompressionModel")
    return LoadedModel(
        model=model.eval(),
        name=name or _zoo_name(model),
        quality=int(quality),
        metric=metric,
        source=source,
        weights_id=weights_id(model),
    )


def check_device(device: str) -> None:
    """Raise :class:`InputError` unless ``device`` is ``cpu`` or an available CUDA device."""
    if device == "cpu":
        return
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r}: CUDA is not available here; use --device cpu")
        return
    raise InputError(f"device must be cpu, cuda or cuda:K, got {device!r}")
