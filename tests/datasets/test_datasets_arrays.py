"""NdArrayDataset, StackDataset and CacheDataset (against CompressAI where installed)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from tinify.datasets import CacheDataset, NdArrayDataset, StackDataset
from tinify.exceptions import TinifyError


def test_ndarray_dataset() -> None:
    x, y = np.arange(12).reshape(4, 3), np.arange(4) * 10
    data = NdArrayDataset(x, y)
    assert len(data) == 4
    item = data[2]
    assert isinstance(item, tuple) and np.array_equal(item[0], [6, 7, 8]) and item[1] == 20
    single = NdArrayDataset(x, single=True)
    assert np.array_equal(single[1], [3, 4, 5])
    with pytest.raises(AssertionError, match="Size mismatch") as info:
        NdArrayDataset(x, y[:3])
    assert isinstance(info.value, TinifyError)
    with pytest.raises(ValueError, match="exactly one"):
        NdArrayDataset(x, y, single=True)


def test_stack_dataset() -> None:
    a, b = NdArrayDataset(np.arange(3), single=True), [10, 11, 12]
    assert StackDataset(a, b)[1] == (1, 11) and len(StackDataset(a, b)) == 3
    assert StackDataset(x=a, y=b)[2] == {"x": 2, "y": 12}
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(a, b[:2])
    with pytest.raises(ValueError, match="not both"):
        StackDataset(a, y=b)
    with pytest.raises(ValueError, match="At least one"):
        StackDataset()


def _squares(base: type) -> type:
    class Squares(base):  # type: ignore[valid-type, misc]
        loads: list[int] = []

        def __init__(self, root: Path, n: int, **kwargs: Any) -> None:
            super().__init__(cache_root=root, **kwargs)
            self.n = n
            self._ensure_cache()

        def _get_items(self) -> Sequence[int]:
            return list(range(self.n))

        def _load_item(self, item: int) -> dict[str, Any]:
            type(self).loads.append(item)
            return {
                "x": np.full((2, 3), item, dtype=np.float32),
                "y": torch.tensor([item * item], dtype=torch.int64),
            }

    return Squares


def test_cache_dataset(tmp_path: Path) -> None:
    Squares = _squares(CacheDataset)
    data = Squares(tmp_path / "cache", 5, pre_transform=lambda d: {**d, "x": d["x"] + 0.5})
    assert Squares.loads == [0, 1, 2, 3, 4] and len(data) == 5
    item = data[3]
    assert np.array_equal(item["x"], np.full((2, 3), 3.5)) and item["y"].tolist() == [9]
    item["x"][:] = -1  # a copy: the cache is untouched
    assert data[3]["x"][0, 0] == 3.5
    info = json.loads((tmp_path / "cache" / "info.json").read_text())
    assert info == {
        "x": {"dtype": "float32", "shape": [5, 2, 3]},
        "y": {"dtype": "int64", "shape": [5, 1]},
    }
    again = Squares(tmp_path / "cache", 5, transform=lambda d: d["y"])
    assert Squares.loads == [0, 1, 2, 3, 4]  # read from the cache, not loaded again
    assert again[4].tolist() == [16]
    (tmp_path / "cache" / "y.npy").write_bytes(b"\0" * 8)
    with pytest.raises(RuntimeError, match="regenerate") as info_err:
        Squares(tmp_path / "cache", 5)
    assert isinstance(info_err.value, TinifyError)


def test_failed_generation_leaves_no_cache(tmp_path: Path) -> None:
    Squares = _squares(CacheDataset)

    def fail_on_two(d: dict[str, Any]) -> dict[str, Any]:
        if d["x"][0, 0] == 2:
            raise OSError("disk full")
        return d

    with pytest.raises(OSError, match="disk full"):
        Squares(tmp_path / "cache", 4, pre_transform=fail_on_two)
    assert not (tmp_path / "cache" / "info.json").exists()
    assert len(Squares(tmp_path / "cache", 4)) == 4  # generated afresh


def test_cache_matches_compressai(cai_datasets: ModuleType, tmp_path: Path) -> None:
    ours = _squares(CacheDataset)(tmp_path / "ours", 4)
    theirs = _squares(cai_datasets.cache.CacheDataset)(tmp_path / "theirs", 4)
    assert (tmp_path / "ours" / "info.json").read_text() == (
        tmp_path / "theirs" / "info.json"
    ).read_text()
    for name in ("x.npy", "y.npy"):
        assert (tmp_path / "ours" / name).read_bytes() == (tmp_path / "theirs" / name).read_bytes()
    reader = _squares(CacheDataset)(tmp_path / "theirs", 4)  # CompressAI's cache, read by tinify
    for i in range(4):
        for key in ("x", "y"):
            assert np.array_equal(ours[i][key], theirs[i][key])
            assert np.array_equal(reader[i][key], theirs[i][key])
    arrays = (np.arange(6).reshape(3, 2), np.arange(3))
    assert all(
        np.array_equal(a, b)
        for i in range(3)
        for a, b in zip(NdArrayDataset(*arrays)[i], cai_datasets.ndarray.NdArrayDataset(*arrays)[i])
    )
    stacked = cai_datasets.stack.StackDataset(a=arrays[1], b=arrays[1])
    assert [StackDataset(a=arrays[1], b=arrays[1])[i] for i in range(3)] == [
        stacked[i] for i in range(3)
    ]
