"""Entropy models: likelihoods for training, real coding through the Rust rANS coder.

- :class:`EntropyBottleneck`: the non-parametric factorized density of Ballé et al. (2018).
- :class:`GaussianConditional`: a Gaussian with per-element scale (and mean), coded against a
  table of quantized Gaussians indexed by scale (Ballé et al. 2018; Minnen et al. 2018).
- :class:`GaussianMixtureConditional`: the K-component Gaussian mixture of Cheng et al. (2020),
  coded with a mixture CDF built in Rust for every element.
- :class:`EntropyModelVbr`, :class:`EntropyBottleneckVbr`: the same with a variable quantization
  step, for the variable-rate models of Kamisli, Racapé, Choi (DCC 2024).

Names, parameters and buffers match CompressAI 1.2.8, so its checkpoints load with
``strict=True`` and streams are byte-identical for the same tables.
"""

from __future__ import annotations

from tinify.entropy_models.base import EntropyModel
from tinify.entropy_models.bottleneck import EntropyBottleneck
from tinify.entropy_models.entropy_models_vbr import EntropyBottleneckVbr, EntropyModelVbr
from tinify.entropy_models.gaussian import GaussianConditional, GaussianMixtureConditional

__all__ = [
    "EntropyBottleneck",
    "EntropyBottleneckVbr",
    "EntropyModel",
    "EntropyModelVbr",
    "GaussianConditional",
    "GaussianMixtureConditional",
]
