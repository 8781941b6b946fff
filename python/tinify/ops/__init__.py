# SPDX-License-Identifier: Apache-2.0
"""Small differentiable operations shared by layers and entropy models.

- :class:`LowerBound` / :func:`lower_bound`: ``max(x, bound)`` with a pass-through gradient.
- :class:`NonNegativeParametrizer`: keeps GDN parameters above a minimum.
- :func:`quantize_ste`: rounding with an identity gradient.
- :func:`compute_padding`, :func:`pad_to_multiple`, :func:`crop`: centred padding.
"""

from __future__ import annotations

from tinify.ops.bound import LowerBound, lower_bound
from tinify.ops.padding import compute_padding, crop, pad_to_multiple
from tinify.ops.parametrizers import NonNegativeParametrizer
from tinify.ops.quantize import quantize_ste

__all__ = [
    "LowerBound",
    "NonNegativeParametrizer",
    "compute_padding",
    "crop",
    "lower_bound",
    "pad_to_multiple",
    "quantize_ste",
]
