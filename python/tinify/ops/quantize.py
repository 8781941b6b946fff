# SPDX-License-Identifier: Apache-2.0
"""Rounding with a straight-through (identity) gradient.

Reference:
    L. Theis, W. Shi, A. Cunningham, F. Huszár, "Lossy Image Compression with Compressive
    Autoencoders", ICLR 2017 (arXiv:1703.00395), Section 2.1; Y. Bengio, N. Léonard,
    A. Courville, "Estimating or Propagating Gradients Through Stochastic Neurons for
    Conditional Computation", 2013 (arXiv:1308.3432).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["quantize_ste"]


class _RoundSTE(torch.autograd.Function):
    """``torch.round`` forward, identity backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:
        return grad_output


def quantize_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer, passing the gradient through unchanged.

    Rounding is ``torch.round``: halves go to the even neighbour (0.5 -> 0, 1.5 -> 2), as in
    CompressAI. One kernel is launched, instead of the three of ``x + (round(x) - x).detach()``;
    the values are identical (that expression is exact in floating point), except that a result
    of zero may carry a different sign.

    Reference:
        Theis et al., "Lossy Image Compression with Compressive Autoencoders", ICLR 2017.

    Args:
        x: Input tensor of any shape and floating dtype.

    Returns:
        ``round(x)``, with ``d round(x) / dx`` taken to be 1.
    """
    if torch.jit.is_scripting():
        # TorchScript cannot call autograd functions: the same value and gradient, three kernels.
        return (torch.round(x) - x).detach() + x
    return _RoundSTE.apply(x)
