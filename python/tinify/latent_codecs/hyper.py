# SPDX-License-Identifier: Apache-2.0
"""The hyper-latent branch of a hyperprior: ``h_a``, an entropy bottleneck, ``h_s``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from tinify.entropy_models import EntropyBottleneck
from tinify.exceptions import ParameterError
from tinify.latent_codecs.base import (
    FLOAT_CODING,
    CodecArithmetic,
    FixedNetworks,
    LatentCodec,
    check_strings,
)
from tinify.ops import quantize_ste
from tinify.registry.torch import register_module

__all__ = ["HyperLatentCodec"]


@register_module("HyperLatentCodec")
class HyperLatentCodec(LatentCodec):
    r"""Side information ``z = h_a(y)`` coded with an entropy bottleneck, decoded into
    ``params = h_s(z_hat)``: the hyperprior branch of J. Ballé, D. Minnen, S. Singh,
    S. J. Hwang, N. Johnston, "Variational Image Compression with a Scale Hyperprior", ICLR 2018
    (arXiv:1802.01436)::

               ┌───┐  z  ┌───┐ z_hat      z_hat ┌───┐
        y ──►──┤h_a├──►──┤ Q ├───►───····───►───┤h_s├──►── params
               └───┘     └───┘        EB        └───┘

    Used as the ``"hyper"`` codec of :class:`~tinify.latent_codecs.HyperpriorLatentCodec`.
    ``compress`` returns ``{"strings": [z_strings], "shape": z size, "params"}``.

    Args:
        entropy_bottleneck: the model of ``z``.
        h_a: hyper-analysis transform.
        h_s: hyper-synthesis transform.
        quantizer: ``"noise"`` (the bottleneck's own ``z_hat``) or ``"ste"`` (in ``forward``,
            ``h_s`` sees ``round(z - median) + median`` with a straight-through gradient).
    """

    def __init__(
        self,
        entropy_bottleneck: EntropyBottleneck,
        h_a: nn.Module,
        h_s: nn.Module,
        quantizer: str = "noise",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if quantizer not in ("noise", "ste"):
            raise ParameterError(f'quantizer must be "noise" or "ste", got {quantizer!r}')
        self.entropy_bottleneck = entropy_bottleneck
        self.h_a = h_a
        self.h_s = h_s
        self.quantizer = quantizer

    def forward(self, y: Tensor) -> dict[str, Any]:
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        if self.quantizer == "ste":
            medians = self.entropy_bottleneck.quantiles[:, :, 1:2].reshape(1, -1, 1, 1)
            z_hat = quantize_ste(z - medians) + medians
        return {"likelihoods": {"z": z_likelihoods}, "params": self.h_s(z_hat)}

    def _code_z(
        self, y: Tensor, stream_chunks: int | None
    ) -> tuple[list[bytes], Sequence[int], Tensor]:
        """``(z_strings, z shape, z_hat)``: ``h_a(y)`` coded, and decoded back."""
        z = self.h_a(y)
        shape = z.size()[-2:]
        z_strings = self.entropy_bottleneck.compress(z, stream_chunks=stream_chunks)
        z_hat = self.entropy_bottleneck.decompress(z_strings, shape, stream_chunks=stream_chunks)
        return z_strings, shape, z_hat

    def _decode_z(
        self, strings: list[list[bytes]], shape: Sequence[int], stream_chunks: int | None
    ) -> Tensor:
        check_strings(strings, 1, type(self).__name__)
        eb = self.entropy_bottleneck
        return eb.decompress(list(strings[0]), shape, stream_chunks=stream_chunks)

    def compress(self, y: Tensor, *, stream_chunks: int | None = None) -> dict[str, Any]:
        return self._compress(y, FLOAT_CODING, stream_chunks)

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return {"params": self._params(self._decode_z(strings, shape, stream_chunks), FLOAT_CODING)}

    def fixed_network_modules(self) -> dict[str, nn.Module]:
        return {"h_s": self.h_s}

    def compress_fixed(
        self,
        y: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`compress` with ``h_s`` in integers: ``"params"`` is int32 (fixed point)."""
        return self._compress(y, CodecArithmetic(networks, tile_size), stream_chunks)

    def decompress_fixed(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        z_hat = self._decode_z(strings, shape, stream_chunks)
        return {"params": self._params(z_hat, CodecArithmetic(networks, tile_size))}

    def _params(self, z_hat: Tensor, arithmetic: CodecArithmetic) -> Tensor:
        """``h_s(z_hat)``: float, or int32 from the quantized ``h_s`` on ``to_fixed(z_hat)``."""
        return arithmetic.run(self, "h_s", self.h_s, arithmetic.entry(z_hat))

    def _compress(
        self, y: Tensor, arithmetic: CodecArithmetic, stream_chunks: int | None
    ) -> dict[str, Any]:
        z_strings, shape, z_hat = self._code_z(y, stream_chunks)
        return {"strings": [z_strings], "shape": shape, "params": self._params(z_hat, arithmetic)}
