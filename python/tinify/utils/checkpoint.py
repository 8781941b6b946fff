# SPDX-License-Identifier: Apache-2.0
"""Reading checkpoint files: the one place tinify calls ``torch.load``.

Every file is loaded with ``torch.load(weights_only=True)``, which unpickles tensors, containers
and plain values only, never arbitrary objects, so a hostile checkpoint cannot run code. The zoo
(:mod:`tinify.zoo.hub`), the shipped weights (:mod:`tinify.weights`), the ``tinify`` command
(:mod:`tinify.codec.loading`) and training (resume, ``--init``) all read through this module.

- :func:`read_checkpoint`: the whole file as a dict (a training checkpoint with its optimizer
  and scheduler state, or a bare state dict).
- :func:`unwrap_state_dict`: the model's state dict inside such a dict.
- :func:`read_state_dict`: both at once, the usual way to get weights out of a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple, Union

import torch

from tinify.exceptions import InputError, first_line

__all__ = [
    "STATE_DICT_KEYS",
    "CheckpointState",
    "read_checkpoint",
    "read_state_dict",
    "unwrap_state_dict",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Keys under which checkpoints keep the model's state dict, looked up in this order: tinify's
#: training checkpoints (``model``), CompressAI's ``examples/train.py`` (``state_dict``) and
#: other training scripts (``network``, ``model_state_dict``).
STATE_DICT_KEYS = ("model", "state_dict", "network", "model_state_dict")


class CheckpointState(NamedTuple):
    """The weights found in a checkpoint file (see :func:`read_state_dict`).

    Attributes:
        state: the model's state dict (names -> tensors).
        config: the training configuration stored beside it (``model``, ``quality``,
            ``metric``, ...), ``{}`` when there is none.
        wrapped: the state dict was inside a training checkpoint (its coding tables may be
            stale), not the file's top level.
    """

    state: dict[str, torch.Tensor]
    config: dict[str, Any]
    wrapped: bool


def read_checkpoint(path: PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint file with ``torch.load(weights_only=True)``.

    Args:
        path: the file.
        map_location: where the tensors go (``torch.load``'s argument; the CPU by default).

    Returns:
        The file's top-level dict, as stored.

    Raises:
        InputError: a missing or unreadable file, one torch cannot load safely, or one whose top
            level is not a dict.
    """
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for foreign or damaged files
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({first_line(err)})") from None
    if not isinstance(obj, Mapping):
        raise InputError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def unwrap_state_dict(obj: Mapping[str, Any], origin: object = "checkpoint") -> CheckpointState:
    """The model state dict of a checkpoint read by :func:`read_checkpoint`.

    The state dict is ``obj`` itself, or the dict under the first of :data:`STATE_DICT_KEYS`
    that holds one (then ``config`` is ``obj["config"]`` if present).

    Args:
        obj: the checkpoint.
        origin: what to name in error messages (the path).

    Raises:
        InputError: no state dict (names -> tensors) is found.
    """
    config: dict[str, Any] = {}
    wrapped = False
    for key in STATE_DICT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping):
            config = dict(obj.get("config") or {})
            wrapped = True
            obj = inner
            break
    if not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(f"{origin}: is not a model state dict (expected names -> tensors)")
    return CheckpointState(dict(obj), config, wrapped)


def read_state_dict(path: PathLike) -> CheckpointState:
    """:func:`read_checkpoint` (on the CPU), then :func:`unwrap_state_dict`.

    Accepted layouts: a bare state dict; a tinify training checkpoint (``{"model": ...,
    "config": {...}}``); CompressAI's ``examples/train.py`` checkpoint (``{"state_dict": ...}``);
    ``{"network": ...}`` and ``{"model_state_dict": ...}`` wrappers.

    Raises:
        InputError: missing or unreadable file, or no state dict in it.
    """
    return unwrap_state_dict(read_checkpoint(path), path)
