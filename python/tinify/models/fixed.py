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

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from tinify import _core
from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.utils.arrays import to_numpy

__all__ = [
    "ENTROPY_PATHS",
    "FRAC_BITS",
    "check_entropy_path",
    "from_fixed",
    "quantize_network",
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
    """``x_int * 2^-F`` in ``dtype`` (via float64; exact for float32 when ``|x_int| < 2^24``)."""
    return (x.to(torch.float64) * 2.0**-FRAC_BITS).to(dtype)


def run_network(network: _core.FixedNetwork, x: Tensor) -> Tensor:
    """Run ``network`` on every item of an int32 batch (N, C, H, W); returns int32 (N, C', H', W').

    Items are independent calls, so an item's result never depends on the rest of the batch.
    """
    if x.dtype != torch.int32 or x.dim() != 4:
        raise ParameterError(
            f"expected an int32 (N, C, H, W) tensor, got {x.dtype} {tuple(x.shape)}"
        )
    items = [torch.from_numpy(network.forward(to_numpy(x[i]))) for i in range(x.size(0))]
    return torch.stack(items)
