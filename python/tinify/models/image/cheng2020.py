# SPDX-License-Identifier: Apache-2.0
"""Cheng et al. (CVPR 2020): residual / attention transforms with an autoregressive prior."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from tinify.layers import (
    AttentionBlock,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    conv3x3,
    subpel_conv3x3,
)
from tinify.models.image.mbt2018 import (
    JointAutoregressiveHierarchicalPriors,
    entropy_model_from_state_dict,
)
from tinify.registry.torch import register_model

__all__ = [
    "Cheng2020Anchor",
    "Cheng2020Attention",
    "anchor_hyper_transforms",
    "anchor_transforms",
]


def anchor_transforms(N: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``g_a`` and ``g_s`` of Cheng et al.'s anchor model: residual blocks, /16 and x16, N
    channels (also those of :class:`~tinify.models.sensetime.Cheng2020AnchorCheckerboard`)."""
    g_a = nn.Sequential(
        ResidualBlockWithStride(3, N, stride=2),
        ResidualBlock(N, N),
        ResidualBlockWithStride(N, N, stride=2),
        ResidualBlock(N, N),
        ResidualBlockWithStride(N, N, stride=2),
        ResidualBlock(N, N),
        conv3x3(N, N, stride=2),
    )
    g_s = nn.Sequential(
        ResidualBlock(N, N),
        ResidualBlockUpsample(N, N, 2),
        ResidualBlock(N, N),
        ResidualBlockUpsample(N, N, 2),
        ResidualBlock(N, N),
        ResidualBlockUpsample(N, N, 2),
        ResidualBlock(N, N),
        subpel_conv3x3(N, 3, 2),
    )
    return g_a, g_s


def anchor_hyper_transforms(N: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``h_a`` and ``h_s`` of Cheng et al.'s anchor model (3x3 convolutions, sub-pixel
    upsampling); ``h_s`` outputs ``2N`` channels."""
    h_a = nn.Sequential(
        conv3x3(N, N),
        nn.LeakyReLU(inplace=True),
        conv3x3(N, N),
        nn.LeakyReLU(inplace=True),
        conv3x3(N, N, stride=2),
        nn.LeakyReLU(inplace=True),
        conv3x3(N, N),
        nn.LeakyReLU(inplace=True),
        conv3x3(N, N, stride=2),
    )
    h_s = nn.Sequential(
        conv3x3(N, N),
        nn.LeakyReLU(inplace=True),
        subpel_conv3x3(N, N, 2),
        nn.LeakyReLU(inplace=True),
        conv3x3(N, N * 3 // 2),
        nn.LeakyReLU(inplace=True),
        subpel_conv3x3(N * 3 // 2, N * 3 // 2, 2),
        nn.LeakyReLU(inplace=True),
        conv3x3(N * 3 // 2, N * 2),
    )
    return h_a, h_s


@register_model("cheng2020-anchor")
class Cheng2020Anchor(JointAutoregressiveHierarchicalPriors):
    r"""Anchor model of Z. Cheng, H. Sun, M. Takeuchi, J. Katto, "Learned Image Compression with
    Discretized Gaussian Mixture Likelihoods and Attention Modules", CVPR 2020
    (arXiv:2001.01568), without the attention modules.

    Residual blocks replace the GDN convolutions of :class:`JointAutoregressiveHierarchicalPriors`
    (3x3 convolutions, sub-pixel upsampling); ``M = N``::

              ┌──────────────────┐  y  ┌───┐ y_hat ┌──────────────────┐
        x ──► │ g_a: 3 x (RB/s2, │ ──► │ Q │ ────► │ g_s: 3 x (RB,    │ ──► x_hat
              │  RB), conv3x3/s2 │     └───┘       │  RB/up2), RB,    │
              └──────────────────┘   ▲   │ context │  subpel x2       │
                                     │   ▼ (5x5)   └──────────────────┘
                      h_a/h_s ──► entropy parameters ──► GC(means, scales) or mixture

    By default the entropy model is CompressAI's single mean-scale Gaussian, so CompressAI's
    checkpoints load. ``entropy_model="mixture"`` gives the paper's K=3 discretized Gaussian
    mixture (no pretrained weights exist for it).

    Args:
        N: channels everywhere (``M = N``).
        entropy_model: ``"gaussian"`` or ``"mixture"``.
        K: mixture components.
        context_order: ``"wavefront"`` or ``"raster"`` (see the parent class).
    """

    def __init__(
        self,
        N: int = 192,
        *,
        entropy_model: str = "gaussian",
        K: int = 3,
        context_order: str = "wavefront",
    ) -> None:
        super().__init__(N, N, entropy_model=entropy_model, K=K, context_order=context_order)

    @staticmethod
    def _transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        return anchor_transforms(N)

    @staticmethod
    def _hyper_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        return anchor_hyper_transforms(N)

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        n = int(state_dict["g_a.0.conv1.weight"].shape[0])
        return {"N": n, **entropy_model_from_state_dict(state_dict, n)}


@register_model("cheng2020-attn")
class Cheng2020Attention(Cheng2020Anchor):
    r"""Cheng et al., CVPR 2020 (arXiv:2001.01568), with the simplified attention modules.

    :class:`Cheng2020Anchor` plus two :class:`~tinify.layers.AttentionBlock` in each of ``g_a``
    and ``g_s``::

        g_a: RB/s2, RB, RB/s2, [Attn], RB, RB/s2, RB, conv3x3/s2, [Attn]
        g_s: [Attn], RB, RB/up2, RB, RB/up2, [Attn], RB, RB/up2, RB, subpel x2

    Args:
        N: channels everywhere (``M = N``).
        entropy_model: ``"gaussian"`` or ``"mixture"``.
        K: mixture components.
        context_order: ``"wavefront"`` or ``"raster"``.
    """

    @staticmethod
    def _transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        g_a = nn.Sequential(
            ResidualBlockWithStride(3, N, stride=2),
            ResidualBlock(N, N),
            ResidualBlockWithStride(N, N, stride=2),
            AttentionBlock(N),
            ResidualBlock(N, N),
            ResidualBlockWithStride(N, N, stride=2),
            ResidualBlock(N, N),
            conv3x3(N, N, stride=2),
            AttentionBlock(N),
        )
        g_s = nn.Sequential(
            AttentionBlock(N),
            ResidualBlock(N, N),
            ResidualBlockUpsample(N, N, 2),
            ResidualBlock(N, N),
            ResidualBlockUpsample(N, N, 2),
            AttentionBlock(N),
            ResidualBlock(N, N),
            ResidualBlockUpsample(N, N, 2),
            ResidualBlock(N, N),
            subpel_conv3x3(N, 3, 2),
        )
        return g_a, g_s
