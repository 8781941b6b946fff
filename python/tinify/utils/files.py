# SPDX-License-Identifier: Apache-2.0
"""File helpers shared by the zoo, the weights, training, datasets, video I/O and ``tinify``.

Every file tinify writes goes through :func:`atomic_path` (or :func:`atomic_folder`): it is
written under a temporary name beside its target and renamed onto it only once complete, so a
reader never sees a partial file and a failure leaves nothing behind. The result gets the
ordinary permissions of a new file (``0o666`` or ``0o777`` less the umask), not the private
``0o600`` / ``0o700`` of the temporary; a file it replaces keeps its permissions.

A temporary is named ``.NAME.PID.XXXXXXXX.part`` (a folder: ``.NAME.PID.XXXXXXXX.part/``) with
the writer's process id. An exception, Ctrl-C, or (in the ``tinify`` command) SIGTERM or SIGHUP
removes it. A process killed outright (SIGKILL, power loss) cannot clean up: the next write to
the same target removes every temporary of that name whose process no longer exists
(:func:`remove_stale_parts`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.client
import os
import shutil
import ssl
import stat
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Union

from tinify.exceptions import DownloadError, TinifyError

__all__ = [
    "MAX_DOWNLOAD_BYTES",
    "DownloadError",
    "atomic_folder",
    "atomic_path",
    "download",
    "remove_stale_parts",
    "hash_file",
    "remote_size",
    "sha256_file",
]

PathLike = Union[str, "os.PathLike[str]"]

_BLOCK = 1 << 20

#: Default size limit of :func:`download` (256 GiB: above any public training set, Vimeo-90k's
#: 82 GB septuplet archive included, but it still stops an endless stream).
MAX_DOWNLOAD_BYTES = 1 << 38


def hash_file(path: PathLike, method: str = "sha256", bufsize: int = 131072) -> str:
    """Hex digest of a file's bytes with ``hashlib`` algorithm ``method``, read ``bufsize`` bytes
    at a time (CompressAI's ``compressai.datasets.utils.hash_file``).

    Raises:
        TinifyError: ``method`` is not an algorithm ``hashlib`` knows.
    """
    try:
        digest = hashlib.new(method)
    except (ValueError, TypeError):
        raise TinifyError(
            f"unknown hash method {method!r}; use one of {sorted(hashlib.algorithms_available)}"
        ) from None
    if bufsize < 1:
        raise TinifyError(f"bufsize must be positive, got {bufsize}")
    view = memoryview(bytearray(bufsize))
    with open(path, "rb", buffering=0) as f:
        for n in iter(lambda: f.readinto(view), 0):
            digest.update(view[:n])
    return digest.hexdigest()


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    return hash_file(path, "sha256", _BLOCK)


def download(
    url: str,
    path: PathLike,
    *,
    sha256: str | None = None,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    chunk_size: int = 1 << 16,
    check_certificate: bool = True,
    timeout: float = 60.0,
    progress: bool = False,
) -> Path:
    """Download ``url`` (``http(s)://``, ``ftp://`` or ``file://``) to the file ``path``.

    The bytes go to a temporary file beside ``path`` that replaces it only once complete and
    verified, so a failed download leaves ``path`` as it was.

    Args:
        url: what to fetch (with ``urllib``).
        path: the file to write; its folder is created.
        sha256: expected SHA-256 in hex (the whole digest or its first characters), or None.
        max_bytes: refuse a file announced larger, and stop a stream that grows larger.
        chunk_size: bytes per read.
        check_certificate: verify the server's TLS certificate (https).
        timeout: seconds to wait for the server on connecting and on each read.
        progress: show a ``tqdm`` progress bar on stderr (when tqdm is installed).

    Returns:
        ``path``.

    Raises:
        DownloadError: network or HTTP error, more than ``max_bytes``, fewer bytes than the
            server announced, not enough disk space, or a SHA-256 that differs from ``sha256``.
    """
    target = Path(path)
    if chunk_size < 1 or max_bytes < 0:
        raise DownloadError("chunk_size must be positive and max_bytes non-negative")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        response = urllib.request.urlopen(
            url, timeout=timeout, context=_tls_context(check_certificate)
        )
    except urllib.error.HTTPError as err:
        raise DownloadError(f"cannot download {url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or err
        raise DownloadError(f"cannot download {url}: {reason}") from None
    with response, atomic_path(target) as tmp:
        announced = int(response.headers.get("Content-Length") or 0) or None
        if announced is not None and announced > max_bytes:
            raise DownloadError(
                f"cannot download {url}: the server announces {announced} bytes, more than the "
                f"limit of {max_bytes} (raise max_bytes to allow it)"
            )
        free = shutil.disk_usage(target.parent).free
        if announced is not None and announced > free:
            raise DownloadError(
                f"cannot download {url}: {announced} bytes do not fit in the {free} bytes free "
                f"in {target.parent}"
            )
        digest = hashlib.sha256()
        received = 0
        bar = _progress_bar(announced) if progress else None
        try:
            with open(tmp, "wb") as out:
                while True:
                    try:
                        block = response.read(chunk_size)
                    except (OSError, http.client.HTTPException) as err:
                        raise DownloadError(
                            f"cannot download {url}: the connection failed after {received} "
                            f"bytes ({err})"
                        ) from None
                    if not block:
                        break
                    received += len(block)
                    if received > max_bytes:
                        raise DownloadError(
                            f"cannot download {url}: more than the limit of {max_bytes} bytes "
                            "(raise max_bytes to allow it)"
                        )
                    out.write(block)
                    digest.update(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
        if announced is not None and received != announced:
            raise DownloadError(
                f"cannot download {url}: received {received} of the {announced} bytes announced "
                "(the connection was cut); try again"
            )
        actual = digest.hexdigest()
        if sha256 is not None and not actual.startswith(sha256.lower()):
            raise DownloadError(
                f"downloaded {url} has SHA-256 {actual[:16]}..., expected a hash starting with "
                f"{sha256[:16]}; the file was discarded"
            )
    return target


def remote_size(url: str, *, check_certificate: bool = True, timeout: float = 60.0) -> int | None:
    """The size in bytes the server announces for ``url`` (a HEAD request's Content-Length);
    None when it announces none or the request fails."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(
            request, timeout=timeout, context=_tls_context(check_certificate)
        ) as response:
            length = response.headers.get("Content-Length")
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        return None
    return int(length) if length and length.isdigit() else None


def _tls_context(check_certificate: bool) -> ssl.SSLContext | None:
    if check_certificate:
        return None  # urllib's default: verify
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _progress_bar(total: int | None):  # type: ignore[no-untyped-def]
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    # os.umask can only be read by setting it: done once, at the first write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists (another user's)
        return True
    return True


def remove_stale_parts(path: PathLike) -> list[Path]:
    """Remove the temporaries (``.NAME.PID.XXXXXXXX.part``, files or folders) that a killed
    writer left beside ``path``: those whose process ``PID`` no longer exists. Returns them."""
    target = Path(path)
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".part")):
            continue
        fields = name[len(prefix) : -len(".part")].split(".")
        if len(fields) != 2 or not fields[0].isdigit() or _pid_alive(int(fields[0])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                entry.unlink()
        removed.append(entry)
    return removed


def _prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``, else delete it.

    The caller writes the temporary path (it exists, empty). The folder of ``path`` must exist.
    A regular file replaced at ``path`` keeps its permission bits.
    """
    target = Path(path)
    remove_stale_parts(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode) if target.is_file() else None
    except OSError:
        mode = None
    fd, name = tempfile.mkstemp(prefix=_prefix(target), suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _naming(err, tmp, target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _naming(err: OSError, tmp: Path, target: Path) -> OSError:
    """``err`` about the temporary (disk full, file too large, ...) as an error about
    ``target``, the file the user asked for (the temporary is gone)."""
    name = str(target)
    if err.filename is not None:
        text = os.fsdecode(err.filename)
        if not text.startswith(str(tmp)):
            return err
        name = str(target) + text[len(str(tmp)) :]
    if err.errno is None:
        return OSError(f"{name}: {err}")
    return type(err)(err.errno, err.strerror or str(err), name)


@contextlib.contextmanager
def atomic_folder(path: PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success move it onto ``path`` (which must
    not exist or be an empty folder), else delete it with what was written there."""
    target = Path(path)
    remove_stale_parts(target)
    tmp = Path(tempfile.mkdtemp(prefix=_prefix(target), suffix=".part", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        os.replace(tmp, target)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _naming(err, tmp, target) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
