# SPDX-License-Identifier: Apache-2.0
"""Inference copies of the transforms: the same function up to float rounding, computed faster.

:func:`inference_copy` takes a trained transform (``g_a``, ``g_s``, ``h_a``, ``h_s`` of any zoo
model, or any module built from the layers of :mod:`tinify.layers`) and returns a frozen copy
that computes the same function with these changes, each measured to pay on the CPU (2 threads
of an AVX-512 machine, oneDNN; see ``benches/bench_transforms.py``):

- **channels-last layout** on the CPU: the input is converted once to NHWC and every
  convolution, transposed convolution and GDN stays in it (oneDNN's fastest path: 1.2-1.8x per
  layer; the first 3-channel convolution of ``g_a`` gains the most); the output comes back
  contiguous (NCHW). On other devices the layout is left alone.
- **GDN / IGDN / GDN1 folded**: the reparametrized ``beta`` and ``gamma`` are computed once
  (:class:`FoldedGDN`), and the normalization runs in place on the 1x1 convolution's output.
- **narrow transposed convolutions as sub-pixel convolutions**: a stride-``s`` transposed
  convolution whose output is exactly ``s`` times its input (``deconv``'s, and the last layer
  of every GDN synthesis transform, ``N -> 3``) is one stride-1 convolution to ``s*s*C_out``
  channels followed by :func:`~torch.nn.functional.pixel_shuffle` (:class:`SubpixelDeconv`):
  1.9x faster for 3 output channels, where oneDNN's transposed convolution is slowest. Only
  used up to :data:`SUBPIXEL_MAX_OUT_CHANNELS` output channels: for wide layers the zero taps
  of the sub-pixel kernel (36 multiplies for 25 with a 5x5 kernel) cost more than they save.
- **in-place residual sums** in the residual and attention blocks of Cheng et al. (2020).
- **Winograd convolutions** (:class:`WinogradConv`, :class:`WinogradDeconv`) when torch's
  NNPACK is available (every zoo transform: Ballé's and Minnen's 5x5 stride-2 layers, the 3x3
  layers of Cheng et al. and ELIC; masked convolutions are left alone): a stride-2
  convolution is a 3x3 convolution of the space-to-depth input, a transposed convolution the
  3x3 convolution of its sub-pixel form followed by a pixel shuffle, and NNPACK computes 3x3
  convolutions with Winograd's minimal filtering (A. Lavin, S. Gray, "Fast Algorithms for
  Convolutional Neural Networks", CVPR 2016, arXiv:1509.09308): 2.2-3x fewer operations than
  oneDNN's direct convolution for these layers (the 192-channel layers of ``g_s`` at 3 MP:
  3.6 s -> 2.4 s each, one thread; cheng2020-anchor's g_s 2.1x, ELIC's 1.4x over the
  channels-last copy). Such a copy runs in NCHW (NNPACK's layout), with GDN as
  matrix products on column bands that stay in cache. Its rounding differs more than the
  direct convolution's (about 1e-5 of the output's range instead of 1e-6).

The results differ from the original module's by float rounding only (other summation orders:
about 1e-6 relative). The ordinary layers keep CompressAI's exact numerics; use a copy only where
that is allowed: the synthesis transform, and the analysis transforms of the fixed-point path
(coding mode 1), whose streams need not equal CompressAI's bytes. The float path's ``g_a``,
``h_a`` and ``h_s`` must stay the originals, or the streams would differ from CompressAI's.

Tried and measured not to pay (so left out): GDN as a channels-last matrix product
(``x^2 @ gamma^T + beta``, the same speed as oneDNN's 1x1 convolution), wide transposed
convolutions split into ``s*s`` phase convolutions without zero taps (slower: four small
convolutions and an interleaving copy), stride-2 convolutions as oneDNN stride-1 convolutions
on a space-to-depth input (slower; with NNPACK's Winograd they pay), oneDNN's blocked tensors
(``torch.utils.mkldnn``), Winograd layers inside a channels-last copy (the layout conversions
around each NNPACK call cost more than Winograd saves).

A copy is a snapshot: it does not follow later changes of the original's weights.
:meth:`tinify.models.CompressionModel.inference_transform` keeps one per transform and rebuilds
it when the weights change.
"""

from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify.layers.attention import AttentionBlock, ResidualUnit
from tinify.layers.gdn import GDN, GDN1
from tinify.layers.residual import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride

if TYPE_CHECKING:  # typing.TypeGuard is Python 3.10+
    from typing_extensions import TypeGuard

__all__ = [
    "SUBPIXEL_MAX_OUT_CHANNELS",
    "WINOGRAD_BAND_BYTES",
    "FastPixelShuffle",
    "FoldedGDN",
    "InferenceTransform",
    "SubpixelDeconv",
    "WINOGRAD_THREADED_WIDTH",
    "WinogradConv",
    "WinogradDeconv",
    "inference_copy",
    "parameter_signature",
    "pixel_shuffle",
    "pixel_unshuffle",
    "subpixel_conv",
    "subpixel_weight",
    "winograd_available",
    "winograd_convertible",
    "winograd_plan",
]

#: Transposed convolutions with at most this many output channels become a
#: :class:`SubpixelDeconv`; wider ones stay oneDNN's transposed convolution.
SUBPIXEL_MAX_OUT_CHANNELS = 16

#: Input or output bytes above which :func:`_winograd` runs NNPACK on bands of rows (its
#: workspace is about 1.8x a band's input and output). Bands also keep the temporaries under
#: glibc's 32 MiB ``mmap`` threshold, so they reuse freed heap memory instead of page-faulting
#: fresh pages: a stride-2 transposed convolution of 192 channels at 3 MP ran 1.2x faster in
#: bands, a stride-2 convolution at the same speed.
WINOGRAD_BAND_BYTES = 32 << 20

#: Positions per band of :class:`FoldedGDN`'s NCHW matrix products (192 channels: 6 MiB).
GDN_BAND_COLUMNS = 8192


class FoldedGDN(nn.Module):
    """A frozen :class:`~tinify.layers.GDN` (or ``IGDN``, ``GDN1``) with its effective ``beta``
    and ``gamma`` computed once.

    ``y = x * rsqrt(beta + gamma * x^2)`` (GDN), ``x * sqrt(...)`` (IGDN), ``x / (beta + gamma *
    |x|)`` (GDN1) or ``x * (...)`` (inverse GDN1), with ``gamma * v`` the 1x1 convolution of the
    original. The norm's buffer is reused for the result, so one temporary of the input's size
    is allocated besides the output.

    Args:
        gdn: the layer to freeze.
    """

    beta: Tensor
    gamma: Tensor

    def __init__(self, gdn: GDN) -> None:
        super().__init__()
        channels = int(gdn.beta.numel())
        with torch.no_grad():
            beta, gamma = gdn._effective_params(channels)
        self.register_buffer("beta", beta.detach().clone())
        self.register_buffer("gamma", gamma.detach().clone())
        self.inverse = bool(gdn.inverse)
        self.simplified = isinstance(gdn, GDN1)

    def forward(self, x: Tensor) -> Tensor:
        """Normalize ``x`` (N, C, H, W)."""
        if not self.simplified and x.device.type == "cpu" and x.is_contiguous():
            return self._banded(x)
        if self.simplified:
            norm = F.conv2d(x.abs(), self.gamma, self.beta)
            return norm.mul_(x) if self.inverse else norm.reciprocal_().mul_(x)
        norm = F.conv2d(x * x, self.gamma, self.beta)
        return (norm.sqrt_() if self.inverse else norm.rsqrt_()).mul_(x)

    def _banded(self, x: Tensor) -> Tensor:
        """GDN / IGDN of a contiguous NCHW ``x`` as matrix products ``gamma @ x^2 + beta`` on
        bands of :data:`GDN_BAND_COLUMNS` positions, whose temporaries stay in cache (1.15x
        faster than one 1x1 convolution on the whole tensor at 3 MP)."""
        n, c, h, w = x.shape
        gamma = self.gamma.reshape(c, c)
        beta = self.beta.reshape(c, 1)
        out = torch.empty_like(x)
        for item in range(n):
            src, dst = x[item].view(c, h * w), out[item].view(c, h * w)
            for start in range(0, h * w, GDN_BAND_COLUMNS):
                band = src[:, start : start + GDN_BAND_COLUMNS]
                norm = dst[:, start : start + GDN_BAND_COLUMNS]
                torch.addmm(beta, gamma, band * band, out=norm)
                (norm.sqrt_() if self.inverse else norm.rsqrt_()).mul_(band)
        return out

    def extra_repr(self) -> str:
        kind = ("IGDN" if self.inverse else "GDN") + ("1" if self.simplified else "")
        return f"{self.beta.numel()}, {kind}"


def pixel_shuffle(x: Tensor, r: int) -> Tensor:
    """:func:`~torch.nn.functional.pixel_shuffle` of ``x`` by ``r``, the same values: for a
    contiguous NCHW CPU tensor as one permuting copy, which torch's CPU copy kernel does
    2.5-4x faster than its pixel-shuffle kernel (a 512x96x160 tensor by 2: 18.7 ms against
    4.3 ms, one thread). The result is contiguous NCHW; a tensor whose rows are not contiguous
    (channels-last) or on another device goes to torch's function."""
    if r == 1:
        return x
    if x.dim() != 4 or x.device.type != "cpu" or x.stride(-1) != 1 or x.shape[1] % (r * r):
        return F.pixel_shuffle(x, r)
    n, c, h, w = x.shape
    c //= r * r
    return x.view(n, c, r, r, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, h * r, w * r)


def pixel_unshuffle(x: Tensor, r: int) -> Tensor:
    """:func:`~torch.nn.functional.pixel_unshuffle` of ``x`` by ``r``, the same values, as one
    permuting copy for an NCHW CPU tensor, contiguous or a band of rows (2.3x faster than
    torch's kernel on a 128x192x320 tensor by 2); see :func:`pixel_shuffle`."""
    if r == 1:
        return x
    n, c, h, w = x.shape if x.dim() == 4 else (0, 0, 1, 1)
    if x.dim() != 4 or x.device.type != "cpu" or x.stride(-1) != 1 or h % r or w % r:
        return F.pixel_unshuffle(x, r)
    h, w = h // r, w // r
    return x.view(n, c, h, r, w, r).permute(0, 1, 3, 5, 2, 4).reshape(n, c * r * r, h, w)


class FastPixelShuffle(nn.PixelShuffle):
    """``nn.PixelShuffle`` computed by :func:`pixel_shuffle` (Winograd copies, NCHW)."""

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)


def _taps(kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """The input offsets ``t_min, t_max`` that output phase ``r`` (any) of a transposed
    convolution reads: output ``s*q + r`` takes input ``q + t`` times tap ``r + p - s*t``."""
    lows = [-((kernel - 1 - r - padding) // stride) for r in range(stride)]  # ceil((r+p-k+1)/s)
    highs = [(r + padding) // stride for r in range(stride)]
    return min(lows), max(highs)


def subpixel_applicable(deconv: nn.ConvTranspose2d) -> bool:
    """True when ``deconv`` multiplies the size exactly by its (square) stride, with no groups
    or dilation: the transposed convolutions :class:`SubpixelDeconv` can replace."""
    k, s, p, op = deconv.kernel_size, deconv.stride, deconv.padding, deconv.output_padding
    if deconv.groups != 1 or deconv.dilation != (1, 1) or deconv.padding_mode != "zeros":
        return False
    if not isinstance(p, tuple) or s[0] != s[1] or s[0] < 1:
        return False
    return all(k[i] + op[i] - 2 * p[i] == s[i] for i in range(2))


def subpixel_weight(
    weight: Tensor, stride: int, padding: tuple[int, int]
) -> tuple[Tensor, tuple[int, int, int, int]]:
    """The stride-1 kernel of a transposed convolution (see :class:`SubpixelDeconv`).

    Output pixel ``s*q + r`` (per axis) is ``sum_t x[q + t] * w[r + p - s*t]``: the sub-pixel
    kernel holds tap ``w[r + p - s*t]`` at offset ``t`` of phase ``r`` and zero where the tap
    falls outside the kernel. Built by one gather from ``weight`` padded with a zero tap, so
    it is differentiable (a trainable layer may rebuild it at every call).

    Args:
        weight: the transposed convolution's ``(C_in, C_out, kh, kw)`` weight.
        stride: its (square) stride ``s``.
        padding: its ``(ph, pw)`` padding.

    Returns:
        The ``(s*s*C_out, C_in, A, B)`` kernel (output channel ``(c*s + ry)*s + rx`` is phase
        ``(ry, rx)`` of channel ``c``, the order :func:`pixel_shuffle` expects), and the input's
        ``(left, right, top, bottom)`` padding (offsets ``t_min .. t_max`` around ``q``).
    """
    c_in, c_out, kh, kw = weight.shape
    rows = _tap_index(kh, stride, padding[0], weight.device)
    cols = _tap_index(kw, stride, padding[1], weight.device)
    w = F.pad(weight, (0, 1, 0, 1))  # tap index kh (kw): zero
    w = w[:, :, rows][..., cols]  # (C_in, C_out, s, A, s, B)
    kernel = w.permute(1, 2, 4, 0, 3, 5).reshape(
        c_out * stride * stride, c_in, *rows.shape[1:], cols.shape[1]
    )
    return kernel, _subpixel_pad((kh, kw), stride, padding)


@functools.lru_cache(maxsize=64)
def _tap_index(kernel: int, stride: int, padding: int, device: torch.device) -> Tensor:
    """Per axis, the kernel tap at offset ``t_min + a`` of phase ``r`` as ``index[r, a]``
    (``kernel``, a zero tap, where it falls outside). Cached (read only): a trainable layer
    gathers its kernel at every call, and a new index on a GPU is a host-to-device copy."""
    t0, t1 = _taps(kernel, stride, padding)
    index = [
        [k if 0 <= (k := r + padding - stride * t) < kernel else kernel for t in range(t0, t1 + 1)]
        for r in range(stride)
    ]
    return torch.tensor(index, device=device)


def _subpixel_pad(
    kernel: tuple[int, int], stride: int, padding: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The input's ``(left, right, top, bottom)`` padding of :func:`subpixel_weight`'s kernel."""
    ty0, ty1 = _taps(kernel[0], stride, padding[0])
    tx0, tx1 = _taps(kernel[1], stride, padding[1])
    return (-tx0, tx1, -ty0, ty1)


def subpixel_conv(
    x: Tensor, kernel: Tensor, bias: Tensor | None, pad: tuple[int, int, int, int], stride: int
) -> Tensor:
    """A transposed convolution from its :func:`subpixel_weight` ``kernel`` and ``pad`` (and
    its bias repeated ``stride**2`` times): ``(N, C_in, H, W)`` -> ``(N, C_out, s*H, s*W)``."""
    left, right, top, bottom = pad
    if left == right and top == bottom and min(pad) >= 0:
        out = F.conv2d(x, kernel, bias, padding=(top, left))
    else:
        out = F.conv2d(F.pad(x, pad), kernel, bias)
    return pixel_shuffle(out, stride)


class SubpixelDeconv(nn.Module):
    """A transposed convolution ``ConvTranspose2d(C_in, C_out, k, stride=s, padding=p,
    output_padding=op)`` with ``k + op - 2p = s`` as a stride-1 convolution to ``s*s*C_out``
    channels followed by :func:`~torch.nn.functional.pixel_shuffle` (the equivalence used by
    W. Shi et al., "Is the deconvolution layer the same as a convolutional layer?",
    arXiv:1609.07009): :func:`subpixel_weight` once, then :func:`subpixel_conv`.

    Args:
        deconv: the layer (see :func:`subpixel_applicable`).
    """

    weight: Tensor
    bias: Tensor | None

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        super().__init__()
        if not subpixel_applicable(deconv):
            raise ValueError(f"{deconv} does not multiply the size exactly by its stride")
        s = int(deconv.stride[0])
        padding = cast(tuple[int, int], deconv.padding)  # a transposed convolution's: ints
        kernel, self.pad = subpixel_weight(deconv.weight.detach(), s, padding)
        self.register_buffer("weight", kernel.contiguous())
        bias = None if deconv.bias is None else deconv.bias.detach().repeat_interleave(s * s)
        self.register_buffer("bias", bias)
        self.stride = s

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out, s*H, s*W)``."""
        return subpixel_conv(x, self.weight, self.bias, self.pad, self.stride)


_WINOGRAD_PROBE: list[bool] = []


def winograd_available() -> bool:
    """Whether torch's NNPACK computes 3x3 convolutions here (checked once against
    :func:`torch.nn.functional.conv2d` on a small input)."""
    if not _WINOGRAD_PROBE:
        ok = False
        try:
            if torch._nnpack_available():  # also initializes NNPACK
                generator = torch.Generator().manual_seed(0)
                x = torch.randn(1, 4, 8, 8, generator=generator)
                w = torch.randn(4, 4, 3, 3, generator=generator)
                b = torch.randn(4, generator=generator)
                out = torch._nnpack_spatial_convolution(x, w, b, [1, 1])
                ok = bool(torch.allclose(out, F.conv2d(x, w, b, padding=1), atol=1e-4))
        except (AttributeError, RuntimeError):
            ok = False
        _WINOGRAD_PROBE.append(ok)
    return _WINOGRAD_PROBE[0]


def _require_winograd() -> None:
    """Check (and so initialize: NNPACK refuses every call before its initialization, with
    torch's bare "NNPACK SpatialConvolution_updateOutput failed") that NNPACK works here.

    Raises:
        RuntimeError: it does not; use :func:`inference_copy`, which falls back to oneDNN.
    """
    if not winograd_available():
        raise RuntimeError(
            "torch's NNPACK is not available here, so Winograd layers cannot run; build the "
            "copy with tinify.layers.inference.inference_copy, which uses oneDNN instead"
        )


def _bias_or_zeros(bias: Tensor | None, weight: Tensor) -> Tensor:
    """A copy of ``bias``, or zeros for each output channel of ``weight`` (NNPACK's bias)."""
    return weight.new_zeros(weight.shape[0]) if bias is None else bias.detach().clone()


def winograd_convertible(module: nn.Module) -> bool:
    """Whether ``module`` is a convolution :class:`WinogradConv` or :class:`WinogradDeconv`
    replaces: a stride-2 transposed convolution with a 3x3 sub-pixel kernel, a stride-2
    convolution with a 3x3 space-to-depth kernel, or a 3x3 stride-1 convolution with padding 1
    (ungrouped, undilated, zero padding)."""
    if isinstance(module, nn.ConvTranspose2d):
        if not subpixel_applicable(module) or module.stride != (2, 2):
            return False
        kernel, padding = (cast(tuple[int, int], t) for t in (module.kernel_size, module.padding))
        return _subpixel_pad(kernel, 2, padding) == (1, 1, 1, 1)
    if isinstance(module, nn.Conv2d):
        return _winograd_stride(module) is not None
    return False


def _winograd(
    x: Tensor, weight: Tensor, bias: Tensor, *, unshuffle: int = 1, shuffle: int = 1
) -> Tensor:
    """NNPACK's 3x3 convolution, padding 1, of the contiguous NCHW float32 ``x`` after
    :func:`~torch.nn.functional.pixel_unshuffle` by ``unshuffle``, followed by
    :func:`~torch.nn.functional.pixel_shuffle` by ``shuffle`` (1: none).

    NNPACK's workspace (the transformed 8x8 input and output tiles, 1.8x the input and the
    output) made a 1088-pixel tile of cheng2020-attn's ``g_s`` take 1.6 GiB. An input or output
    of more than :data:`WINOGRAD_BAND_BYTES` is therefore computed in bands of rows (a multiple of
    NNPACK's 6-row output tiles): each band unshuffles its input rows and one row beyond each
    end (the 3x3 kernel's reach; a zero row beyond the image's edge), NNPACK pads only the
    columns, and the band's rows go, shuffled, straight into the output, so the temporaries are
    a band's. The bands start on NNPACK's tile grid, so every output tile is computed from the
    same inputs as in one call: the result is the unbanded one bit for bit (tested).
    """
    n, _, height, width = x.shape
    height, width, u = height // unshuffle, width // unshuffle, unshuffle
    c_out = weight.shape[0]
    row_bytes = n * max(c_out, weight.shape[1]) * width * x.element_size()
    if row_bytes * height <= WINOGRAD_BAND_BYTES:
        out = torch._nnpack_spatial_convolution(pixel_unshuffle(x, u), weight, bias, [1, 1])
        return pixel_shuffle(out, shuffle)
    band = max(1, WINOGRAD_BAND_BYTES // row_bytes // 6) * 6  # NNPACK's 6x6 output tiles
    s, c = shuffle, c_out // shuffle**2
    out = x.new_empty(n, c, height * s, width * s)
    for start in range(0, height, band):
        stop = min(start + band, height)
        piece = x[:, :, max(start - 1, 0) * u : (stop + 1) * u]
        piece = pixel_unshuffle(piece, u)
        if start == 0 or stop == height:
            piece = F.pad(piece, (0, 0, int(start == 0), int(stop == height)))
        rows = torch._nnpack_spatial_convolution(piece.contiguous(), weight, bias, [0, 1])
        dst = out[:, :, start * s : stop * s]
        if s > 1:  # pixel_shuffle's (c, i, j, h, w) -> (c, h, i, w, j), in the copy
            dst = dst.view(n, c, stop - start, s, width, s)
            rows = rows.view(n, c, s, s, stop - start, width).permute(0, 1, 4, 2, 5, 3)
        dst.copy_(rows)
    return out


def _winograd_stride(conv: nn.Conv2d) -> int | None:
    """1 or 2 when :func:`_winograd_kernel` can compute ``conv`` (a 3x3 stride-1 convolution
    with padding 1, or a stride-2 one with kernel ``k = 2p + 1`` or ``2p + 2``), else None."""
    if conv.groups != 1 or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
        return None
    if not isinstance(conv.padding, tuple):
        return None
    k, p = conv.kernel_size, conv.padding
    if conv.stride == (1, 1):
        return 1 if k == (3, 3) and p == (1, 1) else None
    if conv.stride != (2, 2):
        return None
    if k[0] != k[1] or p[0] != p[1] or k[0] - 2 * p[0] not in (1, 2) or p[0] > 2:
        return None
    return 2


def _winograd_kernel(conv: nn.Conv2d) -> Tensor | None:
    """The 3x3 kernel that computes ``conv`` with padding 1, or None when ``conv`` has another
    geometry: its own weight for a 3x3 stride-1 convolution with padding 1; for stride 2 and
    kernel ``k = 2p + 1`` or ``2p + 2``, the kernel (C_out, 4 C_in, 3, 3) applied to
    :func:`~torch.nn.functional.pixel_unshuffle` ``(x, 2)``.

    Output row ``o`` of the convolution reads input row ``2o + i - p`` with tap ``i``: row
    ``2(o + b) + d`` of block offset ``b = floor((i - p) / 2)`` in ``-1..1`` and phase ``d``,
    which is channel ``4c + 2d_y + d_x`` of the space-to-depth input."""
    stride = _winograd_stride(conv)
    if stride is None:
        return None
    if stride == 1:
        return conv.weight.detach().clone().contiguous()
    w = conv.weight.detach()
    c_out, c_in, kernel, _ = w.shape
    pad = int(cast(tuple[int, int], conv.padding)[0])
    out = w.new_zeros(c_out, c_in, 2, 2, 3, 3)  # (C_out, C_in, d_y, d_x, b_y, b_x)
    for i in range(kernel):
        by, dy = divmod(i - pad, 2)
        for j in range(kernel):
            bx, dx = divmod(j - pad, 2)
            out[:, :, dy, dx, by + 1, bx + 1] = w[:, :, i, j]
    return out.reshape(c_out, 4 * c_in, 3, 3).contiguous()


class WinogradConv(nn.Module):
    """A 5x5 (or 3x3) stride-2 convolution as NNPACK's Winograd 3x3 convolution of the
    space-to-depth input (see :func:`_winograd_kernel`); NCHW float32 on the CPU.

    An input of odd height or width (never the models' padded tiles) runs the original
    convolution.

    Args:
        conv: the layer (see :func:`winograd_convertible`).
    """

    weight: Tensor
    bias: Tensor
    original: Tensor

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        _require_winograd()
        kernel = _winograd_kernel(conv)
        if kernel is None:
            raise ValueError(f"{conv} is not a convolution WinogradConv can replace")
        self.register_buffer("weight", kernel)
        self.register_buffer("bias", _bias_or_zeros(conv.bias, kernel))
        self.register_buffer("original", conv.weight.detach().clone())
        self.padding = int(cast(tuple[int, int], conv.padding)[0])
        self.stride = int(conv.stride[0])

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out, H/s, W/s)``."""
        if self.stride == 1:
            return _winograd(x.contiguous(), self.weight, self.bias)
        if x.shape[-2] % 2 or x.shape[-1] % 2:
            return F.conv2d(x, self.original, self.bias, stride=2, padding=self.padding)
        return _winograd(x.contiguous(), self.weight, self.bias, unshuffle=2)


class WinogradDeconv(nn.Module):
    """A stride-2 transposed convolution whose sub-pixel kernel is 3x3 (every ``deconv()``)
    as NNPACK's Winograd 3x3 convolution followed by a pixel shuffle; NCHW float32 on the
    CPU.

    Args:
        deconv: the layer (see :func:`winograd_convertible`).
    """

    weight: Tensor
    bias: Tensor

    def __init__(self, deconv: nn.ConvTranspose2d) -> None:
        super().__init__()
        _require_winograd()
        subpixel = SubpixelDeconv(deconv)
        if subpixel.pad != (1, 1, 1, 1):
            raise ValueError(f"{deconv}: its sub-pixel kernel is not 3x3")
        self.register_buffer("weight", subpixel.weight.contiguous())
        bias = subpixel.bias
        self.register_buffer("bias", _bias_or_zeros(bias, self.weight))
        self.stride = subpixel.stride

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out, s*H, s*W)``."""
        return _winograd(x.contiguous(), self.weight, self.bias, shuffle=self.stride)


# -- blocks with in-place sums (same submodules, so the converted copies keep their layout) --


class _ResidualUnit(ResidualUnit):
    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x).add_(x).relu_()


class _AttentionBlock(AttentionBlock):
    def forward(self, x: Tensor) -> Tensor:
        a = self.conv_a(x)
        return self.conv_b(x).sigmoid_().mul_(a).add_(x)


class _ResidualBlock(ResidualBlock):
    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.skip is None else self.skip(x)
        out = self.leaky_relu(self.conv1(x))
        return self.leaky_relu(self.conv2(out)).add_(identity)


class _ResidualBlockWithStride(ResidualBlockWithStride):
    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.skip is None else self.skip(x)
        out = self.leaky_relu(self.conv1(x))
        return self.gdn(self.conv2(out)).add_(identity)


class _ResidualBlockUpsample(ResidualBlockUpsample):
    def forward(self, x: Tensor) -> Tensor:
        out = self.leaky_relu(self.subpel_conv(x))
        return self.igdn(self.conv(out)).add_(self.upsample(x))


_IN_PLACE: dict[type, type] = {
    ResidualUnit: _ResidualUnit,
    AttentionBlock: _AttentionBlock,
    ResidualBlock: _ResidualBlock,
    ResidualBlockWithStride: _ResidualBlockWithStride,
    ResidualBlockUpsample: _ResidualBlockUpsample,
}


#: With more than one intra-op thread, a transform with stride-2 layers is a Winograd copy only
#: if some convertible layer has at least this many input and output channels (see
#: :func:`winograd_plan`).
WINOGRAD_THREADED_WIDTH = 192


def winograd_plan(module: nn.Module) -> bool:
    """Whether :func:`inference_copy` makes ``module`` a Winograd copy (NCHW, NNPACK): some
    plain convolution in it is :func:`winograd_convertible`, its weights are float32 on the
    CPU, NNPACK is available (:func:`winograd_available`), and torch runs one intra-op thread,
    or every such convolution is a 3x3 stride-1 one, or one of them is
    :data:`WINOGRAD_THREADED_WIDTH` channels wide (in and out). The other copies are
    channels-last (oneDNN).

    **Why the thread count.** NNPACK's thread pool scales worse than oneDNN's: a second thread
    gained the Winograd copies 1.1-1.45x and the channels-last copies 1.8-1.95x. With two
    threads the layers that NNPACK runs with a space-to-depth or sub-pixel shuffle around it
    (stride 2) no longer pay when they are 128 channels wide; at 192 and more the two copies
    are even, and 3x3 stride-1 layers (Cheng et al.'s ``g_s``) still gain 1.4-1.65x. Time of
    the channels-last copy over the Winograd one, 2 threads, NNPACK's pool of 2, best of 4
    alternating calls, 768x512 images (ssf2020: 640x384 frames) on this 2-core AVX-512
    machine (1 thread: the Winograd copies are 1.25-2x faster everywhere):

    ==========================================  =========  =========  ==============
    transform                                   ``g_a``    ``g_s``    widest layer
    ==========================================  =========  =========  ==============
    bmshj2018-hyperprior q3 / mbt2018-mean q3   0.83/0.79  0.87/0.91  128, stride 2
    ssf2020's four transforms                   0.89       0.86-1.02  128, stride 2
    cheng2020-anchor q3                         0.87       1.39       128
    bmshj2018-hyperprior q8 / mbt2018 q8        0.99/1.01  1.01/1.07  192-320
    cheng2020-anchor q6                         1.04       1.65       192
    ==========================================  =========  =========  ==============

    (NNPACK's pool is sized by torch's thread count at its first call in the process and
    keeps that size.) The choice is made when a copy is built:
    :meth:`~tinify.models.CompressionModel.inference_transform` keeps a copy of each kind and
    returns the one the calling thread's ``torch.get_num_threads()`` plans.
    """
    layers = [m for m in module.modules() if _winograd_layer(m)]
    if not layers:
        return False
    tensors = [*module.parameters(), *module.buffers()]
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return False
    # NNPACK's own 3x3 stride-1 layers, with no shuffle around them, pay at any thread count.
    native = all(isinstance(m, nn.Conv2d) and _winograd_stride(m) == 1 for m in layers)
    if torch.get_num_threads() > 1 and not native:
        widest = max(min(m.in_channels, m.out_channels) for m in layers)
        if widest < WINOGRAD_THREADED_WIDTH:
            return False
    return winograd_available()


def _winograd_layer(module: nn.Module) -> TypeGuard[nn.Conv2d | nn.ConvTranspose2d]:
    """A plain (not subclassed: masked convolutions stay) convertible convolution."""
    plain = type(module) in (nn.Conv2d, nn.ConvTranspose2d)
    return plain and winograd_convertible(module)


def _convert(module: nn.Module, channels_last: bool, winograd: bool = False) -> nn.Module:
    """The inference form of one (already copied) module; children converted recursively.
    ``winograd``: plain convertible convolutions become :class:`WinogradConv` /
    :class:`WinogradDeconv` (and the copy stays NCHW: ``channels_last`` False)."""
    if isinstance(module, GDN):
        return FoldedGDN(module)
    if winograd and type(module) is nn.PixelShuffle:
        return FastPixelShuffle(module.upscale_factor)
    if winograd and _winograd_layer(module):
        if isinstance(module, nn.ConvTranspose2d):
            return WinogradDeconv(module)
        return WinogradConv(module)
    if (
        isinstance(module, nn.ConvTranspose2d)
        and module.out_channels <= SUBPIXEL_MAX_OUT_CHANNELS
        and subpixel_applicable(module)
    ):
        module = SubpixelDeconv(module)
    elif type(module) in _IN_PLACE:
        module.__class__ = _IN_PLACE[type(module)]  # same attributes, in-place forward
    for name, child in list(module.named_children()):
        setattr(module, name, _convert(child, channels_last, winograd))
    if channels_last:
        for tensor in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return module


class InferenceTransform(nn.Module):
    """The module :func:`inference_copy` returns: the converted network ``net``, run without
    autograd, in channels-last layout on the CPU (or contiguous NCHW for a Winograd copy),
    returning contiguous (NCHW) tensors."""

    def __init__(self, net: nn.Module, channels_last: bool) -> None:
        super().__init__()
        self.net = net
        self.channels_last = channels_last

    def forward(self, x: Tensor) -> Tensor:
        """Apply the transform to ``x`` (N, C, H, W)."""
        with torch.no_grad():
            if x.device.type == "cpu":
                layout = torch.channels_last if self.channels_last else torch.contiguous_format
                x = x.contiguous(memory_format=layout)
            return self.net(x).contiguous()


def inference_copy(module: nn.Module) -> InferenceTransform:
    """A frozen copy of ``module`` computing the same function (up to float rounding) faster.

    See the module docstring for what changes. The copy lives on ``module``'s device, in its
    dtype, and never computes gradients; the original is not modified.

    Args:
        module: a transform (``g_a``, ``g_s``, ``h_a``, ``h_s``), or any module.

    Returns:
        The copy (an :class:`InferenceTransform`).
    """
    first = next(module.parameters(), None)
    on_cpu = first is None or first.device.type == "cpu"
    net = copy.deepcopy(module).eval().requires_grad_(False)
    if winograd_plan(net):
        return InferenceTransform(_convert(net, False, winograd=True), channels_last=False)
    return InferenceTransform(_convert(net, channels_last=on_cpu), channels_last=on_cpu)


def parameter_signature(module: nn.Module) -> tuple[Any, ...]:
    """What identifies the current weights of ``module``: each parameter's and buffer's
    storage, device, dtype, shape and version counter (bumped by every in-place change, such as
    ``load_state_dict`` or an optimizer step). Equal signatures: the same weights."""
    return tuple(
        (t.data_ptr(), t.device, t.dtype, tuple(t.shape), t._version)
        for t in (*module.parameters(), *module.buffers())
    )
