# SPDX-License-Identifier: Apache-2.0
"""Learned compression models (CompressAI-compatible names, state dicts and streams).

- :class:`CompressionModel`: the base class (``update``, ``aux_loss``, ``from_state_dict``).
- Image models: :class:`FactorizedPrior`, :class:`ScaleHyperprior`,
  :class:`MeanScaleHyperprior`, :class:`JointAutoregressiveHierarchicalPriors`,
  :class:`Cheng2020Anchor`, :class:`Cheng2020Attention`.
- Variable-rate image models (one network, any rate): :class:`ScaleHyperpriorVbr`,
  :class:`MeanScaleHyperpriorVbr`, :class:`JointAutoregressiveHierarchicalPriorsVbr`.
- Video model: :class:`ScaleSpaceFlow` (ssf2020).

Pretrained weights and the ``bmshj2018_factorized(quality, ...)`` style constructors live in
:mod:`tinify.zoo`.
"""

from __future__ import annotations

from tinify.entropy_models import EntropyBottleneckVbr
from tinify.models.base import (
    SCALES_LEVELS,
    SCALES_MAX,
    SCALES_MIN,
    CompressionModel,
    check_image,
    get_scale_table,
    remap_legacy_keys,
)
from tinify.models.image import (
    Cheng2020Anchor,
    Cheng2020Attention,
    FactorizedPrior,
    JointAutoregressiveHierarchicalPriors,
    JointAutoregressiveHierarchicalPriorsVbr,
    MeanScaleHyperprior,
    MeanScaleHyperpriorVbr,
    ScaleHyperprior,
    ScaleHyperpriorVbr,
)
from tinify.models.video import ScaleSpaceFlow

__all__ = [
    "SCALES_LEVELS",
    "SCALES_MAX",
    "SCALES_MIN",
    "Cheng2020Anchor",
    "Cheng2020Attention",
    "CompressionModel",
    "EntropyBottleneckVbr",
    "FactorizedPrior",
    "JointAutoregressiveHierarchicalPriors",
    "JointAutoregressiveHierarchicalPriorsVbr",
    "MeanScaleHyperprior",
    "MeanScaleHyperpriorVbr",
    "ScaleHyperprior",
    "ScaleHyperpriorVbr",
    "ScaleSpaceFlow",
    "check_image",
    "get_scale_table",
    "remap_legacy_keys",
]
