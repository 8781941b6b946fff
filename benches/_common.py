"""Shared helpers for the Python benchmarks: timing, thread control, optional competitors."""

from __future__ import annotations

import importlib
import time
import warnings
from types import ModuleType
from typing import Any, Callable

import torch

import tinify


def best_time(fn: Callable[[], Any], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` calls (seconds), after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def set_threads(n: int) -> None:
    """Use ``n`` threads for torch and for tinify's coder."""
    torch.set_num_threads(n)
    tinify.set_num_threads(n)


def optional(name: str) -> ModuleType | None:
    """Import an optional competitor (None when not installed), muting its import warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return importlib.import_module(name)
        except ImportError:
            return None


def row(label: str, n: int, seconds: float, base: float | None = None) -> str:
    """A markdown table row with Msym/s and the speed-up over ``base`` seconds."""
    ratio = f"{base / seconds:.1f}x" if base else "1.0x"
    return f"| {label} | {n / seconds / 1e6:.1f} | {seconds * 1e3:.1f} | {ratio} |"
