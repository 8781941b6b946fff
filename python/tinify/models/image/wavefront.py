# SPDX-License-Identifier: Apache-2.0
"""Autoregressive (masked-convolution context) coding of a latent, one wavefront at a time.

The context model of Minnen et al. (2018) predicts the entropy parameters of ``y[:, :, h, w]``
from already decoded neighbours: the causal taps of a masked 5x5 convolution (the two rows above,
columns ``w-2 .. w+2``, and the two positions to the left). A position depends on ``(h-1, w+2)``,
so all positions with equal ``t = 3*h + w`` are mutually independent: they form a *front*, and
fronts ``t = 0, 1, ..., 3*(H-1) + W - 1`` are coded in order. For a 32x48 latent that is 141
steps instead of CompressAI's 1,536 per-pixel steps. (The slope 3 is derived from the mask:
the smallest ``a`` with ``a*dh + dw < 0`` for every tap ``(dh, dw)``.)

For every front both the encoder and the decoder run the *same* batched operations on the same
shapes, so their entropy parameters are bit-identical:

1. gather the causal taps of the front's P positions from the (padded, channels-last) ``y_hat``
   buffer: (P, taps*M);
2. context = one matmul with the masked kernel arranged as (taps*M, 2M), plus bias;
3. ``entropy_parameters`` (1x1 convolutions) as matmuls on ``cat(hyper params, context)``;
4. quantize (encoder) or decode (decoder) the front's symbols and write ``y_hat`` back.

**Symbol order** of each batch item's single rANS stream: fronts in increasing ``t``; within a
front, positions by increasing row ``h``; for each position the M channels in order (position-
major, channel-minor, like CompressAI). With ``order="raster"`` every position is its own front
in raster order, which is exactly CompressAI 1.2.8's stream layout (slower; for interchange).

Batch items are coded one after the other, each with its own stream: the arithmetic behind an
item never depends on the rest of the batch, so an item decodes alone exactly as in its batch.
Nor does it depend on ``torch.set_num_threads``: the loops run on one intra-op thread (see
``_single_intra_op_thread``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify import _core
from tinify.ans import RansDecoder, encode_mixture
from tinify.entropy_models import GaussianConditional, GaussianMixtureConditional
from tinify.exceptions import ParameterError
from tinify.utils.arrays import to_numpy

__all__ = [
    "CONTEXT_ORDERS",
    "ContextCoder",
    "causal_taps",
    "coding_fronts",
    "compress_latent",
    "decode_items",
    "decompress_latent",
    "encode_items",
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


class ContextCoder:
    """The decoded latent ``y_hat`` being built front by front, and the parameter network.

    Args:
        context_prediction: the masked context convolution (M -> C_ctx channels).
        entropy_parameters: ``nn.Sequential`` of 1x1 convolutions and element-wise layers.
        params: hyper-decoder output (B, C_hyp, H, W), concatenated before the context.
        order: ``"wavefront"`` or ``"raster"`` (see the module docstring).
    """

    def __init__(
        self,
        context_prediction: nn.Conv2d,
        entropy_parameters: nn.Sequential,
        params: Tensor,
        order: str = "wavefront",
    ) -> None:
        batch, _, height, width = params.shape
        channels = context_prediction.in_channels
        taps = causal_taps(context_prediction)
        kh, kw = context_prediction.kernel_size
        self.pad_h, self.pad_w = kh // 2, kw // 2
        self.shape = (batch, channels, height, width)
        self.fronts = coding_fronts(height, width, wavefront_slope(taps), order)

        weight = context_prediction.weight.detach()
        mask = getattr(context_prediction, "mask", None)
        if isinstance(mask, Tensor):
            weight = weight * mask
        rows = torch.tensor([dh + self.pad_h for dh, _ in taps])
        cols = torch.tensor([dw + self.pad_w for _, dw in taps])
        # (C_ctx, M, taps) -> (taps * M, C_ctx): row t * M + c multiplies tap t of channel c.
        self.ctx_weight = weight[:, :, rows, cols].permute(2, 1, 0).reshape(-1, weight.size(0))
        bias = context_prediction.bias
        self.ctx_bias = (
            bias.detach() if bias is not None else weight.new_zeros(weight.size(0))
        ).contiguous()
        self.layers = _as_matmuls(entropy_parameters)

        device = params.device
        self.padded_width = width + 2 * self.pad_w
        self.tap_offsets = torch.tensor(
            [dh * self.padded_width + dw for dh, dw in taps], device=device
        )
        padded = (height + 2 * self.pad_h) * self.padded_width
        self.y_hat = params.new_zeros(batch, padded, channels)  # channels-last, zero border
        self.params = params.detach().flatten(2).transpose(1, 2)  # (B, H*W, C_hyp)
        self.fronts = [f.to(device) for f in self.fronts]
        # Index work done once for all fronts rather than per step: each front's rows of
        # ``y_hat`` (its centres and, flattened, its causal taps) and its hyper parameters,
        # gathered in coding order and split into per-front views. Same values as
        # entropy_params(pos) / write(pos) compute, so the arithmetic is unchanged.
        sizes = [f.numel() for f in self.fronts]
        positions = torch.cat(self.fronts)
        centres = self._centres(positions)
        taps_flat = (centres[:, None] + self.tap_offsets[None, :]).reshape(-1)
        self.front_centres = list(centres.split(sizes))
        self.front_taps = list(taps_flat.split([n * len(taps) for n in sizes]))
        hyper = self.params.index_select(1, positions)  # (B, H*W, C_hyp) in coding order
        self.front_hyper = [p.reshape(-1, p.size(-1)) for p in hyper.split(sizes, dim=1)]

    def _centres(self, pos: Tensor) -> Tensor:
        width = self.shape[3]
        return (pos // width + self.pad_h) * self.padded_width + pos % width + self.pad_w

    def entropy_params(self, pos: Tensor) -> Tensor:
        """Entropy parameters of the positions ``pos`` (P,) of every item: (B*P, C_out)."""
        taps = self._centres(pos)[:, None] + self.tap_offsets[None, :]  # (P, taps)
        hyper = self.params.index_select(1, pos).reshape(-1, self.params.size(-1))
        return self._entropy_params(taps.reshape(-1), hyper)

    def front_params(self, i: int) -> Tensor:
        """Entropy parameters of front ``i`` (``entropy_params(self.fronts[i])``)."""
        return self._entropy_params(self.front_taps[i], self.front_hyper[i])

    def _entropy_params(self, taps: Tensor, hyper: Tensor) -> Tensor:
        # taps: flat rows of y_hat, position-major (P*taps,); hyper: (B*P, C_hyp).
        context_in = self.y_hat.index_select(1, taps).reshape(hyper.size(0), -1)
        context = torch.addmm(self.ctx_bias, context_in, self.ctx_weight)
        h = torch.cat([hyper, context], dim=1)
        for layer in self.layers:
            h = layer(h)
        return h

    def write(self, pos: Tensor, values: Tensor) -> None:
        """Store decoded values (B*P, M) at positions ``pos`` (P,)."""
        self._write(self._centres(pos), values)

    def write_front(self, i: int, values: Tensor) -> None:
        """Store the decoded values (B*P, M) of front ``i``."""
        self._write(self.front_centres[i], values)

    def _write(self, centres: Tensor, values: Tensor) -> None:
        batch, channels = self.shape[:2]
        self.y_hat.index_copy_(1, centres, values.reshape(batch, -1, channels))

    def latent(self) -> Tensor:
        """The decoded latent (B, M, H, W)."""
        batch, channels, height, width = self.shape
        grid = self.y_hat.reshape(batch, height + 2 * self.pad_h, self.padded_width, channels)
        inner = grid[:, self.pad_h : self.pad_h + height, self.pad_w : self.pad_w + width]
        return inner.permute(0, 3, 1, 2).contiguous()


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
def _single_intra_op_thread() -> Iterator[None]:
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


_Coder = TypeVar("_Coder", bound="ContextCoder")


def encode_items(
    y: Tensor, make_coder: Callable[[int], _Coder], encode_item: Callable[[_Coder, Tensor], bytes]
) -> tuple[list[bytes], Tensor]:
    """Code each item ``y[b : b + 1]`` with its own coder ``make_coder(b)``, on one intra-op
    thread; return the streams and the latents the decoder will reproduce (``coder.latent()``).
    """
    strings, latents = [], []
    with _single_intra_op_thread():
        for b in range(y.size(0)):
            coder = make_coder(b)
            strings.append(encode_item(coder, y[b : b + 1]))
            latents.append(coder.latent())
    return strings, torch.cat(latents)


def decode_items(
    strings: Sequence[bytes],
    make_coder: Callable[[int], _Coder],
    decode_item: Callable[[_Coder, RansDecoder], None],
) -> Tensor:
    """Decode stream ``b`` with ``decode_item(make_coder(b), decoder)`` on one intra-op thread,
    check that it was consumed exactly, and return the items' latents concatenated.

    Raises:
        tinify.BitstreamError: a stream is corrupt, truncated or has data left over.
    """
    latents = []
    with _single_intra_op_thread():
        for b, stream in enumerate(strings):
            coder = make_coder(b)
            decoder = RansDecoder()
            decoder.set_stream(bytes(stream))
            decode_item(coder, decoder)
            decoder.finish()
            latents.append(coder.latent())
    return torch.cat(latents)


@torch.no_grad()
def compress_latent(
    y: Tensor,
    params: Tensor,
    context_prediction: nn.Conv2d,
    entropy_parameters: nn.Sequential,
    conditional: GaussianConditional,
    order: str = "wavefront",
) -> tuple[list[bytes], Tensor]:
    """Code ``y`` (B, M, H, W) given the hyper parameters (B, C, H, W).

    Items are coded one after the other, so an item's stream (and the arithmetic behind it)
    does not depend on the rest of the batch.

    Returns:
        One stream per item, and the decoded latent ``y_hat`` the decoder will reproduce.
    """
    if y.shape[0] != params.shape[0] or y.shape[-2:] != params.shape[-2:]:
        raise ParameterError(f"y {tuple(y.shape)} and params {tuple(params.shape)} do not match")
    return encode_items(
        y,
        lambda b: ContextCoder(context_prediction, entropy_parameters, params[b : b + 1], order),
        lambda coder, item: _compress_item(coder, item, conditional),
    )


def _compress_item(coder: ContextCoder, y: Tensor, conditional: GaussianConditional) -> bytes:
    channels = y.size(1)
    # y's rows (positions) in coding order, one view per front.
    y_rows = y.detach().flatten(2).transpose(1, 2).index_select(1, torch.cat(coder.fronts))
    fronts = y_rows.reshape(-1, channels).split([f.numel() for f in coder.fronts])
    symbols, params = [], []
    for i, values in enumerate(fronts):
        out = coder.front_params(i)
        if isinstance(conditional, GaussianMixtureConditional):
            weights, means, scales = split_mixture(out, conditional.K)
            q = conditional.quantize(values, "symbols")
            coder.write_front(i, conditional.dequantize(q, None, values.dtype))
            params.append([per_element(p, conditional.K) for p in (weights, means, scales)])
        else:
            scales, means = out.chunk(2, dim=1)
            q = conditional.quantize(values, "symbols", means)
            coder.write_front(i, conditional.dequantize(q, means))
            params.append([conditional.build_indexes(scales).reshape(-1)])
        symbols.append(q.reshape(-1))
    sym = to_numpy(torch.cat(symbols), np.int32)
    if isinstance(conditional, GaussianMixtureConditional):
        w, m, s = (to_numpy(torch.cat([p[i] for p in params]), np.float64) for i in range(3))
        return encode_mixture(sym, w, m, s)
    indexes = to_numpy(torch.cat([p[0] for p in params]), np.int32)
    return _core.encode_with_indexes(sym, indexes, conditional.cdf_table())


@torch.no_grad()
def decompress_latent(
    strings: Sequence[bytes],
    params: Tensor,
    context_prediction: nn.Conv2d,
    entropy_parameters: nn.Sequential,
    conditional: GaussianConditional,
    order: str = "wavefront",
) -> Tensor:
    """Decode the streams of :func:`compress_latent`; returns ``y_hat`` (B, M, H, W).

    Raises:
        tinify.BitstreamError: a stream is corrupt, truncated or has data left over.
    """
    if len(strings) != params.size(0):
        raise ParameterError(f"{len(strings)} streams for a batch of {params.size(0)}")
    return decode_items(
        strings,
        lambda b: ContextCoder(context_prediction, entropy_parameters, params[b : b + 1], order),
        lambda coder, decoder: _decompress_item(coder, decoder, conditional),
    )


def _decompress_item(
    coder: ContextCoder, decoder: RansDecoder, conditional: GaussianConditional
) -> None:
    channels = coder.shape[1]
    table = None
    for i in range(len(coder.fronts)):
        out = coder.front_params(i)
        if isinstance(conditional, GaussianMixtureConditional):
            weights, means, scales = split_mixture(out, conditional.K)
            w, m, s = (
                to_numpy(per_element(p, conditional.K), np.float64)
                for p in (weights, means, scales)
            )
            q = torch.from_numpy(decoder.decode_mixture_stream(w, m, s))
            values = conditional.dequantize(q.reshape(-1, channels).to(out.device), None, out.dtype)
        else:
            scales, means = out.chunk(2, dim=1)
            table = table or conditional.cdf_table()
            indexes = to_numpy(conditional.build_indexes(scales).reshape(-1), np.int32)
            q = torch.from_numpy(decoder.decode_stream(indexes, table))
            values = conditional.dequantize(q.reshape(-1, channels).to(out.device), means)
        coder.write_front(i, values)
