# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.ops.bound_ops`` path: re-exports of :mod:`tinify.ops.bound`."""

from __future__ import annotations

from tinify.ops.bound import LowerBound, LowerBoundFunction, lower_bound_bwd, lower_bound_fwd

__all__ = ["LowerBound", "LowerBoundFunction", "lower_bound_bwd", "lower_bound_fwd"]
