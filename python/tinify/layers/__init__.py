# SPDX-License-Identifier: Apache-2.0
"""Neural-network layers of the learned-compression architectures.

- :class:`GDN`, :class:`IGDN`: generalized divisive normalization (Ballé et al., 2016).
- :class:`MaskedConv2d`: causal context convolution (van den Oord et al., 2016; Minnen et al.,
  2018).
- :class:`ResidualBlock`, :class:`ResidualBlockWithStride`, :class:`ResidualBlockUpsample`,
  :class:`AttentionBlock`: the building blocks of Cheng et al. (2020).
- :func:`conv`, :func:`deconv`, :func:`conv1x1`, :func:`conv3x3`, :func:`subpel_conv3x3`:
  convolution helpers.

Submodule and parameter names match CompressAI 1.2.8, so state dicts load in either direction.
"""

from __future__ import annotations

from tinify.layers.attention import AttentionBlock, ResidualUnit
from tinify.layers.conv import conv, conv1x1, conv3x3, deconv, subpel_conv3x3
from tinify.layers.gdn import GDN, IGDN
from tinify.layers.masked_conv import MaskedConv2d
from tinify.layers.residual import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride

__all__ = [
    "GDN",
    "IGDN",
    "AttentionBlock",
    "MaskedConv2d",
    "ResidualBlock",
    "ResidualBlockUpsample",
    "ResidualBlockWithStride",
    "ResidualUnit",
    "conv",
    "conv1x1",
    "conv3x3",
    "deconv",
    "subpel_conv3x3",
]
