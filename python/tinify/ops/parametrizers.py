# SPDX-License-Identifier: Apache-2.0
"""Reparametrization that keeps a trained parameter non-negative (and above a minimum).

A parameter ``v`` that must stay ``>= minimum`` (GDN's ``beta`` and ``gamma``) is stored as
``s = sqrt(v + pedestal)`` and recovered as ``v = max(s, sqrt(minimum + pedestal))^2 - pedestal``.
Working on the square root makes gradient steps relative to the size of ``v`` near zero, the
small ``pedestal`` keeps that square root away from its infinite slope at 0, and the lower bound
(with its pass-through gradient) enforces the minimum.

Reference:
    J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018
    (arXiv:1802.00847), Section 3.
"""

# No ``from __future__ import annotations``: TorchScript cannot resolve string annotations on
# class attributes (``pedestal: torch.Tensor``), and this module must script.

import torch
from torch import nn

from tinify.ops.bound import LowerBound

__all__ = ["NonNegativeParametrizer"]


class NonNegativeParametrizer(nn.Module):
    """Map a stored parameter ``s`` to ``max(s, bound)^2 - pedestal``, which is ``>= minimum``.

    Buffers (saved in the state dict, names as in CompressAI): ``pedestal`` of shape ``(1,)``,
    equal to ``reparam_offset**2``, and ``lower_bound.bound`` of shape ``(1,)``, equal to
    ``sqrt(minimum + pedestal)``.

    Reference:
        J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018.

    Args:
        minimum: Smallest value the effective parameter can take.
        reparam_offset: Square root of the pedestal added before taking the square root.
    """

    pedestal: torch.Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2**-18) -> None:
        super().__init__()
        self.minimum = float(minimum)
        self.reparam_offset = float(reparam_offset)
        pedestal = self.reparam_offset**2
        self.register_buffer("pedestal", torch.tensor([pedestal], dtype=torch.float32))
        # The bound is computed in float64 and rounded once to float32 when stored.
        self.lower_bound = LowerBound((self.minimum + pedestal) ** 0.5)

    def init(self, x: torch.Tensor) -> torch.Tensor:
        """Return the stored form ``sqrt(max(x + pedestal, pedestal))`` of the values ``x``.

        Args:
            x: Effective (non-negative) values, any shape.

        Returns:
            Tensor of the same shape, to be wrapped in an ``nn.Parameter``.
        """
        pedestal = self.pedestal.to(dtype=x.dtype, device=x.device)
        return torch.sqrt(torch.maximum(x + pedestal, pedestal))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the effective values ``lower_bound(x)^2 - pedestal`` of a stored parameter.

        Args:
            x: Stored parameter, any shape.

        Returns:
            Tensor of the same shape with every entry ``>= minimum`` (up to rounding).
        """
        return self.lower_bound(x) ** 2 - self.pedestal
