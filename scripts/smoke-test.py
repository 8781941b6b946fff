"""Smoke test of an installed Tinify wheel that needs only numpy (no torch).

Used where the test suite cannot run because PyTorch publishes no wheel for the platform
(musllinux): it checks that the extension loads, that the version is the one in the wheel's
metadata, and that the Rust coder round-trips and writes CompressAI's bytes.

    python scripts/smoke-test.py
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import numpy as np

import tinify
import tinify._core
import tinify.version
from tinify.ans import RansDecoder, RansEncoder, gaussian_table


def main() -> int:
    location = Path(tinify.__file__).resolve().parent
    print(f"tinify {tinify.__version__} imported from {location}")
    if location.parent.name not in ("site-packages", "dist-packages"):
        print(f"error: tinify was not imported from an installed wheel: {location}")
        return 1
    version = importlib.metadata.version("tinify-codec")
    assert tinify.__version__ == tinify.version.__version__ == tinify._core.__version__ == version

    # CompressAI's bytes for two zeros coded with its smallest Gaussian row.
    row = [0, 1, 65534, 65535, 65536]
    data = RansEncoder().encode_with_indexes([0, 0], [0, 0], [row], [5], [-1])
    assert data == bytes.fromhex("0e00038000000000"), data.hex()

    rng = np.random.default_rng(0)
    scales = np.exp(np.linspace(np.log(0.11), np.log(256.0), 64)).astype(np.float32)
    table = gaussian_table(scales)
    symbols = rng.integers(-40, 40, size=20_000).astype(np.int32)
    indexes = rng.integers(0, len(table), size=symbols.size).astype(np.int32)
    data = RansEncoder().encode_with_indexes(symbols, indexes, table)
    decoded = RansDecoder().decode_with_indexes(data, indexes, table)
    assert np.array_equal(decoded, symbols)
    print(f"ok: {symbols.size} symbols in {len(data)} bytes, round trip exact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
