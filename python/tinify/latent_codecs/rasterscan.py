# SPDX-License-Identifier: Apache-2.0
"""Autoregressive coding with a causal (masked-convolution) spatial context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tinify.entropy_models import GaussianConditional
from tinify.entropy_models.base import check_stream_chunks
from tinify.exceptions import ParameterError
from tinify.latent_codecs.base import LatentCodec, check_strings
from tinify.registry.torch import register_module

__all__ = ["RasterScanLatentCodec"]


@register_module("RasterScanLatentCodec")
class RasterScanLatentCodec(LatentCodec):
    r"""Autoregressive context model: the Gaussian parameters of ``y[:, :, h, w]`` come from
    side parameters and a masked convolution over the already decoded neighbours. PixelCNN
    context (A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu, "Pixel Recurrent Neural
    Networks", ICML 2016) as used by D. Minnen, J. Ballé, G. Toderici, "Joint Autoregressive
    and Hierarchical Priors for Learned Image Compression", NeurIPS 2018 (arXiv:1809.02736)::

                         ctx_params
                             │ ┌───◄───┐
                           ┌─┴─┴─┐  ┌──┴──┐
                           │  EP │  │  CP │   EP(cat(params, CP(y_hat)))
                           └──┬──┘  └──┬──┘
               ┌───┐  y_hat   ▼        ▲
        y ──►──┤ Q ├────►────····───►──┴──►── y_hat
               └───┘          GC

    Coding runs on the wavefront machinery of :mod:`tinify.models.image.wavefront`: one rANS
    stream per item, coded in Rust. With ``context_order = "raster"`` (the default) symbols are
    in CompressAI's order (position by position, channels within a position), so the streams
    are CompressAI's byte for byte; ``"wavefront"`` codes every anti-diagonal front in one step
    (the same symbols, other order, far fewer steps). The decoder must use the encoder's order.

    ``entropy_parameters`` must consist of 1x1 convolutions and element-wise layers. The
    ``stream_chunks`` option is checked but has no effect: the loop writes one stream per item
    (as :class:`~tinify.models.JointAutoregressiveHierarchicalPriors` does for ``y``).
    ``compress`` returns ``{"strings": [y_strings], "shape": (H, W), "y_hat"}``.

    Args:
        gaussian_conditional: the entropy model of ``y``.
        entropy_parameters: ``cat(params, context)`` -> ``(scales, means)`` channels.
        context_prediction: the masked context convolution (e.g. ``MaskedConv2d``).
        context_order: ``"raster"`` or ``"wavefront"``.
    """

    def __init__(
        self,
        gaussian_conditional: GaussianConditional,
        entropy_parameters: nn.Module,
        context_prediction: nn.Conv2d,
        *,
        context_order: str = "raster",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        kh, kw = context_prediction.kernel_size
        if kh != kw:
            raise ParameterError("context_prediction must have a square kernel")
        self.gaussian_conditional = gaussian_conditional
        self.entropy_parameters = entropy_parameters
        self.context_prediction = context_prediction
        self.kernel_size = int(kh)
        self.padding = (self.kernel_size - 1) // 2
        self.context_order = context_order

    @staticmethod
    def merge(*args: Tensor) -> Tensor:
        return torch.cat(args, dim=1)

    def forward(self, y: Tensor, params: Tensor) -> dict[str, Any]:
        gc = self.gaussian_conditional
        y_hat = gc.quantize(y, "noise" if self.training else "dequantize")
        gaussian_params = self.entropy_parameters(
            self.merge(params, self.context_prediction(y_hat))
        )
        scales, means = gaussian_params.chunk(2, 1)
        _, y_likelihoods = gc(y, scales, means=means)
        return {"likelihoods": {"y": y_likelihoods}, "y_hat": y_hat}

    def _sequential(self) -> nn.Sequential:
        ep = self.entropy_parameters
        return ep if isinstance(ep, nn.Sequential) else nn.Sequential(ep)

    def compress(
        self, y: Tensor, ctx_params: Tensor, *, stream_chunks: int | None = None
    ) -> dict[str, Any]:
        from tinify.models.image.wavefront import compress_latent

        if stream_chunks is not None:
            check_stream_chunks(stream_chunks)
        y_strings, y_hat = compress_latent(
            y,
            ctx_params,
            self.context_prediction,
            self._sequential(),
            self.gaussian_conditional,
            self.context_order,
        )
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
        from tinify.models.image.wavefront import decompress_latent

        if stream_chunks is not None:
            check_stream_chunks(stream_chunks)
        check_strings(strings, 1, type(self).__name__)
        if tuple(ctx_params.shape[-2:]) != tuple(int(s) for s in shape):
            raise ParameterError(
                f"shape {tuple(shape)} does not match the parameters' {tuple(ctx_params.shape)}"
            )
        y_hat = decompress_latent(
            list(strings[0]),
            ctx_params,
            self.context_prediction,
            self._sequential(),
            self.gaussian_conditional,
            self.context_order,
        )
        return {"y_hat": y_hat}
