# SPDX-License-Identifier: Apache-2.0
"""File helpers shared by the zoo, the weights, training, video I/O and the ``tinify`` command.

Every file tinify writes goes through :func:`atomic_path` (or :func:`atomic_folder`): it is
written under a temporary name beside its target and renamed onto it only once complete, so a
reader never sees a partial file and a failure leaves nothing behind. The result gets the
ordinary permissions of a new file (``0o666`` or ``0o777`` less the umask), not the private
``0o600`` / ``0o700`` of the temporary.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Union

__all__ = ["atomic_folder", "atomic_path", "sha256_file"]

PathLike = Union[str, "os.PathLike[str]"]

_BLOCK = 1 << 20


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    # os.umask can only be read by setting it: done once, at the first write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``, else delete it.

    The caller writes the temporary path (it exists, empty). The folder of ``path`` must exist.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_folder(path: PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success move it onto ``path`` (which must
    not exist or be an empty folder), else delete it with what was written there."""
    target = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
