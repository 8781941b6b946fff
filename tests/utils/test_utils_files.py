"""Atomic writes: complete files with ordinary permissions, or nothing at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tinify.utils.files import atomic_folder, atomic_path, sha256_file


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_atomic_path_writes_with_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.exists() and not target.exists()
        tmp.write_bytes(b"abc")
    assert target.read_bytes() == b"abc"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert list(tmp_path.iterdir()) == [target]
    assert sha256_file(target).startswith("ba7816bf")  # SHA-256("abc")


def test_atomic_path_failure_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_atomic_folder(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    with atomic_folder(target) as tmp:
        (tmp / "0.png").write_bytes(b"x")
    assert (target / "0.png").read_bytes() == b"x"
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~_umask()
    with pytest.raises(RuntimeError), atomic_folder(tmp_path / "other") as tmp:
        (tmp / "0.png").write_bytes(b"x")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
