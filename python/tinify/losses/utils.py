# SPDX-License-Identifier: Apache-2.0
"""Rate terms of a loss, per latent (CompressAI's ``compressai.losses.utils``)."""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor

__all__ = ["compute_rate_loss"]


def compute_rate_loss(
    likelihoods: Mapping[str, Tensor], batch_size: int, bit_per_bpp: float
) -> dict[str, Tensor]:
    """Bits and bits per pixel of every latent, and their totals.

    The information content of latent ``name`` is ``bits = -sum(log2(likelihoods[name]))``,
    averaged over the batch. With ``bit_per_bpp`` the number of pixels (or points) of one
    item, the result holds, for every ``name``: ``"bit_{name}_loss"`` (bits per item) and
    ``"bpp_{name}_loss"`` (bits per pixel); and ``"bit_loss"`` and ``"bpp_loss"``, their sums
    over the latents.

    Reference:
        J. Ballé, V. Laparra, E. P. Simoncelli, "End-to-end Optimized Image Compression",
        ICLR 2017 (the rate term of the rate-distortion loss).

    Args:
        likelihoods: ``out["likelihoods"]`` of a model's forward, ``{name: tensor}``.
        batch_size: Number of items in the batch.
        bit_per_bpp: Pixels per item: bits per item / ``bit_per_bpp`` = bits per pixel.

    Returns:
        The dictionary described above (scalar tensors, differentiable).
    """
    bits = {f"bit_{name}_loss": lh.log2().sum() / -batch_size for name, lh in likelihoods.items()}
    bpp = {f"bpp_{name}_loss": bits[f"bit_{name}_loss"] / bit_per_bpp for name in likelihoods}
    out: dict[str, Tensor] = {**bits, **bpp}
    total = sum(bits.values())
    assert isinstance(total, Tensor), "likelihoods must hold at least one tensor"
    out["bit_loss"] = total
    out["bpp_loss"] = total / bit_per_bpp
    return out
