# SPDX-License-Identifier: Apache-2.0
"""The latent-codec interface: one piece of an entropy model, composable with the others."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from tinify.exceptions import ParameterError, ParameterTypeError

__all__ = [
    "FLOAT_CODING",
    "CodecArithmetic",
    "FixedNetworks",
    "LatentCodec",
    "check_strings",
    "chunks_option",
]

#: ``networks(codec, key)``: the quantized network (``tinify._core.FixedNetwork``) that the
#: model built for ``codec.fixed_network_modules()[key]`` (see ``SimpleVAECompressionModel``).
FixedNetworks = Callable[["LatentCodec", str], Any]


class LatentCodec(nn.Module):
    """Base class of the latent codecs (CompressAI 1.2.8's ``compressai.latent_codecs``).

    A latent codec quantizes and entropy-codes a latent ``y`` (N, C, H, W), possibly given
    side parameters from another codec (a hyperprior's ``params``), with three methods:

    - ``forward(y, *ctx)`` -> ``{"likelihoods": {name: tensor}, "y_hat": tensor}`` (training and
      rate estimation);
    - ``compress(y, *ctx)`` -> ``{"strings": [lists of bytes, one per item], "shape": ...,
      "y_hat": ...}``, where ``y_hat`` is exactly what :meth:`decompress` will return;
    - ``decompress(strings, shape, *ctx)`` -> ``{"y_hat": tensor}``.

    ``compress`` / ``decompress`` (and the fixed path's ``compress_fixed`` /
    ``decompress_fixed``) take the keyword-only coding option ``stream_chunks`` (streams per
    latent and item; None: each entropy model's ``stream_chunks`` attribute) and pass it on to
    every entropy model and nested codec (with :func:`chunks_option`). The other option,
    ``entropy_path``, is the model's choice: a
    :class:`~tinify.models.base.SimpleVAECompressionModel` calls ``compress_fixed`` /
    ``decompress_fixed`` with its quantized networks for ``entropy_path="fixed"``.

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

    # -- the fixed-point entropy path (``tinify.models.fixed``) --------------------------------

    def fixed_network_modules(self) -> dict[str, nn.Module]:
        """This codec's own networks that the fixed-point path runs in integers, by key."""
        return {}

    def compress_fixed(self, y: Tensor, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """:meth:`compress` with integer entropy parameters: side parameters come in, and
        ``"params"`` / ``"y_int"`` go out, as int32 with ``FRAC_BITS`` fractional bits. The
        keyword ``networks`` (a :data:`FixedNetworks`) gives the quantized networks, the
        keyword ``tile_size`` their tiles (see :class:`CodecArithmetic`)."""
        raise ParameterError(
            f"{type(self).__name__} has no fixed-point entropy path: use entropy_path = 'float'"
        )

    def decompress_fixed(
        self, strings: list[list[bytes]], shape: Any, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """:meth:`decompress` for streams of :meth:`compress_fixed`."""
        raise ParameterError(
            f"{type(self).__name__} has no fixed-point entropy path: use entropy_path = 'float'"
        )


class CodecArithmetic:
    """The entropy path of one coding call, for codecs that nest codecs and run networks: the
    float path (``networks=None``: CompressAI's networks, nested codecs'
    ``compress``/``decompress``) or the fixed-point path (the model's quantized ``networks``,
    nested codecs' ``compress_fixed``/``decompress_fixed``), so that each codec writes its coding
    once (as the wavefront loop does with its ``FloatArithmetic``/``FixedArithmetic``).

    Args:
        networks: the quantized networks (a :data:`FixedNetworks`), or None for float.
        tile_size: the fixed path runs its networks on tiles of at most this many output
            positions (see :func:`tinify.models.tiling.latent_tiles`: the same integers for
            any value, in bounded memory); 0 (the default): on whole tensors. A model passes
            its image tile over ``g_a``'s stride (``CompressionModel._latent_tile``).
    """

    def __init__(self, networks: FixedNetworks | None = None, tile_size: int = 0) -> None:
        self.networks = networks
        self.tile_size = int(tile_size)

    @property
    def fixed(self) -> bool:
        """True on the fixed-point path."""
        return self.networks is not None

    def compress(self, codec: LatentCodec, y: Tensor, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``codec.compress`` (float) or ``codec.compress_fixed`` with the networks."""
        if self.networks is None:
            return codec.compress(y, *args, **kwargs)
        return codec.compress_fixed(
            y, *args, networks=self.networks, tile_size=self.tile_size, **kwargs
        )

    def decompress(
        self, codec: LatentCodec, strings: Any, shape: Any, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        """``codec.decompress`` (float) or ``codec.decompress_fixed`` with the networks."""
        if self.networks is None:
            return codec.decompress(strings, shape, *args, **kwargs)
        return codec.decompress_fixed(
            strings, shape, *args, networks=self.networks, tile_size=self.tile_size, **kwargs
        )

    def entry(self, x: Tensor) -> Tensor:
        """A decoded float tensor (an exactly reproducible ``z_hat``) as a network input: as is,
        or ``to_fixed(x)`` (int32, ``FRAC_BITS`` fractional bits)."""
        if self.networks is None:
            return x
        from tinify.models.fixed import to_fixed

        return to_fixed(x)

    def run(
        self, codec: LatentCodec, key: str, module: Callable[[Tensor], Tensor], x: Tensor
    ) -> Tensor:
        """``module(x)``, or on the fixed path the quantized network ``codec`` declared under
        ``key`` in :meth:`LatentCodec.fixed_network_modules`, on int32 ``x``, on tiles of
        :attr:`tile_size` output positions (bit-exact: the same integers as on the whole
        tensor)."""
        if self.networks is None:
            return module(x)
        from tinify.models.fixed import run_network
        from tinify.models.tiling import latent_tiles

        net = self.networks(codec, key)
        if not self.tile_size:
            return run_network(net, x)
        return latent_tiles(
            codec.fixed_network_modules()[key],
            x,
            self.tile_size,
            lambda t: run_network(net, t),
            stage="hyper-synthesis tiles" if key == "h_s" else "entropy-network tiles",
        )

    def decoded(self, out: Mapping[str, Any]) -> Tensor:
        """What later networks see of a codec's output: ``"y_hat"``, or ``"y_int"`` (the fixed
        path's ``symbol * 2^F + m_int``)."""
        return out["y_int"] if self.networks is not None else out["y_hat"]


#: The float path's :class:`CodecArithmetic`.
FLOAT_CODING = CodecArithmetic()


def chunks_option(stream_chunks: int | None) -> dict[str, int]:
    """The keyword to pass ``stream_chunks`` on to a nested codec: ``{"stream_chunks": n}``, or
    ``{}`` for None, so that a CompressAI-style codec without the keyword still works with the
    defaults."""
    return {} if stream_chunks is None else {"stream_chunks": stream_chunks}


def check_strings(strings: Any, count: int, owner: str) -> int:
    """Check that ``strings`` is ``count`` lists of bytes of one common length; return it.

    Raises:
        ParameterError: wrong structure or lengths that disagree.
        ParameterTypeError: an entry is not bytes.
    """
    if not isinstance(strings, Sequence) or isinstance(strings, (bytes, str)):
        raise ParameterError(f"{owner}: strings must be a list of {count} lists of bytes")
    if len(strings) != count:
        raise ParameterError(f"{owner}: expected {count} lists of strings, got {len(strings)}")
    batch = -1
    for i, group in enumerate(strings):
        if not isinstance(group, Sequence) or isinstance(group, (bytes, str)) or not group:
            raise ParameterError(f"{owner}: strings[{i}] must be a non-empty list of bytes")
        if not all(isinstance(s, (bytes, bytearray)) for s in group):
            raise ParameterTypeError(f"{owner}: strings[{i}] must hold bytes objects")
        if batch >= 0 and len(group) != batch:
            raise ParameterError(f"{owner}: strings[{i}] has {len(group)} streams, not {batch}")
        batch = len(group)
    return batch
