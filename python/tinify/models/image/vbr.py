# SPDX-License-Identifier: Apache-2.0
r"""Variable-rate versions of bmshj2018-hyperprior, mbt2018-mean and mbt2018.

F. Kamisli, F. Racapé, H. Choi, "Variable-Rate Learned Image Compression with Multi-Objective
Optimization and Quantization-Reconstruction Offsets", DCC 2024 (arXiv:2402.18930).

One network codes at any rate: the latent is quantized with a step ``1 / scale`` instead of 1,

- coded symbol ``q = round((y - mu) * scale)`` with the Gaussian scale ``sigma * scale``;
- reconstruction ``y_hat = sign(q) (|q| + delta) / scale + mu``, where the
  quantization-reconstruction offset ``delta = -QuantABCD(max(sigma * scale, 0.11), scale)``
  (a 2-12-12-1 MLP) for ``q != 0`` and 0 for ``q = 0``.

``Gain`` holds 8 learned scales (0.1 ... 1.0, the inverse steps of the 8 training lambdas);
every method takes ``stage`` (1: the plain model, no variable-rate tools; 2: variable rate, the
default), ``s`` (an index into ``Gain``) and ``inputscale`` (any scale; 0 means ``Gain[s]``).
With ``vr_entbttlnck=True`` the hyper-latent is quantized with a step too, predicted from the
scale by ``gayn2zqstep`` (a 1-10-10-1 MLP, softplus, bounded below by 0.5) and coded with
:class:`~tinify.entropy_models.EntropyBottleneckVbr` (the pretrained bmshj2018-hyperprior-vbr
and mbt2018-mean-vbr use it). mbt2018-vbr also adds ``scale_to_context(scale)`` to the context
features.

Names, state dicts and streams are CompressAI 1.2.8's. mbt2018-vbr codes with tinify's wavefront
order by default (:mod:`tinify.models.image.wavefront`); ``context_order="raster"`` writes
CompressAI's stream layout.

**The fixed-point entropy path** (``entropy_path="fixed"``, coding mode 1; see
:mod:`tinify.models.fixed`) at stage 2. Every number that decides a table row or a decoded
latent is an integer, so the latents decode bit-identically on any machine:

- the rate enters as ``scale_int = rint(float64(scale) * 2^16)`` (:data:`SCALE_BITS`; ``scale``
  is the float32 ``inputscale``, e.g. ``float32(1 / quant_step)``, so the product is exact and
  ties round to even); it must lie in ``1 .. 2^31 - 1``;
- ``h_s`` (and for mbt2018-vbr the context and ``entropy_parameters``) run as the quantized
  integer networks; the scaled Gaussian scale is ``floor(s_int * scale_int / 2^16)`` (int64,
  saturated to int32) and picks its table row on integers, as the other models' fixed path;
- symbols are ``round((y - m) * scale)`` with ``m = m_int * 2^-F`` (encoder only: any choice
  of symbols decodes);
- the reconstruction offset is the quantized ``QuantABCD`` (its linear layers as 1x1 integer
  layers) on the rows ``(max(s_scaled_int, bound_int), scale_feature)``, with
  ``bound_int = rint(0.11 * 2^F)`` and ``scale_feature = (scale_int + 8) >> 4`` (the scale with
  F fractional bits), negated, and 0 where ``q = 0``;
- the decoded value is ``floor((sign(q) * (|q| * 2^F + delta_int) * 2^16 + floor(scale_int / 2))
  / scale_int) + m_int``, in int64 (``|q| * 2^F + delta`` is clamped to 2^46 first, beyond
  which the value saturates anyway), saturated to int32: that is ``y_hat * 2^F``, what the
  context of mbt2018-vbr sees and (times ``2^-F``) what ``g_s`` gets;
- mbt2018-vbr's ``scale_to_context(scale)`` is the quantized linear layer on ``scale_feature``,
  added to the integer context rows (saturated);
- the hyper-latent is coded at unit step with the bottleneck's tables of :meth:`update` (those
  of stage 1; a checkpoint carries them): the variable-step tables of
  :class:`~tinify.entropy_models.EntropyBottleneckVbr` are built at coding time from float
  density evaluations, which may differ between machines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor, nn

from tinify import _core
from tinify.ans import RansDecoder
from tinify.entropy_models import EntropyBottleneck, EntropyBottleneckVbr
from tinify.exceptions import ParameterError
from tinify.models.base import CodingOptions, get_scale_table
from tinify.models.fixed import FRAC_BITS, from_fixed, saturate
from tinify.models.image.bmshj2018 import ScaleHyperprior
from tinify.models.image.mbt2018 import JointAutoregressiveHierarchicalPriors, MeanScaleHyperprior
from tinify.models.image.wavefront import (
    ContextCoder,
    FixedArithmetic,
    FloatArithmetic,
    FrontArithmetic,
    causal_taps,
    coding_fronts,
    gather_rows,
    join_items,
    single_intra_op_thread,
    wavefront_slope,
)
from tinify.ops import LowerBound, quantize_ste
from tinify.registry.torch import register_model
from tinify.utils.arrays import to_numpy

__all__ = [
    "GAINS",
    "LAMBDAS",
    "SCALE_BITS",
    "FixedRate",
    "JointAutoregressiveHierarchicalPriorsVbr",
    "MeanScaleHyperpriorVbr",
    "ScaleHyperpriorVbr",
    "VbrCodingOptions",
    "quant_step_to_scale",
]

#: The rate-distortion trade-offs the networks were trained for (MSE, CompressAI's 8 qualities).
LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.025, 0.0483, 0.0932, 0.18)
#: Initial ``Gain``: the inverse quantization steps of the 8 lambdas.
GAINS = (0.10000, 0.13944, 0.19293, 0.26874, 0.37268, 0.51801, 0.71957, 1.00000)

Scale = Union[float, Tensor]
#: The rate of one coding call: ``(stage, scale)``.
Rate = tuple[int, Tensor]


@dataclass(frozen=True)
class VbrCodingOptions(CodingOptions):
    """The :class:`~tinify.models.base.CodingOptions` of one variable-rate ``compress`` /
    ``decompress`` call, with its rate (built by :meth:`ScaleHyperpriorVbr.vbr_options`).

    Attributes:
        stage: 1 (the plain model) or 2 (variable rate).
        scale: the latent's scale ``inputscale`` (``1 / quantization step``), a 0-d tensor.
    """

    stage: int = 2
    scale: Tensor | None = field(default=None, compare=False)


def quant_step_to_scale(quant_step: float) -> Tensor:
    """The scale (``inputscale``) of a quantization step: ``float32(1 / quant_step)``, as
    CompressAI's ``eval_model --vbr_quantstep`` computes it.

    Raises:
        TinifyError: the step is not a positive finite number.
    """
    step = float(quant_step)
    if not (np.isfinite(step) and step > 0):
        raise ParameterError(f"the quantization step must be a positive number, got {quant_step!r}")
    return torch.tensor(1.0 / step, dtype=torch.float32)


#: Fractional bits of the scale (``1 / quantization step``) on the fixed-point path.
SCALE_BITS = 16


#: Elements per block of :meth:`FixedRate.values` (and so rows of the learned-offset network
#: per call): a memory bound.
OFFSET_ROWS = 1 << 18


class FixedRate:
    """The rate of one fixed-point call in integers, and the integer reconstruction (see the
    module docstring for the exact rules).

    Args:
        scale: the call's float32 scale (``inputscale``), a 0-d tensor.
        bound: the Gaussian conditional's lower scale bound (float32, 0.11).
        offsets: the quantized ``QuantABCD`` (None: no offsets, ``no_quantoffset``).

    Raises:
        tinify.ParameterError: the scale is out of the fixed path's range (``2^-16 .. 2^15``).
    """

    def __init__(self, scale: Tensor, bound: float, offsets: _core.FixedNetwork | None) -> None:
        exact = float(scale.detach().to("cpu", torch.float32).reshape(()))  # float32 -> double
        scale_int = round(exact * 2.0**SCALE_BITS)  # exact product; round() ties to even
        if not 1 <= scale_int < 2**31:
            raise ParameterError(
                f"scale {exact!r} is out of the fixed-point path's range (2^-16 .. 2^15)"
            )
        self.scale = scale.detach()
        self.scale_int = scale_int
        shift = SCALE_BITS - FRAC_BITS
        #: The scale with F fractional bits (rounded half up), the offsets' second input.
        self.feature = (scale_int + (1 << (shift - 1))) >> shift
        self.bound = round(float(np.float32(bound)) * 2.0**FRAC_BITS)
        self.offsets = offsets

    def sigma(self, scales_int: Tensor) -> Tensor:
        """The scaled scales ``floor(s_int * scale_int / 2^16)``, int32 (saturated)."""
        return saturate((scales_int.to(torch.int64) * self.scale_int) >> SCALE_BITS)

    def values(self, q: Tensor, sigma: Tensor, m_int: Tensor | None) -> Tensor:
        """``y_hat * 2^F`` (int32) of symbols ``q`` with scaled scales ``sigma`` and means
        ``m_int`` (int32, or None for the scale-only model).

        Element-wise (the offset network acts on one element's scale), so it runs on blocks of
        :data:`OFFSET_ROWS` elements: the int64 temporaries of a whole 24 MP latent would take
        gigabytes. Every operation is exact integer arithmetic, so blocks change nothing."""
        shape = q.shape
        q_flat = q.to("cpu").reshape(-1)
        sigma_flat = sigma.to("cpu").reshape(-1)
        m_flat = None if m_int is None else m_int.to("cpu").reshape(-1)
        out = torch.empty(q_flat.numel(), dtype=torch.int32)
        for start in range(0, q_flat.numel(), OFFSET_ROWS):
            block = slice(start, start + OFFSET_ROWS)
            m_block = None if m_flat is None else m_flat[block]
            out[block] = self._values(q_flat[block], sigma_flat[block], m_block)
        return out.reshape(shape)

    def _values(self, q: Tensor, sigma: Tensor, m_int: Tensor | None) -> Tensor:
        """:meth:`values` of flat (n,) tensors."""
        q = q.to(torch.int64)
        num = q.abs() * (1 << FRAC_BITS)
        if self.offsets is not None:
            nonzero = torch.nonzero(q).reshape(-1)
            stdev = sigma.index_select(0, nonzero).clamp_min(self.bound)
            rows = torch.stack((stdev, torch.full_like(stdev, self.feature)), dim=1)
            delta = torch.from_numpy(self.offsets.forward_rows(to_numpy(rows, np.int32)))
            num.index_add_(0, nonzero, -delta.reshape(-1).to(torch.int64))
        num = num.clamp(-(2**46), 2**46) * torch.sign(q)
        value = torch.div(
            num * (1 << SCALE_BITS) + self.scale_int // 2, self.scale_int, rounding_mode="floor"
        )
        if m_int is not None:
            value = value + m_int.to(torch.int64)
        return saturate(value)


def _is_zero(value: Scale) -> bool:
    if isinstance(value, Tensor):
        return value.numel() == 1 and bool(value.reshape(()) == 0)
    return bool(value == 0)


@register_model("bmshj2018-hyperprior-vbr")
class ScaleHyperpriorVbr(ScaleHyperprior):
    r"""Variable-rate bmshj2018-hyperprior: the scale hyperprior of J. Ballé, D. Minnen,
    S. Singh, S. J. Hwang, N. Johnston (ICLR 2018) with the variable-rate quantization of
    F. Kamisli, F. Racapé, H. Choi, "Variable-Rate Learned Image Compression with Multi-Objective
    Optimization and Quantization-Reconstruction Offsets", DCC 2024 (see the module docstring).

    Args:
        N: channels of the hidden layers and of ``z``.
        M: channels of ``y``.
        vr_entbttlnck: quantize ``z`` with a step predicted from the scale too.
    """

    def __init__(self, N: int = 192, M: int = 320, vr_entbttlnck: bool = False, **kwargs: Any):
        super().__init__(N, M, **kwargs)
        self.lmbda = list(LAMBDAS)
        self.levels = len(self.lmbda)
        self.Gain = nn.Parameter(torch.tensor(GAINS))
        self.QuantABCD = nn.Sequential(
            nn.Linear(2, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 1)
        )
        #: Reconstruct at ``q / scale`` (no learned offsets) when True.
        self.no_quantoffset = False
        self.vr_entbttlnck = bool(vr_entbttlnck)
        if self.vr_entbttlnck:
            self.entropy_bottleneck = EntropyBottleneckVbr(N)
            self.gayn2zqstep = nn.Sequential(
                nn.Linear(1, 10),
                nn.ReLU(),
                nn.Linear(10, 10),
                nn.ReLU(),
                nn.Linear(10, 1),
                nn.Softplus(),
            )
            self.lower_bound_zqstep = LowerBound(0.5)

    # -- checkpoints --------------------------------------------------------------------------

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        config = super()._config_from_state_dict(state_dict)
        config["vr_entbttlnck"] = any(k.startswith("gayn2zqstep.") for k in state_dict)
        return config

    @classmethod
    def from_state_dict(  # type: ignore[override]
        cls, state_dict: Mapping[str, Any], vr_entbttlnck: bool | None = None, **kwargs: Any
    ) -> ScaleHyperpriorVbr:
        """Build and load strictly (``vr_entbttlnck`` is read from the keys when None; an
        obsolete ``QuantOffset`` entry is dropped, as CompressAI does)."""
        state = {k: v for k, v in state_dict.items() if k != "QuantOffset"}
        if vr_entbttlnck is not None:
            kwargs["vr_entbttlnck"] = vr_entbttlnck
        model = super().from_state_dict(state, **kwargs)
        assert isinstance(model, ScaleHyperpriorVbr)
        return model

    # -- the rate -----------------------------------------------------------------------------

    def _as_scale(self, value: Scale) -> Tensor:
        scale = torch.as_tensor(value, dtype=self.Gain.dtype, device=self.Gain.device)
        if scale.numel() != 1 or not bool(torch.isfinite(scale).all() and (scale > 0).all()):
            raise ParameterError(f"inputscale must be one positive finite number, got {value!r}")
        return scale.detach().reshape(())

    def _inputscale(self, inputscale: Scale, quant_step: float | None) -> Scale:
        """``inputscale``, or ``float32(1 / quant_step)`` when a step is given instead."""
        if quant_step is None:
            return inputscale
        if not _is_zero(inputscale):
            raise ParameterError("give either inputscale or quant_step, not both")
        return quant_step_to_scale(quant_step).to(self.Gain.device)

    def _get_scale(self, stage: int, s: int, inputscale: Scale) -> Tensor:
        """The scale of ``forward``: ``Gain[s]`` (``s`` clipped) in training or when
        ``inputscale`` is 0, else ``inputscale``."""
        s = max(0, min(int(s), len(self.Gain) - 1))
        if self.training or _is_zero(inputscale):
            return self.Gain[s].detach()
        return self._as_scale(inputscale)

    def _coding_scale(self, stage: int, s: int, inputscale: Scale) -> Tensor:
        """The scale of ``compress``/``decompress``: ``inputscale``, or ``|Gain[s]|``."""
        if stage not in (1, 2):
            raise ParameterError(
                f"stage must be 1 (plain model) or 2 (variable rate), got {stage!r}"
            )
        if not _is_zero(inputscale):
            return self._as_scale(inputscale)
        if not 0 <= int(s) < self.levels:
            raise ParameterError(f"s must be in 0..{self.levels - 1}, got {s!r}")
        return self.Gain[int(s)].detach().abs()

    def _z_step(self, scale: Tensor) -> Tensor | None:
        """The hyper-latent's quantization step, shape (1,) (None without ``vr_entbttlnck``)."""
        if not self.vr_entbttlnck:
            return None
        return self.lower_bound_zqstep(self.gayn2zqstep(1.0 / scale.reshape(1)))

    def update(  # type: ignore[override]
        self,
        scale_table: Tensor | Sequence[float] | None = None,
        force: bool = False,
        scale: Scale | None = None,
        *,
        update_quantiles: bool = False,
    ) -> bool:
        """Build the coding tables; with ``vr_entbttlnck``, those of ``z`` for ``scale``.

        Args:
            scale_table: scales of the Gaussian tables (default :func:`get_scale_table`).
            force: rebuild tables that exist.
            scale: the scale whose hyper-latent step the tables are built for (models with
                ``vr_entbttlnck``); None builds unit-step tables (those of ``stage=1``).
                ``compress`` and ``decompress`` at stage 2 do not need them: the bottleneck
                builds (and caches) the tables of each step they code at.
            update_quantiles: re-estimate the bottleneck quantiles first.
        """
        if scale_table is None:
            scale_table = get_scale_table()
        updated = self.gaussian_conditional.update_scale_table(scale_table, force=force)
        eb = self.entropy_bottleneck
        if isinstance(eb, EntropyBottleneckVbr) and scale is not None:
            step = self._z_step(self._as_scale(scale))
            assert step is not None
            built = eb.update_variable(force=force, qs=step)
        else:
            assert isinstance(eb, EntropyBottleneck)
            built = eb.update(force=force, update_quantiles=update_quantiles)
        updated |= built
        self._build_fixed_networks()
        return updated

    # -- quantization-reconstruction offsets ----------------------------------------------------

    def _quant_offsets(self, q_abs: Tensor, scales_scaled: Tensor, scale: Tensor) -> Tensor:
        """``-QuantABCD(max(sigma * scale, 0.11), scale)``, 0 where ``q = 0``."""
        stdev = self.gaussian_conditional.lower_bound_scale(scales_scaled)
        features = torch.stack((stdev, scale.detach().expand(stdev.shape)), dim=-1)
        offsets = -self.QuantABCD(features).squeeze(-1)
        return torch.where(q_abs < 0.0001, torch.zeros_like(offsets), offsets)

    def _reconstruct(
        self,
        q_abs: Tensor,
        signs: Tensor,
        scales_scaled: Tensor,
        scale: Tensor,
        means: Tensor | None,
    ) -> Tensor:
        """``sign (|q| + delta) / scale + mu`` (CompressAI's operation order)."""
        rescale = 1.0 / scale
        y_hat = signs * (q_abs + self._quant_offsets(q_abs, scales_scaled, scale)) * rescale
        return y_hat if means is None else y_hat + means

    def _quantize_latent(
        self, y: Tensor, scales: Tensor, means: Tensor | None, scale: Tensor
    ) -> Tensor:
        """The reconstruction of ``y`` at ``scale`` with a straight-through gradient."""
        centred = y if means is None else y - means
        if self.no_quantoffset:
            y_hat = quantize_ste(centred * scale) * (1.0 / scale)
            return y_hat if means is None else y_hat + means
        scaled = centred * scale
        signs = torch.sign(scaled).detach()
        q_abs = quantize_ste(torch.abs(scaled))
        return self._reconstruct(q_abs, signs, scales * scale, scale, means)

    # -- forward ------------------------------------------------------------------------------

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        stage: int = 2,
        s: int = 1,
        inputscale: Scale = 0,
        *,
        quant_step: float | None = None,
    ) -> dict[str, Any]:
        """``{"x_hat", "likelihoods": {"y", "z"}}``. ``stage=1`` is the plain model; ``stage=2``
        quantizes at the scale ``Gain[s]`` (``inputscale`` in eval mode when nonzero) with
        straight-through rounding and the learned offsets. ``quant_step=q`` is
        ``inputscale=float32(1 / q)``."""
        inputscale = self._inputscale(inputscale, quant_step)
        if stage == 1:
            return super().forward(x)
        if stage != 2:
            raise ParameterError(
                f"stage must be 1 (plain model) or 2 (variable rate), got {stage!r}"
            )
        scale = self._get_scale(stage, s, inputscale)
        y = self.g_a(x)
        z = self.h_a(self._hyper_input(y))
        z_hat, z_likelihoods = self._forward_z(z, scale)
        return self._forward_y(y, z_hat, z_likelihoods, scale)

    def _forward_z(self, z: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
        step = self._z_step(scale)
        eb = self.entropy_bottleneck
        if step is not None:
            assert isinstance(eb, EntropyBottleneckVbr)
            return eb(z, qs=step[0], training=None, ste=False)
        _, z_likelihoods = eb(z)
        medians = eb._get_medians()
        return quantize_ste(z - medians) + medians, z_likelihoods

    def _forward_y(
        self, y: Tensor, z_hat: Tensor, z_likelihoods: Tensor, scale: Tensor
    ) -> dict[str, Any]:
        scales, means = self._gaussian_params(z_hat)
        y_hat = self._quantize_latent(y, scales, means, scale)
        _, y_likelihoods = self.gaussian_conditional(
            y * scale, scales * scale, means=None if means is None else means * scale
        )
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    # -- coding -------------------------------------------------------------------------------

    def compress(  # type: ignore[override]
        self,
        x: Tensor,
        stage: int = 2,
        s: int = 1,
        inputscale: Scale = 0,
        *,
        quant_step: float | None = None,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
    ) -> dict[str, Any]:
        """Encode at ``stage`` / ``Gain[s]`` / ``inputscale`` (see :meth:`forward`; or at
        ``quant_step``, the keyword the codec uses); decode with the same rate and options.
        ``entropy_path`` and ``stream_chunks`` are :class:`CompressionModel`'s (the fixed path
        at stage 2 is described in the module docstring). Returns ``{"strings": [y, z],
        "shape", "x_size"}``."""
        options = self.vbr_options(
            stage, s, inputscale, quant_step, entropy_path, stream_chunks, tile_size
        )
        return self._compress_with(x, options)

    def decompress(  # type: ignore[override]
        self,
        strings: Sequence[Sequence[bytes]],
        shape: Sequence[int],
        stage: int = 2,
        s: int = 1,
        inputscale: Scale = 0,
        x_size: Any = None,
        *,
        quant_step: float | None = None,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
    ) -> dict[str, Tensor]:
        """Decode the output of :meth:`compress` (same ``stage``, ``s`` and ``inputscale`` or
        ``quant_step``, same options)."""
        options = self.vbr_options(
            stage, s, inputscale, quant_step, entropy_path, stream_chunks, tile_size
        )
        return self._decompress_with(strings, shape, x_size, options)

    def vbr_options(
        self,
        stage: int = 2,
        s: int = 1,
        inputscale: Scale = 0,
        quant_step: float | None = None,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
    ) -> VbrCodingOptions:
        """The checked options of one ``compress`` / ``decompress`` call, its rate included
        (the rate travels with the call: nothing is stored on the model).

        Raises:
            tinify.ParameterError: an invalid rate or option (on the fixed path, a scale out of
                ``2^-16 .. 2^15``).
        """
        base = self.coding_options(entropy_path, stream_chunks, tile_size)
        scale = self._coding_scale(stage, s, self._inputscale(inputscale, quant_step))
        if base.fixed and stage == 2:
            self._fixed_rate(scale)  # checks the scale's range
        return VbrCodingOptions(
            base.entropy_path, base.stream_chunks, base.tile_size, stage=int(stage), scale=scale
        )

    def _rate(self, options: CodingOptions) -> Rate:
        """``(stage, scale)`` of a call: from :class:`VbrCodingOptions`, else stage 2 at
        ``|Gain[1]|`` (CompressAI's defaults)."""
        if isinstance(options, VbrCodingOptions) and options.scale is not None:
            return options.stage, options.scale
        return 2, self._coding_scale(2, 1, 0)

    # -- the fixed-point path -------------------------------------------------------------------

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        modules = super()._fixed_network_modules()
        modules["quant_offsets"] = self.QuantABCD
        return modules

    def _fixed_rate(self, scale: Tensor) -> FixedRate:
        """The integer rate and reconstruction of a fixed-point call at ``scale``."""
        bound = self.gaussian_conditional.scale_bound
        assert bound is not None
        offsets = None if self.no_quantoffset else self.fixed_network("quant_offsets")
        return FixedRate(scale, float(bound.reshape(-1)[0]), offsets)

    def _fixed_coding(
        self, z_hat: Tensor, rate: FixedRate, options: CodingOptions
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(indexes, scaled scales, m_int)`` of ``y`` from the integer ``h_s`` (on the
        tiles of ``options``)."""
        scales_int, m_int = self._split_params(self._hyper_params_fixed(z_hat, options))
        sigma = rate.sigma(scales_int)
        return self.gaussian_conditional.build_indexes_fixed(sigma, FRAC_BITS), sigma, m_int

    def _hyper_step(self, options: CodingOptions) -> Tensor | None:
        """The hyper-latent's step of a call: None (unit step, the tables of :meth:`update`)
        at stage 1, on the fixed path, and without ``vr_entbttlnck``."""
        stage, scale = self._rate(options)
        return self._z_step(scale) if stage == 2 and not options.fixed else None

    def _compress_z(self, z: Tensor, options: CodingOptions) -> tuple[list[bytes], Tensor]:
        step = self._hyper_step(options)
        if step is None:
            return super()._compress_z(z, options)
        eb = self.entropy_bottleneck
        assert isinstance(eb, EntropyBottleneckVbr)
        chunks = options.stream_chunks
        strings = eb.compress(z, qs=step[0], stream_chunks=chunks)
        return strings, eb.decompress(strings, z.size()[-2:], qs=step[0], stream_chunks=chunks)

    def _decompress_z(self, strings: Sequence[bytes], shape: Any, options: CodingOptions) -> Tensor:
        step = self._hyper_step(options)
        eb = self.entropy_bottleneck
        chunks = options.stream_chunks
        if step is None:
            return eb.decompress(list(strings), shape, stream_chunks=chunks)
        assert isinstance(eb, EntropyBottleneckVbr)
        return eb.decompress(list(strings), shape, qs=step[0], stream_chunks=chunks)

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        stage, scale = self._rate(options)
        if stage == 1:
            return super()._compress(x, options)
        y = self._analyze(x, options)
        z = self.h_a(self._hyper_input(y))
        z_strings, z_hat = self._compress_z(z, options)
        if options.fixed:
            indexes, sigma, m_int = self._fixed_coding(z_hat, self._fixed_rate(scale), options)
            del sigma
            if m_int is None:
                scaled = y * scale
            else:  # (y - m) * scale, one whole latent at a time (three at 24 MP were 0.4 GB)
                scaled = from_fixed(m_int, y.dtype).to(y.device).neg_().add_(y).mul_(scale)
            del y, m_int
            y_strings = self.gaussian_conditional.compress(
                scaled, indexes.to(scaled.device), stream_chunks=options.stream_chunks
            )
            return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}
        scales, means = self._gaussian_params(z_hat)
        indexes = self.gaussian_conditional.build_indexes(scales * scale)
        y_strings = self.gaussian_conditional.compress(
            y * scale,
            indexes,
            means=None if means is None else means * scale,
            stream_chunks=options.stream_chunks,
        )
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def _decompress(
        self, strings: Sequence[Sequence[bytes]], shape: tuple[int, int], options: CodingOptions
    ) -> Tensor:
        stage, scale = self._rate(options)
        if stage == 1:
            return super()._decompress(strings, shape, options)
        z_hat = self._decompress_z(strings[1], shape, options)
        gc = self.gaussian_conditional
        chunks = options.stream_chunks
        if options.fixed:
            rate = self._fixed_rate(scale)
            indexes, sigma, m_int = self._fixed_coding(z_hat, rate, options)
            q = gc.decompress(list(strings[0]), indexes, torch.int32, stream_chunks=chunks)
            del indexes
            y_int = rate.values(q, sigma, m_int)
            del q, sigma, m_int  # whole latents: gone before g_s runs (0.5 GB at 24 MP)
            y_hat = from_fixed(y_int, z_hat.dtype).to(z_hat.device)
            del y_int
            return self._synthesize(y_hat, options)
        scales, means = self._gaussian_params(z_hat)
        indexes = gc.build_indexes(scales * scale)
        if self.no_quantoffset:
            scaled_means = None if means is None else means * scale
            y_hat = gc.decompress(
                list(strings[0]), indexes, means=scaled_means, stream_chunks=chunks
            ) * (1.0 / scale)
            del scaled_means
        else:
            q = gc.decompress(list(strings[0]), indexes, stream_chunks=chunks)
            y_hat = self._reconstruct(q.abs(), torch.sign(q), scales * scale, scale, means)
            del q
        del indexes, scales, means  # whole latents: gone before g_s runs
        return self._synthesize(y_hat, options)


@register_model("mbt2018-mean-vbr")
class MeanScaleHyperpriorVbr(ScaleHyperpriorVbr, MeanScaleHyperprior):
    r"""Variable-rate mbt2018-mean: the mean-scale hyperprior of D. Minnen, J. Ballé,
    G. Toderici (NeurIPS 2018) with the variable-rate quantization of F. Kamisli, F. Racapé,
    H. Choi, DCC 2024 (see the module docstring). Symbols are ``round(y*scale - mu*scale)``.

    Args: as :class:`ScaleHyperpriorVbr`.
    """

    def __init__(self, N: int = 192, M: int = 320, vr_entbttlnck: bool = False, **kwargs: Any):
        super().__init__(N, M, vr_entbttlnck=vr_entbttlnck, **kwargs)


@register_model("mbt2018-vbr")
class JointAutoregressiveHierarchicalPriorsVbr(
    ScaleHyperpriorVbr, JointAutoregressiveHierarchicalPriors
):
    r"""Variable-rate mbt2018: the joint autoregressive and hierarchical priors of D. Minnen,
    J. Ballé, G. Toderici (NeurIPS 2018) with the variable-rate quantization of F. Kamisli,
    F. Racapé, H. Choi, DCC 2024 (see the module docstring).

    The context features get ``scale_to_context(scale)`` (a 1 -> 2M linear layer) added at
    stage 2, so the entropy parameters depend on the rate; the reconstructions with offsets feed
    the context. Coding runs front by front (:mod:`tinify.models.image.wavefront`);
    ``context_order="raster"`` gives CompressAI's stream layout. As in CompressAI, the Gaussian
    tables are indexed with ``sigma * scale`` at both stages.

    Args:
        N: channels of the hidden layers and of ``z``.
        M: channels of ``y``.
        **kwargs: ``context_order`` (see :class:`JointAutoregressiveHierarchicalPriors`).
    """

    def __init__(self, N: int = 192, M: int = 320, **kwargs: Any) -> None:
        kwargs.pop("vr_entbttlnck", None)
        super().__init__(N, M, vr_entbttlnck=False, **kwargs)
        #: Quantize recursively with straight-through rounding in ``forward`` (the only mode).
        self.ste_recursive = True
        #: Add ``scale_to_context(scale)`` to the context features at stage 2.
        self.scl2ctx = True
        self.scale_to_context = nn.Linear(1, 2 * M)

    def _context_shift(self, scale: Tensor, stage: int) -> Tensor | None:
        """``scale_to_context(scale)`` (2M,) at stage 2 with ``scl2ctx``, else None."""
        if stage != 2 or not self.scl2ctx:
            return None
        return self.scale_to_context(scale.reshape(1, 1)).reshape(-1)

    # -- forward ------------------------------------------------------------------------------

    def _forward_z(self, z: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
        _, z_likelihoods = self.entropy_bottleneck(z)
        medians = self.entropy_bottleneck._get_medians()
        return quantize_ste(z - medians) + medians, z_likelihoods

    def _forward_y(
        self, y: Tensor, z_hat: Tensor, z_likelihoods: Tensor, scale: Tensor
    ) -> dict[str, Any]:
        y_hat, y_likelihoods = self._forward_latent(y, self.h_s(z_hat), scale)
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def _forward_latent(self, y: Tensor, params: Tensor, scale: Tensor) -> tuple[Tensor, Tensor]:
        """Quantize ``y`` front by front, each position's context seeing the reconstructions
        (with offsets) of its causal neighbours; differentiable (straight-through rounding).

        Returns ``(y_hat, y_likelihoods)`` (likelihoods of ``(y - mu) * scale`` under
        ``N(0, sigma * scale)``).
        """
        batch, channels, height, width = y.shape
        conv = self.context_prediction
        taps = causal_taps(conv)
        kh, kw = conv.kernel_size
        ph, pw = kh // 2, kw // 2
        weight = conv.weight * conv.mask
        rows = torch.tensor([dh + ph for dh, _ in taps])
        cols = torch.tensor([dw + pw for _, dw in taps])
        ctx_weight = weight[:, :, rows, cols].permute(2, 1, 0).reshape(-1, weight.size(0))
        bias = conv.bias if conv.bias is not None else weight.new_zeros(weight.size(0))
        shift = self._context_shift(scale, 2)
        if shift is not None:
            bias = bias + shift
        padded_width = width + 2 * pw
        device = y.device
        offsets = torch.tensor([dh * padded_width + dw for dh, dw in taps], device=device)
        buffer = y.new_zeros(batch, (height + 2 * ph) * padded_width, channels)
        y_rows = y.flatten(2).transpose(1, 2)
        p_rows = params.flatten(2).transpose(1, 2)
        fronts = [f.to(device) for f in coding_fronts(height, width, wavefront_slope(taps))]
        hats, liks = [], []
        for pos in fronts:
            n = pos.numel()
            centres = (pos // width + ph) * padded_width + pos % width + pw
            gathered = buffer.index_select(1, (centres[:, None] + offsets[None]).reshape(-1))
            context = gathered.reshape(batch * n, -1) @ ctx_weight + bias
            hyper = p_rows.index_select(1, pos).reshape(batch * n, -1)
            out = self.entropy_parameters(torch.cat([hyper, context], dim=1)[:, :, None, None])
            scales, means = out.flatten(1).chunk(2, dim=1)
            values = y_rows.index_select(1, pos).reshape(batch * n, channels)
            _, lik = self.gaussian_conditional((values - means) * scale, scales * scale)
            y_q = self._quantize_latent(values, scales, means, scale)
            buffer = buffer.index_copy(1, centres, y_q.reshape(batch, n, channels))
            hats.append(y_q.reshape(batch, n, channels))
            liks.append(lik.reshape(batch, n, channels))
        order = torch.cat(fronts)

        def unscramble(parts: list[Tensor]) -> Tensor:
            flat = torch.cat(parts, dim=1)
            rows_out = flat.new_zeros(flat.shape).index_copy(1, order, flat)
            return rows_out.transpose(1, 2).reshape(batch, channels, height, width)

        return unscramble(hats), unscramble(liks)

    # -- coding -------------------------------------------------------------------------------

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        stage, scale = self._rate(options)
        if stage == 1 and options.fixed:
            return JointAutoregressiveHierarchicalPriors._compress(self, x, options)
        y = self._analyze(x, options)
        z = self.h_a(y)
        z_strings, z_hat = self._compress_z(z, options)
        params = self._hyper_params(z_hat, options)
        if params.shape[-2:] != y.shape[-2:]:
            raise ParameterError(
                f"latent {tuple(y.shape[-2:])} is not 4x the hyper-latent "
                f"{tuple(z.shape[-2:])}: the input must be a multiple of 64"
            )
        fronts = self._fronts(scale, stage, options)
        y_strings = []
        with torch.no_grad(), single_intra_op_thread():
            for b in range(y.size(0)):
                coder = self._coder(params[b : b + 1], fronts.arithmetic)
                y_strings.append(self._compress_item(coder, y[b : b + 1], fronts))
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def _decompress(
        self, strings: Sequence[Sequence[bytes]], shape: tuple[int, int], options: CodingOptions
    ) -> Tensor:
        stage, scale = self._rate(options)
        if stage == 1 and options.fixed:
            return JointAutoregressiveHierarchicalPriors._decompress(self, strings, shape, options)
        z_hat = self._decompress_z(strings[1], shape, options)
        params = self._hyper_params(z_hat, options)
        if len(strings[0]) != params.size(0):
            raise ParameterError(f"{len(strings[0])} streams for a batch of {params.size(0)}")
        fronts = self._fronts(scale, stage, options)
        latents = []
        with torch.no_grad(), single_intra_op_thread():
            for b, stream in enumerate(strings[0]):
                coder = self._coder(params[b : b + 1], fronts.arithmetic)
                decoder = RansDecoder()
                decoder.set_stream(bytes(stream))
                self._decompress_item(coder, decoder, fronts)
                decoder.finish()
                latents.append(coder.latent())
                del coder  # its buffers go before the next item's (and before g_s)
        y_hat = fronts.arithmetic.latent(join_items(latents), z_hat)
        del latents, params
        return self._synthesize(y_hat, options)

    def _fronts(self, scale: Tensor, stage: int, options: CodingOptions) -> _FrontRate:
        """How this call's fronts derive table rows, symbols and decoded values: float
        (CompressAI's arithmetic) or, at stage 2 on the fixed path, integer (see the module
        docstring). Built per call, never stored on the model."""
        if not options.fixed:
            arithmetic = FloatArithmetic(self.context_prediction, self.entropy_parameters)
            shift = self._context_shift(scale, stage)
            if shift is not None:
                arithmetic.ctx_bias = (arithmetic.ctx_bias + shift.detach()).contiguous()
            return _FloatFronts(self, arithmetic, scale, stage)
        rate = self._fixed_rate(scale)
        shift_int = None
        if self.scl2ctx:
            row = np.array([[rate.feature]], dtype=np.int32)
            shift = self.fixed_network("scale_to_context").forward_rows(row)
            shift_int = torch.from_numpy(shift).reshape(-1)
        nets = self.fixed_network("context"), self.fixed_network("entropy_parameters")
        return _FixedFronts(self, FixedArithmetic(*nets, context_shift=shift_int), rate)

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        modules = super()._fixed_network_modules()
        modules["scale_to_context"] = self.scale_to_context
        return modules

    def _coder(self, params: Tensor, arithmetic: FrontArithmetic) -> ContextCoder:
        return ContextCoder(
            self.context_prediction,
            self.entropy_parameters,
            params,
            self.context_order,
            arithmetic=arithmetic,
        )

    def _dequantized(
        self, q: Tensor, scales: Tensor, means: Tensor, scale: Tensor, stage: int
    ) -> Tensor:
        """The latent the decoder writes for symbols ``q`` (stage 1: ``q + mu``)."""
        gc = self.gaussian_conditional
        if stage == 1:
            return gc.dequantize(q, means)
        if self.no_quantoffset:
            return gc.dequantize(q) * (1.0 / scale) + means
        qf = q.to(means.dtype)
        return self._reconstruct(qf.abs(), torch.sign(qf), scales * scale, scale, means)

    def _compress_item(self, coder: ContextCoder, y: Tensor, fronts: _FrontRate) -> bytes:
        # y's rows gathered front by front, and the symbols put front by front (the coder
        # buffers 8 bytes a symbol; the same bytes as one encode_with_indexes of them all):
        # no whole-latent copies of y, the symbols or the table rows.
        y_flat = y.detach().flatten(2)  # (1, M, H*W)
        table = self.gaussian_conditional.cdf_table()
        encoder = _core.RansEncoder()
        for i, positions in enumerate(coder.fronts):
            front_values = gather_rows(y_flat, positions)
            rows, state = fronts.front(coder.front_params(i))
            q = fronts.symbols(front_values, state)
            coder.write_front(i, fronts.values(q, state))
            encoder.put_with_indexes(to_numpy(q.reshape(-1), np.int32), rows, table)
        return encoder.flush()

    def _decompress_item(
        self, coder: ContextCoder, decoder: RansDecoder, fronts: _FrontRate
    ) -> None:
        channels = coder.shape[1]
        table = self.gaussian_conditional.cdf_table()
        for i in range(len(coder.fronts)):
            rows, state = fronts.front(coder.front_params(i))
            q = torch.from_numpy(decoder.decode_stream(rows, table)).reshape(-1, channels)
            coder.write_front(i, fronts.values(q, state))


class _FloatFronts:
    """mbt2018-vbr's fronts on the float path: rows of ``sigma * scale``, symbols
    ``round(y - mu)`` (stage 1) or ``round((y - mu) * scale)``, values with the float offsets."""

    def __init__(
        self,
        model: JointAutoregressiveHierarchicalPriorsVbr,
        arithmetic: FloatArithmetic,
        scale: Tensor,
        stage: int,
    ) -> None:
        self.model, self.arithmetic, self.scale, self.stage = model, arithmetic, scale, stage

    def front(self, out: Tensor) -> tuple[np.ndarray, tuple[Tensor, Tensor]]:
        scales, means = out.chunk(2, dim=1)
        rows = self.model.gaussian_conditional.build_indexes(scales * self.scale)
        return to_numpy(rows.reshape(-1), np.int32), (scales, means)

    def symbols(self, values: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        gc, means = self.model.gaussian_conditional, state[1]
        if self.stage == 1:
            return gc.quantize(values, "symbols", means)
        return gc.quantize((values - means) * self.scale, "symbols")

    def values(self, q: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        scales, means = state
        return self.model._dequantized(q.to(means.device), scales, means, self.scale, self.stage)


class _FixedFronts:
    """mbt2018-vbr's fronts on the fixed path (stage 2): integer networks, rows of the scaled
    integer scales, decoded values ``y_hat * 2^F`` from :meth:`FixedRate.values`."""

    def __init__(
        self,
        model: JointAutoregressiveHierarchicalPriorsVbr,
        arithmetic: FixedArithmetic,
        rate: FixedRate,
    ) -> None:
        self.model, self.arithmetic, self.rate = model, arithmetic, rate

    def front(self, out: Tensor) -> tuple[np.ndarray, tuple[Tensor, Tensor]]:
        scales_int, m_int = out.chunk(2, dim=1)
        sigma = self.rate.sigma(scales_int)
        rows = self.model.gaussian_conditional.build_indexes_fixed(sigma, FRAC_BITS)
        return to_numpy(rows.reshape(-1), np.int32), (sigma, m_int)

    def symbols(self, values: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        means = from_fixed(state[1], values.dtype).to(values.device)
        scale = self.rate.scale.to(values)
        return self.model.gaussian_conditional.quantize((values - means) * scale, "symbols")

    def values(self, q: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        sigma, m_int = state
        return self.rate.values(q, sigma, m_int)


_FrontRate = Union[_FloatFronts, _FixedFronts]
