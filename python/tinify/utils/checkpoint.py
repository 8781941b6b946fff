# SPDX-License-Identifier: Apache-2.0
"""Reading and writing checkpoint files: the one place tinify calls ``torch.load`` and
``torch.save``.

Every file is loaded with ``torch.load(weights_only=True)``, which unpickles tensors, containers
and plain values only, never arbitrary objects, so a hostile checkpoint cannot run code. The zoo
(:mod:`tinify.zoo.hub`), the shipped weights (:mod:`tinify.weights`), the ``tinify`` command
(:mod:`tinify.codec.loading`) and training (resume, ``--init``) all read through this module.

- :func:`read_checkpoint`: the whole file as a dict (a training checkpoint with its optimizer
  and scheduler state, or a bare state dict).
- :func:`unwrap_state_dict`: the model's state dict inside such a dict.
- :func:`read_state_dict`: both at once, the usual way to get weights out of a file.
- :func:`save_checkpoint`: ``torch.save`` atomically (a reader never sees a half-written file).
- :func:`save_hashed_state_dict`: a state dict saved as ``NAME-<first 8 hex digits of its
  SHA-256><suffix>`` (CompressAI's ``update_model`` naming, which the zoo's hash check expects),
  used by ``tinify update`` and the export at the end of training.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple, Union

import torch

from tinify.exceptions import InputError, LimitError, first_line
from tinify.utils.files import atomic_path

__all__ = [
    "check_state_dict",
    "STATE_DICT_KEYS",
    "CheckpointState",
    "read_checkpoint",
    "read_state_dict",
    "save_checkpoint",
    "save_hashed_state_dict",
    "unwrap_state_dict",
]

PathLike = Union[str, "os.PathLike[str]"]
FileLike = Union[PathLike, BinaryIO]

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


def read_checkpoint(path: FileLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint file with ``torch.load(weights_only=True)``.

    Args:
        path: the file (or a binary file object, as ``torch.load`` accepts).
        map_location: where the tensors go (``torch.load``'s argument; the CPU by default).

    Returns:
        The file's top-level dict, as stored.

    Raises:
        InputError: a missing or unreadable file, one torch cannot load safely, or one whose top
            level is not a dict.
    """
    if isinstance(path, (str, os.PathLike)) and not os.path.isfile(path):
        raise InputError(f"{path}: no such checkpoint file")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise LimitError(f"{path}: not enough memory to read this checkpoint") from None
    except Exception as err:  # torch raises many types (UnpicklingError, EOFError, ...)
        raise InputError(
            f"{path}: not a readable PyTorch checkpoint ({type(err).__name__}: "
            f"{first_line(err)[:200]})"
        ) from None
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
    found = unwrap_state_dict(read_checkpoint(path), path)
    check_state_dict(found.state, path)
    return found


def save_checkpoint(obj: Mapping[str, Any], path: PathLike) -> Path:
    """``torch.save`` a dict to ``path`` atomically, creating its folder; return the path.

    The bytes go to a temporary file beside ``path`` that is renamed over it once complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        torch.save(dict(obj), tmp)
    return target


def save_hashed_state_dict(
    state: Mapping[str, torch.Tensor],
    folder: PathLike,
    stem: str,
    suffix: str = ".pth.tar",
    *,
    force: bool = True,
    inputs: Sequence[PathLike] = (),
) -> Path:
    """Save ``state`` (tensors detached, copied to the CPU) as
    ``<folder>/<stem>-<sha256[:8]><suffix>``, atomically; return the path.

    The hash is over the saved bytes, which are serialized before anything is written, so the
    name alone verifies the file. ``folder`` must exist. The path is checked by
    :func:`tinify.io.image.check_output` (never one of ``inputs``, a folder or a device; an
    existing file is replaced only when ``force``).

    Raises:
        InputError: the path cannot be written (see above).
    """
    from tinify.io.image import check_output

    tensors = {k: v.detach().to("cpu").clone() for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    data = buffer.getvalue()
    final = Path(folder) / f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}{suffix}"
    check_output(final, force=force, inputs=[Path(p) for p in inputs])
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return final


def check_state_dict(state: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Check the tensors of a checkpoint before a model is built from their shapes.

    - every tensor must store the bytes its shape declares: a few bytes viewed with zero strides
      as a huge tensor would make tinify build (allocate) a model of that size;
    - all of them together cannot declare more bytes than the file holds;
    - no floating-point value may be NaN or infinite (such weights code garbage).

    Raises:
        LimitError: a tensor declares more bytes than are stored.
        TinifyError: a tensor holds a NaN or an infinity.
    """
    size = os.path.getsize(path) if os.path.isfile(path) else None
    total = 0
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        declared = value.numel() * value.element_size()
        stored = value.untyped_storage().nbytes() - value.storage_offset() * value.element_size()
        if declared > stored:
            raise LimitError(
                f"{path}: tensor {key} declares shape {tuple(value.shape)} ({declared} bytes) but "
                f"stores {stored} bytes (a crafted or corrupt checkpoint)"
            )
        total += declared
        if value.is_floating_point() and value.numel() and not bool(value.isfinite().all()):
            raise InputError(
                f"{path}: tensor {key} holds NaN or infinite values; the weights are damaged "
                "(retrain or use another checkpoint)"
            )
    if size is not None and total > size:
        raise LimitError(
            f"{path}: its tensors declare {total} bytes, more than the {size} bytes of the file "
            "(a crafted or corrupt checkpoint)"
        )
