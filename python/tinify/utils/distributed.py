# SPDX-License-Identifier: Apache-2.0
"""Running under ``torchrun``: the process group, and splitting work across its ranks.

Training (:mod:`tinify.training`) and evaluation (``tinify eval``,
``python -m tinify.utils.eval_model``) join the process group the same way
(:func:`init_distributed`). Evaluation gives rank ``r`` of ``W`` the items ``r, r + W, ...``
(:func:`shard`) and puts the per-item results back in the original order on every rank
(:func:`gather_shards`), so rank 0 writes one results file equal to a single-process run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from tinify.exceptions import InputError

__all__ = ["DistContext", "finish_distributed", "gather_shards", "init_distributed", "shard"]

T = TypeVar("T")


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


def finish_distributed() -> None:
    """Wait for every rank, then leave the process group (no-op without one)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(items: Sequence[T], ctx: DistContext | None) -> list[T]:
    """This rank's share of ``items``: every ``world_size``-th item from index ``rank``."""
    if ctx is None or not ctx.distributed:
        return list(items)
    return list(items[ctx.rank :: ctx.world_size])


def gather_shards(part: Sequence[Any], ctx: DistContext | None) -> list[Any]:
    """Undo :func:`shard`: every rank's results, back in the order of the full sequence (a
    collective call: every rank must make it, and every rank gets the whole list)."""
    if ctx is None or not ctx.distributed:
        return list(part)
    parts: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(parts, list(part))
    merged: list[Any] = []
    for i in range(max(len(p) for p in parts)):
        merged.extend(p[i] for p in parts if i < len(p))
    return merged
