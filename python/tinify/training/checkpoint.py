# SPDX-License-Identifier: Apache-2.0
"""Training checkpoints (atomic, ``weights_only``-loadable) and the export of trained models."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union

import torch

from tinify.models import CompressionModel
from tinify.utils.checkpoint import read_checkpoint
from tinify.utils.files import atomic_path, sha256_file

__all__ = ["export_model", "load_checkpoint", "save_checkpoint", "sha256_file"]

PathLike = Union[str, Path]

#: Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``); the one reader,
#: :func:`tinify.utils.checkpoint.read_checkpoint`, under the name ``tinify.training`` exports.
load_checkpoint = read_checkpoint


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
