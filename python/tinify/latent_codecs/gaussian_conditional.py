# SPDX-License-Identifier: Apache-2.0
"""A latent coded with a Gaussian whose parameters come from side information."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from tinify.entropy_models import GaussianConditional
from tinify.exceptions import ParameterError
from tinify.latent_codecs.base import LatentCodec, check_strings
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
