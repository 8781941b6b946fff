# SPDX-License-Identifier: Apache-2.0
"""Video codecs: the scale-space flow model of Agustsson et al. (CVPR 2020), ``ssf2020``.

- :class:`ScaleSpaceFlow`: low-delay P video codec with CompressAI 1.2.8's keys and streams.
- :class:`VideoEncoder`, :class:`VideoDecoder`: its frame-by-frame coding (one reference frame
  in memory, an intra period, decoding from any I-frame); ``compress``/``decompress`` use them.
- :func:`gaussian_volume`, :func:`warp_volume`: the scale-space volume and its trilinear warp.

The other names (``CompressionModel``, ``EntropyBottleneck``, ``GaussianConditional``,
``QReLU``, ``conv``, ``deconv``, ``gaussian_blur``, ``gaussian_kernel2d``, ``meshgrid2d``,
``quantize_ste``, ``register_model``) are there because ``compressai.models.video`` has them.
"""

from __future__ import annotations

from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.layers.conv import conv, deconv
from tinify.layers.qrelu import QReLU
from tinify.models.base import CompressionModel
from tinify.models.video.scale_space import (
    gaussian_blur,
    gaussian_kernel1d,
    gaussian_kernel2d,
    gaussian_volume,
    meshgrid2d,
    warp_volume,
)
from tinify.models.video.ssf2020 import (
    CodedFrame,
    CompressedVideo,
    Hyperprior,
    ScaleSpaceFlow,
    VideoDecoder,
    VideoEncoder,
)
from tinify.ops.quantize import quantize_ste
from tinify.registry.torch import register_model

__all__ = [
    "CodedFrame",
    "CompressedVideo",
    "CompressionModel",
    "EntropyBottleneck",
    "GaussianConditional",
    "Hyperprior",
    "QReLU",
    "ScaleSpaceFlow",
    "VideoDecoder",
    "VideoEncoder",
    "conv",
    "deconv",
    "gaussian_blur",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "gaussian_volume",
    "meshgrid2d",
    "quantize_ste",
    "register_model",
    "warp_volume",
]
