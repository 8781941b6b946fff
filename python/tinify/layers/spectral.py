# SPDX-License-Identifier: Apache-2.0
"""Convolutions whose kernels are stored in the frequency domain ("spectral" parametrization).

A kernel ``w`` of size ``kh x kw`` is stored as its orthonormal real 2-D DFT
``W = rfft2(w, norm="ortho")`` (parameter ``weight_transformed``, complex, shape
``(..., kh, kw // 2 + 1)``), and the convolution uses ``w = irfft2(W, s=(kh, kw))``. The
transform is orthonormal, so the layer computes exactly what a plain convolution with ``w``
computes; what changes is the optimization: a gradient step on ``W`` moves every spatial
frequency of the kernel by a comparable amount, which conditions the problem better and
allows larger learning rates.

Reference:
    J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018
    (arXiv:1802.00847), Section 4 (spectral reparametrization of the filters, after O. Rippel,
    J. Snoek, R. P. Adams, "Spectral Representations for Convolutional Neural Networks",
    NeurIPS 2015).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["SpectralConv2d", "SpectralConvTranspose2d"]


class _SpectralKernel:
    """Replace the ``weight`` parameter of a conv layer by ``weight_transformed``.

    ``weight`` stays readable (a property computing the spatial kernel), so the parent class's
    ``forward`` runs unchanged.
    """

    kernel_size: tuple[int, ...]
    weight_transformed: nn.Parameter
    _parameters: dict[str, Any]

    def _to_spectral(self) -> None:
        spatial = self._parameters.pop("weight")
        self.dim = (-2, -1)
        self.weight_transformed = nn.Parameter(
            torch.fft.rfftn(spatial.detach(), s=self.kernel_size, dim=self.dim, norm="ortho")
        )

    @property
    def weight(self) -> Tensor:
        """The spatial kernel, ``irfft2(weight_transformed)``."""
        return torch.fft.irfftn(
            self.weight_transformed, s=self.kernel_size, dim=self.dim, norm="ortho"
        )


class SpectralConv2d(nn.Conv2d, _SpectralKernel):
    """``nn.Conv2d`` with its kernel stored as ``weight_transformed`` (see the module docstring).

    Takes ``nn.Conv2d``'s arguments; the state dict holds ``weight_transformed`` (complex) and
    ``bias`` instead of ``weight`` and ``bias``, as in CompressAI. At construction the kernel is
    ``nn.Conv2d``'s usual initialization, transformed.

    Reference:
        J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._to_spectral()


class SpectralConvTranspose2d(nn.ConvTranspose2d, _SpectralKernel):
    """``nn.ConvTranspose2d`` with its kernel stored as ``weight_transformed``.

    See :class:`SpectralConv2d`.

    Reference:
        J. Ballé, "Efficient Nonlinear Transforms for Lossy Image Compression", PCS 2018.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._to_spectral()
