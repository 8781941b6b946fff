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


def compressai_zoo_model(name: str, quality: int) -> torch.nn.Module:
    """CompressAI 1.2.8's zoo model ``name`` at ``quality`` with random weights (CompressAI must
    be installed). Its zoo builds a GDN ``FactorizedPrior`` for "bmshj2018-factorized-relu"
    (``zoo.image`` passes the architecture "bmshj2018-factorized"); this returns its own
    ``FactorizedPriorReLU`` of the zoo's sizes instead, the model tinify's zoo builds."""
    from compressai import models as cai_models
    from compressai.zoo import image_models

    net = image_models[name](quality=quality)
    if name == "bmshj2018-factorized-relu" and not isinstance(net, cai_models.FactorizedPriorReLU):
        net = cai_models.FactorizedPriorReLU(net.N, net.M)
    return net


def row(label: str, n: int, seconds: float, base: float | None = None) -> str:
    """A markdown table row with Msym/s and the speed-up over ``base`` seconds."""
    ratio = f"{base / seconds:.1f}x" if base else "1.0x"
    return f"| {label} | {n / seconds / 1e6:.1f} | {seconds * 1e3:.1f} | {ratio} |"
