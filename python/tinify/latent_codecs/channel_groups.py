# SPDX-License-Identifier: Apache-2.0
"""Channel-conditional coding: groups of channels, each given the groups decoded before it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

import torch
from torch import Tensor, nn

from tinify.exceptions import ParameterError
from tinify.latent_codecs.base import (
    FLOAT_CODING,
    CodecArithmetic,
    FixedNetworks,
    LatentCodec,
    chunks_option,
)
from tinify.registry.torch import register_module

__all__ = ["CONTEXT_GROUPS", "ChannelGroupsLatentCodec"]

#: Which decoded groups feed the channel context of group ``k``: ``"all"`` (groups ``0..k-1``,
#: He et al. 2022) or ``"first_and_latest"`` (groups ``0`` and ``k-1``, the simplification of
#: Chandelier's ELIC re-implementation, CompressAI's ``Elic2022Chandelier``).
CONTEXT_GROUPS = ("all", "first_and_latest")


@register_module("ChannelGroupsLatentCodec")
class ChannelGroupsLatentCodec(LatentCodec):
    r"""Codes ``y`` in groups of channels; group ``k`` is coded by its own codec ``"y{k}"``
    given the side parameters and a channel context ``channel_context["y{k}"]`` computed from
    the groups already decoded. D. Minnen, S. Singh, "Channel-wise Autoregressive Entropy Models
    for Learned Image Compression", ICIP 2020 (arXiv:2007.08739); D. He, Z. Yang, W. Peng,
    R. Ma, H. Qin, Y. Wang, "ELIC: Efficient Learned Image Compression with Unevenly Grouped
    Space-Channel Contextual Adaptive Coding", CVPR 2022 (arXiv:2203.10886)::

        y ─ split ─► y0 ──► lc_y0(side) ────────────────────────► y0_hat ─┐
                     y1 ──► lc_y1(cc_y1(y0_hat), side) ─────────► y1_hat ─┤ cat ─► y_hat
                     y2 ──► lc_y2(cc_y2(y0_hat, y1_hat), side) ─► y2_hat ─┘

    The parameters given to group ``k > 0`` are ``cat(channel context, side params)``.
    ``compress`` returns the groups' strings one after the other (each group's codec may write
    several lists) and ``"shape"``: the list of the groups' shapes.

    Args:
        latent_codec: ``{"y0": codec, ..., "y{K-1}": codec}``.
        channel_context: ``{"y1": module, ..., "y{K-1}": module}``.
        groups: channels per group (they sum to ``y``'s channels).
        context_groups: see :data:`CONTEXT_GROUPS`.
    """

    def __init__(
        self,
        latent_codec: Mapping[str, LatentCodec],
        channel_context: Mapping[str, nn.Module],
        *,
        groups: Sequence[int],
        context_groups: str = "all",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if context_groups not in CONTEXT_GROUPS:
            raise ParameterError(f"context_groups must be one of {CONTEXT_GROUPS}")
        self.groups = [int(g) for g in groups]
        if not self.groups or min(self.groups) < 1:
            raise ParameterError(f"groups must be positive channel counts, got {list(groups)}")
        self.groups_acc = list(accumulate(self.groups, initial=0))
        self.context_groups = context_groups
        self.channel_context = nn.ModuleDict(channel_context)
        self.latent_codec = nn.ModuleDict(latent_codec)
        missing = [f"y{k}" for k in range(len(self.groups)) if f"y{k}" not in self.latent_codec]
        missing += [f"y{k}" for k in range(1, len(self.groups)) if f"y{k}" not in channel_context]
        if missing:
            raise ParameterError(f"no latent codec or channel context for groups {missing}")

    def __getitem__(self, key: str) -> LatentCodec:
        codec = self.latent_codec[key]
        assert isinstance(codec, LatentCodec)
        return codec

    def merge_y(self, *args: Tensor) -> Tensor:
        """The channel-context input from the decoded groups ``args`` (groups ``0..k-1``)."""
        if self.context_groups == "first_and_latest" and len(args) > 2:
            args = (args[0], args[-1])
        return args[0] if len(args) == 1 else torch.cat(args, dim=1)

    def merge_params(self, *args: Tensor) -> Tensor:
        return torch.cat(args, dim=1)

    def _get_ctx_params(self, k: int, side_params: Tensor, y_hat_: Sequence[Tensor]) -> Tensor:
        return self._ctx_params(k, side_params, y_hat_, FLOAT_CODING)

    def _ctx_params(
        self, k: int, side_params: Tensor, decoded: Sequence[Tensor], arithmetic: CodecArithmetic
    ) -> Tensor:
        """``cat(channel context of the groups before k, side params)`` (group 0: the side
        params), float or (int32 ``decoded`` and side params) with the quantized contexts."""
        if k == 0:
            return side_params
        key = f"y{k}"
        context = arithmetic.run(
            self, f"channel_context.{key}", self.channel_context[key], self.merge_y(*decoded[:k])
        )
        return self.merge_params(context, side_params)

    def forward(self, y: Tensor, side_params: Tensor) -> dict[str, Any]:
        y_hat_: list[Tensor] = []
        likelihoods = []
        for k, y_k in enumerate(y.split(self.groups, dim=1)):
            out = self[f"y{k}"](y_k, self._get_ctx_params(k, side_params, y_hat_))
            y_hat_.append(out["y_hat"])
            likelihoods.append(out["likelihoods"]["y"])
        return {
            "likelihoods": {"y": torch.cat(likelihoods, dim=1)},
            "y_hat": torch.cat(y_hat_, dim=1),
        }

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
        decoded: list[Tensor] = []
        y_hat_: list[Tensor] = []
        strings: list[Any] = []
        shapes = []
        chunks = chunks_option(stream_chunks)
        for k, y_k in enumerate(y.split(self.groups, dim=1)):
            params = self._ctx_params(k, side_params, decoded, arithmetic)
            out = arithmetic.compress(self[f"y{k}"], y_k, params, **chunks)
            decoded.append(arithmetic.decoded(out))
            y_hat_.append(out["y_hat"])
            strings.extend(out["strings"])
            shapes.append(out["shape"])
        result = {"strings": strings, "shape": shapes, "y_hat": torch.cat(y_hat_, dim=1)}
        if arithmetic.fixed:
            result["y_int"] = torch.cat(decoded, dim=1)
        return result

    def _strings_per_group(self, strings: Any, shape: Any) -> int:
        """Check the arguments of a decode; return how many lists of strings each group has."""
        owner = type(self).__name__
        count = len(self.groups)
        if not isinstance(strings, (list, tuple)) or not strings or len(strings) % count:
            raise ParameterError(f"{owner}: expected a multiple of {count} lists of strings")
        if not isinstance(shape, (list, tuple)) or len(shape) != count:
            raise ParameterError(f"{owner}: shape must hold one shape per group ({count})")
        n = len(strings[0])
        if any(not isinstance(s, (list, tuple)) or len(s) != n for s in strings):
            raise ParameterError(f"{owner}: every list of strings must have one entry per item")
        return len(strings) // count

    def decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[Sequence[int]],
        side_params: Tensor,
        *,
        stream_chunks: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self._decompress(strings, shape, side_params, FLOAT_CODING, stream_chunks)

    def _decompress(
        self,
        strings: list[list[bytes]],
        shape: Sequence[Sequence[int]],
        side_params: Tensor,
        arithmetic: CodecArithmetic,
        stream_chunks: int | None,
    ) -> dict[str, Any]:
        per_group = self._strings_per_group(strings, shape)
        decoded: list[Tensor] = []
        y_hat_: list[Tensor] = []
        chunks = chunks_option(stream_chunks)
        for k in range(len(self.groups)):
            params = self._ctx_params(k, side_params, decoded, arithmetic)
            group_strings = list(strings[per_group * k : per_group * (k + 1)])
            out = arithmetic.decompress(self[f"y{k}"], group_strings, shape[k], params, **chunks)
            decoded.append(arithmetic.decoded(out))
            y_hat_.append(out["y_hat"])
        result = {"y_hat": torch.cat(y_hat_, dim=1)}
        if arithmetic.fixed:
            result["y_int"] = torch.cat(decoded, dim=1)
        return result

    # -- the fixed-point entropy path -------------------------------------------------------------

    def fixed_network_modules(self) -> dict[str, nn.Module]:
        return {f"channel_context.{k}": m for k, m in self.channel_context.items()}

    def compress_fixed(
        self,
        y: Tensor,
        side_params: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        """:meth:`compress` with integer networks (``side_params`` int32, fixed point); the
        channel contexts see the groups' ``"y_int"``, returned too."""
        return self._compress(y, side_params, CodecArithmetic(networks, tile_size), stream_chunks)

    def decompress_fixed(
        self,
        strings: list[list[bytes]],
        shape: Sequence[Sequence[int]],
        side_params: Tensor,
        *,
        networks: FixedNetworks,
        tile_size: int = 0,
        stream_chunks: int | None = None,
    ) -> dict[str, Any]:
        return self._decompress(
            strings, shape, side_params, CodecArithmetic(networks, tile_size), stream_chunks
        )
