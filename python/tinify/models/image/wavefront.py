# SPDX-License-Identifier: Apache-2.0
"""Autoregressive (masked-convolution context) coding of a latent, one wavefront at a time.

The context model of Minnen et al. (2018) predicts the entropy parameters of ``y[:, :, h, w]``
from already decoded neighbours: the causal taps of a masked 5x5 convolution (the two rows above,
columns ``w-2 .. w+2``, and the two positions to the left). A position depends on ``(h-1, w+2)``,
so all positions with equal ``t = 3*h + w`` are mutually independent: they form a *front*, and
fronts ``t = 0, 1, ..., 3*(H-1) + W - 1`` are coded in order. For a 32x48 latent that is 141
steps instead of CompressAI's 1,536 per-pixel steps. (The slope 3 is derived from the mask:
the smallest ``a`` with ``a*dh + dw < 0`` for every tap ``(dh, dw)``.)

One loop codes every front, for both entropy paths and both entropy models; encoder and decoder
run the *same* operations on the same shapes, so they derive bit-identical parameters:

1. :class:`ContextCoder` gathers the causal taps of the front's P positions from the (padded,
   channels-last) ``y_hat`` buffer: (P, taps*M), and the hyper parameters of those positions;
2. an *arithmetic* turns them into the front's entropy parameters: :class:`FloatArithmetic`
   (``entropy_path="float"``: CompressAI's float networks, as torch matmuls) or
   :class:`FixedArithmetic` (``"fixed"``: the integer networks of :mod:`tinify.models.fixed`,
   in Rust, so every machine derives the same parameters; the hyper half of its first layer is
   computed ahead, for blocks of fronts, with the same integers);
3. the conditional's *coding model* (:func:`front_coding`: a Gaussian with a table row per
   element, or a per-element Gaussian mixture) asks the arithmetic for its coding parameters
   and codes the front's symbols with one coder interface, ``tinify._core.RansEncoder`` /
   ``RansDecoder`` (puts and gets in front order on one stream per item);
4. the arithmetic's context values of the symbols are written back into ``y_hat``: the decoded
   values (float), or ``symbol * 2^F + m_int`` saturated to int32 (fixed).

**Symbol order** of each batch item's single rANS stream: fronts in increasing ``t``; within a
front, positions by increasing row ``h``; for each position the M channels in order (position-
major, channel-minor, like CompressAI). With ``order="raster"`` every position is its own front
in raster order, which is exactly CompressAI 1.2.8's stream layout (slower; for interchange).

Batch items are coded one after the other, each with its own stream: the arithmetic behind an
item never depends on the rest of the batch, so an item decodes alone exactly as in its batch.
Nor does it depend on ``torch.set_num_threads``: the loops run on one intra-op thread (see
``single_intra_op_thread``).
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, Protocol, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify import _core
from tinify.entropy_models import GaussianConditional, GaussianMixtureConditional
from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.models.fixed import (
    FRAC_BITS,
    exact_layer,
    from_fixed,
    quantize_network,
    run_rows,
    saturate,
)
from tinify.utils.arrays import to_numpy
from tinify.utils.progress import report

__all__ = [
    "CONTEXT_ORDERS",
    "ContextCoder",
    "FixedArithmetic",
    "FloatArithmetic",
    "FrontArithmetic",
    "FrontParams",
    "causal_taps",
    "coding_fronts",
    "compress_latent",
    "context_matrix",
    "context_network",
    "decompress_latent",
    "early_taps",
    "front_coding",
    "gather_rows",
    "join_items",
    "single_intra_op_thread",
    "split_mixture",
    "wavefront_slope",
]

#: Supported coding orders.
CONTEXT_ORDERS = ("wavefront", "raster")


def causal_taps(conv: nn.Conv2d) -> list[tuple[int, int]]:
    """Offsets ``(dh, dw)`` from the centre of the taps a (masked) context convolution uses.

    The taps are where the ``mask`` buffer (all ones when there is none) is nonzero for some
    channel pair.

    Raises:
        ParameterError: the convolution is not a stride-1, "same"-padded, ungrouped one, or a tap is
            not causal (at or after the centre in raster order).
    """
    kh, kw = conv.kernel_size
    if (
        conv.stride != (1, 1)
        or conv.dilation != (1, 1)
        or conv.groups != 1
        or conv.padding != (kh // 2, kw // 2)
        or kh % 2 == 0
        or kw % 2 == 0
    ):
        raise ParameterError(
            "context_prediction must be an odd-sized, stride-1, 'same' convolution"
        )
    mask = getattr(conv, "mask", None)
    used = (mask != 0).any(dim=0).any(dim=0) if isinstance(mask, Tensor) else None
    taps = []
    for i in range(kh):
        for j in range(kw):
            if used is not None and not bool(used[i, j]):
                continue
            dh, dw = i - kh // 2, j - kw // 2
            if dh > 0 or (dh == 0 and dw >= 0):
                raise ParameterError(f"context tap ({dh}, {dw}) is not causal; mask the kernel")
            taps.append((dh, dw))
    return taps


def wavefront_slope(taps: Sequence[tuple[int, int]]) -> int:
    """The smallest ``a >= 1`` such that every tap lies on an earlier front ``a*h + w``."""
    slope = 1
    for dh, dw in taps:
        if dh < 0:
            # need a * dh + dw < 0, i.e. a > dw / -dh
            slope = max(slope, dw // -dh + 1)
    return slope


def coding_fronts(height: int, width: int, slope: int, order: str = "wavefront") -> list[Tensor]:
    """Flat positions ``h * width + w`` of each front, in coding order (int64 tensors).

    ``"wavefront"``: front ``t`` holds the positions with ``slope*h + w == t``, by increasing
    ``h``. ``"raster"``: one position per front, row by row.
    """
    if order not in CONTEXT_ORDERS:
        raise ParameterError(f"context order must be one of {CONTEXT_ORDERS}, got {order!r}")
    positions = torch.arange(height * width)
    if order == "raster":
        return list(positions.split(1))
    rows, cols = positions // width, positions % width
    fronts = slope * rows + cols
    # Sort by front, then row (positions are already row-major, so a stable sort keeps rows).
    ordered = positions[torch.sort(fronts, stable=True).indices]
    counts = torch.bincount(fronts, minlength=slope * (height - 1) + width)
    return list(ordered.split(counts.tolist()))


def context_matrix(context_prediction: nn.Conv2d, taps: Sequence[tuple[int, int]]) -> Tensor:
    """The masked context kernel on gathered taps: (C_ctx, taps * M), detached.

    Column ``t * M + c`` multiplies tap ``t`` (of ``taps``) of channel ``c``, the layout in
    which :class:`ContextCoder` gathers a position's taps.
    """
    weight = context_prediction.weight.detach()
    mask = getattr(context_prediction, "mask", None)
    if isinstance(mask, Tensor):
        weight = weight * mask
    kh, kw = context_prediction.kernel_size
    rows = torch.tensor([dh + kh // 2 for dh, _ in taps])
    cols = torch.tensor([dw + kw // 2 for _, dw in taps])
    # (C_ctx, M, taps) -> (C_ctx, taps, M) -> (C_ctx, taps * M)
    return weight[:, :, rows, cols].permute(0, 2, 1).reshape(weight.size(0), -1)


@torch.no_grad()
def context_network(context_prediction: nn.Conv2d) -> _core.FixedNetwork:
    """The masked context convolution of the ``"fixed"`` path: one quantized linear layer
    (a 1x1 convolution) on the gathered taps (see :func:`context_matrix`), output ``C_ctx``."""
    matrix = context_matrix(context_prediction, causal_taps(context_prediction))
    bias = context_prediction.bias
    # skip_init: no random initialisation (nor use of torch's global generator) to overwrite.
    linear = nn.utils.skip_init(nn.Conv2d, matrix.size(1), matrix.size(0), 1, bias=bias is not None)
    linear.weight.copy_(matrix[:, :, None, None])
    if bias is not None:
        assert linear.bias is not None
        linear.bias.copy_(bias.detach())
    return quantize_network(linear)


def _as_matmuls(entropy_parameters: nn.Sequential) -> list[Callable[[Tensor], Tensor]]:
    """The layers of ``entropy_parameters`` acting on (rows, channels): 1x1 convs as linear."""
    layers: list[Callable[[Tensor], Tensor]] = []
    for module in entropy_parameters:
        if isinstance(module, nn.Conv2d):
            if module.kernel_size != (1, 1) or module.stride != (1, 1) or module.groups != 1:
                raise ParameterError("entropy_parameters may only hold 1x1 convolutions")
            weight = module.weight.detach().reshape(module.out_channels, module.in_channels)
            bias = module.bias.detach() if module.bias is not None else None
            layers.append(functools.partial(F.linear, weight=weight, bias=bias))
        else:
            layers.append(module)
    return layers


def split_mixture(params: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Split (N, 3*K*M, ...) into ``(weights, means, scales)`` of (N, K*M, ...) each.

    Block ``k`` of each holds component ``k``; weights are a softmax over the K components.
    """
    weights, means, scales = params.chunk(3, dim=1)
    n, km = weights.shape[:2]
    grouped = weights.reshape(n, k, km // k, *weights.shape[2:])
    return torch.softmax(grouped, dim=1).reshape(weights.shape), means, scales


def per_element(p: Tensor, k: int) -> Tensor:
    """(P, K*M) block layout -> (P*M, K): one row of K values per element, position-major."""
    rows, km = p.shape
    return p.reshape(rows, k, km // k).transpose(1, 2).reshape(-1, k)


# -- the arithmetic: entropy parameters of a front, float or fixed-point ------------------------


class FrontParams(NamedTuple):
    """What an arithmetic derives from a front's entropy parameters (P positions, M channels).

    Attributes:
        coding: the coder's parameters, flat per element in symbol order: ``(indexes,)``
            int32 (P*M,) for a Gaussian; ``(weights, means, scales)`` float64 (P*M, K) for a
            mixture.
        means: float (P, M) means to quantize against (``round(y - means)``), or None.
        context_means: what :meth:`FrontArithmetic.context_values` adds to the symbols (the
            float means, or the fixed path's ``m_int``), or None.
    """

    coding: tuple[np.ndarray, ...]
    means: Tensor | None
    context_means: Tensor | None


class FrontArithmetic(Protocol):
    """How the entropy parameters of a front are computed (:class:`FloatArithmetic` or
    :class:`FixedArithmetic`); both sides of a stream must use the same one.

    ``ahead_channels``, ``context_ahead_channels``, :meth:`hyper_sums`, :meth:`context_sums` and
    the ``ahead`` / ``early`` arguments of :meth:`params` are optional for an arithmetic of
    one's own: :class:`ContextCoder` treats missing attributes as 0 (nothing computed ahead)
    and then calls ``params(context_in, hyper)``."""

    #: Channels of a row of :meth:`hyper_sums`; 0 when the arithmetic computes nothing ahead.
    ahead_channels: int
    #: Channels of a row of :meth:`context_sums`; 0 when the arithmetic computes none ahead.
    context_ahead_channels: int

    def hyper(self, params: Tensor) -> Tensor:
        """The hyper parameters (B, C_hyp, H, W) as this arithmetic consumes them."""
        ...

    def hyper_sums(self, hyper: Tensor) -> Tensor | None:
        """What :meth:`params` can use of hyper rows (rows, C_hyp), computed ahead for the rows
        of many fronts at once (row for row), or None (then ``params`` gets no ``ahead``)."""
        ...

    def context_sums(self, context_in: Tensor) -> Tensor | None:
        """What :meth:`params` can use of the first columns (rows, E) of gathered taps (the
        taps' prefix), computed ahead for the rows of many fronts at once (row for row), or
        None (then ``params`` gets no ``early``)."""
        ...

    def params(
        self,
        context_in: Tensor,
        hyper: Tensor,
        ahead: Tensor | None = None,
        early: tuple[int, Tensor] | None = None,
    ) -> Tensor:
        """Entropy parameters (rows, C_out) of gathered taps (rows, taps*M) and hyper rows;
        ``ahead``: the rows' :meth:`hyper_sums`; ``early``: ``(E, context_sums(context_in[:,
        :E]))`` computed ahead; when given, the result is the same."""
        ...

    def gaussian(self, out: Tensor, conditional: GaussianConditional) -> FrontParams:
        """Table rows and means of a Gaussian front from its entropy parameters (P, 2M)."""
        ...

    def mixture(self, out: Tensor, k: int) -> FrontParams:
        """Per-element mixture parameters of a front from its entropy parameters (P, 3KM)."""
        ...

    def context_values(self, symbols: Tensor, context_means: Tensor | None) -> Tensor:
        """What ``y_hat`` holds for decoded ``symbols`` (P, M): the context's input."""
        ...

    def latent(self, y_hat: Tensor, like: Tensor) -> Tensor:
        """``y_hat`` as decoded float values, in the dtype and on the device of ``like``."""
        ...


class FloatArithmetic:
    """``entropy_path="float"``: CompressAI's arithmetic. The masked context convolution is one
    matmul on the gathered taps, ``entropy_parameters`` (1x1 convolutions) run as matmuls, in the
    hyper parameters' dtype and on their device; ``y_hat`` holds the decoded values.

    Raises:
        ParameterError: ``entropy_parameters`` holds a layer that is not a 1x1 convolution or an
            element-wise module, or ``context_prediction`` is not a causal "same" convolution.
    """

    def __init__(self, context_prediction: nn.Conv2d, entropy_parameters: nn.Sequential) -> None:
        matrix = context_matrix(context_prediction, causal_taps(context_prediction))
        # (taps * M, C_ctx): row t * M + c multiplies tap t of channel c.
        self.ctx_weight = matrix.t().contiguous()
        bias = context_prediction.bias
        self.ctx_bias = (
            bias.detach() if bias is not None else matrix.new_zeros(matrix.size(0))
        ).contiguous()
        self.layers = _as_matmuls(entropy_parameters)

    #: Nothing is computed ahead: the float matmuls stay CompressAI's, unsplit.
    ahead_channels = 0
    context_ahead_channels = 0

    def hyper(self, params: Tensor) -> Tensor:
        return params

    def hyper_sums(self, hyper: Tensor) -> Tensor | None:
        return None

    def context_sums(self, context_in: Tensor) -> Tensor | None:
        return None

    def params(
        self,
        context_in: Tensor,
        hyper: Tensor,
        ahead: Tensor | None = None,
        early: tuple[int, Tensor] | None = None,
    ) -> Tensor:
        context = torch.addmm(self.ctx_bias, context_in, self.ctx_weight)
        h = torch.cat([hyper, context], dim=1)
        for layer in self.layers:
            h = layer(h)
        return h

    def gaussian(self, out: Tensor, conditional: GaussianConditional) -> FrontParams:
        scales, means = out.chunk(2, dim=1)
        indexes = to_numpy(conditional.build_indexes(scales).reshape(-1), np.int32)
        return FrontParams((indexes,), means, means)

    def mixture(self, out: Tensor, k: int) -> FrontParams:
        coding = tuple(to_numpy(per_element(p, k), np.float64) for p in split_mixture(out, k))
        return FrontParams(coding, None, None)

    def context_values(self, symbols: Tensor, context_means: Tensor | None) -> Tensor:
        if context_means is None:
            return symbols  # ContextCoder casts to y_hat's dtype and device
        return GaussianConditional.dequantize(symbols.to(context_means.device), context_means)

    def latent(self, y_hat: Tensor, like: Tensor) -> Tensor:
        return y_hat


class FixedArithmetic:
    """``entropy_path="fixed"``: the quantized networks of :mod:`tinify.models.fixed`, in Rust,
    on the CPU; every step is integer or exactly-defined arithmetic, so the decoder reproduces
    the encoder's parameters on any CPU or GPU, for any thread count.

    - ``y_hat`` is int32: ``symbol * 2^F + m_int`` (``symbol * 2^F`` for the mixture, whose
      values carry no mean), saturated to int32;
    - Gaussian: scales -> table rows on integers, means ``m_int * 2^-F`` in float32, symbols
      ``round(y - m)``;
    - mixture: softmax of the integer logits in Rust (f64, pure-Rust ``exp``), means and scales
      ``x_int * 2^-F`` in float64, symbols ``round(y)``.

    **The hyper half of the first layer, ahead.** When ``parameter_net`` starts with a 1x1
    convolution over ``[hyper, context]``, its accumulator is a sum of two parts,
    ``acc = W[:, :C_hyp] @ hyper + W[:, C_hyp:] @ context``, and the hyper part does not depend
    on the decoded latent. :meth:`hyper_sums` computes it (plus the bias and rounding half) for
    the rows of many fronts in one product, so the loop reads that half of the weights once per
    block of fronts rather than once per front (fronts have few rows: the per-front products
    are bound by reading the weights). :meth:`params` adds the context part, shifts and
    saturates, and runs the other layers. Each part is computed by
    :meth:`~tinify.models.fixed.ExactConv.rows_sums`: exact in float64 under its own bound
    (``max|x_part| * max_o sum_{c in part} |w_int[o, c]| < 2^53``), since each is a subset of
    every output's taps; the int64 sum of the two exact integers is the whole accumulator, so
    the result is bit for bit ``run_rows(parameter_net, cat([hyper, context]))``. Where a
    part's bound fails (hyper rows of a block, or a front's context) that front runs unsplit,
    as before (float64 under the whole row's bound, else Rust's i64).

    **The early context taps, ahead.** The context layer splits the same way, by columns: its
    accumulator is ``W[:, :E] @ x[:E] + W[:, E:] @ x[E:]`` over the gathered taps, where the
    first ``E`` columns hold the taps (:func:`early_taps`) that lie on fronts before a block of
    ``D`` fronts. :class:`ContextCoder` gathers those taps for all rows of the block when its
    first front comes and asks :meth:`context_sums` for their products in one call (that part
    of the weights, read once per block); :meth:`params` adds each front's other columns,
    ``b_int + 2^(s-1)``, shifts and saturates (:meth:`~tinify.models.fixed.ExactConv.rows` with
    a split accumulator), then the context shift and the parameter net as above. The same proof
    holds: each part is a subset of every output's taps, exact in float64 under its own bound
    (for the early part, checked over the whole block's rows: a stricter test), and the int64
    sum of the exact parts is the whole accumulator, so the context is bit for bit
    ``run_rows(context_net, context_in)``. The values are the same because the early taps are
    only read ahead while the coder runs in order (see :meth:`ContextCoder.front_params`): they
    are already final. Where a part's bound fails the front's context runs unsplit.

    Args:
        context_net: the context convolution as a linear layer (:func:`context_network`).
        parameter_net: the quantized ``entropy_parameters``.
        context_shift: int32 (C_ctx,) added to every context row, saturated to int32 (the
            variable-rate mbt2018's ``scale_to_context`` at the call's rate), or None.

    Attributes:
        first: the first layer of ``parameter_net`` (:class:`~tinify.models.fixed.ExactConv`)
            when it acts on rows, so that its hyper part is computed ahead; else None.
        ahead_channels: the output channels of ``first`` (0 without it).
        context_layer: the context layer (:class:`~tinify.models.fixed.ExactConv`) when
            ``context_net`` is one layer acting on rows, so that its early taps' products are
            computed ahead; else None.
        context_ahead_channels: the output channels of ``context_layer`` (0 without it).
    """

    def __init__(
        self,
        context_net: _core.FixedNetwork,
        parameter_net: _core.FixedNetwork,
        *,
        context_shift: Tensor | None = None,
    ) -> None:
        for net in (context_net, parameter_net):
            if not isinstance(net, _core.FixedNetwork):
                raise ParameterTypeError(
                    f"expected a tinify._core.FixedNetwork, got {type(net).__name__}"
                )
        if context_shift is not None and context_shift.dtype != torch.int32:
            raise ParameterError(f"the context shift must be int32, got {context_shift.dtype}")
        self.context_net = context_net
        self.parameter_net = parameter_net
        self.context_shift = None if context_shift is None else context_shift.cpu().to(torch.int64)
        first = exact_layer(parameter_net, 0) if parameter_net.layers else None
        # The first layer, when the hyper part of its products can be computed ahead.
        self.first = first if first is not None and first.acts_on_rows else None
        self.ahead_channels = 0 if self.first is None else int(self.first.bias.shape[0])
        # The context layer, when its products over the early taps can be computed ahead.
        context = exact_layer(context_net, 0) if len(context_net.layers) == 1 else None
        self.context_layer = context if context is not None and context.acts_on_rows else None
        self.context_ahead_channels = (
            0 if self.context_layer is None else int(self.context_layer.bias.shape[0])
        )

    def hyper(self, params: Tensor) -> Tensor:
        if params.dtype != torch.int32:
            raise ParameterError(f"fixed-point hyper parameters must be int32, got {params.dtype}")
        return params.cpu()

    def hyper_sums(self, hyper: Tensor) -> Tensor | None:
        """int64 (rows, C_1): ``W[:, :C_hyp] @ hyper + b_int + 2^(s-1)`` of the first layer,
        exactly; None when it is not split (see the class) or the part's bound fails."""
        first = self.first
        if first is None or hyper.dim() != 2 or not 0 < hyper.shape[1] < first.cin:
            return None
        acc = first.rows_sums(hyper)
        if acc is not None:
            acc += first.row_offset
        return acc

    def context_sums(self, context_in: Tensor) -> Tensor | None:
        """int64 (rows, C_ctx): the context layer's products ``W[:, :E] @ x`` of the first
        ``E = context_in.shape[1]`` columns of gathered taps, exactly, with no bias; None when
        the context is not split (see the class) or the part's bound fails."""
        layer = self.context_layer
        if layer is None or context_in.dim() != 2 or not 0 < context_in.shape[1] < layer.cin:
            return None
        return layer.rows_sums(context_in)

    def _context(self, context_in: Tensor, early: tuple[int, Tensor] | None) -> Tensor:
        """The context layer on gathered taps (rows, taps*M): int32 (rows, C_ctx); with the
        products of the first ``E`` columns ``early = (E, sums)`` computed ahead, only the
        other columns' products are computed (else, or where their bound fails, unsplit)."""
        layer = self.context_layer
        if early is not None and layer is not None and context_in.dim() == 2:
            columns, sums = early
            if context_in.shape[1] == layer.cin and 0 < columns < layer.cin:
                acc = layer.rows_sums(context_in[:, columns:], start=columns)
                if acc is not None and acc.shape == sums.shape:
                    acc += sums
                    acc += layer.row_offset
                    return layer.shift_rows(acc)
        return run_rows(self.context_net, context_in)

    def params(
        self,
        context_in: Tensor,
        hyper: Tensor,
        ahead: Tensor | None = None,
        early: tuple[int, Tensor] | None = None,
    ) -> Tensor:
        context = self._context(context_in, early)
        if self.context_shift is not None:
            context = saturate(context.to(torch.int64) + self.context_shift)
        first = self.first
        # The split needs the first layer's input to be exactly [hyper, context].
        split = first is not None and hyper.shape[1] + context.shape[1] == first.cin
        if ahead is not None and first is not None and split:
            acc = first.rows_sums(context, start=hyper.shape[1])
            if acc is not None and acc.shape == ahead.shape:
                acc += ahead
                return run_rows(self.parameter_net, first.shift_rows(acc), start=1)
        return run_rows(self.parameter_net, torch.cat([hyper, context], dim=1))

    def gaussian(self, out: Tensor, conditional: GaussianConditional) -> FrontParams:
        scales_int, means_int = out.chunk(2, dim=1)
        indexes = conditional.build_indexes_fixed(scales_int, FRAC_BITS).reshape(-1)
        return FrontParams((to_numpy(indexes, np.int32),), from_fixed(means_int), means_int)

    def mixture(self, out: Tensor, k: int) -> FrontParams:
        logits, means, scales = (per_element(p, k) for p in out.chunk(3, dim=1))
        weights = _core.fixed_softmax(to_numpy(logits))
        as_f64 = (to_numpy(from_fixed(p, torch.float64)) for p in (means, scales))
        return FrontParams((weights, *as_f64), None, None)

    def context_values(self, symbols: Tensor, context_means: Tensor | None) -> Tensor:
        values = symbols.cpu().to(torch.int64) * (1 << FRAC_BITS)
        if context_means is not None:
            values = values + context_means.to(torch.int64)
        return saturate(values)

    def latent(self, y_hat: Tensor, like: Tensor) -> Tensor:
        return from_fixed(y_hat, like.dtype).to(like.device)


# -- the coding model of the conditional: one coder interface -----------------------------------


class _GaussianCoding:
    """A Gaussian conditional: each element coded with its table row."""

    def __init__(self, conditional: GaussianConditional) -> None:
        self.conditional = conditional
        self.table = conditional.cdf_table()

    def front(self, arithmetic: FrontArithmetic, out: Tensor) -> FrontParams:
        return arithmetic.gaussian(out, self.conditional)

    def put(self, encoder: _core.RansEncoder, symbols: np.ndarray, front: FrontParams) -> None:
        encoder.put_with_indexes(symbols, front.coding[0], self.table)

    def get(self, decoder: _core.RansDecoder, front: FrontParams) -> np.ndarray:
        return decoder.get_with_indexes(front.coding[0], self.table)


class _MixtureCoding:
    """A Gaussian mixture: each element coded with its own mixture CDF, built in Rust."""

    def __init__(self, conditional: GaussianMixtureConditional) -> None:
        self.conditional = conditional
        self.k = conditional.K

    def front(self, arithmetic: FrontArithmetic, out: Tensor) -> FrontParams:
        return arithmetic.mixture(out, self.k)

    def put(self, encoder: _core.RansEncoder, symbols: np.ndarray, front: FrontParams) -> None:
        encoder.put_mixture(symbols, *front.coding)

    def get(self, decoder: _core.RansDecoder, front: FrontParams) -> np.ndarray:
        return decoder.get_mixture(*front.coding)


FrontCoding = Union[_GaussianCoding, _MixtureCoding]


def front_coding(conditional: GaussianConditional) -> FrontCoding:
    """The coding model of ``conditional`` for :func:`compress_latent` (the tables are
    validated here, once per call)."""
    if isinstance(conditional, GaussianMixtureConditional):
        return _MixtureCoding(conditional)
    return _GaussianCoding(conditional)


# -- the decoded latent and the gathers ---------------------------------------------------------

#: Most bytes of one block of hyper rows and their :meth:`FrontArithmetic.hyper_sums` (with
#: their float64 transients) that :class:`ContextCoder` computes ahead (a block holds at least
#: one front, whatever its size); likewise for a block of early taps and their
#: :meth:`FrontArithmetic.context_sums`.
AHEAD_BYTES = 4 << 20

#: Fronts ``D`` of a block whose early context taps :class:`ContextCoder` gathers and sums ahead
#: (see :func:`early_taps`; 0 turns it off). Fewer where :data:`AHEAD_BYTES` requires.
CONTEXT_AHEAD_FRONTS = 4


def early_taps(taps: Sequence[tuple[int, int]], slope: int, fronts: int) -> int:
    """How many leading ``taps`` are *early* for blocks of ``fronts`` fronts: the longest prefix
    whose taps all lie ``fronts`` or more fronts back (``slope*dh + dw <= -fronts``), leaving at
    least one tap late; 0 when there is none (or ``fronts < 1``).

    A tap ``(dh, dw)`` of a position on front ``t`` lies on front ``t + slope*dh + dw``, so the
    early taps of fronts ``i .. i+fronts-1`` all lie on fronts ``<= i-1``: coded before front
    ``i``. (5x5 mask, slope 3: 8 of its 12 taps for 3 fronts, 7 for 4.)
    """
    if fronts < 1:
        return 0
    count = 0
    for dh, dw in taps[: len(taps) - 1]:
        if slope * dh + dw > -fronts:
            break
        count += 1
    return count


class ContextCoder:
    """The decoded latent ``y_hat`` being built front by front, and its arithmetic.

    When the arithmetic computes something of the hyper rows ahead (``ahead_channels > 0``),
    :meth:`front_params` gathers the hyper rows of a block of upcoming fronts at once and asks
    for their :meth:`FrontArithmetic.hyper_sums` in one call (see :data:`AHEAD_BYTES`). When it
    computes context sums ahead (``context_ahead_channels > 0``, ``order="wavefront"``), it
    likewise gathers the early taps (:func:`early_taps`) of :data:`CONTEXT_AHEAD_FRONTS`
    fronts for :meth:`FrontArithmetic.context_sums`, while the coder runs in order.

    Args:
        context_prediction: the masked context convolution (M -> C_ctx channels).
        entropy_parameters: ``nn.Sequential`` of 1x1 convolutions and element-wise layers
            (used when no ``arithmetic`` is given).
        params: hyper-decoder output (B, C_hyp, H, W), concatenated before the context.
        order: ``"wavefront"`` or ``"raster"`` (see the module docstring).
        arithmetic: the entropy path's arithmetic (default: :class:`FloatArithmetic` of the
            two modules).
    """

    def __init__(
        self,
        context_prediction: nn.Conv2d,
        entropy_parameters: nn.Sequential,
        params: Tensor,
        order: str = "wavefront",
        *,
        arithmetic: FrontArithmetic | None = None,
    ) -> None:
        if arithmetic is None:
            arithmetic = FloatArithmetic(context_prediction, entropy_parameters)
        self.arithmetic = arithmetic
        params = arithmetic.hyper(params)
        batch, _, height, width = params.shape
        channels = context_prediction.in_channels
        taps = causal_taps(context_prediction)
        kh, kw = context_prediction.kernel_size
        self.pad_h, self.pad_w = kh // 2, kw // 2
        self.shape = (batch, channels, height, width)
        device = params.device
        self.fronts = [
            f.to(device) for f in coding_fronts(height, width, wavefront_slope(taps), order)
        ]
        self.padded_width = width + 2 * self.pad_w
        self.tap_offsets = torch.tensor(
            [dh * self.padded_width + dw for dh, dw in taps], device=device
        )
        padded = (height + 2 * self.pad_h) * self.padded_width
        self.y_hat = params.new_zeros(batch, padded, channels)  # channels-last, zero border
        # (B, C_hyp, H*W): gathered along the last dimension, then transposed (index_select on
        # a transposed view would copy the whole tensor at every call).
        self.params = params.detach().flatten(2)
        # Index work done once for all fronts rather than per step: each front's rows of
        # ``y_hat`` (its centres and, flattened, its causal taps), in coding order and split
        # into per-front views. Same values as entropy_params(pos) / write(pos) compute, so
        # the arithmetic is unchanged. The hyper parameters are gathered per front (a copy of
        # all of them in coding order would double their memory: 2M channels per position).
        sizes = [f.numel() for f in self.fronts]
        positions = torch.cat(self.fronts)
        centres = self._centres(positions)
        taps_flat = (centres[:, None] + self.tap_offsets[None, :]).reshape(-1)
        self.front_centres = list(centres.split(sizes))
        self.front_taps = list(taps_flat.split([n * len(taps) for n in sizes]))
        self.front_sizes = sizes
        # The block of fronts whose hyper rows and sums are at hand (see _ahead_block).
        self._block_start = 0
        self._block: list[tuple[Tensor, Tensor | None]] = []
        # The early context taps (see _early_sums): the first `early_taps` taps of every row,
        # flat in coding order (a block's are one slice), and each front's first row.
        # An arithmetic without these attributes (written to the protocol before they were
        # added) computes nothing ahead.
        self._ahead_channels = int(getattr(arithmetic, "ahead_channels", 0))
        self._context_ahead_channels = int(getattr(arithmetic, "context_ahead_channels", 0))
        self.early_taps = 0
        if order == "wavefront" and self._context_ahead_channels:
            self.early_taps = early_taps(taps, wavefront_slope(taps), CONTEXT_AHEAD_FRONTS)
        self._tap_rows = taps_flat.view(-1, len(taps))  # a view: (rows, taps), coding order
        self._front_starts = [0, *itertools.accumulate(sizes)]
        # Fronts 0 .. _written-1 are written, in order, by write_front (-1: written otherwise).
        self._written = 0
        # The block of fronts whose early context sums are at hand.
        self._early_start = 0
        self._early: Sequence[Tensor | None] = []

    def _centres(self, pos: Tensor) -> Tensor:
        width = self.shape[3]
        return (pos // width + self.pad_h) * self.padded_width + pos % width + self.pad_w

    def entropy_params(self, pos: Tensor) -> Tensor:
        """Entropy parameters of the positions ``pos`` (P,) of every item: (B*P, C_out)."""
        taps = self._centres(pos)[:, None] + self.tap_offsets[None, :]  # (P, taps)
        return self._entropy_params(taps.reshape(-1), self._hyper_rows(pos))

    def _hyper_rows(self, pos: Tensor) -> Tensor:
        """The hyper parameters of positions ``pos`` (P,) of every item: (B*P, C_hyp)."""
        return gather_rows(self.params, pos)

    def front_params(self, i: int) -> Tensor:
        """Entropy parameters of front ``i`` (``entropy_params(self.fronts[i])``)."""
        early = self._early_sums(i)
        if not self._ahead_channels:
            hyper = self._hyper_rows(self.fronts[i])
            return self._entropy_params(self.front_taps[i], hyper, early=early)
        if not self._block_start <= i < self._block_start + len(self._block):
            self._block_start, self._block = i, self._ahead_block(i)
        hyper, ahead = self._block[i - self._block_start]
        return self._entropy_params(self.front_taps[i], hyper, ahead, early)

    def _early_sums(self, i: int) -> tuple[int, Tensor] | None:
        """``(E, sums)`` for front ``i``: the arithmetic's :meth:`~FrontArithmetic.context_sums`
        of the front's early taps (``E`` columns), or None (the front's context runs whole).

        Only in sequence: front ``i`` is the next one to code and fronts ``< i`` are all written
        in order (``write_front``). Then a block's early taps, read when its first front comes,
        are the values the front would read itself: they lie on fronts before the block, and
        in-order writes from then on only reach the block's fronts. Any other call discards
        the block (``write`` and out-of-order ``write_front`` for the rest of the coder)."""
        if not self.early_taps:
            return None
        if i != self._written:
            self._early = []
            return None
        if not self._early_start <= i < self._early_start + len(self._early):
            self._early_start, self._early = i, self._early_block(i)
        sums = self._early[i - self._early_start]
        return None if sums is None else (self.early_taps * self.shape[1], sums)

    def _early_block(self, i: int) -> Sequence[Tensor | None]:
        """The :meth:`FrontArithmetic.context_sums` of the early taps of fronts ``i .. i+D-1``
        (:data:`CONTEXT_AHEAD_FRONTS`, fewer at the end or where :data:`AHEAD_BYTES` requires,
        at least one), gathered and computed at once: one product for the block. Row for row
        the same values as the fronts' own gathers."""
        batch, channels = self.shape[:2]
        columns = self.early_taps * channels
        # int32 taps and their float64 copy; the int64 sums and their float64 product.
        per_row = batch * (12 * columns + 16 * self._context_ahead_channels)
        stop = self._block_stop(i, per_row, CONTEXT_AHEAD_FRONTS)
        starts = self._front_starts
        rows = starts[stop] - starts[i]
        taps = self._tap_rows[starts[i] : starts[stop], : self.early_taps].reshape(-1)
        sums = self.arithmetic.context_sums(
            self.y_hat.index_select(1, taps).reshape(batch * rows, columns)
        )
        if sums is None:
            return [None] * (stop - i)
        return _per_front(sums, batch, self.front_sizes[i:stop])

    def _block_stop(self, i: int, per_row: int, most: int | None = None) -> int:
        """The end of a block of fronts ``i, i+1, ...``: as many as fit in :data:`AHEAD_BYTES`
        at ``per_row`` bytes a row, at most ``most`` (None: no cap), at least one."""
        starts = self._front_starts
        stop = bisect.bisect_right(starts, starts[i] + AHEAD_BYTES // per_row) - 1
        if most is not None:
            stop = min(stop, i + most)
        return min(max(stop, i + 1), len(self.fronts))

    def _ahead_block(self, i: int) -> list[tuple[Tensor, Tensor | None]]:
        """The hyper rows and :meth:`FrontArithmetic.hyper_sums` of fronts ``i, i+1, ...``
        (as many as :data:`AHEAD_BYTES` allows, at least one), gathered and computed at once:
        one product for the block instead of one per front. Row for row the same values."""
        batch, c_hyp = self.shape[0], self.params.size(1)
        # int64 sums and their float64 product; int32 hyper rows and their float64 copy.
        stop = self._block_stop(i, batch * (16 * self._ahead_channels + 12 * c_hyp))
        sizes = self.front_sizes[i:stop]
        hyper = gather_rows(self.params, torch.cat(self.fronts[i:stop]))  # (B * rows, C_hyp)
        sums = self.arithmetic.hyper_sums(hyper)
        hypers = _per_front(hyper, batch, sizes)
        if sums is None:
            return [(h, None) for h in hypers]
        return list(zip(hypers, _per_front(sums, batch, sizes)))

    def _entropy_params(
        self,
        taps: Tensor,
        hyper: Tensor,
        ahead: Tensor | None = None,
        early: tuple[int, Tensor] | None = None,
    ) -> Tensor:
        # taps: flat rows of y_hat, position-major (P*taps,); hyper: (B*P, C_hyp).
        # explicit width: a front may be empty (a latent narrower than the wavefront slope)
        width = self.tap_offsets.numel() * self.shape[1]
        context_in = self.y_hat.index_select(1, taps).reshape(hyper.size(0), width)
        if ahead is None and early is None:  # any arithmetic of the protocol
            return self.arithmetic.params(context_in, hyper)
        return self.arithmetic.params(context_in, hyper, ahead, early)

    def write(self, pos: Tensor, values: Tensor) -> None:
        """Store decoded values (B*P, M) at positions ``pos`` (P,); the coder no longer
        computes early context taps ahead (see :meth:`front_params`)."""
        self._written, self._early = -1, []
        self._write(self._centres(pos), values)

    def write_front(self, i: int, values: Tensor) -> None:
        """Store the decoded values (B*P, M) of front ``i``."""
        if i == self._written:
            self._written += 1
        else:
            self._written, self._early = -1, []
        self._write(self.front_centres[i], values)

    def _write(self, centres: Tensor, values: Tensor) -> None:
        batch, channels = self.shape[:2]
        self.y_hat.index_copy_(1, centres, values.to(self.y_hat).reshape(batch, -1, channels))

    def latent(self) -> Tensor:
        """The decoded latent (B, M, H, W), in the arithmetic's representation."""
        batch, channels, height, width = self.shape
        grid = self.y_hat.reshape(batch, height + 2 * self.pad_h, self.padded_width, channels)
        inner = grid[:, self.pad_h : self.pad_h + height, self.pad_w : self.pad_w + width]
        return inner.permute(0, 3, 1, 2).contiguous()


# The front loops run on one intra-op torch thread, whatever the caller set:
# - Determinism. A multi-threaded BLAS may split a matmul's sums differently, so the entropy
#   parameters depended on torch.set_num_threads: an mbt2018-sized latent (192x32x48) encoded
#   with 2 threads and decoded with 1 came back with 74,033 wrong values. Now they always match.
# - Speed where cores are shared. The per-front ops are small (matmuls of P <= min(H, W/slope)
#   rows); each parallel region waits for its slowest thread, and on a loaded 2-core machine
#   2-thread loops ran 4-30x slower than 1-thread ones. (On an idle machine 2 threads are about
#   20% faster on the loop, a few percent of a whole decode.)
# torch's setting is process-wide: the first loop to start sets it and the last to finish
# restores it, so concurrent coding threads cannot leave it changed.
_threads_lock = threading.Lock()
_threads_users = 0
_threads_saved = 0


@contextlib.contextmanager
def single_intra_op_thread() -> Iterator[None]:
    """Run a front loop on one intra-op torch thread (see above); nests and may be entered
    from several threads at once."""
    global _threads_users, _threads_saved
    with _threads_lock:
        if _threads_users == 0:
            _threads_saved = torch.get_num_threads()
            if _threads_saved != 1:
                torch.set_num_threads(1)
        _threads_users += 1
    try:
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if _threads_users == 0 and _threads_saved != 1:
                torch.set_num_threads(_threads_saved)


# -- the loop -----------------------------------------------------------------------------------


def _encode_item(coder: ContextCoder, coding: FrontCoding, y: Tensor) -> bytes:
    """Code one item ``y`` (1, M, H, W) front by front into one stream."""
    arithmetic = coder.arithmetic
    # y's rows (positions), gathered front by front (no second copy of the whole latent).
    y_flat = y.detach().to(coder.y_hat.device).flatten(2)  # (1, M, H*W)
    encoder = _core.RansEncoder()
    for i, positions in enumerate(coder.fronts):
        values = gather_rows(y_flat, positions)  # (P, M) row-major, as the symbols' layout
        front = coding.front(arithmetic, coder.front_params(i))
        symbols = coding.conditional.quantize(values, "symbols", front.means)
        coder.write_front(i, arithmetic.context_values(symbols, front.context_means))
        coding.put(encoder, to_numpy(symbols.reshape(-1), np.int32), front)
        report("wavefronts", i + 1, len(coder.fronts))
    return encoder.flush()


def _decode_item(coder: ContextCoder, coding: FrontCoding, stream: bytes) -> None:
    """Decode one item's stream front by front into ``coder.y_hat``; check it was consumed."""
    arithmetic, channels = coder.arithmetic, coder.shape[1]
    decoder = _core.RansDecoder(bytes(stream))
    for i in range(len(coder.fronts)):
        front = coding.front(arithmetic, coder.front_params(i))
        symbols = torch.from_numpy(coding.get(decoder, front)).reshape(-1, channels)
        coder.write_front(i, arithmetic.context_values(symbols, front.context_means))
        report("wavefronts", i + 1, len(coder.fronts))
    decoder.finish()


def _coders(
    params: Tensor,
    context_prediction: nn.Conv2d,
    entropy_parameters: nn.Sequential,
    order: str,
    arithmetic: FrontArithmetic | None,
) -> Iterator[ContextCoder]:
    """One :class:`ContextCoder` per batch item of ``params``, sharing one arithmetic."""
    if arithmetic is None:
        arithmetic = FloatArithmetic(context_prediction, entropy_parameters)
    for b in range(params.size(0)):
        item = params[b : b + 1]
        yield ContextCoder(
            context_prediction, entropy_parameters, item, order, arithmetic=arithmetic
        )


@torch.no_grad()
def compress_latent(
    y: Tensor,
    params: Tensor,
    context_prediction: nn.Conv2d,
    entropy_parameters: nn.Sequential,
    conditional: GaussianConditional,
    order: str = "wavefront",
    *,
    arithmetic: FrontArithmetic | None = None,
) -> tuple[list[bytes], Tensor]:
    """Code ``y`` (B, M, H, W) given the hyper parameters (B, C, H, W).

    Items are coded one after the other, on one intra-op thread, so an item's stream (and the
    arithmetic behind it) does not depend on the rest of the batch.

    Args:
        arithmetic: :class:`FloatArithmetic` (the default, built from the two modules) or
            :class:`FixedArithmetic` (then ``params`` are the int32 output of the fixed ``h_s``).

    Returns:
        One stream per item, and the latent ``y_hat`` the decoder will reproduce, in the
        arithmetic's representation (float values; int32 ``symbol * 2^F + m_int`` when fixed).
    """
    if y.shape[0] != params.shape[0] or y.shape[-2:] != params.shape[-2:]:
        raise ParameterError(f"y {tuple(y.shape)} and params {tuple(params.shape)} do not match")
    coding = front_coding(conditional)
    coders = _coders(params, context_prediction, entropy_parameters, order, arithmetic)
    strings, latents = [], []
    with single_intra_op_thread():
        for b, coder in enumerate(coders):
            strings.append(_encode_item(coder, coding, y[b : b + 1]))
            latents.append(coder.latent())
            del coder  # its buffers go before the next item's
    return strings, join_items(latents)


@torch.no_grad()
def decompress_latent(
    strings: Sequence[bytes],
    params: Tensor,
    context_prediction: nn.Conv2d,
    entropy_parameters: nn.Sequential,
    conditional: GaussianConditional,
    order: str = "wavefront",
    *,
    arithmetic: FrontArithmetic | None = None,
) -> Tensor:
    """Decode the streams of :func:`compress_latent` (same ``arithmetic``); returns ``y_hat``
    (B, M, H, W) in the arithmetic's representation (``arithmetic.latent`` gives values).

    Raises:
        tinify.BitstreamError: a stream is corrupt, truncated or has data left over.
    """
    if len(strings) != params.size(0):
        raise ParameterError(f"{len(strings)} streams for a batch of {params.size(0)}")
    coding = front_coding(conditional)
    coders = _coders(params, context_prediction, entropy_parameters, order, arithmetic)
    latents = []
    with single_intra_op_thread():
        for coder, stream in zip(coders, strings):
            _decode_item(coder, coding, stream)
            latents.append(coder.latent())
            del coder  # its buffers go before the next item's
    return join_items(latents)


def _per_front(t: Tensor, batch: int, sizes: Sequence[int]) -> list[Tensor]:
    """A block's rows (B * rows, C), item-major, as each front's (B * P, C), item-major as
    :func:`gather_rows` (``sizes``: the fronts' P)."""
    rows = t.view(batch, sum(sizes), t.size(1))  # explicit widths: fronts may be empty
    return [p.reshape(batch * p.size(1), t.size(1)) for p in rows.split(list(sizes), 1)]


def gather_rows(flat: Tensor, positions: Tensor) -> Tensor:
    """The rows of ``flat`` (B, C, H*W) at ``positions`` (P,) of its last dimension, as a
    contiguous (B*P, C) tensor: gathered along H*W and then transposed (an ``index_select``
    on a transposed view would copy the whole tensor at every call)."""
    rows = flat.index_select(2, positions).transpose(1, 2)
    return rows.reshape(-1, flat.size(1)).contiguous()


def join_items(latents: list[Tensor]) -> Tensor:
    """The items' latents (1, ...) as one batch (N, ...): one item is returned itself, not
    copied (a whole latent less at the peak)."""
    return latents[0] if len(latents) == 1 else torch.cat(latents)
