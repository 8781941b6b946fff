# SPDX-License-Identifier: Apache-2.0
"""Fetching, caching and verifying weight files.

Where a file named ``NAME-<8 hex>.pth.tar`` is looked for, in order:

1. ``$TINIFY_WEIGHTS_DIR/NAME...`` (a folder of pre-downloaded files; never written to);
2. the URL itself when it is a ``file://`` URL or a local path (used in place);
3. the cache, ``$TINIFY_CACHE`` or else ``torch.hub.get_dir()/checkpoints`` (the folder
   CompressAI and ``torch.hub`` use, so their downloads are reused);
4. a download from the ``http(s)://`` URL into the cache, unless ``TINIFY_OFFLINE=1``.

Every file found or downloaded must match the 8-hex SHA-256 prefix in its name. Downloads go to
a temporary file in the cache folder and are moved into place with ``os.replace`` only once
verified, so an interrupted or corrupt download never leaves a broken cache entry. Files are
loaded with ``torch.load(..., weights_only=True)`` (:mod:`tinify.utils.checkpoint`).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import torch

from tinify.exceptions import InputError, WeightsError
from tinify.utils.checkpoint import read_state_dict
from tinify.utils.files import DownloadError, download, sha256_file
from tinify.zoo.pretrained import HASH_IN_NAME, PretrainedCfg

__all__ = [
    "ENV_CACHE",
    "ENV_OFFLINE",
    "ENV_WEIGHTS_DIR",
    "WeightsError",
    "cache_dir",
    "fetch",
    "load_state_dict_from_url",
]

ENV_WEIGHTS_DIR = "TINIFY_WEIGHTS_DIR"
ENV_OFFLINE = "TINIFY_OFFLINE"
ENV_CACHE = "TINIFY_CACHE"

_CHUNK = 1 << 20
_TIMEOUT_S = 60


def cache_dir() -> Path:
    """The download cache: ``$TINIFY_CACHE`` or ``torch.hub.get_dir()/checkpoints``."""
    custom = os.environ.get(ENV_CACHE)
    return Path(custom) if custom else Path(torch.hub.get_dir()) / "checkpoints"


def _offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def _expected_prefix(name: str) -> str | None:
    match = HASH_IN_NAME.search(name)
    return match.group(1) if match else None


def _verified(path: Path, prefix: str | None) -> bool:
    return prefix is None or sha256_file(path).startswith(prefix)


def _local_source(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path points to; None for network URLs."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    if parsed.scheme in ("http", "https", "ftp"):
        return None
    return Path(url)


def fetch(
    url: str,
    *,
    sha256_prefix: str | None = None,
    progress: bool = True,
    check_hash: bool = True,
) -> Path:
    """Return a verified local copy of the file at ``url`` (see the module docstring).

    Args:
        url: ``http(s)://`` or ``file://`` URL, or a local path.
        sha256_prefix: expected start of the SHA-256 (default: the ``-<hex>.`` part of the
            file name, if any).
        progress: show a progress bar while downloading (needs ``tqdm``).
        check_hash: verify the hash (on by default; also re-checked on every cache hit).

    Raises:
        WeightsError: offline and not available locally, download failure, or hash mismatch.
    """
    name = Path(urllib.parse.urlparse(url).path).name or Path(url).name
    prefix = (sha256_prefix or _expected_prefix(name)) if check_hash else None

    folder = os.environ.get(ENV_WEIGHTS_DIR)
    if folder and (Path(folder) / name).is_file():
        candidate = Path(folder) / name
        _require_hash(candidate, prefix, str(candidate))
        return candidate

    local = _local_source(url)
    if local is not None:
        if not local.is_file():
            raise WeightsError(f"weights file {local} does not exist")
        _require_hash(local, prefix, url)
        return local

    target = cache_dir() / name
    if target.is_file() and _verified(target, prefix):
        return target
    if _offline():
        stale = " (the cached copy fails its hash check)" if target.is_file() else ""
        raise WeightsError(
            f"{name} is not available offline{stale}: {ENV_OFFLINE}=1 forbids downloading {url}; "
            f"put the file in ${ENV_WEIGHTS_DIR} or {target.parent}"
        )
    _download(url, target, prefix, progress)
    return target


def _require_hash(path: Path, prefix: str | None, origin: str) -> None:
    if prefix is not None:
        actual = sha256_file(path)
        if not actual.startswith(prefix):
            raise WeightsError(
                f"{origin} has SHA-256 {actual[:16]}..., expected a hash starting with {prefix}"
            )


def _download(url: str, target: Path, prefix: str | None, progress: bool) -> None:
    # Like torch.hub: say what is fetched, and how to forbid it (a .tfy file names its weights).
    print(
        f"tinify: downloading {target.name} from {url} into {target.parent} "
        f"({ENV_OFFLINE}=1 forbids downloads)",
        file=sys.stderr,
    )
    try:
        download(url, target, sha256=prefix, progress=progress, timeout=_TIMEOUT_S)
    except DownloadError as err:
        if "SHA-256" in str(err):
            raise WeightsError(str(err)) from None
        raise WeightsError(
            f"{err}; set ${ENV_WEIGHTS_DIR} to a folder holding {target.name}, or "
            f"{ENV_OFFLINE}=1 to work offline"
        ) from None


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state dict in a weights file (:func:`tinify.utils.checkpoint.read_state_dict`:
    ``weights_only=True``, on the CPU, training-checkpoint wrappers unwrapped).

    Raises:
        WeightsError: the file is unreadable or holds no state dict.
    """
    try:
        return read_state_dict(path).state
    except InputError as err:
        raise WeightsError(str(err)) from None


def load_state_dict_from_url(
    url: str, progress: bool = True, check_hash: bool = True
) -> dict[str, Any]:
    """:func:`fetch` then :func:`load_checkpoint` (the name ``torch.hub`` uses)."""
    return load_checkpoint(fetch(url, progress=progress, check_hash=check_hash))


def load_pretrained_state_dict(cfg: PretrainedCfg, progress: bool = True) -> dict[str, Any]:
    """The state dict of a pretrained configuration (keys as stored, not yet renamed)."""
    return load_checkpoint(fetch(cfg.url, sha256_prefix=cfg.sha256_prefix, progress=progress))
