# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.models.google`` path: the models of Ballé et al. (2017, 2018) and
Minnen et al. (2018), re-exported from :mod:`tinify.models.image` and :mod:`tinify.models.base`."""

from __future__ import annotations

from tinify.models.base import (
    SCALES_LEVELS,
    SCALES_MAX,
    SCALES_MIN,
    CompressionModel,
    get_scale_table,
)
from tinify.models.image.bmshj2018 import FactorizedPrior, FactorizedPriorReLU, ScaleHyperprior
from tinify.models.image.mbt2018 import JointAutoregressiveHierarchicalPriors, MeanScaleHyperprior

__all__ = [
    "SCALES_LEVELS",
    "SCALES_MAX",
    "SCALES_MIN",
    "CompressionModel",
    "FactorizedPrior",
    "FactorizedPriorReLU",
    "JointAutoregressiveHierarchicalPriors",
    "MeanScaleHyperprior",
    "ScaleHyperprior",
    "get_scale_table",
]
