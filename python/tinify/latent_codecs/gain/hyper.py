# SPDX-License-Identifier: Apache-2.0
"""The hyper-latent branch with gain vectors (variable rate)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from tinify.entropy_models import EntropyBottleneck
from tinify.latent_codecs.base import LatentCodec, check_strings
from tinify.registry.torch import register_module

__all__ = ["GainHyperLatentCodec"]


@register_module("GainHyperLatentCodec")
class GainHyperLatentCodec(LatentCodec):
    r""":class:`~tinify.latent_codecs.HyperLatentCodec` with a gain on ``z`` before
    quantization and an inverse gain after it, as in Z. Cui, J. Wang, S. Gao, B. Bai, T. Guo,
    Y. Feng, "Asymmetric Gained Deep Image Compression With Continuous Rate Adaptation",
    CVPR 2021 (arXiv:2003.02012)::

                       gain                        gain_inv
               ┌───┐  z  │     ┌───┐ z_hat      z_hat  │       ┌───┐
        y ──►──┤h_a├──►──×──►──┤ Q ├───►───····───►────×────►──┤h_s├──►── params
               └───┘           └───┘        EB                 └───┘

    The gains are tensors broadcastable to ``z`` (typically (1, C, 1, 1) rows of a learned
    gain matrix, chosen by the caller per rate).

    Args:
        entropy_bottleneck: the model of ``z``.
        h_a: hyper-analysis transform.
        h_s: hyper-synthesis transform.
    """

    def __init__(
        self, entropy_bottleneck: EntropyBottleneck, h_a: nn.Module, h_s: nn.Module, **kwargs: Any
    ) -> None:
        super().__init__()
        self.entropy_bottleneck = entropy_bottleneck
        self.h_a = h_a
        self.h_s = h_s

    def forward(self, y: Tensor, gain: Tensor, gain_inv: Tensor) -> dict[str, Any]:
        z = self.h_a(y) * gain
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        return {"likelihoods": {"z": z_likelihoods}, "params": self.h_s(z_hat * gain_inv)}

    def compress(
        self, y: Tensor, gain: Tensor, gain_inv: Tensor, *, stream_chunks: int | None = None
    ) -> dict[str, Any]:
        z = self.h_a(y) * gain
        shape = z.size()[-2:]
        z_strings = self.entropy_bottleneck.compress(z, stream_chunks=stream_chunks)
        z_hat = self.entropy_bottleneck.decompress(z_strings, shape, stream_chunks=stream_chunks)
        return {"strings": [z_strings], "shape": shape, "params": self.h_s(z_hat * gain_inv)}

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        gain_inv: Tensor,
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        check_strings(strings, 1, type(self).__name__)
        eb = self.entropy_bottleneck
        z_hat = eb.decompress(list(strings[0]), shape, stream_chunks=stream_chunks)
        return {"params": self.h_s(z_hat * gain_inv)}
