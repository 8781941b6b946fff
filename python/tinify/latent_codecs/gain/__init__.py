# SPDX-License-Identifier: Apache-2.0
"""Gain-controlled (variable-rate) hyperprior codecs of Cui et al., CVPR 2021."""

from __future__ import annotations

from tinify.latent_codecs.gain.hyper import GainHyperLatentCodec
from tinify.latent_codecs.gain.hyperprior import GainHyperpriorLatentCodec

__all__ = ["GainHyperLatentCodec", "GainHyperpriorLatentCodec"]
