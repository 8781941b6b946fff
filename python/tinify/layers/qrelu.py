# SPDX-License-Identifier: Apache-2.0
"""QReLU: a clipping ReLU for integer networks, with a gradient that does not die outside."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["QReLU", "qrelu"]


class QReLU(torch.autograd.Function):
    """Clip to ``[0, 2^bit_depth - 1]``; outside the range, a smooth gradient instead of zero.

    Forward is ``input.clamp(0, 2^bit_depth - 1)``. Backward keeps the incoming gradient inside
    the range and, outside it, multiplies it by a generalized Gaussian ``exp(-(alpha t)^beta)``
    of ``t = |2 x / (2^bit_depth - 1) - 1|``, with ``alpha = Gamma(1 + 1/beta)`` so that the
    substitute has the same integral as the box it replaces. Call it as
    ``QReLU.apply(input, bit_depth, beta)`` (CompressAI's signature) or through :func:`qrelu`.

    Reference:
        J. Ballé, N. Johnston, D. Minnen, "Integer Networks for Data Compression with
        Latent-Variable Models", ICLR 2019, Section 3.
    """

    @staticmethod
    def forward(ctx: Any, input: Tensor, bit_depth: int, beta: float) -> Tensor:
        max_value = 2**bit_depth - 1
        ctx.save_for_backward(input)
        ctx.max_value, ctx.beta = max_value, beta
        return input.clamp(min=0, max=max_value)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, None, None]:
        (x,) = ctx.saved_tensors
        max_value, beta = ctx.max_value, ctx.beta
        alpha = math.gamma(1.0 + 1.0 / beta)
        t = (2.0 * x / max_value - 1.0).abs()
        substitute = torch.exp(-((alpha * t) ** beta)) * grad_output
        outside = (x < 0) | (x > max_value)
        return torch.where(outside, substitute, grad_output), None, None


def qrelu(x: Tensor, bit_depth: int = 8, beta: float = 100.0) -> Tensor:
    """``QReLU.apply(x, bit_depth, beta)``: clamp to ``[0, 2^bit_depth - 1]``, smooth gradient.

    Under TorchScript (which cannot call autograd functions) this is the plain clamp.
    """
    if torch.jit.is_scripting():
        return x.clamp(min=0, max=2**bit_depth - 1)
    return QReLU.apply(x, bit_depth, beta)
