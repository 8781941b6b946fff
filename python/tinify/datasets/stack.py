# SPDX-License-Identifier: Apache-2.0
"""Datasets side by side (CompressAI's ``StackDataset``, as ``torch.utils.data.StackDataset``)."""

from __future__ import annotations

from typing import Any, TypeVar, Union

from torch.utils.data import Dataset

from tinify.exceptions import ParameterError, SizeMismatchError

__all__ = ["StackDataset"]

T_co = TypeVar("T_co", covariant=True)


class StackDataset(Dataset[Union[tuple[Any, ...], dict[str, Any]]]):
    """Item ``i`` of several datasets at once: ``StackDataset(a, b)[i] == (a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``.

    Raises:
        SizeMismatchError: the datasets differ in length (a ``ValueError``, as in CompressAI).
        ParameterError: no dataset, or both positional and keyword ones.
    """

    datasets: tuple[Dataset[Any], ...] | dict[str, Dataset[Any]]

    def __init__(self, *args: Dataset[T_co], **kwargs: Dataset[T_co]) -> None:
        if args and kwargs:
            raise ParameterError(
                "StackDataset takes datasets either positionally (tuple items) or by keyword "
                "(dict items), not both"
            )
        if not args and not kwargs:
            raise ParameterError("At least one dataset should be passed")
        parts = list(args) if args else list(kwargs.values())
        lengths = [len(d) for d in parts]  # type: ignore[arg-type]
        if any(n != lengths[0] for n in lengths):
            raise SizeMismatchError(f"Size mismatch between datasets: lengths {lengths}")
        self._length = lengths[0]
        self.datasets = tuple(args) if args else dict(kwargs)

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length
