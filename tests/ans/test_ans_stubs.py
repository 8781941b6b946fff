"""The type stubs of the Rust extension agree with what it exports (mypy's stubtest)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_stubs_match_the_extension() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "tinify._core"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
