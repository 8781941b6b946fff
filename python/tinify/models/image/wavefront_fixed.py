# SPDX-License-Identifier: Apache-2.0
"""Wavefront autoregressive coding with fixed-point entropy parameters (``entropy_path="fixed"``).

The front order, the gathers and the stream layout are those of
:mod:`tinify.models.image.wavefront`; only the arithmetic differs. Per front:

1. gather the causal taps of the front's P positions from the int32 ``y_hat`` buffer, which
   holds ``symbol * 2^F + m_int`` (or ``symbol * 2^F`` for the mixture, whose values carry no
   mean), saturated to int32: (P, taps*M) integers, identical on both sides;
2. context = the masked convolution as one integer linear layer, in Rust;
3. ``entropy_parameters`` (1x1 convolutions, LeakyReLUs) on ``cat(hyper params, context)``,
   in Rust;
4. Gaussian: scales -> table rows on integers, means ``m_int * 2^-F`` in float32, symbols
   ``round(y - m)``. Mixture: softmax of the integer logits in Rust (f64, pure-Rust ``exp``),
   means and scales ``x_int * 2^-F`` in float64, symbols ``round(y)``; the Rust mixture coder.

Every step is integer or exactly-defined arithmetic, so the decoder reproduces the encoder's
parameters on any CPU or GPU, for any thread count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from tinify import _core
from tinify.ans import RansDecoder, encode_mixture
from tinify.entropy_models import GaussianConditional, GaussianMixtureConditional
from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.models.fixed import FRAC_BITS, from_fixed, saturate
from tinify.models.image.wavefront import ContextCoder, decode_items, encode_items, per_element
from tinify.utils.arrays import to_numpy

__all__ = ["FixedContextCoder", "compress_latent_fixed", "decompress_latent_fixed"]


class FixedContextCoder(ContextCoder):
    """:class:`ContextCoder` over an int32 ``y_hat`` with Rust integer networks.

    Args:
        context_prediction: the masked context convolution (for its taps and shape).
        entropy_parameters: the float module (only its structure is checked by the parent).
        params: int32 hyper parameters (1, C_hyp, H, W) from the fixed ``h_s``.
        order: ``"wavefront"`` or ``"raster"``.
        context_net: the context as a linear layer (``tinify.models.fixed.context_network``).
        parameter_net: the quantized ``entropy_parameters``.
    """

    def __init__(
        self,
        context_prediction: nn.Conv2d,
        entropy_parameters: nn.Sequential,
        params: Tensor,
        order: str,
        context_net: _core.FixedNetwork,
        parameter_net: _core.FixedNetwork,
    ) -> None:
        if params.dtype != torch.int32:
            raise ParameterError(f"fixed-point hyper parameters must be int32, got {params.dtype}")
        super().__init__(context_prediction, entropy_parameters, params.cpu(), order)
        self.context_net = context_net
        self.parameter_net = parameter_net

    def _entropy_params(self, taps: Tensor, hyper: Tensor) -> Tensor:
        context_in = self.y_hat.index_select(1, taps).reshape(hyper.size(0), -1)
        context = torch.from_numpy(self.context_net.forward_rows(to_numpy(context_in)))
        rows = torch.cat([hyper, context], dim=1)
        return torch.from_numpy(self.parameter_net.forward_rows(to_numpy(rows)))


def _mixture_params(out: Tensor, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-element float64 ``(weights, means, scales)`` (P*M, K) from int32 (P, 3*K*M)."""
    logits, means, scales = (per_element(p, k) for p in out.chunk(3, dim=1))
    weights = _core.fixed_softmax(to_numpy(logits))
    as_f64 = [to_numpy(from_fixed(p, torch.float64)) for p in (means, scales)]
    return weights, as_f64[0], as_f64[1]


def _gaussian_step(out: Tensor, conditional: GaussianConditional) -> tuple[Tensor, Tensor, Tensor]:
    """``(indexes (P*M,), means float32 (P, M), means_int (P, M))`` of a Gaussian front."""
    scales_int, means_int = out.chunk(2, dim=1)
    indexes = conditional.build_indexes_fixed(scales_int, FRAC_BITS).reshape(-1)
    return indexes, from_fixed(means_int), means_int


def _context_values(symbols: Tensor, means_int: Tensor | None) -> Tensor:
    """``symbol * 2^F (+ m_int)``, saturated to int32: what the context convolution sees."""
    values = symbols.to(torch.int64) * (1 << FRAC_BITS)
    if means_int is not None:
        values = values + means_int.to(torch.int64)
    return saturate(values)


def _nets(context_net: _core.FixedNetwork, parameter_net: _core.FixedNetwork) -> None:
    for net in (context_net, parameter_net):
        if not isinstance(net, _core.FixedNetwork):
            raise ParameterTypeError(
                f"expected a tinify._core.FixedNetwork, got {type(net).__name__}"
            )


@torch.no_grad()
def compress_latent_fixed(
    y: Tensor,
    params: Tensor,
    modules: tuple[nn.Conv2d, nn.Sequential],
    nets: tuple[_core.FixedNetwork, _core.FixedNetwork],
    conditional: GaussianConditional,
    order: str = "wavefront",
) -> tuple[list[bytes], Tensor]:
    """Code ``y`` (B, M, H, W) given int32 fixed-point hyper parameters (B, C, H, W).

    Args:
        modules: ``(context_prediction, entropy_parameters)`` (float modules, for the shapes).
        nets: ``(context_net, parameter_net)``, their quantized versions.

    Returns:
        One stream per item, and the int32 fixed-point ``y_hat`` (B, M, H, W) the decoder
        reproduces.
    """
    if y.shape[0] != params.shape[0] or y.shape[-2:] != params.shape[-2:]:
        raise ParameterError(f"y {tuple(y.shape)} and params {tuple(params.shape)} do not match")
    _nets(*nets)
    return encode_items(
        y,
        lambda b: FixedContextCoder(*modules, params[b : b + 1], order, *nets),
        lambda coder, item: _compress_item(coder, item.cpu(), conditional),
    )


def _compress_item(coder: FixedContextCoder, y: Tensor, conditional: GaussianConditional) -> bytes:
    channels = y.size(1)
    y_rows = y.detach().flatten(2).transpose(1, 2).index_select(1, torch.cat(coder.fronts))
    fronts = y_rows.reshape(-1, channels).split([f.numel() for f in coder.fronts])
    symbols: list[Tensor] = []
    params: list[list[np.ndarray]] = []
    indexes: list[Tensor] = []
    for i, values in enumerate(fronts):
        out = coder.front_params(i)
        if isinstance(conditional, GaussianMixtureConditional):
            q = conditional.quantize(values, "symbols")
            coder.write_front(i, _context_values(q, None))
            params.append(list(_mixture_params(out, conditional.K)))
        else:
            idx, means, means_int = _gaussian_step(out, conditional)
            q = conditional.quantize(values, "symbols", means.to(values.dtype))
            coder.write_front(i, _context_values(q, means_int))
            indexes.append(idx)
        symbols.append(q.reshape(-1))
    sym = to_numpy(torch.cat(symbols), np.int32)
    if isinstance(conditional, GaussianMixtureConditional):
        w, m, s = (to_numpy(np.concatenate([p[j] for p in params])) for j in range(3))
        return encode_mixture(sym, w, m, s)
    idx_all = to_numpy(torch.cat(indexes), np.int32)
    return _core.encode_with_indexes(sym, idx_all, conditional.cdf_table())


@torch.no_grad()
def decompress_latent_fixed(
    strings: Sequence[bytes],
    params: Tensor,
    modules: tuple[nn.Conv2d, nn.Sequential],
    nets: tuple[_core.FixedNetwork, _core.FixedNetwork],
    conditional: GaussianConditional,
    order: str = "wavefront",
) -> Tensor:
    """Decode the streams of :func:`compress_latent_fixed`; returns int32 fixed-point ``y_hat``
    (B, M, H, W) (``symbol * 2^F + m_int``; convert with ``tinify.models.fixed.from_fixed``).

    Raises:
        tinify.BitstreamError: a stream is corrupt, truncated or has data left over.
    """
    if len(strings) != params.size(0):
        raise ParameterError(f"{len(strings)} streams for a batch of {params.size(0)}")
    _nets(*nets)
    return decode_items(
        strings,
        lambda b: FixedContextCoder(*modules, params[b : b + 1], order, *nets),
        lambda coder, decoder: _decompress_item(coder, decoder, conditional),
    )


def _decompress_item(
    coder: FixedContextCoder, decoder: RansDecoder, conditional: GaussianConditional
) -> None:
    channels = coder.shape[1]
    table = None
    for i in range(len(coder.fronts)):
        out = coder.front_params(i)
        if isinstance(conditional, GaussianMixtureConditional):
            w, m, s = _mixture_params(out, conditional.K)
            q = torch.from_numpy(decoder.decode_mixture_stream(w, m, s)).reshape(-1, channels)
            coder.write_front(i, _context_values(q, None))
        else:
            idx, _, means_int = _gaussian_step(out, conditional)
            table = table or conditional.cdf_table()
            indexes = to_numpy(idx, np.int32)
            q = torch.from_numpy(decoder.decode_stream(indexes, table)).reshape(-1, channels)
            coder.write_front(i, _context_values(q, means_int))
