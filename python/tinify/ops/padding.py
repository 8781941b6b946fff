# SPDX-License-Identifier: Apache-2.0
"""Centred zero padding to a size multiple, and the matching crop.

Learned codecs downsample by a fixed factor (16 or 64), so images are padded up to a multiple of
it before coding and cropped back after decoding. The convention (shared with CompressAI) puts
half of the extra columns on the left, rounded down, and the rest on the right; rows likewise.
Pads are ``(left, right, top, bottom)``, the order ``torch.nn.functional.pad`` expects for the
last two dimensions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from tinify.exceptions import ParameterError

__all__ = ["compute_padding", "crop", "pad_to_multiple"]

Pad4 = tuple[int, int, int, int]


def _ceil_to_multiple(n: int, multiple: int) -> int:
    return (n + multiple - 1) // multiple * multiple


def compute_padding(
    in_h: int,
    in_w: int,
    *,
    out_h: int | None = None,
    out_w: int | None = None,
    min_div: int = 1,
) -> tuple[Pad4, Pad4]:
    """Return the centred pads that take an ``in_h x in_w`` image to ``out_h x out_w``.

    A missing ``out_h`` / ``out_w`` defaults to the input size rounded up to a multiple of
    ``min_div``; a given one must itself be a multiple of ``min_div``. An output smaller than
    the input gives negative pads, which crop.

    Args:
        in_h: Input height.
        in_w: Input width.
        out_h: Target height; default ``ceil(in_h / min_div) * min_div``.
        out_w: Target width; default ``ceil(in_w / min_div) * min_div``.
        min_div: Multiple to round up to when a target is not given.

    Returns:
        ``(pad, unpad)``: ``pad = (left, right, top, bottom)`` for ``F.pad``, and
        ``unpad = (-left, -right, -top, -bottom)``, which undoes it.

    Raises:
        ParameterError: If ``min_div < 1``, or if ``out_h`` or ``out_w`` is not a multiple of it.
    """
    if min_div < 1:
        raise ParameterError(f"min_div must be >= 1, got {min_div}")
    if out_h is None:
        out_h = _ceil_to_multiple(in_h, min_div)
    if out_w is None:
        out_w = _ceil_to_multiple(in_w, min_div)
    if out_h % min_div or out_w % min_div:
        raise ParameterError(
            f"output size {out_h}x{out_w} is not a multiple of min_div={min_div}; "
            "pass out_h/out_w that are, or leave them out"
        )
    left = (out_w - in_w) // 2
    right = out_w - in_w - left
    top = (out_h - in_h) // 2
    bottom = out_h - in_h - top
    pad = (left, right, top, bottom)
    unpad = (-left, -right, -top, -bottom)
    return pad, unpad


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, Pad4]:
    """Zero-pad the last two dimensions of ``x`` (centred) up to a multiple of ``multiple``.

    Args:
        x: Tensor of shape ``(..., H, W)``, typically ``(N, C, H, W)``.
        multiple: The height and width of the result are the smallest multiples of this that are
            ``>= H`` and ``>= W``.

    Returns:
        ``(x_padded, unpad)``: the padded tensor of shape ``(..., H', W')`` (``x`` itself when no
        padding is needed) and the ``unpad`` tuple to pass to :func:`crop`.

    Raises:
        ParameterError: If ``multiple < 1``.
    """
    h, w = x.shape[-2:]
    pad, unpad = compute_padding(h, w, min_div=multiple)
    if pad == (0, 0, 0, 0):
        return x, unpad
    return F.pad(x, pad, mode="constant", value=0.0), unpad


def crop(x: torch.Tensor, unpad: Pad4) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` (or any ``F.pad`` with ``pad``) given its ``unpad``.

    When every entry of ``unpad`` is ``<= 0`` (the usual case) the result is a view of ``x``,
    with no copy; otherwise this falls back to ``F.pad(x, unpad)``.

    Args:
        x: Tensor of shape ``(..., H', W')``.
        unpad: ``(-left, -right, -top, -bottom)`` as returned by :func:`compute_padding`.

    Returns:
        Tensor of shape ``(..., H' - top - bottom, W' - left - right)``.
    """
    if any(p > 0 for p in unpad):
        return F.pad(x, unpad)
    left, right, top, bottom = (-p for p in unpad)
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]
