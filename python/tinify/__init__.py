"""Tinify: learned image and video compression with a fast, robust Rust entropy coder.

A drop-in for CompressAI: the same model names, API shape and checkpoints, with entropy coding
done in Rust (``tinify._core``) with the GIL released.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from tinify import _core
from tinify.exceptions import BitstreamError, CdfError, ParameterError, TinifyError
from tinify.version import __version__

__all__ = [
    "BitstreamError",
    "CdfError",
    "ParameterError",
    "TinifyError",
    "__version__",
    "available_entropy_coders",
    "get_entropy_coder",
    "get_num_threads",
    "set_entropy_coder",
    "set_num_threads",
]

# DataLoader workers fork: the parent's Rust thread pool does not exist in the child.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_core._after_fork_child)

_SUBMODULES = {
    "ans",
    "codec",
    "datasets",
    "entropy_models",
    "latent_codecs",
    "layers",
    "losses",
    "models",
    "ops",
    "optimizers",
    "registry",
    "training",
    "transforms",
    "typing",
    "utils",
    "version",
    "weights",
    "zoo",
}

# The entropy coders tinify has: "ans" (rANS, CompressAI's name for it). CompressAI's optional
# "rangecoder" is not available.
_AVAILABLE_ENTROPY_CODERS = ["ans"]
_entropy_coder = "ans"


def available_entropy_coders() -> list[str]:
    """Return the names of the available entropy coders: ``["ans"]``."""
    return list(_AVAILABLE_ENTROPY_CODERS)


def get_entropy_coder() -> str:
    """Return the name of the default entropy coder of new entropy models (``"ans"``)."""
    return _entropy_coder


def set_entropy_coder(entropy_coder: str) -> None:
    """Set the default entropy coder of entropy models created afterwards.

    Args:
        entropy_coder: A name from :func:`available_entropy_coders`.

    Raises:
        ParameterError: (a ``ValueError``) an unknown coder.
    """
    global _entropy_coder
    if entropy_coder not in _AVAILABLE_ENTROPY_CODERS:
        raise ParameterError(
            f"unknown entropy coder {entropy_coder!r}; choose from {_AVAILABLE_ENTROPY_CODERS}"
        )
    _entropy_coder = entropy_coder


def set_num_threads(n: int) -> None:
    """Set how many threads code independent streams (batch items, chunks); 0 = one per core.

    The default comes from the ``TINIFY_NUM_THREADS`` environment variable (0 or unset: one per
    core). Output bytes never depend on the thread count.
    """
    if n < 0:
        raise ParameterError(f"n must be >= 0, got {n}")
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Return how many threads code independent streams."""
    return int(_core.get_num_threads())


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tinify.{name}")
    raise AttributeError(f"module 'tinify' has no attribute {name!r}")
