# SPDX-License-Identifier: Apache-2.0
"""The tinify exception family: every error tinify raises on purpose derives from
:class:`TinifyError`.

:class:`TinifyError` subclasses ``ValueError``, so existing ``except ValueError`` handlers keep
working. Where CompressAI raises another built-in type in the same situation, the tinify class
derives from that type too (:class:`WeightsError` is also a ``RuntimeError``), so code written
for CompressAI catches tinify's errors unchanged.

::

    TinifyError (ValueError)
    ├── BitstreamError          a stream is corrupt, truncated, or does not match its tables
    │   └── FormatError         a .tfy file is not one, is truncated or corrupt, or is too new
    ├── CdfError                a CDF table or pmf breaks the rules
    ├── ParameterError          arguments disagree in length, an index is out of range, or a
    │   │                       parameter is unusable
    │   └── ParameterTypeError (also TypeError)
    │                           an argument of the wrong type
    ├── InputError              an input file, folder or option cannot be used (missing,
    │   │                       unreadable, not an image or a checkpoint, too large)
    │   ├── MissingFileError (also FileNotFoundError)
    │   │                       a file or folder that must exist does not, or holds nothing
    │   └── VideoFormatError    a malformed, truncated or unsupported video file
    ├── LimitError (also MemoryError)
    │                           a declared size, frame count or shape exceeds a resource limit
    ├── NotReadyError (also RuntimeError)
    │                           an object used before it is ready: an entropy model without
    │                           its CDF tables (call update()), a decoder without a stream
    ├── WeightsError (also RuntimeError)
    │                           weights cannot be had: offline and not cached, a failed
    │                           download, a hash mismatch, none published, or a file without a
    │                           state dict
    ├── WeightsMismatchError    the decoder was given other weights than the file was coded with
    ├── DownloadError (also RuntimeError)
    │                           a download failed, was too large, truncated or mismatched
    └── ToolNotFoundError, ToolError
                                an external codec program is missing, or failed

Datasets: ``DatasetError`` (an ``InputError``, also ``RuntimeError``) and its
``DatasetNotFoundError`` (also ``FileNotFoundError``); ``UnknownOptionError`` (a
``ParameterError``, also ``KeyError``) and ``UnknownOptimizerError`` (the same, for
optimizer names); ``BlurArgumentError`` and ``BufferRegistrationError`` (``ParameterError``s,
also ``RuntimeError``); ``SizeMismatchError`` (a ``ParameterError``, also
``AssertionError``).

The first four are created in the Rust extension (``tinify._core``) and re-exported here. This
module imports neither torch nor numpy.
"""

from __future__ import annotations

from tinify._core import BitstreamError, CdfError, ParameterError, TinifyError

__all__ = [
    "BitstreamError",
    "BlurArgumentError",
    "BufferRegistrationError",
    "CdfError",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "FormatError",
    "InputError",
    "LimitError",
    "MissingFileError",
    "NotReadyError",
    "ParameterError",
    "ParameterTypeError",
    "SizeMismatchError",
    "TinifyError",
    "ToolError",
    "ToolNotFoundError",
    "UnknownOptimizerError",
    "UnknownOptionError",
    "VideoFormatError",
    "WeightsError",
    "WeightsMismatchError",
    "first_line",
]


class FormatError(BitstreamError):
    """A ``.tfy`` file is not one, is truncated or corrupt, or cannot be read by this tinify."""


class InputError(TinifyError):
    """An input file, folder or option cannot be used (missing, unreadable, not an image or a
    checkpoint, too large, or a value out of range)."""


class LimitError(TinifyError, MemoryError):
    """A declared size, frame count or tensor shape exceeds a resource limit, checked before
    anything is allocated (raise the limit to allow it; also a ``MemoryError``)."""


class ParameterTypeError(ParameterError, TypeError):
    """An argument of the wrong type (also a ``TypeError``, what Python and CompressAI raise)."""


class MissingFileError(InputError, FileNotFoundError):
    """A file or folder that must exist does not, or holds no usable file (also a
    ``FileNotFoundError``, what ``open`` raises in CompressAI's readers)."""


class NotReadyError(TinifyError, RuntimeError):
    """An object is used before it is ready: an entropy model without its CDF tables (call
    ``update()``), a Gaussian conditional without a scale table, a decoder without a stream
    (also a ``RuntimeError``)."""


class VideoFormatError(InputError):
    """A malformed, truncated or unsupported video file (``.y4m``, raw ``.yuv``, PNG frames)."""


class WeightsError(TinifyError, RuntimeError):
    """Weights cannot be had: offline and not cached, download failed, a hash mismatch, or the
    file holds no state dict.

    Also a ``RuntimeError``: what ``torch.hub`` raises (and so CompressAI's zoo) on a hash
    mismatch.
    """


class WeightsMismatchError(TinifyError):
    """The model given to the decoder is not the one the file was encoded with."""


class DatasetError(InputError, RuntimeError):
    """A dataset cannot be used as given (also a ``RuntimeError``, as CompressAI raises)."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder, list or file is missing (CompressAI raises ``RuntimeError`` or
    ``FileNotFoundError``)."""


class UnknownOptionError(ParameterError, KeyError):
    """An unknown split, tuplet or format name (also a ``KeyError``, as CompressAI raises)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownOptimizerError(ParameterError, KeyError):
    """An optimizer ``type`` that is not in :data:`tinify.registry.OPTIMIZERS` (also a
    ``KeyError``, as CompressAI raises)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


class BlurArgumentError(ParameterError, RuntimeError):
    """``gaussian_blur`` got neither a kernel nor both ``kernel_size`` and ``sigma`` (also a
    ``RuntimeError``, as in CompressAI)."""


class BufferRegistrationError(ParameterError, RuntimeError):
    """A buffer to resize is not registered, or one to register already is (also a
    ``RuntimeError``, as in CompressAI)."""


class SizeMismatchError(ParameterError, AssertionError):
    """Arrays or datasets to combine differ in length (CompressAI asserts, or raises
    ``ValueError``)."""


class DownloadError(TinifyError, RuntimeError):
    """A download failed: network or HTTP error, too large, truncated, or a hash mismatch."""


class ToolNotFoundError(TinifyError):
    """An external program a codec needs is not installed (or not where it was said to be)."""


class ToolError(TinifyError):
    """An external program failed."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty), for
    one-line error reports that quote a lower-level error."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
