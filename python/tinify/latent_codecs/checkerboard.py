# SPDX-License-Identifier: Apache-2.0
"""Two-pass checkerboard context coding: anchors first, then the rest given the anchors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.latent_codecs.base import (
    FLOAT_CODING,
    CodecArithmetic,
    FixedNetworks,
    LatentCodec,
    chunks_option,
)
from tinify.latent_codecs.gaussian_conditional import GaussianConditionalLatentCodec
from tinify.layers.masked_conv import checkerboard_mask
from tinify.ops import quantize_ste
from tinify.registry.torch import register_module

__all__ = ["FORWARD_METHODS", "CheckerboardLatentCodec", "checkerboard_mask"]

#: ``forward`` variants: ``"onepass"`` (one run of ``entropy_parameters``, noise/rounding, no
#: means-aware quantization), ``"twopass"`` (anchors quantized around their predicted means, then
#: the non-anchors; the default) and ``"twopass_faster"`` (the same with fewer redundant ops).
FORWARD_METHODS = ("onepass", "twopass", "twopass_faster")


@register_module("CheckerboardLatentCodec")
class CheckerboardLatentCodec(LatentCodec):
    r"""Checkerboard context model of D. He, Y. Zheng, B. Sun, Y. Wang, H. Qin, "Checkerboard
    Context Model for Efficient Learned Image Compression", CVPR 2021 (arXiv:2103.15306).

    The latent positions are split like a checkerboard. The *anchors* are coded first with
    the side parameters alone (a zero context); the *non-anchors* then get a context from the
    decoded anchors (``context_prediction``, a 5x5 convolution masked to the other colour)::

        □ □ □ □      ◌ □ ◌ □      ■ ◌ ■ ◌
        □ □ □ □  ─►  □ ◌ □ ◌  ─►  ◌ ■ ◌ ■      ◌ coded in this pass, ■ decoded
        □ □ □ □      ◌ □ ◌ □      ■ ◌ ■ ◌

    Each pass is one batched step: one convolution, one run of ``entropy_parameters`` (on
    ``cat(context, side params)``, pointwise) and one call of the ``"y"`` codec (a
    :class:`~tinify.latent_codecs.GaussianConditionalLatentCodec`) on the half-width tensor of
    that colour, coded by the Rust rANS coder. The streams and the order of symbols (channel by
    channel over the (H, W/2) half tensor) are CompressAI's, byte for byte.

    The checkerboard masking is done here: ``context_prediction`` may be any stride-1 "same"
    ``nn.Conv2d``; its kernel is multiplied by :func:`checkerboard_mask` (a ``mask`` buffer it
    carries, as CompressAI's ``CheckerboardMaskedConv2d`` does, is not consulted).

    ``compress`` returns ``{"strings": [anchor strings, non-anchor strings], "shape": (C, H,
    W), "y_hat"}``. ``W`` must be even.

    Args:
        latent_codec: ``{"y": codec}``, the codec of each pass.
        entropy_parameters: pointwise network, ``cat(context, side params)`` -> parameters.
        context_prediction: the context convolution (M -> context channels).
        anchor_parity: ``"even"`` (anchors where ``h + w`` is even) or ``"odd"``.
        forward_method: see :data:`FORWARD_METHODS`.
    """

    def __init__(
        self,
        latent_codec: Mapping[str, LatentCodec],
        entropy_parameters: nn.Module,
        context_prediction: nn.Conv2d,
        anchor_parity: str = "even",
        forward_method: str = "twopass",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if anchor_parity not in ("even", "odd"):
            raise ParameterError(f'anchor_parity must be "even" or "odd", got {anchor_parity!r}')
        if forward_method not in FORWARD_METHODS:
            raise ParameterError(f"forward_method must be one of {FORWARD_METHODS}")
        conv = context_prediction
        kh, kw = conv.kernel_size
        if conv.stride != (1, 1) or conv.padding != (kh // 2, kw // 2) or kh % 2 == 0:
            raise ParameterError(
                "context_prediction must be an odd-sized stride-1 'same' convolution"
            )
        self._kwargs = kwargs
        self.anchor_parity = anchor_parity
        self.non_anchor_parity = "odd" if anchor_parity == "even" else "even"
        self.forward_method = forward_method
        self.entropy_parameters = entropy_parameters
        self.context_prediction = context_prediction
        self.y = latent_codec["y"]
        self.latent_codec = {"y": self.y}

    def __getitem__(self, key: str) -> LatentCodec:
        return self.latent_codec[key]

    # -- the board ------------------------------------------------------------------------------

    def _columns(self, step: str) -> tuple[int, int]:
        """First column of ``step``'s positions in even rows and in odd rows."""
        parity = self.anchor_parity if step == "anchor" else self.non_anchor_parity
        return (0, 1) if parity == "even" else (1, 0)

    def unembed(self, y: Tensor) -> Tensor:
        """(N, C, H, W) -> (2, N, C, H, W/2): the anchors' values, then the non-anchors'."""
        n, c, h, w = y.shape
        out = y.new_empty((2, n, c, h, w // 2))  # every element is written below
        for i, step in enumerate(("anchor", "non_anchor")):
            even, odd = self._columns(step)
            out[i, ..., 0::2, :] = y[..., 0::2, even::2]
            out[i, ..., 1::2, :] = y[..., 1::2, odd::2]
        return out

    def embed(self, y_: Tensor) -> Tensor:
        """The inverse of :meth:`unembed`: (2, N, C, H, W/2) -> (N, C, H, W)."""
        _, n, c, h, half = y_.shape
        y = y_.new_empty((n, c, h, 2 * half))  # every element is written below
        for i, step in enumerate(("anchor", "non_anchor")):
            even, odd = self._columns(step)
            y[..., 0::2, even::2] = y_[i, ..., 0::2, :]
            y[..., 1::2, odd::2] = y_[i, ..., 1::2, :]
        return y

    def _keep_only(self, y: Tensor, step: str) -> Tensor:
        """A copy of ``y`` with the positions of the other step set to zero."""
        even, odd = self._columns("non_anchor" if step == "anchor" else "anchor")
        y = y.clone()
        y[..., 0::2, even::2] = 0
        y[..., 1::2, odd::2] = 0
        return y

    def _copy(self, dest: Tensor, src: Tensor, step: str) -> None:
        even, odd = self._columns(step)
        dest[..., 0::2, even::2] = src[..., 0::2, even::2]
        dest[..., 1::2, odd::2] = src[..., 1::2, odd::2]

    def context(self, y_hat: Tensor) -> Tensor:
        """``context_prediction`` with its kernel masked to the checkerboard."""
        conv = self.context_prediction
        weight = conv.weight * checkerboard_mask(conv.weight.shape).to(conv.weight)
        return F.conv2d(y_hat, weight, conv.bias, padding=conv.padding)

    def merge(self, *args: Tensor) -> Tensor:
        return torch.cat(args, dim=1)

    def _params(self, context: Tensor, side_params: Tensor) -> Tensor:
        return self.entropy_parameters(self.merge(context, side_params))

    def _gaussian_codec(self) -> GaussianConditionalLatentCodec:
        if not isinstance(self.y, GaussianConditionalLatentCodec):
            raise ParameterTypeError('the "y" codec must be a GaussianConditionalLatentCodec')
        return self.y

    def _means(self, params: Tensor) -> Tensor:
        _, means = self._gaussian_codec().split_params(params)
        if means is None:
            raise ParameterError('the "y" codec predicts no means; use forward_method="onepass"')
        return means

    # -- training / estimation -------------------------------------------------------------------

    def forward(self, y: Tensor, side_params: Tensor) -> dict[str, Any]:
        if self.forward_method == "onepass":
            return self._forward_onepass(y, side_params)
        if self.forward_method == "twopass":
            return self._forward_twopass(y, side_params)
        return self._forward_twopass_faster(y, side_params)

    def quantize(self, y: Tensor) -> Tensor:
        """Noise in training, rounding otherwise (CompressAI's ``quantize``)."""
        if self.training:
            return y + torch.empty_like(y).uniform_(-0.5, 0.5)
        return torch.round(y)

    def _forward_onepass(self, y: Tensor, side_params: Tensor) -> dict[str, Any]:
        y_hat = self.quantize(y)
        context = self._keep_only(self.context(y_hat), "non_anchor")
        y_out = self.y(y, self._params(context, side_params))
        return {"likelihoods": {"y": y_out["likelihoods"]["y"]}, "y_hat": y_hat}

    def _zero_context(self, y: Tensor) -> Tensor:
        n, _, h, w = y.shape
        return y.new_zeros((n, self.context_prediction.out_channels, h, w))

    def _forward_twopass(self, y: Tensor, side_params: Tensor) -> dict[str, Any]:
        n, c, h, w = y.shape
        params = y.new_zeros((n, 2 * c, h, w))
        y_hat = y.new_zeros(y.shape)
        for step in ("anchor", "non_anchor"):
            context = self._zero_context(y) if step == "anchor" else self.context(y_hat)
            step_params = self._params(context, side_params)
            self._copy(params, step_params, step)
            means = self._means(self._keep_only(step_params, step))
            step_y = self._keep_only(y, step)
            y_hat = y_hat + self._keep_only(quantize_ste(step_y - means) + means, step)
        y_out = self.y(y, params)
        return {"likelihoods": {"y": y_out["likelihoods"]["y"]}, "y_hat": y_hat}

    def _forward_twopass_faster(self, y: Tensor, side_params: Tensor) -> dict[str, Any]:
        params = self._keep_only(self._params(self._zero_context(y), side_params), "anchor")
        means = self._means(params)
        anchors = self._keep_only(quantize_ste(y - means) + means, "anchor")
        context = self._keep_only(self.context(anchors), "non_anchor")
        y_out = self.y(y, self._params(context, side_params))
        y_hat = y_out["y_hat"]
        self._copy(y_hat, anchors, "anchor")
        return {"likelihoods": {"y": y_out["likelihoods"]["y"]}, "y_hat": y_hat}

    # -- coding ---------------------------------------------------------------------------------

    def _pass_params(
        self, i: int, decoded_: Tensor, side_: Tensor, arithmetic: CodecArithmetic = FLOAT_CODING
    ) -> Tensor:
        """Parameters of pass ``i`` (0 anchors, 1 non-anchors) on the half-width tensors, from
        what the networks see of the decoded anchors (``y_hat``, or ``y_int`` when fixed)."""
        if i == 0:
            _, n, _, h, half = decoded_.shape
            context = decoded_.new_zeros((n, self.context_prediction.out_channels, h, half))
        else:
            full = arithmetic.run(self, "context_prediction", self.context, self.embed(decoded_))
            context = self.unembed(full)[1]
        merged = self.merge(context, side_[i])
        return arithmetic.run(self, "entropy_parameters", self.entropy_parameters, merged)

    def compress(
        self, y: Tensor, side_params: Tensor, *, stream_chunks: int | None = None
    ) -> dict[str, Any]:
        return self._compress(y, side_params, FLOAT_CODING, stream_chunks)

    def _compress(
        self,
        y: Tensor,
        side_params: Tensor,
        arithmetic: CodecArithmetic,
        stream_chunks: int | None,
    ) -> dict[str, Any]:
        n, c, h, w = y.shape
        if w % 2:
            raise ParameterError(f"the latent width must be even for checkerboard coding, got {w}")
        decoded_ = side_params.new_zeros((2, n, c, h, w // 2))
        y_hat_ = y.new_zeros((2, n, c, h, w // 2)) if arithmetic.fixed else decoded_
        side_ = self.unembed(side_params)
        y_ = self.unembed(y)
        strings = []
        for i in range(2):
            params = self._pass_params(i, decoded_, side_, arithmetic)
            out = arithmetic.compress(self.y, y_[i], params, **chunks_option(stream_chunks))
            decoded_[i] = arithmetic.decoded(out)
            if arithmetic.fixed:
                y_hat_[i] = out["y_hat"]
            strings.extend(out["strings"])
        result = {"strings": strings, "shape": torch.Size((c, h, w)), "y_hat": self.embed(y_hat_)}
        if arithmetic.fixed:
            result["y_int"] = self.embed(decoded_)
        return result

    def _check_decode(
        self, strings: Any, shape: Sequence[int], side_params: Tensor
    ) -> tuple[int, int, int, int]:
        """``(N, C, H, W)`` of a decode, after checking its arguments."""
        owner = type(self).__name__
        if not isinstance(strings, (list, tuple)) or len(strings) != 2:
            raise ParameterError(f"{owner}: strings must be [anchor strings, non-anchor strings]")
        try:
            c, h, w = (int(s) for s in shape)
        except (TypeError, ValueError):
            raise ParameterError(f"{owner}: shape must be (C, H, W), got {shape!r}") from None
        n = len(strings[0])
        if side_params.shape[0] != n or tuple(side_params.shape[-2:]) != (h, w) or w % 2:
            raise ParameterError(
                f"{owner}: side parameters {tuple(side_params.shape)} do not fit {n} streams "
                f"of shape {(c, h, w)} (the width must be even)"
            )
        return n, c, h, w

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        side_params: Tensor,
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self._decompress(strings, shape, side_params, FLOAT_CODING, stream_chunks)

    def _decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        side_params: Tensor,
        arithmetic: CodecArithmetic,
        stream_chunks: int | None,
    ) -> dict[str, Any]:
        n, c, h, w = self._check_decode(strings, shape, side_params)
        decoded_ = side_params.new_zeros((2, n, c, h, w // 2))
        y_hat_ = decoded_
        if arithmetic.fixed:
            y_hat_ = side_params.new_zeros((2, n, c, h, w // 2), dtype=torch.float32)
        side_ = self.unembed(side_params)
        chunks = chunks_option(stream_chunks)
        for i in range(2):
            params = self._pass_params(i, decoded_, side_, arithmetic)
            out = arithmetic.decompress(self.y, [strings[i]], (h, w // 2), params, **chunks)
            decoded_[i] = arithmetic.decoded(out)
            if arithmetic.fixed:
                y_hat_[i] = out["y_hat"]
        result = {"y_hat": self.embed(y_hat_)}
        if arithmetic.fixed:
            result["y_int"] = self.embed(decoded_)
        return result

    # -- the fixed-point entropy path -------------------------------------------------------------

    def masked_context(self) -> nn.Conv2d:
        """A copy of ``context_prediction`` with its kernel masked to the checkerboard."""
        conv = self.context_prediction
        kh, kw = conv.kernel_size
        # skip_init: every value is copied below, so no random initialisation (nor use of
        # torch's global generator: the fixed path's tiling asks for this copy while coding).
        copy = nn.utils.skip_init(
            nn.Conv2d,
            conv.in_channels,
            conv.out_channels,
            (kh, kw),
            padding=(kh // 2, kw // 2),  # checked in __init__
            bias=conv.bias is not None,
        )
        with torch.no_grad():
            copy.weight.copy_(conv.weight * checkerboard_mask(conv.weight.shape).to(conv.weight))
            if conv.bias is not None and copy.bias is not None:
                copy.bias.copy_(conv.bias)
        return copy

    def fixed_network_modules(self) -> dict[str, nn.Module]:
        return {
            "entropy_parameters": self.entropy_parameters,
            "context_prediction": self.masked_context(),
        }

    def compress_fixed(
        self,
        y: Tensor,
        side_params: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`compress` with integer networks; ``side_params`` is int32 (fixed point).

        Returns also ``"y_int"``: ``symbol * 2^F + m_int`` (saturated int32), the values the
        integer networks of later stages see.
        """
        return self._compress(y, side_params, CodecArithmetic(networks, tile_size), stream_chunks)

    def decompress_fixed(
        self,
        strings: list[list[bytes]],
        shape: Sequence[int],
        side_params: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`decompress` for streams of :meth:`compress_fixed` (returns ``"y_int"`` too)."""
        return self._decompress(
            strings, shape, side_params, CodecArithmetic(networks, tile_size), stream_chunks
        )
