# SPDX-License-Identifier: Apache-2.0
"""``tinify update``: turn a training checkpoint into zoo-ready weights.

The checkpoint (a tinify or CompressAI training checkpoint, or a bare state dict) is loaded into
its architecture, the coding tables are rebuilt from the learned densities
(``model.update(force=True)``), optimizer and scheduler state are dropped, and the state dict is
saved as ``NAME-<first 8 hex digits of its SHA-256>.pth.tar``, the naming the zoo's hash check
expects.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Union

from tinify.codec.loading import load_model_from_checkpoint
from tinify.exceptions import InputError
from tinify.utils.checkpoint import save_hashed_state_dict

__all__ = ["strip_suffixes", "update_checkpoint"]

PathLike = Union[str, Path]

_SUFFIXES = re.compile(r"(\.pth\.tar|\.pth|\.pt|\.tar|\.ckpt)$", re.IGNORECASE)


def strip_suffixes(name: str) -> str:
    """``"model.pth.tar"`` -> ``"model"`` (also ``.pth``, ``.pt``, ``.tar``, ``.ckpt``)."""
    return _SUFFIXES.sub("", name)


def update_checkpoint(
    checkpoint: PathLike,
    output: PathLike = ".",
    model: str | None = None,
    update: bool = True,
    suffix: str = ".pth.tar",
    *,
    force: bool = True,
) -> Path:
    """Write the updated state dict of ``checkpoint``.

    Args:
        checkpoint: the input file.
        output: a folder (the name is the checkpoint's, without suffixes) or a file name whose
            suffix-less stem becomes ``NAME``; the result is ``NAME-<sha256[:8]><suffix>``.
        model: the zoo architecture (default: the one in the checkpoint's training config).
        update: rebuild the coding tables (``False``: keep the checkpoint's, CompressAI's
            ``--no-update``; tables are still built for a state dict that has none).
        suffix: the file suffix (``python -m tinify.utils.update_model`` keeps the input's).
        force: replace an existing file of that name (``tinify update`` passes ``-f``; the
            name holds the hash of the contents, so an existing file holds the same weights).

    Returns:
        The written file.

    Raises:
        InputError: unreadable checkpoint, unknown architecture, weights that do not fit it, or
            a missing output folder, or an existing output without ``force``.
    """
    out = Path(output)
    if out.is_dir() or str(output).endswith(("/", os.sep)):
        folder, stem = out, strip_suffixes(Path(checkpoint).name)
    else:
        folder, stem = out.parent, strip_suffixes(out.name)
    if not stem:
        raise InputError(f"{output}: give a file name or a folder")
    if not folder.is_dir():
        raise InputError(f"{output}: folder {folder} does not exist")
    net = load_model_from_checkpoint(checkpoint, model).model
    if update:
        net.update(force=True)
    return save_hashed_state_dict(
        net.state_dict(), folder, stem, suffix, force=force, inputs=[checkpoint]
    )
