# SPDX-License-Identifier: Apache-2.0
"""Downloading and hashing dataset files (CompressAI's ``compressai.datasets.utils``).

Both are :mod:`tinify.utils.files`'s implementations (the zoo downloads weights with the same
code): ``urllib`` only, a size limit, an optional SHA-256 check, and an atomic write.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Union

from tinify.utils.files import (
    MAX_DOWNLOAD_BYTES,
    DownloadError,
    download,
    hash_file,
    remote_size,
)

__all__ = ["DownloadError", "download_url", "hash_file"]

PathLike = Union[str, "os.PathLike[str]"]


def download_url(
    url: str,
    path: PathLike,
    chunk_size: int = 65536,
    check_certificate: bool = True,
    overwrite: bool = False,
    *,
    sha256: str | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``path`` (a file, or a folder to hold the URL's last path part).

    Without ``overwrite``, an existing file is kept when it matches ``sha256`` (no network
    access) or, without ``sha256``, when its size is the one the server announces.

    Args:
        url: ``http(s)://``, ``ftp://`` or ``file://`` URL.
        path: target file, or an existing folder.
        chunk_size: bytes per read.
        check_certificate: verify the server's TLS certificate.
        overwrite: download even when the file is already there.
        sha256: expected SHA-256 in hex (whole or its first characters); checked with
            :func:`hash_file` on an existing file, and on the downloaded bytes before the file
            is written (tinify extension).
        max_bytes: size limit (tinify extension).
        progress: show a progress bar on stderr when tqdm is installed (tinify extension).

    Returns:
        The path of the file.

    Raises:
        DownloadError: network or HTTP error, too large, cut short, or a SHA-256 mismatch (a
            ``RuntimeError``, as CompressAI's "Could not download file").
    """
    target = Path(path)
    if target.is_dir():
        name = urllib.parse.unquote(urllib.parse.urlparse(url).path.rsplit("/", 1)[-1])
        if not name or name in (".", ".."):
            raise DownloadError(f"{url} does not end in a file name; give path as a file")
        target = target / Path(name).name
    if not overwrite and target.is_file():
        if sha256 is not None:
            if hash_file(target).startswith(sha256.lower()):
                return target
        elif remote_size(url, check_certificate=check_certificate) == target.stat().st_size:
            return target
    return download(
        url,
        target,
        sha256=sha256,
        max_bytes=max_bytes,
        chunk_size=chunk_size,
        check_certificate=check_certificate,
        progress=progress,
    )
