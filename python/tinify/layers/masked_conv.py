# SPDX-License-Identifier: Apache-2.0
"""Causally masked convolutions for autoregressive context models: raster-scan and checkerboard."""

# No ``from __future__ import annotations``: TorchScript cannot resolve string annotations on
# class attributes (``mask: torch.Tensor``), and these layers must script.

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tinify.exceptions import ParameterError

__all__ = ["CheckerboardMaskedConv2d", "MaskedConv2d", "checkerboard_mask"]


def checkerboard_mask(shape: Sequence[int], mask_type: str = "A") -> torch.Tensor:
    """The checkerboard mask of a context kernel of ``shape`` (out, in, kh, kw), float32.

    A tap is kept when its row plus column is odd, i.e. at an odd Manhattan distance from the
    centre of an odd-sized kernel: the nearest positions of the other colour of the board, which
    are the anchors when a non-anchor is coded. The centre is dropped for type ``"A"`` and kept
    for ``"B"`` (:class:`CheckerboardMaskedConv2d`'s mask).

    Raises:
        ParameterError: ``mask_type`` is not ``"A"`` or ``"B"``.
    """
    if mask_type not in ("A", "B"):
        raise ParameterError(f'mask_type must be "A" or "B", got {mask_type!r}')
    *_, kh, kw = shape
    rows = torch.arange(kh).reshape(-1, 1)
    cols = torch.arange(kw).reshape(1, -1)
    plane = ((rows + cols) % 2 == 1).float()
    plane[kh // 2, kw // 2] = float(mask_type == "B")
    return plane.expand(*shape).contiguous()


class MaskedConv2d(nn.Conv2d):
    r"""``Conv2d`` whose kernel only sees positions before the centre in raster-scan order.

    For a ``kh x kw`` kernel the mask keeps every row above the centre row and, in the centre
    row, the taps left of the centre; mask type ``"A"`` also drops the centre tap (the context
    model of Minnen et al. must not see the symbol being coded), type ``"B"`` keeps it. A 5x5
    type-"A" mask has 12 ones::

        1 1 1 1 1
        1 1 1 1 1
        1 1 0 0 0
        0 0 0 0 0
        0 0 0 0 0

    The mask is a float buffer ``mask`` with the weight's shape, saved in the state dict.

    Reference:
        A. van den Oord, N. Kalchbrenner, K. Kavukcuoglu, "Pixel Recurrent Neural Networks",
        ICML 2016 (arXiv:1601.06759); D. Minnen, J. Ballé, G. Toderici, "Joint Autoregressive
        and Hierarchical Priors for Learned Image Compression", NeurIPS 2018 (arXiv:1809.02736).

    Args:
        *args: Positional arguments of ``nn.Conv2d`` (``in_channels, out_channels,
            kernel_size, ...``).
        mask_type: ``"A"`` (exclude the centre) or ``"B"`` (include it).
        **kwargs: Keyword arguments of ``nn.Conv2d``.

    Raises:
        ParameterError: If ``mask_type`` is not ``"A"`` or ``"B"``.
    """

    mask: torch.Tensor

    def __init__(self, *args: Any, mask_type: str = "A", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if mask_type not in ("A", "B"):
            raise ParameterError(f'mask_type must be "A" or "B", got {mask_type!r}')
        self.mask_type = mask_type
        self.register_buffer("mask", self._make_mask(self.weight, mask_type))

        # Design choice (compatibility with CompressAI checkpoints and bit-exact outputs):
        #
        # CompressAI's forward multiplies ``weight.data`` by the mask in place and then convolves
        # with the weight. That mutates a parameter inside forward (surprising, not thread-safe,
        # hidden from autograd's version counter) and gives nonzero weight gradients at masked
        # taps, which are then zeroed again on the next call.
        #
        # tinify keeps forward pure: it convolves with ``weight * mask``. Output and input
        # gradients are bit-identical to CompressAI's (``w * 1 == w`` and ``w * 0 == 0`` exactly).
        # To keep *stored* weights identical too, masked taps are zeroed once here and again after
        # every ``load_state_dict``; they then get exactly zero gradient, so SGD, Adam and weight
        # decay leave them at zero and saved checkpoints have zeros there, as CompressAI's do.
        # This matters beyond the state dict: CompressAI's autoregressive decoder convolves with
        # the raw ``weight``, relying on those zeros. Forward itself never relies on them, so a
        # weight re-initialized by hand (``nn.init.*``) still gives masked outputs.
        #
        # The one observable difference: ``weight.grad`` is 0 at masked taps here, nonzero in
        # CompressAI. Only a global gradient-norm clip sees that (CompressAI's norm includes the
        # meaningless masked-tap gradients).
        with torch.no_grad():
            self.weight.mul_(self.mask)
        self.register_load_state_dict_post_hook(_apply_mask_after_load)

    @staticmethod
    def _make_mask(weight: torch.Tensor, mask_type: str) -> torch.Tensor:
        """The raster-scan causal mask for ``weight`` (a float tensor of its shape)."""
        kh, kw = weight.shape[-2:]
        mask = torch.ones_like(weight)
        mask[:, :, kh // 2, kw // 2 + (mask_type == "B") :] = 0
        mask[:, :, kh // 2 + 1 :] = 0
        return mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` with the masked kernel ``weight * mask``.

        Args:
            x: Tensor of shape ``(N, C_in, H, W)``.

        Returns:
            Tensor of shape ``(N, C_out, H', W')`` as for ``nn.Conv2d``.
        """
        return self._conv_forward(x, self.weight * self.mask, self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}"


class CheckerboardMaskedConv2d(MaskedConv2d):
    r"""``Conv2d`` that only sees the other colour of a checkerboard (the "anchor" positions).

    The checkerboard context model codes the latent in two passes: first the anchors, then the
    remaining half of the positions, each conditioned on its anchor neighbours. Tap ``(i, j)`` of
    a ``kh x kw`` kernel is kept when ``i + j`` is odd, i.e. when it lands on the opposite colour
    from the centre; mask type ``"A"`` drops the centre tap, type ``"B"`` keeps it. A 5x5
    type-"A" mask::

        0 1 0 1 0
        1 0 1 0 1
        0 1 0 1 0
        1 0 1 0 1
        0 1 0 1 0

    Everything else (the ``mask`` buffer, pure forward, masked taps kept at zero) is
    :class:`MaskedConv2d`'s.

    Reference:
        D. He, Y. Zheng, B. Sun, Y. Wang, H. Qin, "Checkerboard Context Model for Efficient
        Learned Image Compression", CVPR 2021 (arXiv:2103.15306), Section 3.2.

    Args:
        *args: Positional arguments of ``nn.Conv2d``.
        mask_type: ``"A"`` (exclude the centre) or ``"B"`` (include it).
        **kwargs: Keyword arguments of ``nn.Conv2d``.

    Raises:
        ValueError: If ``mask_type`` is not ``"A"`` or ``"B"``.
    """

    @staticmethod
    def _make_mask(weight: torch.Tensor, mask_type: str) -> torch.Tensor:
        return checkerboard_mask(weight.shape, mask_type).to(weight.dtype)


def _apply_mask_after_load(module: nn.Module, incompatible_keys: Any) -> None:
    """Zero the masked taps of a freshly loaded weight (see the note in ``MaskedConv2d``).

    The product is stored with ``.data =`` rather than multiplied in place, so a tensor handed to
    ``load_state_dict(..., assign=True)`` (which the parameter then shares) is never modified.
    """
    assert isinstance(module, MaskedConv2d)
    with torch.no_grad():
        module.weight.data = module.weight.data * module.mask
