# SPDX-License-Identifier: Apache-2.0
"""Training checkpoints and the export of trained models.

Checkpoints are written and read by :mod:`tinify.utils.checkpoint` (atomic writes,
``weights_only=True`` reads); :func:`save_checkpoint` and :func:`load_checkpoint` are its
functions under the names ``tinify.training`` exports.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Union

from tinify.models import CompressionModel
from tinify.utils.checkpoint import read_checkpoint, save_checkpoint, save_hashed_state_dict
from tinify.utils.files import sha256_file

__all__ = ["export_model", "load_checkpoint", "save_checkpoint", "sha256_file"]

PathLike = Union[str, Path]

#: Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``); the one reader,
#: :func:`tinify.utils.checkpoint.read_checkpoint`, under the name ``tinify.training`` exports.
load_checkpoint = read_checkpoint


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
    Path(directory).mkdir(parents=True, exist_ok=True)
    return save_hashed_state_dict(frozen.state_dict(), directory, stem, ".pt")
