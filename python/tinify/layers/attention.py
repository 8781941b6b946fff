# SPDX-License-Identifier: Apache-2.0
"""Simplified attention module of Cheng et al. (2020)."""

from __future__ import annotations

import torch
from torch import nn

from tinify.layers.conv import conv1x1, conv3x3

__all__ = ["AttentionBlock", "ResidualUnit"]


class ResidualUnit(nn.Module):
    """Bottleneck residual unit: ``relu(x + conv1x1(relu(conv3x3(relu(conv1x1(x))))))``.

    The three convolutions (``N -> N/2 -> N/2 -> N``) are elements 0, 2 and 4 of the
    ``Sequential`` ``conv``, so state-dict keys read ``conv.0.weight``, ``conv.2.weight``,
    ``conv.4.weight``, as in CompressAI.

    Reference:
        Cheng et al., "Learned Image Compression with Discretized Gaussian Mixture Likelihoods
        and Attention Modules", CVPR 2020, Fig. 3.

    Args:
        N: Channels (even).

    Shape:
        ``(B, N, H, W)`` -> ``(B, N, H, W)``.
    """

    def __init__(self, N: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            conv1x1(N, N // 2),
            nn.ReLU(inplace=True),
            conv3x3(N // 2, N // 2),
            nn.ReLU(inplace=True),
            conv1x1(N // 2, N),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the unit to ``x`` of shape ``(B, N, H, W)``."""
        return self.relu(self.conv(x) + x)


class AttentionBlock(nn.Module):
    """Simplified attention: ``x + trunk(x) * sigmoid(mask(x))`` (no non-local block).

    ::

        x ─┬─ conv_a: 3 x ResidualUnit ───────────────────── a ─┐
           ├─ conv_b: 3 x ResidualUnit ── conv1x1 ── sigmoid ── (*) ──(+)── out
           └──────────────────────────────────────────────────────────┘

    Submodule names (``conv_a.{0,1,2}``, ``conv_b.{0,1,2}`` and ``conv_b.3``) give the same
    state-dict keys as CompressAI's ``AttentionBlock``.

    Reference:
        Z. Cheng, H. Sun, M. Takeuchi, J. Katto, "Learned Image Compression with Discretized
        Gaussian Mixture Likelihoods and Attention Modules", CVPR 2020 (arXiv:2001.01568),
        Section 3.3 and Fig. 3.

    Args:
        N: Channels (even).

    Shape:
        ``(B, N, H, W)`` -> ``(B, N, H, W)``.
    """

    def __init__(self, N: int) -> None:
        super().__init__()
        self.conv_a = nn.Sequential(ResidualUnit(N), ResidualUnit(N), ResidualUnit(N))
        self.conv_b = nn.Sequential(
            ResidualUnit(N), ResidualUnit(N), ResidualUnit(N), conv1x1(N, N)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(B, N, H, W)``."""
        a = self.conv_a(x)
        b = self.conv_b(x)
        return x + a * torch.sigmoid(b)
