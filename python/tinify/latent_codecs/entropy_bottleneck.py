# SPDX-License-Identifier: Apache-2.0
"""A latent coded with the factorized entropy bottleneck (no side information)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from tinify.entropy_models import EntropyBottleneck
from tinify.latent_codecs.base import LatentCodec, check_strings
from tinify.registry.torch import register_module

__all__ = ["EntropyBottleneckLatentCodec"]


@register_module("EntropyBottleneckLatentCodec")
class EntropyBottleneckLatentCodec(LatentCodec):
    r"""``y`` coded with a per-channel learned density: the "entropy bottleneck" of J. Ballé,
    D. Minnen, S. Singh, S. J. Hwang, N. Johnston, "Variational Image Compression with a Scale
    Hyperprior", ICLR 2018 (arXiv:1802.01436)::

               ┌───┐ y_hat
        y ──►──┤ Q ├───►───····───►─── y_hat
               └───┘        EB

    ``compress`` returns ``{"strings": [y_strings], "shape": (H, W), "y_hat"}``.

    Args:
        entropy_bottleneck: the model to use; by default a new
            ``EntropyBottleneck(**kwargs)`` (pass ``channels=C``).
    """

    entropy_bottleneck: EntropyBottleneck

    def __init__(self, entropy_bottleneck: EntropyBottleneck | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.entropy_bottleneck = entropy_bottleneck or EntropyBottleneck(**kwargs)

    def forward(self, y: Tensor) -> dict[str, Any]:
        y_hat, y_likelihoods = self.entropy_bottleneck(y)
        return {"likelihoods": {"y": y_likelihoods}, "y_hat": y_hat}

    def compress(self, y: Tensor, *, stream_chunks: int | None = None) -> dict[str, Any]:
        shape = y.size()[2:]
        eb = self.entropy_bottleneck
        y_strings = eb.compress(y, stream_chunks=stream_chunks)
        # Decoded (cheap in Rust): exactly the decoder's y_hat, escapes included.
        y_hat = eb.decompress(y_strings, shape, stream_chunks=stream_chunks)
        return {"strings": [y_strings], "shape": shape, "y_hat": y_hat}

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        check_strings(strings, 1, type(self).__name__)
        eb = self.entropy_bottleneck
        return {"y_hat": eb.decompress(list(strings[0]), shape, stream_chunks=stream_chunks)}
