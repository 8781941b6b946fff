# SPDX-License-Identifier: Apache-2.0
"""He et al. (SenseTime): checkerboard context (CVPR 2021) and ELIC (CVPR 2022).

The models are :class:`~tinify.models.base.SimpleVAECompressionModel`\\ s whose entropy model is
composed of :mod:`tinify.latent_codecs`: a hyperprior whose ``"y"`` codec is a two-pass
checkerboard (one group of channels) or a set of uneven channel groups, each with its own
checkerboard. Every pass is one batched network step and one call of the Rust coder.
Module names, constructor arguments, state-dict keys and streams are CompressAI 1.2.8's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from tinify.entropy_models import EntropyBottleneck
from tinify.exceptions import ParameterError
from tinify.latent_codecs import (
    ChannelGroupsLatentCodec,
    CheckerboardLatentCodec,
    GaussianConditionalLatentCodec,
    HyperLatentCodec,
    HyperpriorLatentCodec,
    LatentCodec,
)
from tinify.layers import (
    AttentionBlock,
    CheckerboardMaskedConv2d,
    conv,
    conv1x1,
    conv3x3,
    deconv,
    sequential_channel_ramp,
)
from tinify.models.base import SimpleVAECompressionModel
from tinify.models.image.cheng2020 import anchor_hyper_transforms, anchor_transforms
from tinify.models.tiling import ReceptiveField, branches, register_layer
from tinify.registry.torch import register_model

__all__ = [
    "Cheng2020AnchorCheckerboard",
    "Elic2022Chandelier",
    "Elic2022Official",
    "ResidualBottleneckBlock",
]


def _hyperprior(
    y_codec: LatentCodec, N: int, h_a: nn.Module, h_s: nn.Module
) -> HyperpriorLatentCodec:
    """The hyperprior shared by the three models (STE-quantized side information)."""
    hyper = HyperLatentCodec(EntropyBottleneck(N), h_a, h_s, quantizer="ste")
    return HyperpriorLatentCodec(latent_codec={"y": y_codec, "hyper": hyper})


@register_model("cheng2020-anchor-checkerboard")
class Cheng2020AnchorCheckerboard(SimpleVAECompressionModel):
    r"""Cheng et al.'s anchor model with the checkerboard context model of D. He, Y. Zheng,
    B. Sun, Y. Wang, H. Qin, "Checkerboard Context Model for Efficient Learned Image
    Compression", CVPR 2021 (arXiv:2103.15306); transforms of Z. Cheng, H. Sun, M. Takeuchi,
    J. Katto, CVPR 2020 (arXiv:2001.01568)::

              ┌─────┐  y   ┌──────────────────────────────────┐ y_hat ┌─────┐
        x ──► │ g_a │ ───► │ hyperprior: h_a ─ EB ─ h_s       │ ────► │ g_s │ ──► x_hat
              └─────┘      │ checkerboard: anchors, then      │       └─────┘
                           │   non-anchors | 5x5 context      │
                           └──────────────────────────────────┘

    Decoding takes two batched passes over ``y`` instead of one step per position.
    ``compress`` returns ``{"strings": [anchors, non-anchors, z], "shape": {"y": (N, H/16,
    W/16), "hyper": (H/64, W/64)}, "y_hat", "x_size"}``.

    Args:
        N: channels everywhere (``M = N``).
    """

    def __init__(self, N: int = 192, **kwargs: Any) -> None:
        super().__init__()
        self.g_a, self.g_s = anchor_transforms(N)
        h_a, h_s = anchor_hyper_transforms(N)
        checkerboard = CheckerboardLatentCodec(
            latent_codec={"y": GaussianConditionalLatentCodec(quantizer="ste")},
            entropy_parameters=nn.Sequential(
                nn.Conv2d(N * 12 // 3, N * 10 // 3, 1),
                nn.LeakyReLU(inplace=True),
                nn.Conv2d(N * 10 // 3, N * 8 // 3, 1),
                nn.LeakyReLU(inplace=True),
                nn.Conv2d(N * 8 // 3, N * 6 // 3, 1),
            ),
            context_prediction=CheckerboardMaskedConv2d(
                N, 2 * N, kernel_size=5, stride=1, padding=2
            ),
        )
        self.latent_codec = _hyperprior(checkerboard, N, h_a, h_s)
        self.N = int(N)
        self.latent_names = ("y_anchor", "y_non_anchor", "z")

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        return {"N": int(state_dict["g_a.0.conv1.weight"].shape[0])}

    def latent_shape(self, size: Sequence[int]) -> dict[str, Any]:
        """``{"y": (N, 4h, 4w), "hyper": (h, w)}`` for a hyper-latent of size ``(h, w)``."""
        h, w = (int(s) for s in size)
        return {"y": torch.Size((self.N, 4 * h, 4 * w)), "hyper": torch.Size((h, w))}


class ResidualBottleneckBlock(nn.Module):
    """Residual bottleneck block of K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning
    for Image Recognition", CVPR 2016: a 3x3 convolution between two 1x1 convolutions that
    halve and restore the channels, plus the input (through a 1x1 convolution when the widths
    differ)::

        x ─┬─ conv1x1 ─ ReLU ─ conv3x3 ─ ReLU ─ conv1x1 ─(+)─► out
           └──────────────── skip ───────────────────────┘

    Args:
        in_ch: input channels.
        out_ch: output channels.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        mid_ch = min(in_ch, out_ch) // 2
        self.conv1 = conv1x1(in_ch, mid_ch)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(mid_ch, mid_ch)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = conv1x1(mid_ch, out_ch)
        self.skip: nn.Module = conv1x1(in_ch, out_ch) if in_ch != out_ch else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_ch, H, W) -> (N, out_ch, H, W)."""
        out = self.relu1(self.conv1(x))
        out = self.relu2(self.conv2(out))
        return self.conv3(out) + self.skip(x)


def _blocks(n: int, channels: int) -> list[nn.Module]:
    return [ResidualBottleneckBlock(channels, channels) for _ in range(n)]


def _elic_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``g_a`` and ``g_s`` of ELIC: 5x5 stride-2 (de)convolutions, residual bottleneck blocks
    and attention blocks."""
    g_a = nn.Sequential(
        conv(3, N, kernel_size=5, stride=2),
        *_blocks(3, N),
        conv(N, N, kernel_size=5, stride=2),
        *_blocks(3, N),
        AttentionBlock(N),
        conv(N, N, kernel_size=5, stride=2),
        *_blocks(3, N),
        conv(N, M, kernel_size=5, stride=2),
        AttentionBlock(M),
    )
    g_s = nn.Sequential(
        AttentionBlock(M),
        deconv(M, N, kernel_size=5, stride=2),
        *_blocks(3, N),
        deconv(N, N, kernel_size=5, stride=2),
        AttentionBlock(N),
        *_blocks(3, N),
        deconv(N, N, kernel_size=5, stride=2),
        *_blocks(3, N),
        deconv(N, 3, kernel_size=5, stride=2),
    )
    return g_a, g_s


def _elic_h_a(N: int, M: int) -> nn.Sequential:
    return nn.Sequential(
        conv(M, N, kernel_size=3, stride=1),
        nn.ReLU(inplace=True),
        conv(N, N, kernel_size=5, stride=2),
        nn.ReLU(inplace=True),
        conv(N, N, kernel_size=5, stride=2),
    )


def _channel_ramp(in_ch: int, out_ch: int, min_ch: int) -> nn.Module:
    """Three 1x1 convolutions with ReLUs between them, widths ramping linearly from ``in_ch`` to
    ``out_ch`` (inner widths at least ``min_ch``): ELIC's channel-context parameter network."""
    return sequential_channel_ramp(
        in_ch,
        out_ch,
        min_ch=min_ch,
        num_layers=3,
        make_layer=conv1x1,
        make_act=lambda: nn.ReLU(inplace=True),
    )


def _channel_context(in_ch: int, out_ch: int) -> nn.Sequential:
    """``g_ch``: three 5x5 convolutions from decoded groups to a group's context."""
    return nn.Sequential(
        conv(in_ch, 224, kernel_size=5, stride=1),
        nn.ReLU(inplace=True),
        conv(224, 128, kernel_size=5, stride=1),
        nn.ReLU(inplace=True),
        conv(128, out_ch, kernel_size=5, stride=1),
    )


def _checked_groups(groups: Sequence[int] | None, M: int) -> list[int]:
    """``groups``, or the default ``[16, 16, 32, 64, M - 128]``, checked to sum to ``M``."""
    if groups is None:
        if M <= 128:
            raise ParameterError(
                f"the default groups [16, 16, 32, 64, M - 128] need M > 128, got {M}"
            )
        groups = [16, 16, 32, 64, M - 128]
    if sum(groups) != M:
        raise ParameterError(f"groups {list(groups)} must sum to M={M}")
    return [int(g) for g in groups]


def _elic_h_s(N: int, last: nn.Module) -> nn.Sequential:
    """``h_s`` of ELIC: two 5x5 stride-2 transposed convolutions with ReLUs, then ``last``."""
    return nn.Sequential(
        deconv(N, N, kernel_size=5, stride=2),
        nn.ReLU(inplace=True),
        deconv(N, N * 3 // 2, kernel_size=5, stride=2),
        nn.ReLU(inplace=True),
        last,
    )


@register_model("elic2022-official")
class Elic2022Official(SimpleVAECompressionModel):
    r"""ELIC of D. He, Z. Yang, W. Peng, R. Ma, H. Qin, Y. Wang, "ELIC: Efficient Learned Image
    Compression with Unevenly Grouped Space-Channel Contextual Adaptive Coding", CVPR 2022
    (arXiv:2203.10886), with attention blocks after Z. Cheng et al., CVPR 2020.

    ``y`` is coded in uneven channel groups (``[16, 16, 32, 64, M - 128]``); group ``k`` gets a
    channel context ``g_ch`` from all groups before it, a checkerboard spatial context ``g_sp``
    within itself, and the hyperprior's parameters, aggregated by 1x1 convolutions::

        x ─► g_a ─► y ─┬─► h_a ─► z ─ EB ─► h_s ─► side params ─────────────┐
                       └─► y0 │ y1 │ y2 │ y3 │ y4 (each: anchors, non-anchors)◄┘ ─► g_s ─► x_hat

    Decoding is two batched passes per group (10 steps for the default groups).
    ``compress`` returns ``{"strings": [2 per group..., z], "shape": {"y": [(c_k, H/16, W/16),
    ...], "hyper": (H/64, W/64)}, "y_hat", "x_size"}``.

    Args:
        N: channels of the transforms and of ``z``.
        M: channels of ``y``.
        groups: channels per group (sum ``M``).
    """

    def __init__(
        self, N: int = 192, M: int = 320, groups: Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        super().__init__()
        self.groups = _checked_groups(groups, M)
        self.g_a, self.g_s = _elic_transforms(N, M)
        h_s = _elic_h_s(N, deconv(N * 3 // 2, N * 2, kernel_size=3, stride=1))
        side = N * 2
        aggregation = [
            _channel_ramp(g * 2 + (k > 0) * g * 2 + side, g * 2, min_ch=N * 2)
            for k, g in enumerate(self.groups)
        ]
        self._build(N, M, h_s, self._context_inputs(), aggregation, ("scales", "means"), "all")

    def _context_inputs(self) -> list[int]:
        """Input channels of each group's channel context (all groups before it)."""
        return [sum(self.groups[:k]) for k in range(len(self.groups))]

    def _build(
        self,
        N: int,
        M: int,
        h_s: nn.Module,
        context_inputs: Sequence[int],
        aggregation: Sequence[nn.Module],
        chunks: tuple[str, ...],
        context_groups: str,
    ) -> None:
        groups = self.groups
        channel_context = {
            f"y{k}": _channel_context(context_inputs[k], groups[k] * 2)
            for k in range(1, len(groups))
        }
        codecs = {
            f"y{k}": CheckerboardLatentCodec(
                latent_codec={
                    "y": GaussianConditionalLatentCodec(quantizer="ste", chunks=chunks),
                },
                context_prediction=CheckerboardMaskedConv2d(
                    g, g * 2, kernel_size=5, stride=1, padding=2
                ),
                entropy_parameters=aggregation[k],
            )
            for k, g in enumerate(groups)
        }
        y_codec = ChannelGroupsLatentCodec(
            groups=groups,
            channel_context=channel_context,
            latent_codec=codecs,
            context_groups=context_groups,
        )
        self.latent_codec = _hyperprior(y_codec, N, _elic_h_a(N, M), h_s)
        self.N = int(N)
        self.M = int(M)
        names = [f"y{k}_{part}" for k in range(len(groups)) for part in ("anchor", "non_anchor")]
        self.latent_names = (*names, "z")

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        n = int(state_dict["g_a.0.weight"].shape[0])
        m = int(state_dict["latent_codec.hyper.h_a.0.weight"].shape[1])
        prefix = "latent_codec.y.latent_codec.y{}.context_prediction.weight"
        groups: list[int] = []
        while prefix.format(len(groups)) in state_dict:
            groups.append(int(state_dict[prefix.format(len(groups))].shape[1]))
        return {"N": n, "M": m, "groups": groups}

    def latent_shape(self, size: Sequence[int]) -> dict[str, Any]:
        """``{"y": [(c_k, 4h, 4w) per group], "hyper": (h, w)}`` for a hyper-latent ``(h, w)``."""
        h, w = (int(s) for s in size)
        y = [torch.Size((g, 4 * h, 4 * w)) for g in self.groups]
        return {"y": y, "hyper": torch.Size((h, w))}


@register_model("elic2022-chandelier")
class Elic2022Chandelier(Elic2022Official):
    r"""ELIC (He et al., CVPR 2022, arXiv:2203.10886) as re-implemented by V. Chandelier
    ("ELiC-ReImplemetation", 2023), CompressAI's ``Elic2022Chandelier``.

    Differences from :class:`Elic2022Official`: the channel context of group ``k`` sees only the
    first and the latest decoded groups (``0`` and ``k - 1``); ``h_s`` ends in a 3x3 convolution
    to ``2M`` side channels; the parameter aggregation is 1x1 convolutions ``-> 2M -> 512 ->``
    and its output is ``(means, scales)``.

    Args:
        N: channels of the transforms and of ``z``.
        M: channels of ``y``.
        groups: channels per group (sum ``M``).
    """

    def __init__(
        self, N: int = 192, M: int = 320, groups: Sequence[int] | None = None, **kwargs: Any
    ) -> None:
        SimpleVAECompressionModel.__init__(self)
        self.groups = _checked_groups(groups, M)
        self.g_a, self.g_s = _elic_transforms(N, M)
        h_s = _elic_h_s(N, conv(N * 3 // 2, M * 2, kernel_size=3, stride=1))
        aggregation = [
            nn.Sequential(
                conv1x1(g * 2 + (k > 0) * g * 2 + M * 2, M * 2),
                nn.ReLU(inplace=True),
                conv1x1(M * 2, 512),
                nn.ReLU(inplace=True),
                conv1x1(512, g * 2),
            )
            for k, g in enumerate(self.groups)
        ]
        self._build(
            N, M, h_s, self._context_inputs(), aggregation, ("means", "scales"), "first_and_latest"
        )

    def _context_inputs(self) -> list[int]:
        g = self.groups
        return [g[0] + (k > 1) * g[k - 1] if k else 0 for k in range(len(g))]


def _bottleneck_field(m: nn.Module) -> ReceptiveField:
    assert isinstance(m, ResidualBottleneckBlock)
    return branches([m.conv1, m.conv2, m.conv3], [m.skip])


register_layer(ResidualBottleneckBlock, _bottleneck_field)
