# SPDX-License-Identifier: Apache-2.0
"""Deterministic fixed-point evaluation of the entropy-parameter networks (issue 9).

Float networks give slightly different outputs on different CPUs, GPUs, thread counts and
libraries; when a decoder's scale lands in a different table row than the encoder's, the stream
decodes to garbage. In the ``"fixed"`` entropy path every network that turns decoded latents into
entropy parameters (``h_s``; for the autoregressive models also the masked context convolution
and ``entropy_parameters``) runs in integer arithmetic in Rust (``tinify._core.FixedNetwork``,
see ``rust/tinify-core/src/fixed``), so encoder and decoder derive the same parameters on every
machine. The synthesis ``g_s`` stays float: it only shapes the pixels, never the bits.

Number formats (``F = FRAC_BITS = 12``):

- activations are int32 with F fractional bits; a decoded hyper-latent ``z_hat`` (an exactly
  reproducible float: symbol plus median, one IEEE add) enters as ``rint(z_hat * 2^F)``;
- weights are quantized once, in :meth:`CompressionModel.update`, per output channel with a
  power-of-two scale (15-bit magnitudes), round-half-even in f64: a pure function of the float
  weights, so every machine derives the same integers from the same checkpoint;
- scales map to table rows on integers (``s_int <= floor(t * 2^F)``, CompressAI's rule);
- a mean is ``m_int * 2^-F`` as float32; symbols are ``round(y - m)`` and the decoder's value is
  ``symbol + m``, one IEEE add; the autoregressive context sees ``symbol * 2^F + m_int``.

The quantized networks are plain attributes, *not* buffers: state dicts stay key-for-key those
of CompressAI (so its checkpoints load with ``strict=True``), and the integers are re-derived
from the float weights whenever :meth:`update` runs.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify import _core
from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.utils.arrays import to_numpy

__all__ = [
    "BAND_VALUES",
    "ENTROPY_PATHS",
    "FRAC_BITS",
    "ExactConv",
    "check_entropy_path",
    "exact_layer",
    "from_fixed",
    "quantize_network",
    "run_image",
    "run_rows",
    "run_network",
    "saturate",
    "to_fixed",
]

#: Fractional bits of the fixed-point activations.
FRAC_BITS: int = int(_core.FIXED_FRAC_BITS)

#: Entropy-parameter paths, the values of the ``entropy_path`` option of ``compress`` /
#: ``decompress``: ``"float"`` (CompressAI's, the default) or ``"fixed"`` (integer). The ``.tfy``
#: header stores the same choice as its coding mode (0, 1), ``tinify encode`` as ``--coding``.
ENTROPY_PATHS = ("float", "fixed")

_I32 = (-(2**31), 2**31 - 1)


def check_entropy_path(path: str) -> str:
    """Return ``path`` if it is one of :data:`ENTROPY_PATHS`.

    Raises:
        tinify.ParameterError: (a ValueError) any other value.
    """
    if path not in ENTROPY_PATHS:
        raise ParameterError(
            f"entropy_path must be one of {ENTROPY_PATHS} (the .tfy coding modes 0 and 1), "
            f"got {path!r}"
        )
    return path


def _bias(module: nn.Module) -> np.ndarray | None:
    bias = getattr(module, "bias", None)
    return to_numpy(bias, np.float32) if isinstance(bias, Tensor) else None


def _square(value: tuple[int, ...] | int | str, what: str) -> int:
    if isinstance(value, str):
        raise ParameterTypeError(f"{what} {value!r} is not supported in the fixed-point path")
    values = (value,) if isinstance(value, int) else tuple(value)
    if len(set(values)) != 1:
        raise ParameterTypeError(
            f"fixed-point layers need equal {what} in both directions, got {value}"
        )
    return int(values[0])


def _check_conv(module: nn.Conv2d | nn.ConvTranspose2d) -> None:
    if module.groups != 1 or module.dilation != (1, 1) or module.padding_mode != "zeros":
        raise ParameterTypeError(f"{module}: only ungrouped, undilated, zero-padded convolutions")
    if module.kernel_size[0] != module.kernel_size[1]:
        raise ParameterTypeError(f"{module}: only square kernels")


def _layers(module: nn.Module) -> Iterator[_core.FixedLayer]:
    if isinstance(module, nn.Sequential):
        for child in module:
            yield from _layers(child)
    elif isinstance(module, nn.ConvTranspose2d):
        _check_conv(module)
        weight = module.weight.detach().permute(1, 0, 2, 3)  # (cin, cout, ..) -> (cout, cin, ..)
        yield _core.FixedLayer.conv_transpose2d(
            to_numpy(weight, np.float32),
            _bias(module),
            _square(module.stride, "stride"),
            _square(module.padding, "padding"),
            _square(module.output_padding, "output_padding"),
        )
    elif isinstance(module, nn.Conv2d):
        _check_conv(module)
        weight = module.weight.detach()
        mask = getattr(module, "mask", None)
        if isinstance(mask, Tensor):
            weight = weight * mask
        yield _core.FixedLayer.conv2d(
            to_numpy(weight, np.float32),
            _bias(module),
            _square(module.stride, "stride"),
            _square(module.padding, "padding"),
        )
    elif isinstance(module, nn.Linear):
        # A linear layer is a 1x1 convolution on (rows, channels): run it with forward_rows.
        yield _core.FixedLayer.conv2d(
            to_numpy(module.weight.detach()[:, :, None, None], np.float32), _bias(module), 1, 0
        )
    elif isinstance(module, nn.PixelShuffle):
        yield _core.FixedLayer.pixel_shuffle(int(module.upscale_factor))
    elif isinstance(module, nn.ReLU):
        yield _core.FixedLayer.relu()
    elif isinstance(module, nn.LeakyReLU):
        yield _core.FixedLayer.leaky_relu(float(module.negative_slope))
    else:
        raise ParameterTypeError(f"{type(module).__name__} has no fixed-point version")


@torch.no_grad()
def quantize_network(module: nn.Module) -> _core.FixedNetwork:
    """Quantize an ``nn.Sequential`` of convolutions, transposed convolutions, linear layers (as
    1x1 convolutions, for ``forward_rows``), pixel shuffles, ReLUs and LeakyReLUs (nested
    Sequentials allowed) into a :class:`tinify._core.FixedNetwork`.

    Raises:
        ParameterTypeError: a layer has no fixed-point version.
        tinify.ParameterError: a weight or bias cannot be represented (non-finite, >= 2^15).
    """
    return _core.FixedNetwork(list(_layers(module)))


def saturate(t: Tensor) -> Tensor:
    """Clamp an int64 tensor to the int32 range and convert (exactly defined saturation)."""
    return t.clamp(*_I32).to(torch.int32)


def to_fixed(x: Tensor) -> Tensor:
    """``rint(float32(x) * 2^F)`` as int32 on the CPU (the product is exact in float64).

    ``x`` is first rounded to float32, so a decoded ``z_hat = symbol + median`` gives the same
    integers whether it was computed in float32 (one correctly rounded add) or exactly in
    float64. Ties round to even; saturates at the int32 range; NaN maps to 0.
    """
    exact = x.detach().to(torch.float32).to("cpu", torch.float64)
    scaled = torch.nan_to_num(exact * 2.0**FRAC_BITS)
    return scaled.round().clamp(*_I32).to(torch.int32)


def from_fixed(x: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """``x_int * 2^-F`` in ``dtype``, correctly rounded (exact for float32 when
    ``|x_int| < 2^24``).

    For float32 and float64 the integers are converted to ``dtype`` (one rounding) and scaled
    by ``2^-F`` in place: a power-of-two scale is exact and commutes with rounding (no overflow
    or subnormal for int32 inputs), so this equals rounding the exact product once, with no
    float64 copy of a whole latent. Other dtypes go through float64.
    """
    if dtype in (torch.float32, torch.float64) and not x.is_floating_point():
        return x.to(dtype).mul_(2.0**-FRAC_BITS)
    return (x.to(torch.float64) * 2.0**-FRAC_BITS).to(dtype)


#: Every partial sum of a convolution whose inputs satisfy ``max|x_int| * max_o sum |w_int[o]|
#: < 2^53`` is an integer that float64 represents exactly (see :class:`ExactConv`).
_EXACT_F64 = 1 << 53

#: How much larger than the direct convolution's the partial sums of :meth:`ExactConv._winograd`
#: can be (see there): it runs when ``WINOGRAD_GROWTH * max|x_int| * row_sum < 2^53``.
WINOGRAD_GROWTH = 144

#: ``G' = 2G`` of Winograd's F(2x2, 3x3): integer kernel transforms.
_WINOGRAD_G2 = ((2, 0, 0), (1, 1, 1), (1, -1, 1), (0, 0, 2))


def _b_transform(t: Sequence[Tensor], shape: tuple[int, ...]) -> Tensor:
    """``B^T`` of Winograd's F(2x2, 3x3) along a list of 4 tensors: ``(t0 - t2, t1 + t2,
    t2 - t1, t1 - t3)`` stacked into a new float64 tensor of ``shape`` (written in place)."""
    out = torch.empty(shape, dtype=torch.float64)
    torch.sub(t[0], t[2], out=out[0])
    torch.add(t[1], t[2], out=out[1])
    torch.sub(t[2], t[1], out=out[2])
    torch.sub(t[1], t[3], out=out[3])
    return out


def _a_transform(t: Sequence[Tensor], shape: tuple[int, ...]) -> Tensor:
    """``A^T`` of Winograd's F(2x2, 3x3) along a list of 4 tensors: ``(t0 + t1 + t2, t1 - t2 -
    t3)`` stacked into a new float64 tensor of ``shape`` (written in place)."""
    out = torch.empty(shape, dtype=torch.float64)
    torch.add(t[0], t[1], out=out[0]).add_(t[2])
    torch.sub(t[1], t[2], out=out[1]).sub_(t[3])
    return out


#: Default most float64 values in one band's im2col / column buffer (256 MiB): larger layers
#: run in bands of output (convolution) or input (transposed convolution) rows.
BAND_VALUES = 1 << 25


@dataclass(frozen=True)
class ExactConv:
    """A quantized (transposed) convolution evaluated exactly by torch's CPU float64 kernels.

    **Why this is exact.** One output value is ``acc = b_int + sum_t w_t * x_t`` over the
    layer's taps ``t`` (integers ``|w_t| <= 2^15``, ``|x_t| < 2^31``). Every *partial* sum that
    any summation order, blocking, threading, FMA contraction or col2im scatter can form is
    ``sum_{t in S} w_t * x_t`` for a subset ``S`` of the taps, so its magnitude is at most
    ``max|x| * sum_t |w_t| <= max|x| * max_o sum |w_int[o, :]|`` (the row sum bounds the taps
    of every output channel, including the subsets a transposed convolution's output positions
    see). When that bound is below ``2^53``, every product and every partial sum is an integer
    float64 represents exactly, so each float64 operation (a product, an add or a fused
    multiply-add) is exact and the float64 result equals the integer sum whatever the
    algorithm's order: the result is the same on every machine, BLAS and thread count. Only
    product-of-sums algorithms (Winograd, FFT, Strassen) could break this; the products here
    are explicit dgemm calls on the CPU (``addmm`` per kernel tap, ``mm`` on rows; strided
    convolutions use torch's CPU float64 ``conv2d``, im2col plus dgemm: oneDNN and NNPACK take
    no float64). Summing the taps' products with ``addmm`` forms only subset sums too. The
    bias is added and the rounding shift applied in int64, exactly as in Rust
    (``tinify-core``'s ``QuantizedConv::requantize``): the result equals the Rust integer
    path bit for bit. Above the bound the layer runs in Rust's i64 arithmetic (the same rule
    decides the f64 path there).
    """

    layer: _core.FixedLayer
    transposed: bool
    weight: Tensor  # float64, torch's layout: (cout, cin, kh, kw) or (cin, cout, kh, kw)
    bias: Tensor  # int64 (cout, 1, 1)
    half: Tensor  # int64 (cout, 1, 1): 2^(shift - 1), or 0 for a zero shift
    shift: Tensor  # int64 (cout, 1, 1)
    cin: int
    kernel: int
    stride: int
    padding: int
    output_padding: int
    row_sum: int

    @classmethod
    def of(cls, layer: _core.FixedLayer) -> ExactConv:
        """The torch form of a convolution ``layer`` (copies its integers once)."""
        quantized = layer.quantized()
        geometry = layer.geometry
        assert quantized is not None and geometry is not None
        weight, shift, bias = quantized
        cout, cin, kh, kw, stride, padding, output_padding, row_sum = geometry
        w = torch.from_numpy(weight.astype(np.float64)).reshape(cout, cin, kh, kw)
        transposed = layer.kind == "conv_transpose2d"
        if transposed:
            w = w.permute(1, 0, 2, 3).contiguous()
        s = torch.from_numpy(shift.astype(np.int64)).reshape(-1, 1, 1)
        return cls(
            layer=layer,
            transposed=transposed,
            weight=w,
            bias=torch.from_numpy(bias).reshape(-1, 1, 1),
            half=torch.where(s > 0, torch.ones_like(s) << (s - 1).clamp(min=0), 0),
            shift=s,
            cin=cin,
            kernel=kh,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            row_sum=int(row_sum),
        )

    @property
    def acts_on_rows(self) -> bool:
        """Whether the layer is a 1x1, stride-1, unpadded convolution: a linear map of rows."""
        return not self.transposed and self.kernel == 1 and self.stride == 1 and self.padding == 0

    @functools.cached_property
    def row_offset(self) -> Tensor:
        """int64 (1, C'): ``b_int + 2^(s-1)`` per output channel, what :meth:`shift_rows`
        expects its accumulators to hold besides the products (one integer add instead of two:
        the values stay far inside int64, so the sum is the same integer)."""
        return (self.bias + self.half).reshape(1, -1)

    @functools.cached_property
    def _part_row_sums(self) -> dict[tuple[int, int], int]:
        return {(0, self.cin): self.row_sum}

    def part_row_sum(self, start: int, stop: int) -> int:
        """``max_o sum_{start <= c < stop} |w_int[o, c]|`` of a 1x1 layer (cached): the bound
        of the products over input channels ``start .. stop`` (the whole row: ``row_sum``)."""
        sums = self._part_row_sums
        key = (start, stop)
        if key not in sums:
            part = self.weight.reshape(self.weight.shape[0], -1)[:, start:stop]
            # Integers below 2^15 * cin << 2^53: the float64 sums are exact.
            sums[key] = int(part.abs().sum(dim=1).max()) if part.numel() else 0
        return sums[key]

    def rows_sums(self, x: Tensor, start: int = 0) -> Tensor | None:
        """The exact products of int32 rows (P, C) with input channels ``start .. start + C``
        of a 1x1 layer: int64 (P, C'), ``acc[p, o] = sum_c w_int[o, start + c] * x[p, c]``, with
        no bias; None when the layer does not act on rows, the columns do not fit, or the float64
        bound fails for this part.

        **Why a part is exact.** The proof of the class holds for any subset of a row's taps: a
        part's products and partial sums are sums over a subset of the taps of channels
        ``start .. start + C``, so their magnitude is at most ``max|x| * max_o sum_{c in part}
        |w_int[o, c]|`` (:meth:`part_row_sum`, at most :attr:`row_sum`). Below ``2^53`` the
        float64 product ``x @ w[:, part]^T`` is the exact integer sum, whatever the BLAS's order,
        blocking, threading or the number of rows in the call. The sums of the parts of a row
        then add in int64 to the whole row's sum (``|sum| < 2^61``, Rust's overflow bound), so
        ``shift_rows(hyper_part + context_part + row_offset)`` is the same integer as
        :meth:`rows` on the joined input, bit for bit.
        """
        if not self.acts_on_rows or x.dim() != 2:
            return None
        stop = start + x.shape[1]
        if not 0 <= start < stop <= self.cin:
            return None
        if not self.exact_f64(x, self.part_row_sum(start, stop)):
            return None
        weight = self.weight.reshape(self.weight.shape[0], -1)[:, start:stop]
        return torch.mm(x.to(torch.float64), weight.t()).to(torch.int64)

    def shift_rows(self, acc: Tensor) -> Tensor:
        """Requantize int64 accumulator rows (P, C') that already hold :attr:`row_offset`:
        ``acc >> s`` (in place), saturated to int32. Rust's ``QuantizedConv::requantize``."""
        acc >>= self.shift.reshape(1, -1)
        return saturate(acc)

    def rows(self, x: Tensor) -> Tensor:
        """A 1x1 convolution on int32 rows (P, C); int32 (P, C'). ``x @ w^T`` in float64 when
        :meth:`exact_f64` allows it (the same proof: each output is a sum over the taps of one
        row of ``w``; see :meth:`rows_sums`), Rust otherwise (and Rust's errors for a layer that
        cannot act on rows)."""
        acc = self.rows_sums(x) if x.dim() == 2 and x.shape[1] == self.cin else None
        if acc is None:
            return torch.from_numpy(self.layer.forward_rows(to_numpy(x)))
        acc += self.row_offset
        return self.shift_rows(acc)

    def _output_size(self, n: int) -> int:
        k, s, p = self.kernel, self.stride, self.padding
        if self.transposed:
            return (n - 1) * s + k + self.output_padding - 2 * p
        return (n + 2 * p - k) // s + 1 if n + 2 * p >= k else 0

    def exact_f64(self, x: Tensor, row_sum: int | None = None) -> bool:
        """Whether ``max|x| * max_o sum |w_int[o]| < 2^53``: the float64 path is exact for ``x``
        (``row_sum``: the bound of a part of the taps instead, see :meth:`rows_sums`)."""
        bound = 0
        if x.numel():
            low, high = torch.aminmax(x)
            bound = max(int(high), -int(low))
        return bound * (self.row_sum if row_sum is None else row_sum) < _EXACT_F64

    def forward(self, x: Tensor, band_values: int = BAND_VALUES) -> Tensor:
        """The layer on one int32 (C, H, W) CPU image; int32 (C', H', W').

        ``band_values`` bounds the float64 values of one band's column buffer (the result does
        not depend on it).
        """
        c, h, w = x.shape
        ho, wo = self._output_size(h), self._output_size(w)
        if (
            c != self.cin
            or min(h, w, ho, wo) <= 0
            or max(ho, wo) > 1 << 20
            or not self.exact_f64(x)
        ):
            # Rust: the i64 path above the bound, and its errors for bad shapes.
            return torch.from_numpy(self.layer.forward(to_numpy(x)))
        xd = x.to(torch.float64)
        if self.winograd and self.exact_f64(x, WINOGRAD_GROWTH * self.row_sum):
            acc = self._winograd(xd, band_values)
        elif self.transposed or self.stride == 1:
            acc = self._shifted(xd, ho, wo)
        else:
            acc = self._direct(xd, ho, wo, band_values)
        acc += self.bias
        acc += self.half
        acc >>= self.shift
        return saturate(acc)

    @functools.cached_property
    def phases(self) -> list[tuple[int, int, list[tuple[Tensor, int, int]]]]:
        """The layer as sums of shifted matrix products, one list per output phase.

        Output ``(Y, X) = (s*u + a, s*v + b)`` of phase ``(a, b)`` is ``sum w[:, :, i, j] @
        x[:, u + dy, v + dx]`` over the taps ``(i, j, dy, dx)`` of that phase (zero outside
        the input). A convolution (stride 1) has one phase, ``dy = i - p``; a transposed
        convolution has ``s^2`` (its sub-pixel convolutions): tap ``i`` serves the rows with
        ``(a + p - i) % s == 0``, reading input row ``u + (a + p - i) / s``. Taps whose weights
        are all zero (masked convolutions) are left out.
        """
        k, s, p = self.kernel, self.stride, self.padding
        w = self.weight.permute(1, 0, 2, 3) if self.transposed else self.weight
        live = (w != 0).any(dim=1).any(dim=0)
        phases = []
        for a in range(s if self.transposed else 1):
            for b in range(s if self.transposed else 1):
                taps = []
                for i in range(k):
                    for j in range(k):
                        if not live[i, j]:
                            continue
                        if self.transposed:
                            if (a + p - i) % s or (b + p - j) % s:
                                continue
                            dy, dx = (a + p - i) // s, (b + p - j) // s
                        else:
                            dy, dx = i - p, j - p
                        taps.append((w[:, :, i, j].contiguous(), dy, dx))
                phases.append((a, b, taps))
        return phases

    def _shifted(self, x: Tensor, ho: int, wo: int) -> Tensor:
        # The input, zero-padded (left q, right r, top t) and flattened row-major with row length
        # wp: x[:, u + dy, v + dx] for u < U, v < V is flat[:, (u + dy + t) * wp + v + dx + q],
        # so one tap is one product with a contiguous column window of `flat` (columns v >= V of
        # the result wrap into the next row and are dropped).
        c, h, w = x.shape
        s = self.stride if self.transposed else 1
        phases = self.phases
        cout = self.bias.shape[0]
        offsets = [(dy, dx) for _, _, taps in phases for _, dy, dx in taps]
        acc = torch.zeros((cout, ho, wo), dtype=torch.int64)
        if not offsets:
            return acc
        t = max(0, -min(dy for dy, _ in offsets))
        q = max(0, -min(dx for _, dx in offsets))
        vmax = max(len(range(b, wo, s)) for _, b, _ in phases)
        r = max(0, max(dx for _, dx in offsets) + vmax - w)
        wp = q + w + r
        flat = F.pad(x, (q, r, t, 0)).reshape(c, -1)
        umax = max(len(range(a, ho, s)) for a, _, _ in phases)
        need = (max(dy for dy, _ in offsets) + t + umax) * wp + max(dx for _, dx in offsets) + q
        if need > flat.shape[1]:
            flat = F.pad(flat, (0, need - flat.shape[1]))
        for a, b, taps in phases:
            rows, cols = len(range(a, ho, s)), len(range(b, wo, s))
            if not taps or rows == 0 or cols == 0:
                continue
            n = rows * wp
            out = torch.zeros((cout, n), dtype=torch.float64)
            for weight, dy, dx in taps:
                start = (dy + t) * wp + dx + q
                out.addmm_(weight, flat[:, start : start + n])
            acc[:, a::s, b::s] = out.view(cout, rows, wp)[:, :, :cols].to(torch.int64)
        return acc

    @functools.cached_property
    def winograd(self) -> bool:
        """Whether the layer is a 3x3, stride-1, padding-1 convolution with every tap live:
        :meth:`_winograd` computes it."""
        plain = not self.transposed and (self.kernel, self.stride, self.padding) == (3, 1, 1)
        return plain and len(self.phases[0][2]) == 9

    @functools.cached_property
    def _winograd_kernel(self) -> Tensor:
        """``U' = G' g G'^T`` per output and input channel, float64 (16, C', C), row ``4b + a``
        for entry ``(a, b)`` (row ``a``, column ``b``): integers (``|U'| <= 9 * 2^15``), exact."""
        g2 = torch.tensor(_WINOGRAD_G2, dtype=torch.float64)
        u = torch.einsum("ai,kcij,bj->bakc", g2, self.weight, g2)
        return u.reshape(16, *self.weight.shape[:2]).contiguous()

    def _winograd(self, x: Tensor, band_values: int) -> Tensor:
        """The products of a :attr:`winograd` layer by Winograd's minimal filtering F(2x2, 3x3)
        (Lavin and Gray, CVPR 2016, arXiv:1509.09308), exactly, in bands of tile rows of at most
        ``band_values`` float64 values of transformed input or output: 16 products per 2x2
        output tile and input channel instead of 36 (2.25x fewer multiply-adds).

        **Why this is exact.** With ``G' = 2G`` every quantity is an integer: the input tiles
        ``V = B^T d B`` (sums of 4 inputs: ``|V| <= 4 max|x|``), the kernels ``U' = G' g G'^T =
        4U``, the products ``M = sum_c U'_c V_c`` per tile entry, and ``4Y = A^T M A``. Any
        partial sum of ``M`` (a subset of input channels, in any order) is at most ``4 max|x|
        * sum_c |U'[k, c]| <= 16 max|x| * row_sum`` (each ``|G'_ai G'_bj| <= 4``), and ``4Y``
        adds 9 of them, so every float64 operation is exact when ``144 max|x| * row_sum <
        2^53`` (:data:`WINOGRAD_GROWTH`, checked by the caller). ``4Y`` is then four times the
        integer sum of the direct convolution, and ``>> 2`` gives it exactly: the same integers
        as :meth:`_shifted`, bit for bit (tested)."""
        c, h, w = x.shape
        th, tw = -(-h // 2), -(-w // 2)
        xp = F.pad(x, (1, 1 + 2 * tw - w, 1, 1 + 2 * th - h))
        u = self._winograd_kernel
        k = u.shape[1]
        acc = torch.empty((k, 2 * th, 2 * tw), dtype=torch.int64)
        # A band's float64 temporaries: at most two of the 16-entry tensors of input (C) or
        # output (C') channels at a time, written in place, in half of ``band_values`` (the
        # layer's peak memory then stays near the direct products').
        rows = max(1, band_values // (64 * max(c, k) * tw))
        for t0 in range(0, th, rows):
            tb = min(th, t0 + rows) - t0
            d = xp[:, 2 * t0 : 2 * (t0 + tb) + 2].unfold(1, 4, 2).unfold(2, 4, 2)
            r = _b_transform(d.unbind(-2), (4, c, tb, tw, 4))  # B^T d: (a, C, tb, tw, j)
            v = _b_transform([r[..., j] for j in range(4)], (4, 4, c, tb, tw))
            del r  # v: (b, a, C, tb, tw), the kernel's order
            m = torch.bmm(u, v.view(16, c, tb * tw)).view(4, 4, k, tb, tw)
            del v
            s = _a_transform(m.unbind(1), (2, 4, k, tb, tw))  # A^T M: (u, b, C', tb, tw)
            del m
            band = acc[:, 2 * t0 : 2 * (t0 + tb)].view(k, tb, 2, tw, 2)
            for row, q in enumerate(s):
                y = _a_transform(q.unbind(0), (2, k, tb, tw))  # (v, C', tb, tw)
                band[:, :, row].copy_(y.permute(1, 2, 3, 0))  # -> (C', tb, tw, v)
            del s
        acc = acc[:, :h, :w]
        acc >>= 2  # 4Y / 4, exact: a multiple of 4
        return acc

    def _direct(self, x: Tensor, ho: int, wo: int, band_values: int) -> Tensor:
        k, s, p = self.kernel, self.stride, self.padding
        padded = F.pad(x, (p, p, p, p)) if p else x
        rows = max(1, band_values // max(1, self.cin * k * k * wo))
        acc = torch.empty((self.weight.shape[0], ho, wo), dtype=torch.int64)
        for r0 in range(0, ho, rows):
            r1 = min(ho, r0 + rows)
            band = padded[None, :, r0 * s : (r1 - 1) * s + k]
            acc[:, r0:r1] = F.conv2d(band, self.weight, stride=s)[0].to(torch.int64)
        return acc


_PLANS: weakref.WeakKeyDictionary[_core.FixedNetwork, list[ExactConv | _core.FixedLayer]] = (
    weakref.WeakKeyDictionary()
)


def _plan(network: _core.FixedNetwork) -> list[ExactConv | _core.FixedLayer]:
    plan = _PLANS.get(network)
    if plan is None:
        plan = [
            ExactConv.of(layer) if layer.kind in ("conv2d", "conv_transpose2d") else layer
            for layer in network.layers
        ]
        _PLANS[network] = plan
    return plan


def exact_layer(network: _core.FixedNetwork, index: int) -> ExactConv | None:
    """The :class:`ExactConv` of ``network.layers[index]`` that :func:`run_rows` and
    :func:`run_image` use (built once per network), or None for a layer that is not a
    convolution."""
    step = _plan(network)[index]
    return step if isinstance(step, ExactConv) else None


def run_image(network: _core.FixedNetwork, x: Tensor) -> Tensor:
    """Run ``network`` on one int32 (C, H, W) image; returns int32 (C', H', W').

    Bit for bit ``network.forward``: convolutions whose bound allows it run as exact float64
    products in torch (:class:`ExactConv`), everything else in Rust.
    """
    x = x.to("cpu").contiguous()
    for step in _plan(network):
        if isinstance(step, ExactConv):
            x = step.forward(x)
        else:
            x = torch.from_numpy(step.forward(to_numpy(x)))
    return x


def run_rows(network: _core.FixedNetwork, x: Tensor, *, start: int = 0) -> Tensor:
    """Run ``network`` (1x1 convolutions and activations) on int32 rows (P, C); int32 (P, C').

    Bit for bit ``network.forward_rows``, with the products in exact float64 where the bound
    allows (:meth:`ExactConv.rows`). ``start``: run only the layers from ``network.layers[start]``
    on (``x`` is then the output of the layer before).
    """
    x = x.to("cpu").contiguous()
    for step in _plan(network)[start:]:
        if isinstance(step, ExactConv):
            x = step.rows(x)
        else:
            x = torch.from_numpy(step.forward_rows(to_numpy(x)))
    return x


def run_network(network: _core.FixedNetwork, x: Tensor) -> Tensor:
    """Run ``network`` on every item of an int32 batch (N, C, H, W); returns int32 (N, C', H', W').

    Items are independent calls, so an item's result never depends on the rest of the batch.
    """
    if x.dtype != torch.int32 or x.dim() != 4:
        raise ParameterError(
            f"expected an int32 (N, C, H, W) tensor, got {x.dtype} {tuple(x.shape)}"
        )
    return torch.stack([run_image(network, x[i]) for i in range(x.size(0))])
