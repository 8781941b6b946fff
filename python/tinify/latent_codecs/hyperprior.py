# SPDX-License-Identifier: Apache-2.0
"""A hyperprior made of two codecs: ``"hyper"`` (side information) and ``"y"``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from tinify.exceptions import ParameterError
from tinify.latent_codecs.base import (
    FLOAT_CODING,
    CodecArithmetic,
    FixedNetworks,
    LatentCodec,
    chunks_option,
)
from tinify.registry.torch import register_module

__all__ = [
    "HyperpriorLatentCodec",
    "join_hyper_outputs",
    "split_hyper_shape",
    "split_hyper_strings",
]


def split_hyper_strings(strings: Any, owner: str) -> tuple[list[Any], Any]:
    """``(y strings, z strings)`` of a hyperprior's ``strings`` (``[*y_strings, z_strings]``).

    Raises:
        ParameterError: not a list of at least two lists, or lists of different lengths.
    """
    if not isinstance(strings, (list, tuple)) or len(strings) < 2:
        raise ParameterError(f"{owner}: strings must be [*y_strings, z_strings] (2 lists or more)")
    *y_strings, z_strings = strings
    for group in y_strings:
        if not isinstance(group, (list, tuple)) or len(group) != len(z_strings):
            raise ParameterError(f"{owner}: every list of strings must have one entry per item")
    return list(y_strings), z_strings


def split_hyper_shape(shape: Any, owner: str) -> tuple[Any, Any]:
    """``(shape["y"], shape["hyper"])`` of a hyperprior's ``shape``.

    Raises:
        ParameterError: ``shape`` is not a mapping with both keys.
    """
    if not isinstance(shape, Mapping) or "y" not in shape or "hyper" not in shape:
        raise ParameterError(f'{owner}: shape must be {{"y": ..., "hyper": ...}}, got {shape!r}')
    return shape["y"], shape["hyper"]


def join_hyper_outputs(y_out: Mapping[str, Any], hyper_out: Mapping[str, Any]) -> dict[str, Any]:
    """A hyperprior's ``compress`` output from its two parts' (the inverse of
    :func:`split_hyper_strings` and :func:`split_hyper_shape`): ``strings`` is
    ``[*y_strings, z_strings]``, ``shape`` is ``{"y": ..., "hyper": ...}``, ``y_hat`` is y's."""
    (z_strings,) = hyper_out["strings"]
    return {
        "strings": [*y_out["strings"], z_strings],
        "shape": {"y": y_out["shape"], "hyper": hyper_out["shape"]},
        "y_hat": y_out["y_hat"],
    }


@register_module("HyperpriorLatentCodec")
class HyperpriorLatentCodec(LatentCodec):
    r"""Hyperprior coding: the ``"hyper"`` codec turns ``y`` into side information and
    ``params``, and the ``"y"`` codec codes ``y`` given them. J. Ballé, D. Minnen, S. Singh,
    S. J. Hwang, N. Johnston, "Variational Image Compression with a Scale Hyperprior",
    ICLR 2018 (arXiv:1802.01436)::

                 ┌──────────┐
            ┌─►──┤ lc_hyper ├──►─┐
            │    └──────────┘    │ params
            │                 ┌──┴───┐
        y ──┴───────►─────────┤ lc_y ├───►── y_hat
                              └──────┘

    Typical pairs: a :class:`~tinify.latent_codecs.HyperLatentCodec` ``"hyper"`` with a
    :class:`~tinify.latent_codecs.GaussianConditionalLatentCodec`, a
    :class:`~tinify.latent_codecs.CheckerboardLatentCodec`, a
    :class:`~tinify.latent_codecs.ChannelGroupsLatentCodec` or a
    :class:`~tinify.latent_codecs.RasterScanLatentCodec` ``"y"``.

    ``compress`` returns ``{"strings": [*y_strings, z_strings], "shape": {"y": ..., "hyper":
    ...}, "y_hat"}``; ``codec["y"]`` and ``codec["hyper"]`` are the parts (state-dict keys
    ``y.*`` and ``hyper.*``).

    Args:
        latent_codec: ``{"y": codec, "hyper": codec}``.
    """

    def __init__(self, latent_codec: Mapping[str, LatentCodec], **kwargs: Any) -> None:
        super().__init__()
        self.y = latent_codec["y"]
        self.hyper = latent_codec["hyper"]
        # A plain dict (not registered again): the parts' keys are ``y.*`` and ``hyper.*``.
        self.latent_codec = {"y": self.y, "hyper": self.hyper}

    def __getitem__(self, key: str) -> LatentCodec:
        return self.latent_codec[key]

    def forward(self, y: Tensor) -> dict[str, Any]:
        hyper_out = self.hyper(y)
        y_out = self.y(y, hyper_out["params"])
        return {
            "likelihoods": {
                "y": y_out["likelihoods"]["y"],
                "z": hyper_out["likelihoods"]["z"],
            },
            "y_hat": y_out["y_hat"],
        }

    def compress(self, y: Tensor, *, stream_chunks: int | None = None) -> dict[str, Any]:
        return self._compress(y, FLOAT_CODING, stream_chunks)

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Any,
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self._decompress(strings, shape, FLOAT_CODING, stream_chunks)

    def compress_fixed(
        self,
        y: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`compress` with integer entropy parameters (both parts' fixed paths)."""
        return self._compress(y, CodecArithmetic(networks, tile_size), stream_chunks)

    def decompress_fixed(
        self,
        strings: list[list[bytes]],
        shape: Any,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        return self._decompress(strings, shape, CodecArithmetic(networks, tile_size), stream_chunks)

    def _compress(
        self, y: Tensor, arithmetic: CodecArithmetic, stream_chunks: int | None
    ) -> dict[str, Any]:
        chunks = chunks_option(stream_chunks)
        hyper_out = arithmetic.compress(self.hyper, y, **chunks)
        y_out = arithmetic.compress(self.y, y, hyper_out["params"], **chunks)
        return join_hyper_outputs(y_out, hyper_out)

    def _decompress(
        self,
        strings: list[list[bytes]],
        shape: Any,
        arithmetic: CodecArithmetic,
        stream_chunks: int | None,
    ) -> dict[str, Any]:
        owner = type(self).__name__
        y_strings, z_strings = split_hyper_strings(strings, owner)
        y_shape, hyper_shape = split_hyper_shape(shape, owner)
        chunks = chunks_option(stream_chunks)
        hyper_out = arithmetic.decompress(self.hyper, [z_strings], hyper_shape, **chunks)
        y_out = arithmetic.decompress(self.y, y_strings, y_shape, hyper_out["params"], **chunks)
        return {"y_hat": y_out["y_hat"]}
