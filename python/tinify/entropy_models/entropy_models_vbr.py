# SPDX-License-Identifier: Apache-2.0
"""Entropy models with a variable quantization step, for the variable-rate models.

F. Kamisli, F. Racapé, H. Choi, "Variable-Rate Learned Image Compression with Multi-Objective
Optimization and Quantization-Reconstruction Offsets", DCC 2024 (arXiv:2402.18930).

A value ``x`` is quantized with step ``qs`` around ``m`` as ``round((x - m) / qs)`` (the coded
symbol) and reconstructed as ``symbol * qs + m``. With ``qs = None`` everything behaves exactly
like the unit-step :class:`~tinify.entropy_models.EntropyModel` and
:class:`~tinify.entropy_models.EntropyBottleneck` these classes extend.

:class:`EntropyBottleneckVbr` stores its density parameters under CompressAI's names for this
class (``_matrix0``, ``_bias0``, ``_factor0``, ...), so its state dicts load in CompressAI
1.2.8 and back; state dicts with today's ``matrices.0`` names load too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Union

import numpy as np
import torch
from torch import Tensor

from tinify import _core
from tinify.entropy_models.base import EntropyModel
from tinify.entropy_models.bottleneck import EntropyBottleneck
from tinify.exceptions import ParameterError
from tinify.utils.arrays import to_numpy

__all__ = ["EntropyBottleneckVbr", "EntropyModelVbr"]

#: Quantization step: a Python number or a tensor that broadcasts against the values.
Step = Union[float, Tensor]

#: Steps whose tables :meth:`EntropyBottleneckVbr.step_table` keeps.
_STEP_TABLES = 8


class EntropyModelVbr(EntropyModel):
    """:class:`EntropyModel` with an optional quantization step ``qs`` on every operation.

    Args: as :class:`~tinify.entropy_models.EntropyModel`.
    """

    def quantize_variable(
        self, inputs: Tensor, mode: str, means: Tensor | None = None, qs: Step | None = None
    ) -> Tensor:
        """Quantize ``inputs`` with step ``qs`` (unit step when None).

        Args:
            inputs: any shape.
            mode: ``"noise"`` adds ``U(-qs/2, qs/2)`` (means ignored); ``"ste"`` returns
                ``round((x - m) / qs) * qs + m`` with an identity gradient; ``"dequantize"``
                the same value without the gradient trick; ``"symbols"`` ``round((x - m) / qs)``
                as int32. Rounding is half-to-even.
            means: optional, broadcastable to ``inputs``.
            qs: the step (a number, or a 0-d / broadcastable tensor).
        """
        if mode not in ("noise", "ste", "dequantize", "symbols"):
            raise ParameterError(
                f'mode must be "noise", "ste", "dequantize" or "symbols", got {mode!r}'
            )
        if mode == "noise":
            noise = torch.empty_like(inputs).uniform_(-0.5, 0.5)
            return inputs + (noise if qs is None else noise * qs)
        centred = inputs - means if means is not None else inputs.clone()
        if mode == "symbols":
            return torch.round(centred if qs is None else centred / qs).int()
        rounded = torch.round(centred) if qs is None else torch.round(centred / qs) * qs
        if mode == "ste":
            # CompressAI's expression (value rounded, gradient of the identity), kept as is so
            # that the values match its to the last bit.
            rounded = rounded - centred.detach() + centred
        return rounded + means if means is not None else rounded

    @staticmethod
    def dequantize_variable(
        inputs: Tensor,
        means: Tensor | None = None,
        dtype: torch.dtype = torch.float,
        qs: Step | None = None,
    ) -> Tensor:
        """Map symbols back to values: ``symbols * qs + means`` (in the means' dtype)."""
        if qs is None:
            return EntropyModel.dequantize(inputs, means, dtype)
        if means is not None:
            return inputs.type_as(means) * qs + means
        return inputs.type(dtype) * qs

    def compress(  # type: ignore[override]
        self,
        inputs: Tensor,
        indexes: Tensor,
        means: Tensor | None = None,
        qs: Step | None = None,
        *,
        table: _core.CdfTable | None = None,
        stream_chunks: int | None = None,
    ) -> list[bytes]:
        """Code ``round((inputs - means) / qs)`` with CDF row ``indexes`` per element
        (``table``: tables to use instead of :meth:`cdf_table`; ``stream_chunks``: streams per
        item, default the :attr:`stream_chunks` attribute)."""
        if qs is None:
            return super().compress(
                inputs, indexes, means, table=table, stream_chunks=stream_chunks
            )
        centred = inputs - means if means is not None else inputs
        return super().compress(centred / qs, indexes, table=table, stream_chunks=stream_chunks)

    def decompress(  # type: ignore[override]
        self,
        strings: Sequence[bytes],
        indexes: Tensor,
        dtype: torch.dtype = torch.float,
        means: Tensor | None = None,
        qs: Step | None = None,
        *,
        table: _core.CdfTable | None = None,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode streams of :meth:`compress` (same ``qs``, ``table`` and ``stream_chunks``)
        into ``symbols * qs + means``."""
        chunks = stream_chunks
        if qs is None:
            return super().decompress(
                strings, indexes, dtype, means, table=table, stream_chunks=chunks
            )
        dtype_in = means.dtype if means is not None else dtype
        symbols = super().decompress(strings, indexes, dtype_in, table=table, stream_chunks=chunks)
        return self.dequantize_variable(symbols, means, dtype, qs)


# ``matrices.3`` <-> ``_matrix3`` (CompressAI's names in EntropyBottleneckVbr).
_LIST_KEY = re.compile(r"^(matrices|biases|factors)\.(\d+)$")
_FLAT_KEY = re.compile(r"^_(matrix|bias|factor)(\d+)$")
_FLAT = {"matrices": "matrix", "biases": "bias", "factors": "factor"}
_LIST = {v: k for k, v in _FLAT.items()}


class EntropyBottleneckVbr(EntropyBottleneck, EntropyModelVbr):
    r"""The entropy bottleneck of J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston
    (ICLR 2018) with a variable quantization step, as used for the hyper-latent of the
    variable-rate models of Kamisli, Racapé, Choi (DCC 2024).

    With step ``qs`` the value ``z`` is coded as ``round((z - median) / qs)`` against tables
    built by :meth:`update_variable` for that step; the likelihood of a bin is
    ``sigmoid(f(v + qs/2)) - sigmoid(f(v - qs/2))``.

    Args: as :class:`~tinify.entropy_models.EntropyBottleneck`.
    """

    def _likelihood_variable(
        self, inputs: Tensor, stop_gradient: bool = False, qs: Step | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Likelihood of values on a grid of step ``qs``, with the lower and upper logits."""
        half = 0.5 if qs is None else 0.5 * qs
        lower = self._logits_cumulative(inputs - half, stop_gradient)
        upper = self._logits_cumulative(inputs + half, stop_gradient)
        return torch.sigmoid(upper) - torch.sigmoid(lower), lower, upper

    @torch.no_grad()
    def update_variable(self, force: bool = False, qs: Step = 1.0) -> bool:
        """Build the coding tables for quantization step ``qs`` into the buffers (see
        :meth:`update`). :meth:`compress` / :meth:`decompress` with a step do not need them:
        they use :meth:`step_table`.

        Returns:
            True when the tables were (re)built.
        """
        if self._offset.numel() > 0 and not force:
            return False
        self.store_tables(*self._sampled_density(qs))
        return True

    @torch.no_grad()
    def step_table(self, qs: Step) -> _core.CdfTable:
        """The coding tables for quantization step ``qs``: those :meth:`update_variable`
        builds, without storing them, so calls at different steps may share the module (from
        several threads too). Cached per step and parameter version (a few steps at most)."""
        step = float(torch.as_tensor(qs).reshape(-1)[0])
        params = tuple((id(p), p._version, p.data_ptr()) for p in self.parameters())
        key = (step, params)
        cache: dict[Any, _core.CdfTable] = self.__dict__.get("_step_tables", {})
        table = cache.get(key)
        if table is None:
            cdf, length, offset = self.quantized_tables(*self._sampled_density(qs))
            table = _core.CdfTable(*(to_numpy(t, np.int32) for t in (cdf, length, offset)))
            kept = dict(list(cache.items())[-(_STEP_TABLES - 1) :])
            kept[key] = table
            self._step_tables = kept  # replaced whole: readers never see it half-built
        return table

    def _sampled_density(self, qs: Step) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """``(pmf, lower, upper, minima, pmf_length)`` on the grid of step ``qs``."""
        q = self.quantiles[:, 0, :]
        medians = q[:, 1]
        minima = torch.clamp(torch.ceil((medians - q[:, 0]) / qs).int(), min=0)
        maxima = torch.clamp(torch.ceil((q[:, 2] - medians) / qs).int(), min=0)
        pmf_start = medians - minima * qs
        pmf_length = maxima + minima + 1
        max_length = int(pmf_length.max().item())
        if max_length > 65534:
            raise ParameterError(
                f"quantization step {float(torch.as_tensor(qs).reshape(-1)[0]):g} gives tables "
                f"of {max_length} values, more than 16-bit tables can hold; use a larger step"
            )
        samples = torch.arange(max_length, device=q.device) * qs
        samples = samples[None, :] + pmf_start[:, None, None]
        pmf, lower, upper = self._likelihood_variable(samples, stop_gradient=True, qs=qs)
        return pmf, lower, upper, minima, pmf_length

    def forward(  # type: ignore[override]
        self,
        x: Tensor,
        training: bool | None = None,
        qs: Step | None = None,
        ste: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """``(z_hat, likelihoods)`` with step ``qs`` (:class:`EntropyBottleneck` when None).

        ``ste=True`` quantizes with the straight-through rounding instead of noise/rounding.
        As in CompressAI 1.2.8, the likelihoods with a step are those of unit-width bins around
        the quantized values with the density detached (its call passes ``qs`` where the
        stop-gradient flag goes); the coding tables use the true bins of width ``qs``.
        """
        if qs is None:
            return super().forward(x, training)
        if training is None:
            training = self.training
        if x.dim() < 2 or x.size(1) != self.channels:
            raise ParameterError(f"expected (N, {self.channels}, ...) input, got {tuple(x.shape)}")
        values = x.transpose(0, 1).contiguous()
        moved_shape = values.shape
        values = values.reshape(self.channels, 1, -1)
        mode = "ste" if ste else ("noise" if training else "dequantize")
        outputs = self.quantize_variable(values, mode, self._get_medians(), qs)
        likelihood, _, _ = self._likelihood_variable(outputs, stop_gradient=True)
        likelihood = self.lower_bound_likelihood(likelihood)
        outputs = outputs.reshape(moved_shape).transpose(0, 1).contiguous()
        likelihood = likelihood.reshape(moved_shape).transpose(0, 1).contiguous()
        return outputs, likelihood

    def compress(  # type: ignore[override]
        self, x: Tensor, qs: Step | None = None, *, stream_chunks: int | None = None
    ) -> list[bytes]:
        """Code ``x`` (N, C, ...) with step ``qs`` (tables of :meth:`step_table`);
        ``stream_chunks`` streams per batch item (default: the attribute)."""
        if qs is None:
            return super().compress(x, stream_chunks=stream_chunks)
        if x.dim() < 2 or x.size(1) != self.channels:
            raise ParameterError(f"expected (N, {self.channels}, ...) input, got {tuple(x.shape)}")
        indexes = self._channel_indexes(x.shape)
        medians = self._medians_like(x.size(0), x.dim() - 2)
        table = self.step_table(qs)
        return EntropyModelVbr.compress(
            self, x, indexes, medians, qs, table=table, stream_chunks=stream_chunks
        )

    def decompress(  # type: ignore[override]
        self,
        strings: Sequence[bytes],
        size: Sequence[int],
        qs: Step | None = None,
        *,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode streams from :meth:`compress` (same ``qs`` and ``stream_chunks``) into
        (len(strings), C, *size)."""
        if qs is None:
            return super().decompress(strings, size, stream_chunks=stream_chunks)
        table = self.step_table(qs)
        out_size = (len(strings), self.channels, *[int(s) for s in size])
        indexes = self._channel_indexes(out_size)
        medians = self._medians_like(len(strings), len(size))
        return EntropyModelVbr.decompress(
            self,
            list(strings),
            indexes,
            medians.dtype,
            medians,
            qs,
            table=table,
            stream_chunks=stream_chunks,
        )

    # -- CompressAI's parameter names -------------------------------------------------------

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """The state dict with CompressAI's names for this class (``_matrix0``, ...)."""
        prefix = kwargs.get("prefix", args[1] if len(args) > 1 else "")
        out = super().state_dict(*args, **kwargs)
        for key in [k for k in out if k.startswith(prefix)]:
            match = _LIST_KEY.match(key[len(prefix) :])
            if match is not None:
                out[f"{prefix}_{_FLAT[match[1]]}{int(match[2])}"] = out.pop(key)
        return out

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # ``_matrix0`` -> ``matrices.0`` before the parameter lists read their entries.
        for key in [k for k in state_dict if k.startswith(prefix)]:
            match = _FLAT_KEY.match(key[len(prefix) :])
            if match is not None:
                state_dict[f"{prefix}{_LIST[match[1]]}.{int(match[2])}"] = state_dict.pop(key)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
