# SPDX-License-Identifier: Apache-2.0
"""File helpers shared by the zoo, the weights, training and the ``tinify`` command."""

from __future__ import annotations

import hashlib
import os
from typing import Union

__all__ = ["sha256_file"]

PathLike = Union[str, "os.PathLike[str]"]

_BLOCK = 1 << 20


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
