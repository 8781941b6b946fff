# SPDX-License-Identifier: Apache-2.0
"""Image codecs: Ballé et al. 2017/2018, Minnen et al. 2018, Cheng et al. 2020, and the
variable-rate models of Kamisli et al. 2024."""

from __future__ import annotations

from tinify.models.image.bmshj2018 import FactorizedPrior, FactorizedPriorReLU, ScaleHyperprior
from tinify.models.image.cheng2020 import Cheng2020Anchor, Cheng2020Attention
from tinify.models.image.mbt2018 import (
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
)
from tinify.models.image.vbr import (
    JointAutoregressiveHierarchicalPriorsVbr,
    MeanScaleHyperpriorVbr,
    ScaleHyperpriorVbr,
)

__all__ = [
    "Cheng2020Anchor",
    "Cheng2020Attention",
    "FactorizedPrior",
    "FactorizedPriorReLU",
    "JointAutoregressiveHierarchicalPriors",
    "JointAutoregressiveHierarchicalPriorsVbr",
    "MeanScaleHyperprior",
    "MeanScaleHyperpriorVbr",
    "ScaleHyperprior",
    "ScaleHyperpriorVbr",
]
