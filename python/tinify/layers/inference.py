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

The results differ from the original module's by float rounding only (other summation orders:
about 1e-6 relative). The ordinary layers keep CompressAI's exact numerics; use a copy only where
that is allowed: the synthesis transform, and the analysis transforms of the fixed-point path
(coding mode 1), whose streams need not equal CompressAI's bytes. The float path's ``g_a``,
``h_a`` and ``h_s`` must stay the originals, or the streams would differ from CompressAI's.

Tried and measured not to pay (so left out): GDN as a channels-last matrix product
(``x^2 @ gamma^T + beta``, the same speed as oneDNN's 1x1 convolution; in row chunks, slower),
wide transposed convolutions split into ``s*s`` phase convolutions without zero taps (slower:
four small convolutions and an interleaving copy), stride-2 convolutions as stride-1
convolutions on a space-to-depth input (slower), oneDNN's blocked tensors
(``torch.utils.mkldnn``).

A copy is a snapshot: it does not follow later changes of the original's weights.
:meth:`tinify.models.CompressionModel.inference_transform` keeps one per transform and rebuilds
it when the weights change.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify.layers.attention import AttentionBlock, ResidualUnit
from tinify.layers.gdn import GDN, GDN1
from tinify.layers.residual import ResidualBlock, ResidualBlockUpsample, ResidualBlockWithStride

__all__ = [
    "SUBPIXEL_MAX_OUT_CHANNELS",
    "FoldedGDN",
    "InferenceTransform",
    "SubpixelDeconv",
    "inference_copy",
    "parameter_signature",
]

#: Transposed convolutions with at most this many output channels become a
#: :class:`SubpixelDeconv`; wider ones stay oneDNN's transposed convolution.
SUBPIXEL_MAX_OUT_CHANNELS = 16


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
        if self.simplified:
            norm = F.conv2d(x.abs(), self.gamma, self.beta)
            return norm.mul_(x) if self.inverse else norm.reciprocal_().mul_(x)
        norm = F.conv2d(x * x, self.gamma, self.beta)
        return (norm.sqrt_() if self.inverse else norm.rsqrt_()).mul_(x)

    def extra_repr(self) -> str:
        kind = ("IGDN" if self.inverse else "GDN") + ("1" if self.simplified else "")
        return f"{self.beta.numel()}, {kind}"


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


class SubpixelDeconv(nn.Module):
    """A transposed convolution ``ConvTranspose2d(C_in, C_out, k, stride=s, padding=p,
    output_padding=op)`` with ``k + op - 2p = s`` as a stride-1 convolution to ``s*s*C_out``
    channels followed by :func:`~torch.nn.functional.pixel_shuffle` (the equivalence used by
    W. Shi et al., "Is the deconvolution layer the same as a convolutional layer?",
    arXiv:1609.07009).

    Output pixel ``s*q + r`` (per axis) is ``sum_t x[q + t] * w[r + p - s*t]``; the sub-pixel
    kernel holds tap ``w[r + p - s*t]`` at offset ``t`` of phase ``r`` and zero where the tap
    falls outside the kernel.

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
        w = deconv.weight.detach()  # (C_in, C_out, kh, kw)
        c_in, c_out, kh, kw = w.shape
        ph, pw = cast(tuple[int, int], deconv.padding)  # a transposed convolution's: ints
        ty0, ty1 = _taps(kh, s, ph)
        tx0, tx1 = _taps(kw, s, pw)
        kernel = w.new_zeros(c_out, s, s, c_in, ty1 - ty0 + 1, tx1 - tx0 + 1)
        for ry in range(s):
            for a, ty in enumerate(range(ty0, ty1 + 1)):
                ky = ry + ph - s * ty
                if not 0 <= ky < kh:
                    continue
                for rx in range(s):
                    for b, tx in enumerate(range(tx0, tx1 + 1)):
                        kx = rx + pw - s * tx
                        if 0 <= kx < kw:
                            kernel[:, ry, rx, :, a, b] = w[:, :, ky, kx].t()
        self.register_buffer("weight", kernel.reshape(c_out * s * s, c_in, *kernel.shape[-2:]))
        bias = None if deconv.bias is None else deconv.bias.detach().repeat_interleave(s * s)
        self.register_buffer("bias", bias)
        self.stride = s
        # (left, right, top, bottom) zero padding of the input: offsets t0..t1 around q.
        self.pad = (-tx0, tx1, -ty0, ty1)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out, s*H, s*W)``."""
        left, right, top, bottom = self.pad
        if left == right and top == bottom and min(self.pad) >= 0:
            out = F.conv2d(x, self.weight, self.bias, padding=(top, left))
        else:
            out = F.conv2d(F.pad(x, self.pad), self.weight, self.bias)
        return F.pixel_shuffle(out, self.stride)


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


def _convert(module: nn.Module, channels_last: bool) -> nn.Module:
    """The inference form of one (already copied) module; children converted recursively."""
    if isinstance(module, GDN):
        return FoldedGDN(module)
    if (
        isinstance(module, nn.ConvTranspose2d)
        and module.out_channels <= SUBPIXEL_MAX_OUT_CHANNELS
        and subpixel_applicable(module)
    ):
        module = SubpixelDeconv(module)
    elif type(module) in _IN_PLACE:
        module.__class__ = _IN_PLACE[type(module)]  # same attributes, in-place forward
    for name, child in list(module.named_children()):
        setattr(module, name, _convert(child, channels_last))
    if channels_last:
        for tensor in (*module.parameters(recurse=False), *module.buffers(recurse=False)):
            if tensor.dim() == 4:
                tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
    return module


class InferenceTransform(nn.Module):
    """The module :func:`inference_copy` returns: the converted network ``net``, run without
    autograd, in channels-last layout on the CPU, returning contiguous (NCHW) tensors."""

    def __init__(self, net: nn.Module, channels_last: bool) -> None:
        super().__init__()
        self.net = net
        self.channels_last = channels_last

    def forward(self, x: Tensor) -> Tensor:
        """Apply the transform to ``x`` (N, C, H, W)."""
        with torch.no_grad():
            if self.channels_last and x.device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
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
    return InferenceTransform(_convert(net, channels_last=on_cpu), channels_last=on_cpu)


def parameter_signature(module: nn.Module) -> tuple[Any, ...]:
    """What identifies the current weights of ``module``: each parameter's and buffer's
    storage, device, dtype, shape and version counter (bumped by every in-place change, such as
    ``load_state_dict`` or an optimizer step). Equal signatures: the same weights."""
    return tuple(
        (t.data_ptr(), t.device, t.dtype, tuple(t.shape), t._version)
        for t in (*module.parameters(), *module.buffers())
    )
