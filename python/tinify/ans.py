"""rANS entropy coding, API-compatible with ``compressai.ans``.

Existing CompressAI code ports by changing the import::

    from tinify.ans import BufferedRansEncoder, RansDecoder, RansEncoder

Streams are byte-identical to CompressAI 1.2.8's in both directions. Arguments may be Python
lists, numpy arrays or torch tensors (no per-element Python conversion happens). ``cdfs`` may be
CompressAI's list of rows (with ``cdf_lengths`` and ``offsets``), a 2-D int array, or a prebuilt
:class:`CdfTable`, which skips re-validating the table on every call::

    table = CdfTable(cdfs, cdf_lengths, offsets)   # once
    data = RansEncoder().encode_with_indexes(symbols, indexes, table)

Differences from CompressAI, all on the safe side: empty and one-symbol streams work; a corrupt
or truncated stream raises :class:`~tinify.exceptions.BitstreamError` instead of returning
garbage; decoders return ``numpy.int32`` arrays rather than lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from numpy.typing import NDArray

from tinify import _core
from tinify._core import CdfTable
from tinify.exceptions import (
    BitstreamError,
    CdfError,
    NotReadyError,
    ParameterError,
    ParameterTypeError,
    TinifyError,
)
from tinify.utils.arrays import to_numpy

__all__ = [
    "BitstreamError",
    "BufferedRansEncoder",
    "CdfError",
    "CdfTable",
    "ParameterError",
    "RansDecoder",
    "RansEncoder",
    "TinifyError",
    "as_cdf_table",
    "decode_mixture",
    "encode_mixture",
    "gaussian_table",
    "pmf_to_quantized_cdf",
]

ArrayLike = Any  # list, numpy array or torch tensor
CdfsLike = Union[CdfTable, ArrayLike]
_INT32 = np.iinfo(np.int32)


def to_int32(x: ArrayLike, name: str) -> NDArray[np.int32]:
    """Flatten ``x`` to a contiguous int32 array, checking dtype and range.

    Raises:
        ParameterTypeError: ``x`` does not hold integers.
        ParameterError: a value does not fit in int32.
    """
    a = to_numpy(x).reshape(-1)
    if a.size == 0:
        return np.zeros(0, dtype=np.int32)
    if a.dtype.kind not in "iub":
        raise ParameterTypeError(
            f"{name} must hold integers, got dtype {a.dtype}; round and cast first"
        )
    if a.dtype.itemsize > 4 or a.dtype.kind == "u":
        lo, hi = int(a.min()), int(a.max())
        if lo < _INT32.min or hi > _INT32.max:
            raise ParameterError(f"{name} holds values outside int32 ({lo}..{hi})")
    return to_numpy(a, np.int32)


def _float(x: ArrayLike, name: str, dtype: type, ndim: int) -> np.ndarray:
    a = to_numpy(x)
    if a.dtype.kind not in "fiu":
        raise ParameterTypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ParameterError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return to_numpy(a, dtype)


def as_cdf_table(
    cdfs: CdfsLike,
    cdf_lengths: ArrayLike | None = None,
    offsets: ArrayLike | None = None,
) -> CdfTable:
    """Build (and validate) a :class:`CdfTable` from CompressAI's ``(cdfs, cdf_lengths, offsets)``.

    Args:
        cdfs: a ``CdfTable`` (returned as is), rows as a list of lists (ragged rows are padded),
            or a 2-D integer array / tensor of shape (rows, width).
        cdf_lengths: valid length of each row, shape (rows,).
        offsets: value of slot 0 of each row, shape (rows,).

    Raises:
        CdfError: a row is not a valid 16-bit CDF.
        ParameterError: the arguments disagree in shape.
    """
    if isinstance(cdfs, CdfTable):
        if cdf_lengths is not None or offsets is not None:
            raise ParameterError("pass either a CdfTable or (cdfs, cdf_lengths, offsets), not both")
        return cdfs
    if cdf_lengths is None or offsets is None:
        raise ParameterError("cdf_lengths and offsets are required unless cdfs is a CdfTable")
    if isinstance(cdfs, (list, tuple)):
        rows: Sequence[Any] = [to_numpy(r).reshape(-1) for r in cdfs]
        width = max((len(r) for r in rows), default=0)
        table = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            table[i, : len(r)] = r
        array = table
    else:
        array = to_numpy(cdfs)
    if array.ndim != 2:
        raise ParameterError(f"cdfs must be 2-D (rows, width), got shape {array.shape}")
    if array.size:
        if array.dtype.kind not in "iub":
            raise CdfError(f"cdfs must hold integers, got dtype {array.dtype}")
        lo, hi = int(array.min()), int(array.max())
        if lo < _INT32.min or hi > _INT32.max:
            raise CdfError(
                f"cdfs hold values outside int32 ({lo}..{hi}); a CDF row runs from 0 to "
                "1 << precision (65536)"
            )
    return CdfTable(
        to_numpy(array.reshape(array.shape[0], -1), np.int32)
        if array.size
        else np.zeros((array.shape[0], 0), dtype=np.int32),
        to_int32(cdf_lengths, "cdf_lengths"),
        to_int32(offsets, "offsets"),
    )


def gaussian_table(scale_table: ArrayLike, tail_mass: float = 1e-9) -> CdfTable:
    """Quantized CDFs of zero-mean Gaussians with the given scales, built deterministically.

    Row ``i`` covers ``[-c_i, c_i]`` with ``c_i = ceil(s_i * -Phi^-1(tail_mass / 2))`` plus an
    escape slot; offsets are ``-c_i``. Built in Rust in fixed-order float64 with a pure-Rust
    ``erfc``, so every machine gets the same bits.
    """
    return CdfTable.gaussian(_float(scale_table, "scale_table", np.float32, 1), float(tail_mass))


def pmf_to_quantized_cdf(pmf: ArrayLike, precision: int = 16) -> NDArray[np.int32]:
    """Quantize a pmf to an integer CDF of ``len(pmf) + 1`` values, bit-identical to CompressAI.

    Raises:
        CdfError: a negative or non-finite entry, or an all-zero pmf.
    """
    return _core.pmf_to_quantized_cdf(_float(pmf, "pmf", np.float32, 1), int(precision))


class RansEncoder:
    """Encode symbols into one rANS stream (``compressai.ans.RansEncoder``)."""

    def encode_with_indexes(
        self,
        symbols: ArrayLike,
        indexes: ArrayLike,
        cdfs: CdfsLike,
        cdf_lengths: ArrayLike | None = None,
        offsets: ArrayLike | None = None,
    ) -> bytes:
        """Code ``symbols[i]`` with CDF row ``indexes[i]``; values outside a row are escaped."""
        table = as_cdf_table(cdfs, cdf_lengths, offsets)
        return _core.encode_with_indexes(
            to_int32(symbols, "symbols"), to_int32(indexes, "indexes"), table
        )


class BufferedRansEncoder:
    """Collect symbols over several calls, then write one stream with :meth:`flush`."""

    def __init__(self) -> None:
        self._enc = _core.RansEncoder()

    def encode_with_indexes(
        self,
        symbols: ArrayLike,
        indexes: ArrayLike,
        cdfs: CdfsLike,
        cdf_lengths: ArrayLike | None = None,
        offsets: ArrayLike | None = None,
    ) -> None:
        """Append symbols; on error nothing is appended."""
        table = as_cdf_table(cdfs, cdf_lengths, offsets)
        self._enc.put_with_indexes(
            to_int32(symbols, "symbols"), to_int32(indexes, "indexes"), table
        )

    def encode_mixture(
        self, symbols: ArrayLike, weights: ArrayLike, means: ArrayLike, scales: ArrayLike
    ) -> None:
        """Append symbols, each against its own Gaussian mixture ((n, K) parameters)."""
        w, m, s = (_float(a, n, np.float64, 2) for a, n in _mix(weights, means, scales))
        self._enc.put_mixture(to_int32(symbols, "symbols"), w, m, s)

    def flush(self) -> bytes:
        """Write everything appended so far as one stream and start over."""
        return self._enc.flush()

    def __len__(self) -> int:
        return len(self._enc)


class RansDecoder:
    """Decode rANS streams (``compressai.ans.RansDecoder``)."""

    def __init__(self) -> None:
        self._dec: _core.RansDecoder | None = None

    def decode_with_indexes(
        self,
        encoded: bytes,
        indexes: ArrayLike,
        cdfs: CdfsLike,
        cdf_lengths: ArrayLike | None = None,
        offsets: ArrayLike | None = None,
    ) -> NDArray[np.int32]:
        """Decode a whole stream; raise :class:`BitstreamError` if corrupt or with leftovers."""
        table = as_cdf_table(cdfs, cdf_lengths, offsets)
        return _core.decode_with_indexes(_bytes(encoded), to_int32(indexes, "indexes"), table)

    def set_stream(self, encoded: bytes) -> None:
        """Start incremental decoding of ``encoded`` (see :meth:`decode_stream`)."""
        self._dec = _core.RansDecoder(_bytes(encoded))

    def decode_stream(
        self,
        indexes: ArrayLike,
        cdfs: CdfsLike,
        cdf_lengths: ArrayLike | None = None,
        offsets: ArrayLike | None = None,
    ) -> NDArray[np.int32]:
        """Decode the next ``len(indexes)`` values of the stream given to :meth:`set_stream`."""
        table = as_cdf_table(cdfs, cdf_lengths, offsets)
        return self._stream().get_with_indexes(to_int32(indexes, "indexes"), table)

    def decode_mixture_stream(
        self, weights: ArrayLike, means: ArrayLike, scales: ArrayLike
    ) -> NDArray[np.int32]:
        """Decode the next values, each against its own Gaussian mixture ((n, K) parameters)."""
        w, m, s = (_float(a, n, np.float64, 2) for a, n in _mix(weights, means, scales))
        return self._stream().get_mixture(w, m, s)

    def finish(self) -> None:
        """Raise :class:`BitstreamError` unless the stream was consumed exactly."""
        self._stream().finish()

    def _stream(self) -> _core.RansDecoder:
        if self._dec is None:
            raise NotReadyError("call set_stream(encoded) before decode_stream()")
        return self._dec


def _bytes(encoded: Any) -> bytes:
    if isinstance(encoded, (bytes, bytearray, memoryview)):
        return bytes(encoded)
    raise ParameterTypeError(f"encoded must be bytes, got {type(encoded).__name__}")


def _mix(weights: ArrayLike, means: ArrayLike, scales: ArrayLike) -> list[tuple[ArrayLike, str]]:
    return [(weights, "weights"), (means, "means"), (scales, "scales")]


def encode_mixture(
    symbols: ArrayLike, weights: ArrayLike, means: ArrayLike, scales: ArrayLike
) -> bytes:
    """Code ``symbols[i]`` against the Gaussian mixture of row ``i`` of the (n, K) parameters.

    Each element's CDF is built in Rust while coding (see ``tinify_core::cdf::mixture``): scales
    are clamped to [0.11, 256] and weights normalised; values far from every component escape.
    """
    w, m, s = (_float(a, n, np.float64, 2) for a, n in _mix(weights, means, scales))
    return _core.encode_mixture(to_int32(symbols, "symbols"), w, m, s)


def decode_mixture(
    encoded: bytes, weights: ArrayLike, means: ArrayLike, scales: ArrayLike
) -> NDArray[np.int32]:
    """Decode a stream written by :func:`encode_mixture` with the same parameters."""
    w, m, s = (_float(a, n, np.float64, 2) for a, n in _mix(weights, means, scales))
    return _core.decode_mixture(_bytes(encoded), w, m, s)
