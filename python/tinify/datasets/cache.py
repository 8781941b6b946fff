# SPDX-License-Identifier: Apache-2.0
"""A dataset whose items are computed once and kept in memory-mapped files (CompressAI's
``CacheDataset``).

A subclass says what its items are and how to load one; the base class writes every item's
fields into one raw array file per field under ``cache_root`` the first time, then serves
items from those files::

    class Squares(CacheDataset):
        def __init__(self, root, n):
            super().__init__(cache_root=root)
            self.n = n
            self._ensure_cache()

        def _get_items(self):
            return list(range(self.n))

        def _load_item(self, item):
            return {"x": np.array([item]), "y": np.array([item * item])}

``cache_root/info.json`` records each field's dtype and shape ``(N, *item shape)``;
``cache_root/<field>.npy`` holds its raw bytes (no ``.npy`` header, as CompressAI writes them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from torch.utils.data import Dataset

from tinify.exceptions import DatasetError
from tinify.io.image import progress_bar

__all__ = ["CacheDataset"]

PathLike = Union[str, Path]
Item = dict[str, Any]


class CacheDataset(Dataset):
    """Base class: items are dicts of equally shaped arrays, cached under ``cache_root``.

    Subclasses implement :meth:`_get_items` and :meth:`_load_item` and call
    :meth:`_ensure_cache` (usually at the end of their ``__init__``).

    Args:
        cache_root: folder of the cache files (created when the cache is generated).
        pre_transform: applied to each loaded item before it is cached.
        transform: applied to each item (a dict of array copies) when it is read.
    """

    def __init__(
        self,
        cache_root: PathLike | None = None,
        pre_transform: Callable[[Item], Item] | None = None,
        transform: Callable[[Item], Any] | None = None,
    ) -> None:
        if cache_root is None:
            raise DatasetError("CacheDataset needs a cache_root folder")
        self.cache_root = Path(cache_root)
        self.pre_transform = pre_transform
        self.transform = transform
        self._store: dict[str, np.memmap] = {}

    def __len__(self) -> int:
        if not self._store:
            return 0
        return int(next(iter(self._store.values())).shape[0])

    def __getitem__(self, index: int) -> Any:
        data = {k: np.array(v[index]) for k, v in self._store.items()}
        return self.transform(data) if self.transform is not None else data

    # -- for subclasses ----------------------------------------------------------------------

    def _get_items(self) -> Sequence[Any]:
        """The items to load (anything :meth:`_load_item` understands), in dataset order."""
        raise NotImplementedError(f"{type(self).__name__} must implement _get_items")

    def _load_item(self, item: Any) -> Item:
        """One item as a dict of arrays (numpy arrays, or CPU tensors)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _load_item")

    def _ensure_cache(self) -> None:
        """Open the cache, generating it first when ``cache_root/info.json`` is missing."""
        if not (self.cache_root / "info.json").is_file():
            self._generate_cache()
        self._load_cache(mode="r")

    # -- the cache files ---------------------------------------------------------------------

    def _load_cache(self, mode: Literal["r", "r+", "w+"]) -> None:
        info_path = self.cache_root / "info.json"
        try:
            info = json.loads(info_path.read_text())
            fields = {
                key: (np.dtype(field["dtype"]), tuple(int(n) for n in field["shape"]))
                for key, field in info.items()
            }
        except (OSError, ValueError, TypeError, KeyError) as err:
            if isinstance(err, FileNotFoundError):
                raise
            raise DatasetError(
                f"{info_path} is not a valid cache description ({err}); delete {self.cache_root} "
                "to regenerate the cache"
            ) from None
        store = {}
        for key, (dtype, shape) in fields.items():
            path = self.cache_root / f"{key}.npy"
            expected = int(np.prod(shape)) * dtype.itemsize
            if mode == "r" and (not path.is_file() or path.stat().st_size != expected):
                raise DatasetError(
                    f"{path} does not hold the {expected} bytes {info_path} describes; delete "
                    f"{self.cache_root} to regenerate the cache"
                )
            store[key] = np.memmap(path, mode=mode, dtype=dtype, shape=shape)
        self._store = store

    def _generate_cache(self, verbose: bool = True) -> None:
        items = self._get_items()
        if len(items) == 0:
            raise DatasetError(f"{type(self).__name__}: no items to cache in {self.cache_root}")
        if verbose:
            print(f"Generating cache at {self.cache_root}...", file=sys.stderr)
        try:
            for i, item in enumerate(progress_bar(items, len(items), "cache", verbose)):
                data = self._load_item(item)
                if self.pre_transform is not None:
                    data = self.pre_transform(data)
                if not self._store:
                    self._write_cache_info(len(items), data)
                    self._load_cache(mode="w+")
                for key, value in data.items():
                    self._store[key][i] = np.asarray(value)
            for array in self._store.values():
                array.flush()
        except BaseException:
            # info.json marks a complete cache: without it the next run generates it again.
            (self.cache_root / "info.json").unlink(missing_ok=True)
            self._store = {}
            raise

    def _write_cache_info(self, num_samples: int, data: Item) -> None:
        info = {
            key: {
                "dtype": str(value.dtype).removeprefix("torch."),
                "shape": [num_samples, *value.shape],
            }
            for key, value in data.items()
        }
        self.cache_root.mkdir(parents=True, exist_ok=True)
        (self.cache_root / "info.json").write_text(json.dumps(info, indent=2))
