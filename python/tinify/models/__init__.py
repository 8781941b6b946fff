# SPDX-License-Identifier: Apache-2.0
"""Learned compression models (CompressAI-compatible names, state dicts and streams).

- :class:`CompressionModel`: the base class (``update``, ``aux_loss``, ``from_state_dict``).
- Image models: :class:`FactorizedPrior`, :class:`FactorizedPriorReLU`, :class:`ScaleHyperprior`,
  :class:`MeanScaleHyperprior`, :class:`JointAutoregressiveHierarchicalPriors`,
  :class:`Cheng2020Anchor`, :class:`Cheng2020Attention`.
- Models built on :mod:`tinify.latent_codecs` (:class:`SimpleVAECompressionModel`):
  :class:`Cheng2020AnchorCheckerboard`, :class:`Elic2022Official`, :class:`Elic2022Chandelier`
  (:mod:`tinify.models.sensetime`).
- Video model: :class:`ScaleSpaceFlow` (ssf2020).

CompressAI's module paths are there too (:mod:`tinify.models.google`, :mod:`~.waseda`,
:mod:`~.video.google`, :mod:`~.utils`, :mod:`~.base`), and so are the other names
``compressai.models`` exposes (layers, coders, :func:`register_model`, ...).

Pretrained weights and the ``bmshj2018_factorized(quality, ...)`` style constructors live in
:mod:`tinify.zoo`.
"""

from __future__ import annotations

from tinify.ans import BufferedRansEncoder, RansDecoder
from tinify.entropy_models import EntropyBottleneck
from tinify.layers import (
    AttentionBlock,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    conv3x3,
    subpel_conv3x3,
)
from tinify.models.base import (
    SCALES_LEVELS,
    SCALES_MAX,
    SCALES_MIN,
    CompressionModel,
    SimpleVAECompressionModel,
    check_image,
    get_scale_table,
    last_latent_size,
    remap_legacy_keys,
)
from tinify.models.image import (
    Cheng2020Anchor,
    Cheng2020Attention,
    FactorizedPrior,
    FactorizedPriorReLU,
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
    ScaleHyperprior,
)
from tinify.models.sensetime import (
    Cheng2020AnchorCheckerboard,
    Elic2022Chandelier,
    Elic2022Official,
)
from tinify.models.video import ScaleSpaceFlow
from tinify.ops import LowerBound, quantize_ste
from tinify.registry.torch import register_model

__all__ = [
    "SCALES_LEVELS",
    "SCALES_MAX",
    "SCALES_MIN",
    "AttentionBlock",
    "BufferedRansEncoder",
    "Cheng2020Anchor",
    "Cheng2020AnchorCheckerboard",
    "Cheng2020Attention",
    "CompressionModel",
    "EntropyBottleneck",
    "Elic2022Chandelier",
    "Elic2022Official",
    "FactorizedPrior",
    "FactorizedPriorReLU",
    "JointAutoregressiveHierarchicalPriors",
    "LowerBound",
    "MeanScaleHyperprior",
    "RansDecoder",
    "ResidualBlock",
    "ResidualBlockUpsample",
    "ResidualBlockWithStride",
    "ScaleHyperprior",
    "ScaleSpaceFlow",
    "SimpleVAECompressionModel",
    "check_image",
    "conv3x3",
    "get_scale_table",
    "quantize_ste",
    "register_model",
    "last_latent_size",
    "remap_legacy_keys",
    "subpel_conv3x3",
]
