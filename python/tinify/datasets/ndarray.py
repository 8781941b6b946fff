# SPDX-License-Identifier: Apache-2.0
"""Numpy arrays as a dataset (CompressAI's ``NdArrayDataset``)."""

from __future__ import annotations

from typing import Any, Union

import numpy as np
from torch.utils.data import Dataset

from tinify.exceptions import ParameterError, SizeMismatchError

__all__ = ["NdArrayDataset"]


class NdArrayDataset(Dataset[Union[np.ndarray, tuple[np.ndarray, ...]]]):
    """Item ``i`` is ``tuple(array[i] for array in arrays)``, or ``arrays[0][i]`` with
    ``single=True`` (like ``torch.utils.data.TensorDataset``, for numpy arrays).

    Args:
        *arrays: arrays of the same length (first dimension).
        single: return the one array's row instead of a 1-tuple.

    Raises:
        SizeMismatchError: the lengths differ (an ``AssertionError``, as in CompressAI).
        ParameterError: no array, or ``single`` with more than one.
    """

    arrays: tuple[np.ndarray, ...]

    def __init__(self, *arrays: np.ndarray, single: bool = False) -> None:
        if not arrays:
            raise ParameterError("NdArrayDataset needs at least one array")
        if single and len(arrays) != 1:
            raise ParameterError(f"single=True needs exactly one array, got {len(arrays)}")
        lengths = [int(np.shape(a)[0]) for a in arrays]
        if any(n != lengths[0] for n in lengths):
            raise SizeMismatchError(f"Size mismatch between arrays: lengths {lengths}")
        self.arrays = arrays
        self.single = single

    def __getitem__(self, index: Any) -> Any:
        if self.single:
            return self.arrays[0][index]
        return tuple(array[index] for array in self.arrays)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])
