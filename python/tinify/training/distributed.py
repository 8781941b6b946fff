# SPDX-License-Identifier: Apache-2.0
"""Process-group setup for ``torchrun`` (:mod:`tinify.utils.distributed`, shared with evaluation)
and the random-state bookkeeping of exact resumes."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from tinify.utils.arrays import to_numpy
from tinify.utils.distributed import DistContext, init_distributed

__all__ = [
    "DistContext",
    "gather_rng_states",
    "get_rng_state",
    "init_distributed",
    "set_rng_state",
]


def get_rng_state() -> dict[str, Any]:
    """This process's torch, CUDA, numpy and Python random states, as checkpointable values.

    Everything is a tensor, int, float, tuple or list, so checkpoints load with
    ``torch.load(weights_only=True)``.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by :func:`get_rng_state`."""
    torch.set_rng_state(state["torch"])
    npy = state["numpy"]
    keys = to_numpy(npy["keys"]).astype(np.uint32)
    np.random.set_state((npy["kind"], keys, npy["pos"], npy["has_gauss"], npy["cached_gaussian"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def gather_rng_states(ctx: DistContext) -> list[dict[str, Any]]:
    """Every rank's :func:`get_rng_state`, in rank order (a collective call under DDP)."""
    state = get_rng_state()
    if not ctx.distributed:
        return [state]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, state)
    return gathered
