# SPDX-License-Identifier: Apache-2.0
"""Neural-network layers of the learned-compression architectures.

- :class:`GDN`, :class:`IGDN`, :class:`GDN1`: generalized divisive normalization (Ballé et al.,
  2016) and its simplified form (Johnston et al., 2019).
- :class:`MaskedConv2d`, :class:`CheckerboardMaskedConv2d`: causal context convolutions
  (van den Oord et al., 2016; Minnen et al., 2018; He et al., 2021).
- :class:`SpectralConv2d`, :class:`SpectralConvTranspose2d`: kernels stored in the frequency
  domain (Ballé, 2018).
- :class:`ResidualBlock`, :class:`ResidualBlockWithStride`, :class:`ResidualBlockUpsample`,
  :class:`AttentionBlock`: the building blocks of Cheng et al. (2020).
- :class:`QReLU`: the clipping ReLU of integer networks (Ballé et al., 2019).
- :func:`conv`, :func:`deconv`, :func:`conv1x1`, :func:`conv3x3`, :func:`subpel_conv3x3`,
  :func:`sequential_channel_ramp`: convolution helpers.
- :class:`Lambda`, :class:`NamedLayer`, :class:`Reshape`, :class:`Transpose`,
  :class:`Interleave`, :class:`Gain`: small shape and bookkeeping layers.

Names, submodule and parameter names match CompressAI 1.2.8 (``compressai.layers``), so state
dicts load in either direction.
"""

from __future__ import annotations

from tinify.layers.attention import AttentionBlock, ResidualUnit
from tinify.layers.basic import Gain, Interleave, Lambda, NamedLayer, Reshape, Transpose
from tinify.layers.conv import (
    conv,
    conv1x1,
    conv3x3,
    deconv,
    sequential_channel_ramp,
    subpel_conv3x3,
)
from tinify.layers.gdn import GDN, GDN1, IGDN
from tinify.layers.masked_conv import CheckerboardMaskedConv2d, MaskedConv2d
from tinify.layers.qrelu import QReLU, qrelu
from tinify.layers.residual import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride
from tinify.layers.spectral import SpectralConv2d, SpectralConvTranspose2d

__all__ = [
    "GDN",
    "GDN1",
    "IGDN",
    "AttentionBlock",
    "CheckerboardMaskedConv2d",
    "Gain",
    "Interleave",
    "Lambda",
    "MaskedConv2d",
    "NamedLayer",
    "QReLU",
    "Reshape",
    "ResidualBlock",
    "ResidualBlockUpsample",
    "ResidualBlockWithStride",
    "ResidualUnit",
    "SpectralConv2d",
    "SpectralConvTranspose2d",
    "Transpose",
    "conv",
    "conv1x1",
    "conv3x3",
    "deconv",
    "qrelu",
    "sequential_channel_ramp",
    "subpel_conv3x3",
]
