"""The base class shared by every table-driven entropy model."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import tinify
from tinify import _core
from tinify.ans import pmf_to_quantized_cdf as quantize_pmf
from tinify.exceptions import NotReadyError, ParameterError, ParameterTypeError
from tinify.ops import LowerBound
from tinify.utils.arrays import to_numpy

__all__ = [
    "MAX_STREAM_CHUNKS",
    "MAX_SYMBOL",
    "EntropyModel",
    "check_finite_symbols",
    "check_stream_chunks",
    "default_entropy_coder",
    "pmf_to_quantized_cdf",
]

#: The largest ``stream_chunks`` (streams per batch item) the coder accepts.
MAX_STREAM_CHUNKS = 1 << 16

#: Buffers that hold the coding tables; they take whatever shape a loaded state dict has.
TABLE_BUFFERS = ("_offset", "_quantized_cdf", "_cdf_length")


def default_entropy_coder() -> str:
    """The entropy coder of new entropy models: :func:`tinify.get_entropy_coder`."""
    return tinify.get_entropy_coder()


def pmf_to_quantized_cdf(pmf: Tensor, precision: int = 16) -> Tensor:
    """Quantize a pmf (1-D) into a CDF of ``precision`` bits, as an int32 tensor.

    Bit-identical to CompressAI's ``pmf_to_quantized_cdf`` (same rounding, same repair of
    zero-probability symbols); the computation is :func:`tinify.ans.pmf_to_quantized_cdf` (in
    Rust), which takes and returns numpy arrays.

    Returns:
        int32 tensor of length ``len(pmf) + 1``, from 0 to ``2**precision``.

    Raises:
        tinify.CdfError: a pmf that cannot be quantized (negative, NaN, too long).
    """
    values = pmf.detach().cpu().numpy() if isinstance(pmf, Tensor) else pmf
    return torch.from_numpy(np.asarray(quantize_pmf(values, precision), dtype=np.int32))


class EntropyModel(nn.Module):
    """Base class: quantization, likelihood bound, and coding against a table of CDF rows.

    Subclasses fill the buffers ``_quantized_cdf`` (rows, width), ``_cdf_length`` (rows,) and
    ``_offset`` (rows,) in :meth:`update`. Coding runs in Rust with the GIL released, one
    independent stream per batch item, in parallel (see :func:`tinify.set_num_threads`).

    Attributes:
        stream_chunks: the default of the keyword-only ``stream_chunks`` option of
            :meth:`compress` / :meth:`decompress`: streams per batch item. 1 (the default)
            writes CompressAI's format, one rANS stream per item. ``n > 1`` splits each item
            into ``n`` streams in tinify's chunked framing, which encode and decode in parallel
            even for a single image; the decoder must use the same setting (tinify's file
            format records it). Pass the option per call rather than setting this attribute
            when a model is shared between threads.

    Args:
        likelihood_bound: lower bound applied to likelihoods (0 disables it).
        entropy_coder: a name from :func:`tinify.available_entropy_coders` (only ``"ans"``), or
            None for :func:`tinify.get_entropy_coder`.
        entropy_coder_precision: only 16 is supported (the rANS coder's fixed precision).
    """

    _offset: Tensor
    _quantized_cdf: Tensor
    _cdf_length: Tensor

    def __init__(
        self,
        likelihood_bound: float = 1e-9,
        entropy_coder: str | None = None,
        entropy_coder_precision: int = 16,
    ) -> None:
        super().__init__()
        if entropy_coder is None:
            entropy_coder = default_entropy_coder()
        if entropy_coder not in tinify.available_entropy_coders():
            raise ParameterError(
                f"entropy_coder {entropy_coder!r} is not available; choose from "
                f"{tinify.available_entropy_coders()}"
            )
        if int(entropy_coder_precision) != 16:
            raise ParameterError("entropy_coder_precision must be 16 (the rANS coder's precision)")
        self.entropy_coder = entropy_coder
        self.entropy_coder_precision = 16
        self.use_likelihood_bound = likelihood_bound > 0
        if self.use_likelihood_bound:
            self.likelihood_lower_bound = LowerBound(likelihood_bound)
        for name in TABLE_BUFFERS:
            self.register_buffer(name, torch.zeros(0, dtype=torch.int32))
        self._table_cache: tuple[tuple[Any, ...], _core.CdfTable] | None = None
        self.stream_chunks = 1

    def __getstate__(self) -> dict[str, Any]:
        """The module's state without the Rust table caches (rebuilt on use), so a model
        that has coded can be deep-copied and pickled."""
        state = self.__dict__.copy()
        state["_table_cache"] = None
        if "_step_tables" in state:
            state["_step_tables"] = {}
        return state

    # -- tables ---------------------------------------------------------------------------------

    @property
    def offset(self) -> Tensor:
        return self._offset

    @property
    def quantized_cdf(self) -> Tensor:
        return self._quantized_cdf

    @property
    def cdf_length(self) -> Tensor:
        return self._cdf_length

    def _resizable_buffers(self) -> Sequence[str]:
        return TABLE_BUFFERS

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
        # Table widths depend on the trained model: take the checkpoint's shapes.
        for name in self._resizable_buffers():
            key = prefix + name
            incoming = state_dict.get(key)
            current = self._buffers.get(name)
            if (
                isinstance(incoming, Tensor)
                and current is not None
                and incoming.shape != current.shape
            ):
                self._buffers[name] = torch.zeros(
                    incoming.shape, dtype=current.dtype, device=current.device
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def _check_tables(self) -> None:
        if self._quantized_cdf.numel() == 0 or self._offset.numel() == 0:
            raise NotReadyError(
                f"{type(self).__name__} has no CDF tables yet: call update() (or the model's "
                "update()) before compress() or decompress()"
            )
        if self._quantized_cdf.dim() != 2:
            raise ParameterError(
                f"_quantized_cdf must be 2-D, got {tuple(self._quantized_cdf.shape)}"
            )
        rows = self._quantized_cdf.size(0)
        if self._cdf_length.shape != (rows,) or self._offset.shape != (rows,):
            raise ParameterError(
                f"_cdf_length {tuple(self._cdf_length.shape)} and _offset "
                f"{tuple(self._offset.shape)} must both have shape ({rows},)"
            )

    def cdf_table(self) -> _core.CdfTable:
        """The validated Rust table for the current buffers (rebuilt only when they change)."""
        self._check_tables()
        buffers = [self._quantized_cdf, self._cdf_length, self._offset]
        key = tuple((id(t), t._version, t.data_ptr()) for t in buffers)
        if self._table_cache is None or self._table_cache[0] != key:
            table = _core.CdfTable(*(to_numpy(t, np.int32) for t in buffers))
            self._table_cache = (key, table)
        return self._table_cache[1]

    def _chunks(self, stream_chunks: int | None) -> int:
        """The call's ``stream_chunks``, or the :attr:`stream_chunks` attribute when None."""
        if stream_chunks is None:
            stream_chunks = getattr(self, "stream_chunks", 1)
        return check_stream_chunks(stream_chunks)

    # -- quantization ---------------------------------------------------------------------------

    def quantize(self, inputs: Tensor, mode: str, means: Tensor | None = None) -> Tensor:
        """Quantize ``inputs``.

        Args:
            inputs: any shape.
            mode: ``"noise"`` adds U(-0.5, 0.5) (training proxy; means are ignored);
                ``"dequantize"`` returns ``round(x - means) + means``; ``"symbols"`` returns
                ``round(x - means)`` as int32. Rounding is half-to-even (``torch.round``).
            means: optional, broadcastable to ``inputs``.
        """
        if mode not in ("noise", "dequantize", "symbols"):
            raise ParameterError(f'mode must be "noise", "dequantize" or "symbols", got {mode!r}')
        if mode == "noise":
            return inputs + torch.empty_like(inputs).uniform_(-0.5, 0.5)
        if mode == "symbols":
            # Integer symbols carry no gradient: round the temporary in place (one 4-byte-per-
            # element allocation less, which matters for large latents).
            centred = inputs - means if means is not None else inputs.clone()
            return centred.round_().int()
        rounded = torch.round(inputs - means if means is not None else inputs)
        return rounded + means if means is not None else rounded

    @staticmethod
    def dequantize(
        inputs: Tensor, means: Tensor | None = None, dtype: torch.dtype = torch.float
    ) -> Tensor:
        """Map symbols back to values: ``symbols + means`` (in the means' dtype) or a cast."""
        if means is not None:
            return inputs.to(means.dtype, copy=True).add_(means)
        return inputs.type(dtype)

    def _quantize(self, inputs: Tensor, mode: str, means: Tensor | None = None) -> Tensor:
        """Deprecated name of :meth:`quantize` (CompressAI's, still used by older model code)."""
        warnings.warn("_quantize is deprecated; use quantize", DeprecationWarning, stacklevel=2)
        return self.quantize(inputs, mode, means)

    @classmethod
    def _dequantize(cls, inputs: Tensor, means: Tensor | None = None) -> Tensor:
        """Deprecated name of :meth:`dequantize` (CompressAI's)."""
        warnings.warn("_dequantize is deprecated; use dequantize", DeprecationWarning, stacklevel=2)
        return cls.dequantize(inputs, means)

    def lower_bound_likelihood(self, likelihood: Tensor) -> Tensor:
        """Clamp likelihoods from below (gradient-friendly) when the bound is enabled."""
        if self.use_likelihood_bound:
            return self.likelihood_lower_bound(likelihood)
        return likelihood

    # -- coding ---------------------------------------------------------------------------------

    def compress(
        self,
        inputs: Tensor,
        indexes: Tensor,
        means: Tensor | None = None,
        *,
        table: _core.CdfTable | None = None,
        stream_chunks: int | None = None,
    ) -> list[bytes]:
        """Code ``round(inputs - means)`` with CDF row ``indexes`` per element.

        Args:
            inputs: (N, ...) at least 2-D.
            indexes: integer tensor of the same shape.
            means: optional, broadcastable to ``inputs``.
            table: the coding tables to use instead of :meth:`cdf_table` (for instance those
                of another quantization step, see
                :meth:`tinify.entropy_models.EntropyBottleneckVbr.step_table`).
            stream_chunks: streams per item (see :attr:`stream_chunks`, the default).

        Returns:
            One rANS stream per batch item (elements in row-major order of the item).
        """
        if inputs.dim() < 2:
            raise ParameterError(
                f"inputs must have at least 2 dimensions, got shape {tuple(inputs.shape)}"
            )
        if inputs.shape != indexes.shape:
            raise ParameterError(
                f"inputs {tuple(inputs.shape)} and indexes {tuple(indexes.shape)} must have the "
                "same shape"
            )
        table = self.cdf_table() if table is None else table
        check_finite_symbols(inputs, means)
        symbols = self.quantize(inputs, "symbols", means)
        n = inputs.size(0)
        return _core.encode_batch(
            to_numpy(symbols.reshape(n, -1), np.int32),
            to_numpy(indexes.reshape(n, -1), np.int32),
            table,
            self._chunks(stream_chunks),
        )

    def decompress(
        self,
        strings: Sequence[bytes],
        indexes: Tensor,
        dtype: torch.dtype = torch.float,
        means: Tensor | None = None,
        *,
        table: _core.CdfTable | None = None,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode streams from :meth:`compress` into ``symbols + means``, shaped like ``indexes``
        (``table``: the encoder's tables, when not :meth:`cdf_table`).

        ``stream_chunks`` must be the encoder's (default: :attr:`stream_chunks`).

        Raises:
            tinify.BitstreamError: a stream is corrupt, truncated or does not match the tables.
        """
        if not isinstance(strings, (tuple, list)):
            raise ParameterError(f"strings must be a list of bytes, got {type(strings).__name__}")
        if indexes.dim() < 2:
            raise ParameterError(
                f"indexes must have at least 2 dimensions, got {tuple(indexes.shape)}"
            )
        if len(strings) != indexes.size(0):
            raise ParameterError(f"{len(strings)} strings for a batch of {indexes.size(0)} indexes")
        if means is not None:
            if means.shape[:2] != indexes.shape[:2] or any(
                m not in (1, i) for m, i in zip(means.shape[2:], indexes.shape[2:])
            ):
                raise ParameterError(
                    f"means {tuple(means.shape)} do not broadcast to indexes {tuple(indexes.shape)}"
                )
        chunked = self._chunks(stream_chunks) > 1
        table = self.cdf_table() if table is None else table
        n = indexes.size(0)
        for s in strings:
            if not isinstance(s, (bytes, bytearray)):
                raise ParameterTypeError(f"each string must be bytes, got {type(s).__name__}")
        values = _core.decode_batch(
            list(strings), to_numpy(indexes.reshape(n, -1), np.int32), table, chunked
        )
        symbols = torch.from_numpy(values).reshape(indexes.shape).to(indexes.device)
        return self.dequantize(symbols, means, dtype)


def check_stream_chunks(stream_chunks: int) -> int:
    """Return ``stream_chunks`` as an int if it is between 1 and :data:`MAX_STREAM_CHUNKS`.

    Raises:
        tinify.ParameterError: (a ValueError) any other value.
    """
    chunks = int(stream_chunks)
    if not 1 <= chunks <= MAX_STREAM_CHUNKS:
        raise ParameterError(
            f"stream_chunks must be between 1 and {MAX_STREAM_CHUNKS}, got {stream_chunks}"
        )
    return chunks


#: Largest magnitude of a coded symbol ``round(x - means)`` (it is coded as an int32).
MAX_SYMBOL = (1 << 31) - 1


def check_finite_symbols(inputs: Tensor, means: Tensor | None = None) -> None:
    """Refuse latents that cannot be coded: NaN or infinite values (a diverged model or a
    broken input), or symbols ``round(inputs - means)`` beyond the int32 range.

    Raises:
        ParameterError: with the count of bad values.
    """
    centred = inputs.detach() if means is None else inputs.detach() - means.detach()
    finite = torch.isfinite(centred)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ParameterError(
            f"compress: {bad} of {centred.numel()} latent values are NaN or infinite (a "
            "diverged model or a broken input); they cannot be coded"
        )
    if centred.numel() and float(centred.abs().max()) > MAX_SYMBOL:
        raise ParameterError(
            f"compress: latent values reach {float(centred.abs().max()):.3g}, beyond the "
            f"coded symbol range of +-{MAX_SYMBOL}"
        )
