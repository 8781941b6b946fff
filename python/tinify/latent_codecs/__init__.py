# SPDX-License-Identifier: Apache-2.0
"""Latent codecs: composable entropy models for one latent (CompressAI's ``latent_codecs``).

- :class:`LatentCodec`: the interface (``forward``, ``compress``, ``decompress``).
- :class:`EntropyBottleneckLatentCodec`, :class:`GaussianConditionalLatentCodec`: a latent
  coded with the factorized prior, or with a Gaussian from side parameters.
- :class:`HyperLatentCodec`, :class:`HyperpriorLatentCodec`: the hyperprior (Ballé et al.
  2018) as a side branch plus a ``"y"`` codec.
- :class:`RasterScanLatentCodec` (Minnen et al. 2018), :class:`CheckerboardLatentCodec`
  (He et al. 2021), :class:`ChannelGroupsLatentCodec` (Minnen & Singh 2020, He et al. 2022):
  spatial and channel context models.
- :class:`GainHyperLatentCodec`, :class:`GainHyperpriorLatentCodec`: gained variable-rate
  hyperprior (Cui et al. 2021).

Every codec codes through :mod:`tinify.entropy_models` and the Rust rANS coder; state-dict keys
and streams are CompressAI 1.2.8's.
"""

from __future__ import annotations

from tinify.latent_codecs.base import LatentCodec
from tinify.latent_codecs.channel_groups import ChannelGroupsLatentCodec
from tinify.latent_codecs.checkerboard import CheckerboardLatentCodec
from tinify.latent_codecs.entropy_bottleneck import EntropyBottleneckLatentCodec
from tinify.latent_codecs.gain import GainHyperLatentCodec, GainHyperpriorLatentCodec
from tinify.latent_codecs.gaussian_conditional import GaussianConditionalLatentCodec
from tinify.latent_codecs.hyper import HyperLatentCodec
from tinify.latent_codecs.hyperprior import HyperpriorLatentCodec
from tinify.latent_codecs.rasterscan import RasterScanLatentCodec

__all__ = [
    "ChannelGroupsLatentCodec",
    "CheckerboardLatentCodec",
    "EntropyBottleneckLatentCodec",
    "GainHyperLatentCodec",
    "GainHyperpriorLatentCodec",
    "GaussianConditionalLatentCodec",
    "HyperLatentCodec",
    "HyperpriorLatentCodec",
    "LatentCodec",
    "RasterScanLatentCodec",
]
