# SPDX-License-Identifier: Apache-2.0
"""The latent-codec interface: one piece of an entropy model, composable with the others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

__all__ = ["LatentCodec", "check_strings"]


class LatentCodec(nn.Module):
    """Base class of the latent codecs (CompressAI 1.2.8's ``compressai.latent_codecs``).

    A latent codec quantizes and entropy-codes a latent ``y`` (N, C, H, W), possibly given
    side parameters from another codec (a hyperprior's ``params``), with three methods:

    - ``forward(y, *ctx)`` -> ``{"likelihoods": {name: tensor}, "y_hat": tensor}`` (training and
      rate estimation);
    - ``compress(y, *ctx)`` -> ``{"strings": [lists of bytes, one per item], "shape": ...,
      "y_hat": ...}``, where ``y_hat`` is exactly what :meth:`decompress` will return;
    - ``decompress(strings, shape, *ctx)`` -> ``{"y_hat": tensor}``.

    Every codec codes through :mod:`tinify.entropy_models`, hence through the Rust rANS coder.
    Codecs compose: :class:`~tinify.latent_codecs.HyperpriorLatentCodec` runs a
    ``"hyper"`` codec, then a ``"y"`` codec given its parameters.
    """

    def forward(self, y: Tensor, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def compress(self, y: Tensor, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def decompress(
        self, strings: list[list[bytes]], shape: Any, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        raise NotImplementedError


def check_strings(strings: Any, count: int, owner: str) -> int:
    """Check that ``strings`` is ``count`` lists of bytes of one common length; return it.

    Raises:
        ValueError: wrong structure or lengths that disagree.
        TypeError: an entry is not bytes.
    """
    if not isinstance(strings, Sequence) or isinstance(strings, (bytes, str)):
        raise ValueError(f"{owner}: strings must be a list of {count} lists of bytes")
    if len(strings) != count:
        raise ValueError(f"{owner}: expected {count} lists of strings, got {len(strings)}")
    batch = -1
    for i, group in enumerate(strings):
        if not isinstance(group, Sequence) or isinstance(group, (bytes, str)) or not group:
            raise ValueError(f"{owner}: strings[{i}] must be a non-empty list of bytes")
        if not all(isinstance(s, (bytes, bytearray)) for s in group):
            raise TypeError(f"{owner}: strings[{i}] must hold bytes objects")
        if batch >= 0 and len(group) != batch:
            raise ValueError(f"{owner}: strings[{i}] has {len(group)} streams, not {batch}")
        batch = len(group)
    return batch
