# SPDX-License-Identifier: Apache-2.0
"""Tensors and array-likes to numpy arrays: the one conversion tinify hands to its Rust extension
and to numpy-based code.

:func:`to_numpy` detaches a torch tensor, casts it on its own device (so a GPU tensor crosses to
the CPU once, already in the target dtype), moves it to the CPU and returns a C-contiguous array
(0-d stays 0-d); a contiguous CPU tensor already of that dtype is shared, not copied. Lists,
numpy arrays and scalars go through :func:`numpy.asarray`.

Importing this module does not import torch (``tinify.ans`` works without it).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["is_tensor", "to_numpy"]


def is_tensor(x: object) -> bool:
    """Whether ``x`` is a torch tensor (checked without importing torch)."""
    return type(x).__module__.startswith("torch")


@functools.cache
def _torch_dtype(dtype: np.dtype[Any]) -> Any:
    import torch

    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def to_numpy(x: Any, dtype: DTypeLike | None = None) -> np.ndarray:
    """A C-contiguous numpy array holding the values of ``x``.

    Args:
        x: a torch tensor (on any device, with or without grad), a numpy array, a list or a
            scalar.
        dtype: the array's dtype (default: the tensor's or array's own). Tensors are cast with
            torch's rules (float to int truncates toward zero), on their device.

    Returns:
        The array; it may share memory with a CPU tensor or with ``x`` itself.
    """
    if is_tensor(x):
        t = x.detach()
        if dtype is not None:
            t = t.to(_torch_dtype(np.dtype(dtype)))
        a = t.cpu().numpy()
    else:
        a = np.asarray(x, dtype=dtype)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)
