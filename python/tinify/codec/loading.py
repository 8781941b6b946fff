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
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import torch

from tinify.codec.limits import check_state_dict
from tinify.entropy_models.base import EntropyModel
from tinify.exceptions import TinifyError
from tinify.io.image import InputError
from tinify.models import CompressionModel

__all__ = [
    "LoadedModel",
    "WeightsMismatchError",
    "load_checkpoint_state",
    "load_default_model",
    "load_model",
    "load_model_from_checkpoint",
    "load_zoo_model",
    "set_stream_chunks",
    "weights_id",
]

PathLike = Union[str, Path]

#: Keys under which training checkpoints keep the model's state dict.
_STATE_KEYS = ("model", "state_dict")


class WeightsMismatchError(TinifyError):
    """The model given to the decoder is not the one the file was encoded with."""


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
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.digest()[:8]


def set_stream_chunks(model: torch.nn.Module, chunks: int) -> None:
    """Set ``stream_chunks`` on every entropy model of ``model`` (1 = CompressAI's format)."""
    for module in model.modules():
        if isinstance(module, EntropyModel):
            module.stream_chunks = int(chunks)


def _has_tables(model: torch.nn.Module) -> bool:
    return all(m._quantized_cdf.numel() > 0 for m in model.modules() if isinstance(m, EntropyModel))


def load_checkpoint_state(path: PathLike) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """Read a checkpoint file (``torch.load(weights_only=True)``, on the CPU).

    Accepted layouts: a bare state dict; a tinify training checkpoint (``{"model": ...,
    "config": {...}}``); CompressAI's ``examples/train.py`` checkpoint (``{"state_dict": ...}``).

    Returns:
        ``(state_dict, config, is_training_checkpoint)``; ``config`` holds the training
        configuration when the file has one (``model``, ``quality``, ``metric``), else ``{}``.

    Raises:
        InputError: missing or unreadable file, or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign or damaged files
        raise InputError(
            f"{path}: not a readable PyTorch checkpoint ({_first_line(err)})"
        ) from None
    if not isinstance(obj, Mapping):
        raise InputError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    config: dict[str, Any] = {}
    training = False
    for key in _STATE_KEYS:
        if isinstance(obj.get(key), Mapping):
            config = dict(obj.get("config") or {})
            training = True
            obj = obj[key]
            break
    if not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{path}: is not a model state dict (expected names -> tensors)")
    check_state_dict(obj, path)
    return dict(obj), config, training


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

    state, config, training = load_checkpoint_state(path)
    name = name or config.get("model")
    if not name:
        raise InputError(f"{path}: the checkpoint does not name its architecture; pass --model")
    if name not in model_architectures:
        raise InputError(f"unknown model {name!r}; choose from {', '.join(list_models())}")
    try:
        model = model_architectures[name].from_state_dict(state)
    except (ValueError, RuntimeError, KeyError, TypeError) as err:
        raise InputError(
            f"{path}: the weights do not fit model {name} ({_first_line(err)})"
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
        raise InputError(_first_line(err)) from None
    if not _has_tables(model):
        model.update()
    return LoadedModel(model.eval(), name, int(quality), metric, "zoo", weights_id(model))


def _default_factory() -> tuple[Callable[[], CompressionModel], Mapping[str, Any]]:
    """The function that loads the shipped model, and its metadata: ``tinify.zoo.default_model``
    if the zoo has one, else ``tinify.weights.load_default_model`` (``DEFAULT_MODEL``)."""
    import tinify.zoo as zoo

    factory = getattr(zoo, "default_model", None)
    if factory is not None:
        return factory, {}
    try:
        weights = importlib.import_module("tinify.weights")
        return weights.load_default_model, dict(getattr(weights, "DEFAULT_MODEL", {}))
    except (ImportError, AttributeError):
        raise InputError(
            "this tinify ships no default model; pass --model NAME (pretrained zoo weights) or "
            "--checkpoint FILE"
        ) from None


def load_default_model() -> LoadedModel:
    """The small model that ships inside tinify (see :func:`_default_factory`).

    Raises:
        InputError: this tinify has no default model, or its file is missing or corrupt.
    """
    factory, meta = _default_factory()
    try:
        model = factory()
    except (OSError, RuntimeError, ValueError) as err:
        raise InputError(
            f"the default model cannot be loaded ({_first_line(err)}); reinstall tinify, or pass "
            "--model NAME or --checkpoint FILE"
        ) from None
    name = meta.get("architecture") or getattr(model, "zoo_name", None) or _zoo_name(model)
    if not _has_tables(model):
        model.update()
    return LoadedModel(
        model=model.eval(),
        name=str(name),
        quality=int(meta.get("quality") or getattr(model, "quality", 0) or 0),
        metric=str(meta.get("metric") or getattr(model, "metric", "mse") or "mse"),
        source="default",
        weights_id=weights_id(model),
    )


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _zoo_name(model: torch.nn.Module) -> str:
    from tinify.zoo import model_architectures

    for name, cls in model_architectures.items():
        if type(model) is cls:
            return name
    raise InputError(f"the default model ({type(model).__name__}) is not a zoo architecture")


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


def check_device(device: str) -> None:
    """Raise :class:`InputError` unless ``device`` is ``cpu`` or an available CUDA device."""
    if device == "cpu":
        return
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r}: CUDA is not available here; use --device cpu")
        return
    raise InputError(f"device must be cpu, cuda or cuda:K, got {device!r}")
