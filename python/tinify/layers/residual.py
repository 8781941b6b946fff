# SPDX-License-Identifier: Apache-2.0
"""Residual blocks of the Cheng et al. (2020) analysis and synthesis transforms.

Reference:
    Z. Cheng, H. Sun, M. Takeuchi, J. Katto, "Learned Image Compression with Discretized Gaussian
    Mixture Likelihoods and Attention Modules", CVPR 2020 (arXiv:2001.01568), Fig. 2; residual
    learning from K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
    Recognition", CVPR 2016.
"""

from __future__ import annotations

import torch
from torch import nn

from tinify.layers.conv import conv1x1, conv3x3, subpel_conv3x3
from tinify.layers.gdn import GDN

__all__ = ["ResidualBlock", "ResidualBlockUpsample", "ResidualBlockWithStride"]


class ResidualBlockWithStride(nn.Module):
    """Downsampling residual block: ``GDN(conv3x3(lrelu(conv3x3_s(x)))) + skip(x)``.

    ::

        x ──conv1 (3x3, stride)──LeakyReLU──conv2 (3x3)──GDN──(+)── out
        └────────────── skip (1x1, stride) or identity ───────┘

    ``skip`` is ``None`` (identity) when ``stride == 1`` and ``in_ch == out_ch``.

    Reference:
        Cheng et al., "Learned Image Compression with Discretized Gaussian Mixture Likelihoods
        and Attention Modules", CVPR 2020.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        stride: Downsampling factor.

    Shape:
        ``(N, in_ch, H, W)`` -> ``(N, out_ch, ceil(H/stride), ceil(W/stride))``.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_ch, out_ch, stride=stride)
        self.leaky_relu = nn.LeakyReLU(inplace=True)
        self.conv2 = conv3x3(out_ch, out_ch)
        self.gdn = GDN(out_ch)
        self.skip: nn.Module | None
        if stride != 1 or in_ch != out_ch:
            self.skip = conv1x1(in_ch, out_ch, stride=stride)
        else:
            self.skip = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(N, in_ch, H, W)``."""
        identity = x if self.skip is None else self.skip(x)
        out = self.leaky_relu(self.conv1(x))
        out = self.gdn(self.conv2(out))
        return out + identity


class ResidualBlock(nn.Module):
    """Residual block: ``lrelu(conv3x3(lrelu(conv3x3(x)))) + skip(x)``.

    ::

        x ──conv1 (3x3)──LeakyReLU──conv2 (3x3)──LeakyReLU──(+)── out
        └─────────────── skip (1x1) or identity ────────────┘

    ``skip`` is ``None`` (identity) when ``in_ch == out_ch``.

    Reference:
        Cheng et al., "Learned Image Compression with Discretized Gaussian Mixture Likelihoods
        and Attention Modules", CVPR 2020.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.

    Shape:
        ``(N, in_ch, H, W)`` -> ``(N, out_ch, H, W)``.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_ch, out_ch)
        self.leaky_relu = nn.LeakyReLU(inplace=True)
        self.conv2 = conv3x3(out_ch, out_ch)
        self.skip: nn.Module | None
        self.skip = conv1x1(in_ch, out_ch) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(N, in_ch, H, W)``."""
        identity = x if self.skip is None else self.skip(x)
        out = self.leaky_relu(self.conv1(x))
        out = self.leaky_relu(self.conv2(out))
        return out + identity


class ResidualBlockUpsample(nn.Module):
    """Upsampling residual block: ``IGDN(conv3x3(lrelu(subpel(x)))) + upsample(x)``.

    ::

        x ──subpel_conv (3x3, xr)──LeakyReLU──conv (3x3)──IGDN──(+)── out
        └──────────────── upsample (3x3 sub-pixel, xr) ─────────┘

    Reference:
        Cheng et al., "Learned Image Compression with Discretized Gaussian Mixture Likelihoods
        and Attention Modules", CVPR 2020.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        upsample: Upsampling factor ``r``.

    Shape:
        ``(N, in_ch, H, W)`` -> ``(N, out_ch, r*H, r*W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, upsample: int = 2) -> None:
        super().__init__()
        self.subpel_conv = subpel_conv3x3(in_ch, out_ch, upsample)
        self.leaky_relu = nn.LeakyReLU(inplace=True)
        self.conv = conv3x3(out_ch, out_ch)
        self.igdn = GDN(out_ch, inverse=True)
        self.upsample = subpel_conv3x3(in_ch, out_ch, upsample)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block to ``x`` of shape ``(N, in_ch, H, W)``."""
        out = self.leaky_relu(self.subpel_conv(x))
        out = self.igdn(self.conv(out))
        return out + self.upsample(x)
