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
    "MAX_THREADS",
    "available_entropy_coders",
    "get_entropy_coder",
    "get_num_threads",
    "set_entropy_coder",
    "set_num_threads",
    "thread_env_error",
]

#: The most threads :func:`set_num_threads` and ``TINIFY_NUM_THREADS`` accept.
MAX_THREADS = 1024

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

    Raises:
        ParameterError: ``n`` is not an integer in ``0..MAX_THREADS``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_THREADS:
        raise ParameterError(
            f"the thread count must be an integer in 0..{MAX_THREADS} (0 = one per core), got {n!r}"
        )
    global _THREAD_ENV_ERROR
    _THREAD_ENV_ERROR = None
    _core.set_num_threads(n)


def _threads_from_env() -> str | None:
    """Apply ``TINIFY_NUM_THREADS``; return why it is invalid (then one thread is used)."""
    text = os.environ.get("TINIFY_NUM_THREADS")
    if text is None or not text.strip():
        return None
    try:
        n = int(text.strip())
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_THREADS:
        _core.set_num_threads(1)
        return (
            f"TINIFY_NUM_THREADS must be an integer in 0..{MAX_THREADS} (0 = one per core), "
            f"got {text!r}"
        )
    _core.set_num_threads(n)
    return None


_THREAD_ENV_ERROR = _threads_from_env()


def thread_env_error() -> str | None:
    """Why ``TINIFY_NUM_THREADS`` was refused at import (one thread is used then), or None.

    The ``tinify`` command stops with this message, :func:`get_num_threads` raises it.
    """
    return _THREAD_ENV_ERROR


def get_num_threads() -> int:
    """Return how many threads code independent streams.

    Raises:
        ParameterError: ``TINIFY_NUM_THREADS`` is invalid (see :func:`thread_env_error`) and
            :func:`set_num_threads` was not called since.
    """
    if _THREAD_ENV_ERROR is not None:
        raise ParameterError(f"{_THREAD_ENV_ERROR}; one thread is used until set_num_threads")
    return int(_core.get_num_threads())


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tinify.{name}")
    raise AttributeError(f"module 'tinify' has no attribute {name!r}")
