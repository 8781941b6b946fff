# SPDX-License-Identifier: Apache-2.0
"""CompressAI's module path ``compressai.models.vbr``: the variable-rate image models of
Kamisli, Racapé, Choi (DCC 2024), implemented in :mod:`tinify.models.image.vbr`."""

from __future__ import annotations

from tinify.models.image.vbr import (
    JointAutoregressiveHierarchicalPriorsVbr,
    MeanScaleHyperpriorVbr,
    ScaleHyperpriorVbr,
)

__all__ = [
    "JointAutoregressiveHierarchicalPriorsVbr",
    "MeanScaleHyperpriorVbr",
    "ScaleHyperpriorVbr",
]
