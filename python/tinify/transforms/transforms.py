# SPDX-License-Identifier: Apache-2.0
"""Colour conversions as callable transforms, for ``torchvision.transforms.Compose`` pipelines
(CompressAI's ``compressai.transforms.transforms``).

Each one calls the function of :mod:`tinify.transforms.functional` with its settings.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from tinify.transforms.functional import rgb2ycbcr, ycbcr2rgb, yuv_420_to_444, yuv_444_to_420

__all__ = ["RGB2YCbCr", "YCbCr2RGB", "YUV420To444", "YUV444To420"]


class RGB2YCbCr:
    """RGB -> YCbCr (BT.709): ``(N, 3, H, W)`` or ``(3, H, W)`` floats in [0, 1]."""

    def __call__(self, rgb: Tensor) -> Tensor:
        return rgb2ycbcr(rgb)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class YCbCr2RGB:
    """YCbCr -> RGB (BT.709): ``(N, 3, H, W)`` or ``(3, H, W)`` floats in [0, 1]."""

    def __call__(self, ycbcr: Tensor) -> Tensor:
        return ycbcr2rgb(ycbcr)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class YUV444To420:
    """4:4:4 -> 4:2:0: ``(N, 3, H, W)`` (or three planes) -> ``(y, u, v)``, chroma halved.

    Args:
        mode: Downsampling, ``"avg_pool"`` (the only one).
    """

    def __init__(self, mode: str = "avg_pool") -> None:
        self.mode = str(mode)

    def __call__(self, yuv: Tensor | Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        return yuv_444_to_420(yuv, mode=self.mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class YUV420To444:
    """4:2:0 -> 4:4:4: ``(y, u, v)`` -> ``(N, 3, H, W)`` (or three planes), chroma doubled.

    Args:
        mode: Upsampling, ``"bilinear"``, ``"bicubic"`` or ``"nearest"``. (CompressAI's class
            stores ``mode`` but always upsamples bilinearly; this one uses it.)
        return_tuple: Return ``(y, u, v)`` instead of one tensor.
    """

    def __init__(self, mode: str = "bilinear", return_tuple: bool = False) -> None:
        self.mode = str(mode)
        self.return_tuple = bool(return_tuple)

    def __call__(self, yuv: Sequence[Tensor]) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        if self.return_tuple:
            return yuv_420_to_444(yuv, mode=self.mode, return_tuple=True)
        return yuv_420_to_444(yuv, mode=self.mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(return_tuple={self.return_tuple})"
