# SPDX-License-Identifier: Apache-2.0
"""Convolution helpers used by the model architectures.

All of them keep the spatial size exactly divisible: ``conv(k, s)`` divides it by ``s`` (for
sizes that are multiples of ``s``), ``deconv(k, s)`` and ``subpel_conv3x3(r)`` multiply it by
``s`` / ``r``.
"""

from __future__ import annotations

from torch import nn

__all__ = ["conv", "conv1x1", "conv3x3", "deconv", "subpel_conv3x3"]


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """Return a ``Conv2d`` with "same" padding ``kernel_size // 2``.

    This is the analysis-transform convolution of Ballé et al. (ICLR 2017, 2018).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square kernel size (odd).
        stride: Downsampling factor.

    Returns:
        The convolution; it maps ``(N, C_in, H, W)`` to ``(N, C_out, ceil(H/s), ceil(W/s))``.
    """
    return nn.Conv2d(
        in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2
    )


def deconv(
    in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2
) -> nn.ConvTranspose2d:
    """Return a ``ConvTranspose2d`` that multiplies the spatial size exactly by ``stride``.

    Padding is ``kernel_size // 2`` and ``output_padding`` is ``stride - 1``; this is the
    synthesis-transform upsampling of Ballé et al. (ICLR 2017, 2018).

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square kernel size (odd).
        stride: Upsampling factor.

    Returns:
        The transposed convolution; it maps ``(N, C_in, H, W)`` to ``(N, C_out, s*H, s*W)``.
    """
    return nn.ConvTranspose2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        output_padding=stride - 1,
    )


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Return a 3x3 ``Conv2d`` with padding 1.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Downsampling factor.

    Returns:
        The convolution.
    """
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Return a 1x1 ``Conv2d``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Downsampling factor.

    Returns:
        The convolution.
    """
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)


def subpel_conv3x3(in_channels: int, out_channels: int, r: int = 1) -> nn.Sequential:
    """Return a 3x3 convolution to ``out_channels * r**2`` channels followed by ``PixelShuffle(r)``.

    Sub-pixel convolution (Shi et al., "Real-Time Single Image and Video Super-Resolution Using
    an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016), used for upsampling by
    Cheng et al. (CVPR 2020). The convolution is element ``0`` of the ``Sequential``, so its
    state-dict keys end in ``.0.weight`` and ``.0.bias``.

    Args:
        in_channels: Input channels.
        out_channels: Output channels after the shuffle.
        r: Upsampling factor.

    Returns:
        A module mapping ``(N, C_in, H, W)`` to ``(N, C_out, r*H, r*W)``.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels * r**2, kernel_size=3, padding=1),
        nn.PixelShuffle(r),
    )
