# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.layers.layers`` path: re-exports, no code of its own.

The layers live in :mod:`tinify.layers.conv`, :mod:`~tinify.layers.masked_conv`,
:mod:`~tinify.layers.spectral`, :mod:`~tinify.layers.residual`,
:mod:`~tinify.layers.attention` and :mod:`~tinify.layers.qrelu`.
"""

from __future__ import annotations

from tinify.layers.attention import AttentionBlock
from tinify.layers.conv import conv1x1, conv3x3, sequential_channel_ramp, subpel_conv3x3
from tinify.layers.masked_conv import CheckerboardMaskedConv2d, MaskedConv2d
from tinify.layers.qrelu import QReLU
from tinify.layers.residual import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride
from tinify.layers.spectral import SpectralConv2d, SpectralConvTranspose2d

__all__ = [
    "AttentionBlock",
    "CheckerboardMaskedConv2d",
    "MaskedConv2d",
    "QReLU",
    "ResidualBlock",
    "ResidualBlockUpsample",
    "ResidualBlockWithStride",
    "SpectralConv2d",
    "SpectralConvTranspose2d",
    "conv1x1",
    "conv3x3",
    "sequential_channel_ramp",
    "subpel_conv3x3",
]
