# SPDX-License-Identifier: Apache-2.0
"""release_free_memory: the C heap's free pages go back to the operating system."""

from __future__ import annotations

import os

import pytest

from tinify.utils import memory


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_release_free_memory_returns_the_holes_of_a_fragmented_heap() -> None:
    if memory._malloc_trim() is None:
        pytest.skip("the C library is not glibc: nothing to trim")
    # 64 KiB blocks come from the heap (under glibc's 128 KiB mmap threshold); freeing every
    # other one leaves 32 MiB of holes that glibc keeps for reuse.
    blocks = [bytearray(b"\x01" * (64 << 10)) for _ in range(1024)]
    del blocks[::2]
    before = _resident_bytes()
    assert memory.release_free_memory()
    assert _resident_bytes() < before - (16 << 20)
    del blocks


def test_release_free_memory_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    assert memory.release_free_memory() is False
