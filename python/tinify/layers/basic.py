# SPDX-License-Identifier: Apache-2.0
"""Small shape and bookkeeping layers for building models out of ``nn.Sequential``.

- :class:`Lambda`: wraps a function.
- :class:`NamedLayer`: the identity, with a name (a marker in a ``Sequential``).
- :class:`Reshape`: reshape every batch item.
- :class:`Transpose`: swap two dimensions (contiguous result).
- :class:`Interleave`: interleave channel groups.
- :class:`Gain`: a learned elementwise gain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Gain", "Interleave", "Lambda", "NamedLayer", "Reshape", "Transpose"]


class Lambda(nn.Module):
    """Apply ``func`` to the input (for functions without parameters inside a ``Sequential``).

    Args:
        func: Any callable of one tensor.
    """

    def __init__(self, func: Callable[[Any], Any]) -> None:
        super().__init__()
        self.func = func

    def __repr__(self) -> str:
        return f"{type(self).__name__}(func={self.func})"

    def forward(self, x: Any) -> Any:
        """Return ``func(x)``."""
        return self.func(x)


class NamedLayer(nn.Module):
    """The identity, carrying a ``name`` (to mark a point in a ``Sequential``).

    Args:
        name: The name.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name})"

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x`` unchanged."""
        return x


class Reshape(nn.Module):
    """Reshape every batch item to ``shape``: ``(N, ...)`` -> ``(N, *shape)``.

    Args:
        shape: The per-item shape (one entry may be ``-1``).
    """

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = [int(s) for s in shape]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape})"

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x.reshape(x.shape[0], *shape)`` (a ``RuntimeError`` if the sizes differ)."""
        return x.reshape([x.size(0)] + self.shape)


class Transpose(nn.Module):
    """Swap dimensions ``dim0`` and ``dim1``; the result is contiguous.

    Args:
        dim0: First dimension.
        dim1: Second dimension.
    """

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dim0 = dim0
        self.dim1 = dim1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim0={self.dim0}, dim1={self.dim1})"

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x.transpose(dim0, dim1).contiguous()``."""
        return x.transpose(self.dim0, self.dim1).contiguous()


class Interleave(nn.Module):
    """Interleave ``groups`` channel groups: channel ``g * (C / groups) + i`` moves to
    ``i * groups + g``.

    With 2 groups, channels ``[a0, a1, b0, b1]`` become ``[a0, b0, a1, b1]``.

    Args:
        groups: Number of groups; must divide the channel count.
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = int(groups)

    def forward(self, x: Tensor) -> Tensor:
        """Interleave the channels (dim 1) of ``x`` of shape ``(N, C, ...)``."""
        shape = x.shape
        grouped = x.reshape([shape[0], self.groups, shape[1] // self.groups] + list(shape[2:]))
        return grouped.transpose(1, 2).reshape(shape)


class Gain(nn.Module):
    """Multiply by a learned gain: ``factor * gain * x``, ``gain`` initialized to ones.

    Args:
        shape: Shape of the ``gain`` parameter, broadcastable to the input (for example
            ``(1, C, 1, 1)`` for one gain per channel); ``None`` for a single scalar.
        factor: A fixed multiplier (scales the effective learning rate of ``gain``).
    """

    def __init__(self, shape: Sequence[int] | int | None = None, factor: float = 1.0) -> None:
        super().__init__()
        self.factor = float(factor)
        self.gain = nn.Parameter(torch.ones(() if shape is None else shape))

    def forward(self, x: Tensor) -> Tensor:
        """Return ``factor * gain * x``."""
        return self.factor * self.gain * x
