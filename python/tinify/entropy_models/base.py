"""The base class shared by every table-driven entropy model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from tinify import _core
from tinify.exceptions import ParameterError
from tinify.ops import LowerBound

__all__ = ["MAX_STREAM_CHUNKS", "EntropyModel", "check_stream_chunks"]

#: The largest ``stream_chunks`` (streams per batch item) the coder accepts.
MAX_STREAM_CHUNKS = 1 << 16

#: Buffers that hold the coding tables; they take whatever shape a loaded state dict has.
TABLE_BUFFERS = ("_offset", "_quantized_cdf", "_cdf_length")


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
        entropy_coder: only ``"ans"`` (or ``None``) is supported.
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
        if entropy_coder not in (None, "ans"):
            raise ValueError(f"entropy_coder {entropy_coder!r} is not available; use 'ans'")
        if int(entropy_coder_precision) != 16:
            raise ValueError("entropy_coder_precision must be 16 (the rANS coder's precision)")
        self.entropy_coder = "ans"
        self.entropy_coder_precision = 16
        self.use_likelihood_bound = likelihood_bound > 0
        if self.use_likelihood_bound:
            self.likelihood_lower_bound = LowerBound(likelihood_bound)
        for name in TABLE_BUFFERS:
            self.register_buffer(name, torch.zeros(0, dtype=torch.int32))
        self._table_cache: tuple[tuple[Any, ...], _core.CdfTable] | None = None
        self.stream_chunks = 1

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
            raise RuntimeError(
                f"{type(self).__name__} has no CDF tables yet: call update() (or the model's "
                "update()) before compress() or decompress()"
            )
        if self._quantized_cdf.dim() != 2:
            raise ValueError(f"_quantized_cdf must be 2-D, got {tuple(self._quantized_cdf.shape)}")
        rows = self._quantized_cdf.size(0)
        if self._cdf_length.shape != (rows,) or self._offset.shape != (rows,):
            raise ValueError(
                f"_cdf_length {tuple(self._cdf_length.shape)} and _offset "
                f"{tuple(self._offset.shape)} must both have shape ({rows},)"
            )

    def cdf_table(self) -> _core.CdfTable:
        """The validated Rust table for the current buffers (rebuilt only when they change)."""
        self._check_tables()
        buffers = [self._quantized_cdf, self._cdf_length, self._offset]
        key = tuple((id(t), t._version, t.data_ptr()) for t in buffers)
        if self._table_cache is None or self._table_cache[0] != key:
            table = _core.CdfTable(*(_int32_numpy(t) for t in buffers))
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
            raise ValueError(f'mode must be "noise", "dequantize" or "symbols", got {mode!r}')
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
        stream_chunks: int | None = None,
    ) -> list[bytes]:
        """Code ``round(inputs - means)`` with CDF row ``indexes`` per element.

        Args:
            inputs: (N, ...) at least 2-D.
            indexes: integer tensor of the same shape.
            means: optional, broadcastable to ``inputs``.
            stream_chunks: streams per item (see :attr:`stream_chunks`, the default).

        Returns:
            One rANS stream per batch item (elements in row-major order of the item).
        """
        if inputs.dim() < 2:
            raise ValueError(
                f"inputs must have at least 2 dimensions, got shape {tuple(inputs.shape)}"
            )
        if inputs.shape != indexes.shape:
            raise ValueError(
                f"inputs {tuple(inputs.shape)} and indexes {tuple(indexes.shape)} must have the "
                "same shape"
            )
        table = self.cdf_table()
        symbols = self.quantize(inputs, "symbols", means)
        n = inputs.size(0)
        return _core.encode_batch(
            _int32_numpy(symbols.reshape(n, -1)),
            _int32_numpy(indexes.reshape(n, -1)),
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
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode streams from :meth:`compress` into ``symbols + means``, shaped like ``indexes``.

        ``stream_chunks`` must be the encoder's (default: :attr:`stream_chunks`).

        Raises:
            tinify.BitstreamError: a stream is corrupt, truncated or does not match the tables.
        """
        if not isinstance(strings, (tuple, list)):
            raise ValueError(f"strings must be a list of bytes, got {type(strings).__name__}")
        if indexes.dim() < 2:
            raise ValueError(f"indexes must have at least 2 dimensions, got {tuple(indexes.shape)}")
        if len(strings) != indexes.size(0):
            raise ValueError(f"{len(strings)} strings for a batch of {indexes.size(0)} indexes")
        if means is not None:
            if means.shape[:2] != indexes.shape[:2] or any(
                m not in (1, i) for m, i in zip(means.shape[2:], indexes.shape[2:])
            ):
                raise ValueError(
                    f"means {tuple(means.shape)} do not broadcast to indexes {tuple(indexes.shape)}"
                )
        chunked = self._chunks(stream_chunks) > 1
        table = self.cdf_table()
        n = indexes.size(0)
        for s in strings:
            if not isinstance(s, (bytes, bytearray)):
                raise TypeError(f"each string must be bytes, got {type(s).__name__}")
        values = _core.decode_batch(
            list(strings), _int32_numpy(indexes.reshape(n, -1)), table, chunked
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


def _int32_numpy(t: Tensor) -> np.ndarray:
    """A contiguous int32 numpy view (or copy) of ``t`` on the CPU."""
    return np.ascontiguousarray(t.detach().to("cpu", torch.int32).numpy())
