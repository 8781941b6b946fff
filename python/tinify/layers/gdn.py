# SPDX-License-Identifier: Apache-2.0
"""Generalized divisive normalization (GDN) and its inverse (IGDN).

GDN normalizes each channel by a learned combination of the squares of all channels at the same
position::

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij * x_j^2)          (GDN)
    y_i = x_i * sqrt(beta_i + sum_j gamma_ij * x_j^2)          (IGDN, its approximate inverse)

The sum over ``j`` is a 1x1 convolution of ``x^2`` with weight ``gamma`` (row ``i`` = output
channel) and bias ``beta``. ``beta`` and ``gamma`` are stored reparametrized (see
:class:`~tinify.ops.NonNegativeParametrizer`) so they stay positive during training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tinify.ops.parametrizers import NonNegativeParametrizer

__all__ = ["GDN", "GDN1", "IGDN"]


class GDN(nn.Module):
    """Generalized divisive normalization layer (or its inverse with ``inverse=True``).

    Parameters ``beta`` of shape ``(C,)`` and ``gamma`` of shape ``(C, C)`` hold the
    reparametrized values; the submodules ``beta_reparam`` and ``gamma_reparam`` map them to the
    effective ones. The state-dict keys are those of CompressAI's ``GDN``: ``beta``, ``gamma``,
    ``beta_reparam.pedestal``, ``beta_reparam.lower_bound.bound``, ``gamma_reparam.pedestal`` and
    ``gamma_reparam.lower_bound.bound``.

    At initialization the effective ``beta`` is all ones and the effective ``gamma`` is
    ``gamma_init`` times the identity.

    Reference:
        J. Ballé, V. Laparra, E. P. Simoncelli, "Density Modeling of Images using a Generalized
        Normalization Transformation", ICLR 2016 (arXiv:1511.06281); reparametrization from
        J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018.

    Args:
        in_channels: Number of channels ``C``.
        inverse: Compute IGDN (multiply by the norm) instead of GDN (divide by it).
        beta_min: Lower bound on the effective ``beta``, keeping the norm away from zero.
        gamma_init: Diagonal value of the initial effective ``gamma``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        inverse: bool = False,
        beta_min: float = 1e-6,
        gamma_init: float = 0.1,
    ) -> None:
        super().__init__()
        self.inverse = bool(inverse)

        self.beta_reparam = NonNegativeParametrizer(minimum=float(beta_min))
        beta = torch.ones(in_channels)
        self.beta = nn.Parameter(self.beta_reparam.init(beta))

        self.gamma_reparam = NonNegativeParametrizer()
        gamma = float(gamma_init) * torch.eye(in_channels)
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x``.

        Args:
            x: Tensor of shape ``(N, C, H, W)``.

        Returns:
            Tensor of shape ``(N, C, H, W)``.
        """
        beta, gamma = self._effective_params(x.size(1))
        # norm_i = beta_i + sum_j gamma[i, j] * x_j^2, as a 1x1 convolution. ``x**2`` rather
        # than ``x * x``: one backward node for the square keeps the order in which autograd
        # sums x's gradient contributions, hence gradients bit-identical to CompressAI's.
        norm = F.conv2d(x**2, gamma, beta)
        if not torch.is_grad_enabled():
            # Inference: reuse norm's buffer (two full-size temporaries less, about 20% of the
            # layer's time at 256x384). Same values: IEEE products commute.
            return (norm.sqrt_() if self.inverse else norm.rsqrt_()).mul_(x)
        scale = torch.sqrt(norm) if self.inverse else torch.rsqrt(norm)
        return x * scale

    def _effective_params(self, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The effective ``beta`` (C,) and ``gamma`` as a 1x1 convolution weight (C, C, 1, 1)."""
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)
        return beta, gamma

    def extra_repr(self) -> str:
        return f"{self.beta.numel()}, inverse={self.inverse}"


class GDN1(GDN):
    """Simplified GDN: ``y_i = x_i / (beta_i + sum_j gamma_ij * |x_j|)`` (times, with
    ``inverse=True``).

    Absolute values instead of squares and no square root: cheaper, and in the paper's
    experiments as good as GDN for compression. Same parameters, reparametrization, constructor
    and state-dict keys as :class:`GDN`.

    Reference:
        N. Johnston, E. Eban, A. Gordon, J. Ballé, "Computationally Efficient Neural Image
        Compression", arXiv:1912.08771, 2019, Section 3.

    Args:
        in_channels: Number of channels ``C``.
        inverse: Multiply by the norm instead of dividing by it.
        beta_min: Lower bound on the effective ``beta``.
        gamma_init: Diagonal value of the initial effective ``gamma``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x`` of shape ``(N, C, H, W)``; returns the same shape."""
        beta, gamma = self._effective_params(x.size(1))
        norm = F.conv2d(torch.abs(x), gamma, beta)
        # ``x * (1 / norm)`` rather than ``x / norm``: the same two roundings as CompressAI, so
        # outputs are bit-identical to its GDN1.
        return x * norm if self.inverse else x * torch.reciprocal(norm)


class IGDN(GDN):
    """Inverse GDN: ``GDN(in_channels, inverse=True)``, with the same state-dict keys.

    Reference:
        J. Ballé, V. Laparra, E. P. Simoncelli, "Density Modeling of Images using a Generalized
        Normalization Transformation", ICLR 2016.

    Args:
        in_channels: Number of channels ``C``.
        beta_min: Lower bound on the effective ``beta``.
        gamma_init: Diagonal value of the initial effective ``gamma``.
    """

    def __init__(self, in_channels: int, beta_min: float = 1e-6, gamma_init: float = 0.1) -> None:
        super().__init__(in_channels, inverse=True, beta_min=beta_min, gamma_init=gamma_init)
