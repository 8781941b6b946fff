# SPDX-License-Identifier: Apache-2.0
"""The errors :mod:`tinify.datasets` raises.

Each is a :class:`~tinify.exceptions.TinifyError` (so a ``ValueError``) and also the built-in
type CompressAI raises in the same situation, so ``except RuntimeError`` (or ``KeyError``,
``FileNotFoundError``, ...) written for CompressAI keeps working.
"""

from __future__ import annotations

from tinify.exceptions import ParameterError
from tinify.io.image import InputError

__all__ = ["DatasetError", "DatasetNotFoundError", "SizeMismatchError", "UnknownOptionError"]


class DatasetError(InputError, RuntimeError):
    """A dataset cannot be used as given (CompressAI raises ``RuntimeError``)."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset folder, list or file is missing (CompressAI raises ``RuntimeError`` or
    ``FileNotFoundError``)."""


class UnknownOptionError(ParameterError, KeyError):
    """An unknown split, tuplet or format name (CompressAI raises ``KeyError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SizeMismatchError(ParameterError, AssertionError):
    """Arrays or datasets to combine differ in length (CompressAI asserts, or raises
    ``ValueError``)."""
