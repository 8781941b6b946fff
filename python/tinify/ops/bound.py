# SPDX-License-Identifier: Apache-2.0
"""Lower bound with a gradient that still lets clipped values recover.

A plain ``torch.clamp(x, min=bound)`` has zero gradient wherever ``x < bound``. A parameter that
falls below its bound during training would then be stuck there for good. Ballé (2018) fixes this
with a lower bound whose backward pass lets the gradient through whenever following it would move
``x`` *up*, back towards the feasible region.

Reference:
    J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018
    (arXiv:1802.00847), Section 3 and Appendix.
"""

# No ``from __future__ import annotations`` here: TorchScript cannot resolve string annotations
# on class attributes (``bound: torch.Tensor``), and ``LowerBound`` must script.

from typing import Any

import torch
from torch import nn

__all__ = ["LowerBound", "LowerBoundFunction", "lower_bound", "lower_bound_bwd", "lower_bound_fwd"]


def lower_bound_fwd(x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """Forward value of the lower bound: ``torch.maximum(x, bound)``."""
    return torch.maximum(x, bound)


def lower_bound_bwd(
    x: torch.Tensor, bound: torch.Tensor, grad_output: torch.Tensor
) -> tuple[torch.Tensor, None]:
    """Gradients ``(d/dx, d/dbound)`` of the lower bound given the output gradient.

    The gradient reaches ``x`` where ``x >= bound`` or where it is negative (gradient descent
    moves ``x`` by ``-grad``, so a negative gradient pushes ``x`` up, back towards the feasible
    region); it is zero elsewhere. ``bound`` gets no gradient (``None``).
    """
    pass_through = (x >= bound) | (grad_output < 0)
    return grad_output * pass_through.to(grad_output.dtype), None


class LowerBoundFunction(torch.autograd.Function):
    """Autograd function of the lower bound: :func:`lower_bound_fwd` forward,
    :func:`lower_bound_bwd` backward. Call it as ``LowerBoundFunction.apply(x, bound)``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, bound)
        return lower_bound_fwd(x, bound)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, bound = ctx.saved_tensors
        return lower_bound_bwd(x, bound, grad_output)


def lower_bound(x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """Compute ``max(x, bound)`` with the Ballé (2018) pass-through gradient.

    The forward value is ``torch.maximum(x, bound)``. In the backward pass the gradient with
    respect to ``x`` is kept where ``x >= bound`` or where it is negative (so that a descent
    step moves ``x`` up), and set to zero elsewhere. ``bound`` receives no gradient.

    Reference:
        J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018.

    Args:
        x: Input tensor of any shape.
        bound: Tensor broadcastable to ``x`` (usually of shape ``(1,)``), on ``x``'s device.

    Returns:
        A tensor of the broadcast shape of ``x`` and ``bound``.
    """
    if torch.jit.is_scripting():
        # TorchScript cannot call autograd functions; scripted modules are for inference.
        return lower_bound_fwd(x, bound)
    return LowerBoundFunction.apply(x, bound)


class LowerBound(nn.Module):
    """Module form of :func:`lower_bound` with the bound stored as a buffer.

    The buffer ``bound`` has shape ``(1,)`` and dtype float32, and is saved in the state dict
    (key ``bound``), exactly as in CompressAI.

    Reference:
        J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018.

    Args:
        bound: The lower bound.
    """

    bound: torch.Tensor

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``max(x, bound)``; see :func:`lower_bound` for the gradient.

        Args:
            x: Input tensor of any shape.

        Returns:
            A tensor of the same shape as ``x``.
        """
        return lower_bound(x, self.bound)

    @torch.jit.unused
    def lower_bound(self, x: torch.Tensor) -> torch.Tensor:
        """``LowerBoundFunction.apply(x, bound)`` (CompressAI's method; not for TorchScript)."""
        return LowerBoundFunction.apply(x, self.bound)
