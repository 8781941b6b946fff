# SPDX-License-Identifier: Apache-2.0
"""A latent coded with a Gaussian whose parameters come from side information."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tinify.entropy_models import GaussianConditional
from tinify.exceptions import ParameterError
from tinify.latent_codecs.base import FixedNetworks, LatentCodec, check_strings
from tinify.ops import quantize_ste
from tinify.registry.torch import register_module

__all__ = ["QUANTIZERS", "GaussianConditionalLatentCodec"]

#: How ``forward`` forms ``y_hat``: ``"noise"`` (the entropy model's: uniform noise in training,
#: rounding in eval) or ``"ste"`` (``round(y - means) + means`` with a straight-through gradient).
QUANTIZERS = ("noise", "ste")

_CHUNKS = (("scales",), ("means",), ("scales", "means"), ("means", "scales"))


@register_module("GaussianConditionalLatentCodec")
class GaussianConditionalLatentCodec(LatentCodec):
    r"""``y`` coded with a Gaussian of per-element scale and mean, predicted from side
    parameters: the conditional model of J. Ballé, D. Minnen, S. Singh, S. J. Hwang,
    N. Johnston, "Variational Image Compression with a Scale Hyperprior", ICLR 2018
    (arXiv:1802.01436), with the means of D. Minnen, J. Ballé, G. Toderici, NeurIPS 2018::

                          ctx_params
                              │
                           ┌──┴──┐
                           │  EP │  entropy_parameters (identity by default)
                           └──┬──┘
               ┌───┐  y_hat   ▼
        y ──►──┤ Q ├────►────····──►── y_hat
               └───┘          GC

    ``compress(y, ctx_params)`` returns ``{"strings": [y_strings], "shape": (H, W), "y_hat"}``;
    symbols are coded channel by channel (CompressAI's order), one stream per item.

    Args:
        scale_table: scale table of a new ``GaussianConditional`` (None: set by ``update()``).
        gaussian_conditional: the model to use instead of a new one.
        entropy_parameters: network from ``ctx_params`` to the Gaussian parameters.
        quantizer: ``"noise"`` or ``"ste"`` (see :data:`QUANTIZERS`).
        chunks: the order of the parameter chunks along channels: ``("scales", "means")``,
            ``("means", "scales")``, ``("scales",)`` or ``("means",)``.
        **kwargs: more arguments of a new ``GaussianConditional``.
    """

    gaussian_conditional: GaussianConditional
    entropy_parameters: nn.Module

    def __init__(
        self,
        scale_table: Sequence[float] | Tensor | None = None,
        gaussian_conditional: GaussianConditional | None = None,
        entropy_parameters: nn.Module | None = None,
        quantizer: str = "noise",
        chunks: Sequence[str] = ("scales", "means"),
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if quantizer not in QUANTIZERS:
            raise ParameterError(f"quantizer must be one of {QUANTIZERS}, got {quantizer!r}")
        if tuple(chunks) not in _CHUNKS:
            raise ParameterError(f"chunks must be one of {_CHUNKS}, got {tuple(chunks)!r}")
        self.quantizer = quantizer
        self.gaussian_conditional = gaussian_conditional or GaussianConditional(
            scale_table, **kwargs
        )
        self.entropy_parameters = entropy_parameters or nn.Identity()
        self.chunks = tuple(chunks)

    def split_params(self, params: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """``(scales, means)`` from the output of ``entropy_parameters`` (either may be None)."""
        parts = dict(zip(self.chunks, params.chunk(len(self.chunks), 1)))
        return parts.get("scales"), parts.get("means")

    _chunk = split_params  # CompressAI's name

    def _params(self, ctx_params: Tensor) -> tuple[Tensor, Tensor | None]:
        scales, means = self._chunk(self.entropy_parameters(ctx_params))
        if scales is None:
            raise ParameterError('a codec without "scales" in its chunks cannot code')
        return scales, means

    def forward(self, y: Tensor, ctx_params: Tensor) -> dict[str, Any]:
        scales, means = self._chunk(self.entropy_parameters(ctx_params))
        y_hat, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        if self.quantizer == "ste":
            y_hat = quantize_ste(y if means is None else y - means)
            y_hat = y_hat if means is None else y_hat + means
        return {"likelihoods": {"y": y_likelihoods}, "y_hat": y_hat}

    def compress(
        self, y: Tensor, ctx_params: Tensor, *, stream_chunks: int | None = None
    ) -> dict[str, Any]:
        scales, means = self._params(ctx_params)
        gc = self.gaussian_conditional
        indexes = gc.build_indexes(scales)
        y_strings = gc.compress(y, indexes, means, stream_chunks=stream_chunks)
        # The decoder's y_hat, symbol + mean (the same float operations as decompress).
        y_hat = gc.dequantize(gc.quantize(y, "symbols", means), means, y.dtype)
        return {"strings": [y_strings], "shape": y.shape[2:4], "y_hat": y_hat}

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        ctx_params: Tensor,
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        check_strings(strings, 1, type(self).__name__)
        scales, means = self._params(ctx_params)
        gc = self.gaussian_conditional
        indexes = gc.build_indexes(scales)
        y_hat = gc.decompress(
            list(strings[0]), indexes, ctx_params.dtype, means=means, stream_chunks=stream_chunks
        )
        if tuple(y_hat.shape[2:4]) != tuple(int(s) for s in shape):
            raise ParameterError(
                f"shape {tuple(shape)} does not match the parameters' {tuple(y_hat.shape[2:4])}"
            )
        return {"y_hat": y_hat}

    # -- the fixed-point entropy path -------------------------------------------------------------

    def _fixed_params(self, ctx_params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(indexes, m_int, means)`` of int32 parameters: table rows decided on integers,
        means ``m_int * 2^-F`` in float32."""
        from tinify.models.fixed import FRAC_BITS, from_fixed

        if not isinstance(self.entropy_parameters, nn.Identity):
            raise ParameterError("the fixed path needs the Gaussian codec's own EP to be Identity")
        scales, m_int = self.split_params(ctx_params)
        if scales is None or m_int is None:
            raise ParameterError("the fixed path needs both scales and means")
        gc = self.gaussian_conditional
        return gc.build_indexes_fixed(scales.contiguous(), FRAC_BITS), m_int, from_fixed(m_int)

    def compress_fixed(
        self,
        y: Tensor,
        ctx_params: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`compress` with int32 parameters (``FRAC_BITS`` fractional bits, from integer
        networks); returns also ``"y_int"``: ``symbol * 2^F + m_int`` (saturated int32), the
        values the integer networks of later steps see. (No network of its own: ``networks``
        and ``tile_size`` are accepted for the common interface.)"""
        from tinify.models.fixed import FRAC_BITS, saturate

        indexes, m_int, means = self._fixed_params(ctx_params)
        gc = self.gaussian_conditional
        means = means.to(y.device)
        symbols = gc.quantize(y, "symbols", means)
        y_strings = gc.compress(y, indexes.to(y.device), means, stream_chunks=stream_chunks)
        return {
            "strings": [y_strings],
            "shape": y.shape[2:4],
            "y_hat": gc.dequantize(symbols, means),
            "y_int": saturate(symbols.cpu().long() * 2**FRAC_BITS + m_int.long()),
        }

    def decompress_fixed(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        ctx_params: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`decompress` for streams of :meth:`compress_fixed` (returns ``"y_int"`` too)."""
        from tinify.models.fixed import FRAC_BITS, saturate

        check_strings(strings, 1, type(self).__name__)
        indexes, m_int, means = self._fixed_params(ctx_params)
        gc = self.gaussian_conditional
        symbols = gc.decompress(list(strings[0]), indexes, torch.int32, stream_chunks=stream_chunks)
        if tuple(symbols.shape[2:4]) != tuple(int(s) for s in shape):
            raise ParameterError(
                f"shape {tuple(shape)} does not match the parameters' {tuple(symbols.shape[2:4])}"
            )
        return {
            "y_hat": gc.dequantize(symbols, means),
            "y_int": saturate(symbols.long() * 2**FRAC_BITS + m_int.long()),
        }
