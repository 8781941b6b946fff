# SPDX-License-Identifier: Apache-2.0
"""Convolution helpers used by the model architectures.

All of them keep the spatial size exactly divisible: ``conv(k, s)`` divides it by ``s`` (for
sizes that are multiples of ``s``), ``deconv(k, s)`` and ``subpel_conv3x3(r)`` multiply it by
``s`` / ``r``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tinify.exceptions import ParameterError, ParameterTypeError

__all__ = ["conv", "conv1x1", "conv3x3", "deconv", "sequential_channel_ramp", "subpel_conv3x3"]


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


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """Return a 3x3 ``Conv2d`` with padding 1.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        stride: Downsampling factor.

    Returns:
        The convolution.
    """
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    """Return a 1x1 ``Conv2d``.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        stride: Downsampling factor.

    Returns:
        The convolution.
    """
    return nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride)


def subpel_conv3x3(in_ch: int, out_ch: int, r: int = 1) -> nn.Sequential:
    """Return a 3x3 convolution to ``out_ch * r**2`` channels followed by ``PixelShuffle(r)``.

    Sub-pixel convolution (Shi et al., "Real-Time Single Image and Video Super-Resolution Using
    an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016), used for upsampling by
    Cheng et al. (CVPR 2020). The convolution is element ``0`` of the ``Sequential``, so its
    state-dict keys end in ``.0.weight`` and ``.0.bias``.

    Args:
        in_ch: Input channels.
        out_ch: Output channels after the shuffle.
        r: Upsampling factor.

    Returns:
        A module mapping ``(N, C_in, H, W)`` to ``(N, C_out, r*H, r*W)``.
    """
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch * r**2, kernel_size=3, padding=1),
        nn.PixelShuffle(r),
    )


def sequential_channel_ramp(
    in_ch: int,
    out_ch: int,
    *,
    min_ch: int = 0,
    num_layers: int = 3,
    interp: str = "linear",
    make_layer: Callable[..., nn.Module] | None = None,
    make_act: Callable[[], nn.Module] | None = None,
    skip_last_act: bool = True,
    **layer_kwargs: Any,
) -> nn.Module:
    """``num_layers`` layers whose channel counts ramp from ``in_ch`` to ``out_ch``, with
    activations between them.

    The channel counts are ``num_layers + 1`` points from ``in_ch`` to ``out_ch``, spaced
    linearly (``interp="linear"``) or geometrically (``"log"``), rounded down; the inner ones
    are raised to at least ``min_ch``. Layer ``i`` is ``make_layer(c_i, c_{i+1},
    **layer_kwargs)``, followed by ``make_act()`` (except after the last layer when
    ``skip_last_act``).

    Example: ``sequential_channel_ramp(192, 32, num_layers=3, make_layer=conv1x1,
    make_act=nn.ReLU)`` gives 192 -> 138 -> 85 -> 32 channels.

    Args:
        in_ch: Input channels.
        out_ch: Output channels.
        min_ch: Smallest inner channel count.
        num_layers: Number of layers.
        interp: ``"linear"`` or ``"log"``.
        make_layer: Builds a layer from ``(in_channels, out_channels, **layer_kwargs)``.
        make_act: Builds an activation.
        skip_last_act: Leave out the activation after the last layer.
        **layer_kwargs: Passed to every ``make_layer`` call.

    Returns:
        An ``nn.Sequential``.

    Raises:
        ParameterError: unknown ``interp``.
        ParameterTypeError: ``make_layer`` or ``make_act`` is missing.
    """
    if interp == "linear":
        points = torch.linspace(in_ch, out_ch, num_layers + 1)
    elif interp == "log":
        points = torch.logspace(math.log10(in_ch), math.log10(out_ch), num_layers + 1)
    else:
        raise ParameterError(f'interp must be "linear" or "log", got {interp!r}')
    if make_layer is None or make_act is None:
        raise ParameterTypeError("sequential_channel_ramp needs make_layer and make_act callables")
    channels = points.floor().int()
    channels[1:-1] = channels[1:-1].clip(min=min_ch)
    counts = [int(c) for c in channels.tolist()]
    layers: list[nn.Module] = []
    for c_in, c_out in zip(counts[:-1], counts[1:]):
        layers += [make_layer(c_in, c_out, **layer_kwargs), make_act()]
    if skip_last_act:
        layers = layers[:-1]
    return nn.Sequential(*layers)
