# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.entropy_models.entropy_models`` path: re-exports of
:mod:`tinify.entropy_models.base`, :mod:`~tinify.entropy_models.bottleneck` and
:mod:`~tinify.entropy_models.gaussian`."""

from __future__ import annotations

from tinify.entropy_models.base import EntropyModel, default_entropy_coder, pmf_to_quantized_cdf
from tinify.entropy_models.bottleneck import EntropyBottleneck
from tinify.entropy_models.gaussian import GaussianConditional, GaussianMixtureConditional

__all__ = [
    "EntropyBottleneck",
    "EntropyModel",
    "GaussianConditional",
    "GaussianMixtureConditional",
    "default_entropy_coder",
    "pmf_to_quantized_cdf",
]
