# SPDX-License-Identifier: Apache-2.0
"""Image codecs: Ballé et al. 2017/2018, Minnen et al. 2018, Cheng et al. 2020."""

from __future__ import annotations

from tinify.models.image.bmshj2018 import FactorizedPrior, FactorizedPriorReLU, ScaleHyperprior
from tinify.models.image.cheng2020 import Cheng2020Anchor, Cheng2020Attention
from tinify.models.image.mbt2018 import (
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
)

__all__ = [
    "Cheng2020Anchor",
    "Cheng2020Attention",
    "FactorizedPrior",
    "FactorizedPriorReLU",
    "JointAutoregressiveHierarchicalPriors",
    "MeanScaleHyperprior",
    "ScaleHyperprior",
]
