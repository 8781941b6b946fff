# SPDX-License-Identifier: Apache-2.0
"""Training checkpoints (atomic, ``weights_only``-loadable) and the export of trained models."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

import torch

from tinify.exceptions import TinifyError
from tinify.models import CompressionModel
from tinify.utils.files import atomic_path, sha256_file

__all__ = ["export_model", "load_checkpoint", "save_checkpoint", "sha256_file"]

PathLike = Union[str, Path]


def _atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(state: Mapping[str, Any], path: PathLike) -> Path:
    """Write a training checkpoint atomically (a reader never sees a half-written file)."""
    target = Path(path)
    _atomic_save(dict(state), target)
    return target


def load_checkpoint(path: PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises:
        TinifyError: missing, empty, truncated or foreign file, or not a dict (one line that
            names the file).
    """
    if not Path(path).is_file():
        raise TinifyError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise TinifyError(f"{path}: not enough memory to read this checkpoint") from None
    except Exception as err:  # torch raises many types (UnpicklingError, EOFError, ...)
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise TinifyError(
            f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: {first[:200]})"
        ) from None
    if not isinstance(obj, Mapping):
        raise TinifyError(f"{path}: holds a {type(obj).__name__}, not a training checkpoint")
    return dict(obj)


def export_model(model: CompressionModel, directory: PathLike, stem: str) -> Path:
    """Save a trained model for inference: ``<directory>/<stem>-<sha256[:8]>.pt``.

    A copy of ``model`` gets ``update(force=True)`` (coding tables built from the learned
    densities), and its state dict, tables included, is saved in float32 on CPU. The suffix is
    the first 8 hex digits of the file's SHA-256 (CompressAI's ``update_model`` convention), so
    the name alone verifies the bytes.

    Returns:
        The path of the written file.
    """
    frozen = copy.deepcopy(model).to("cpu").eval()
    frozen.update(force=True)
    state = {k: v.detach().clone() for k, v in frozen.state_dict().items()}
    directory = Path(directory)
    tmp = directory / f".{stem}.tmp"
    _atomic_save(state, tmp)
    digest = sha256_file(tmp)
    final = directory / f"{stem}-{digest[:8]}.pt"
    os.replace(tmp, final)
    return final
