# SPDX-License-Identifier: Apache-2.0
"""Process-group setup for ``torchrun`` and the random-state bookkeeping of exact resumes."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from tinify.exceptions import InputError
from tinify.utils.arrays import to_numpy

__all__ = [
    "DistContext",
    "gather_rng_states",
    "get_rng_state",
    "init_distributed",
    "set_rng_state",
]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` and its ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the process that logs and saves (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group with more than one process is in use."""
        return self.world_size > 1


def init_distributed(device: str = "cpu") -> DistContext:
    """Join the process group described by torchrun's environment, if any.

    ``WORLD_SIZE > 1`` (with ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) starts
    a process group: ``gloo`` on CPU, ``nccl`` on CUDA, where each process takes the GPU of its
    local rank. Without those variables this is a single process.

    Args:
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:K"``.

    Raises:
        InputError: CUDA was asked for but is not available.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = torch.device(device)
    if target.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r} asked for, but CUDA is not available; use cpu")
        if world_size > 1:
            target = torch.device("cuda", local_rank)
        torch.cuda.set_device(target)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if target.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


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
