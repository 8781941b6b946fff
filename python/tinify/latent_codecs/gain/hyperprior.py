# SPDX-License-Identifier: Apache-2.0
"""A hyperprior with gain vectors on ``y`` and ``z`` (variable rate)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from tinify.latent_codecs.base import chunks_option
from tinify.latent_codecs.hyperprior import (
    HyperpriorLatentCodec,
    join_hyper_outputs,
    split_hyper_shape,
    split_hyper_strings,
)
from tinify.registry.torch import register_module

__all__ = ["GainHyperpriorLatentCodec"]


@register_module("GainHyperpriorLatentCodec")
class GainHyperpriorLatentCodec(HyperpriorLatentCodec):
    r""":class:`~tinify.latent_codecs.HyperpriorLatentCodec` whose ``y`` is scaled by a gain
    before coding and by an inverse gain after decoding (and ``z`` likewise inside the
    ``"hyper"`` codec, a :class:`~tinify.latent_codecs.GainHyperLatentCodec`): Z. Cui, J. Wang,
    S. Gao, B. Bai, T. Guo, Y. Feng, "Asymmetric Gained Deep Image Compression With Continuous
    Rate Adaptation", CVPR 2021 (arXiv:2003.02012)::

                z_gain  z_gain_inv
                  ┌┴────────┴┐
            ┌──►──┤ lc_hyper ├──►─┐ params
            │     └──────────┘    │
            │     y_gain       ┌──┴───┐    y_gain_inv
        y ──┴────►───×───►─────┤ lc_y ├────►───×─────►── y_hat
                               └──────┘

    Streams, shapes and parts are those of :class:`~tinify.latent_codecs.HyperpriorLatentCodec`
    (whose constructor it shares); the methods take the gains as well.

    Args:
        latent_codec: ``{"y": codec, "hyper": GainHyperLatentCodec}``.
    """

    def forward(  # type: ignore[override]
        self, y: Tensor, y_gain: Tensor, z_gain: Tensor, y_gain_inv: Tensor, z_gain_inv: Tensor
    ) -> dict[str, Any]:
        hyper_out = self.hyper(y, z_gain, z_gain_inv)
        y_out = self.y(y * y_gain, hyper_out["params"])
        return {
            "likelihoods": {"y": y_out["likelihoods"]["y"], "z": hyper_out["likelihoods"]["z"]},
            "y_hat": y_out["y_hat"] * y_gain_inv,
        }

    def compress(  # type: ignore[override]
        self,
        y: Tensor,
        y_gain: Tensor,
        z_gain: Tensor,
        y_gain_inv: Tensor,
        z_gain_inv: Tensor,
        *,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        chunks = chunks_option(stream_chunks)
        hyper_out = self.hyper.compress(y, z_gain, z_gain_inv, **chunks)
        y_out = self.y.compress(y * y_gain, hyper_out["params"], **chunks)
        out = join_hyper_outputs(y_out, hyper_out)
        out["y_hat"] = out["y_hat"] * y_gain_inv
        return out

    def decompress(  # type: ignore[override]
        self,
        strings: list[list[bytes]],
        shape: Any,
        y_gain_inv: Tensor,
        z_gain_inv: Tensor,
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        owner = type(self).__name__
        y_strings, z_strings = split_hyper_strings(strings, owner)
        y_shape, hyper_shape = split_hyper_shape(shape, owner)
        chunks = chunks_option(stream_chunks)
        hyper_out = self.hyper.decompress([z_strings], hyper_shape, z_gain_inv, **chunks)
        y_out = self.y.decompress(y_strings, y_shape, hyper_out["params"], **chunks)
        return {"y_hat": y_out["y_hat"] * y_gain_inv}
