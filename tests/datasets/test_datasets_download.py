"""download_url and hash_file against a local HTTP server on 127.0.0.1 (no other network)."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tinify.datasets.utils import DownloadError, download_url, hash_file
from tinify.exceptions import TinifyError

PAYLOAD = bytes(range(256)) * 300  # 76800 bytes: several chunks


@pytest.fixture
def served(http_server: Any) -> Any:
    (http_server.root / "data").mkdir()
    (http_server.root / "data" / "patches v1.bin").write_bytes(PAYLOAD)
    return http_server


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_hash_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert hash_file(path) == hashlib.sha256(PAYLOAD).hexdigest()
    assert hash_file(path, "md5", bufsize=1000) == hashlib.md5(PAYLOAD).hexdigest()
    with pytest.raises(TinifyError, match="unknown hash method"):
        hash_file(path, "nope")


def test_download_to_folder_and_file(served: Any, tmp_path: Path) -> None:
    url = f"{served.url}/data/patches%20v1.bin"
    out = tmp_path / "out"
    out.mkdir()
    path = download_url(url, out, chunk_size=4096, progress=False)
    assert path == out / "patches v1.bin" and path.read_bytes() == PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    explicit = download_url(url, tmp_path / "new" / "p.bin", sha256=digest, progress=False)
    assert explicit.read_bytes() == PAYLOAD
    assert served.requests == ["GET /data/patches%20v1.bin"] * 2
    # Already there: a known hash needs no request at all; a size match only a HEAD request.
    assert download_url(url, explicit, sha256=digest[:8], progress=False) == explicit
    assert download_url(url, out, progress=False) == path
    assert served.requests[2:] == ["HEAD /data/patches%20v1.bin"]
    download_url(url, out, overwrite=True, progress=False)
    assert served.requests[-1].startswith("GET") and _leftovers(out) == ["patches v1.bin"]
    path.write_bytes(b"stale")  # a different size: downloaded again
    assert download_url(url, out, progress=False).read_bytes() == PAYLOAD


def test_progress_bar(served: Any, tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("tqdm")
    download_url(f"{served.url}/data/patches%20v1.bin", tmp_path / "p")
    assert "B" in capsys.readouterr().err


def test_download_errors_leave_nothing(served: Any, tmp_path: Path) -> None:
    url = f"{served.url}/data/patches%20v1.bin"
    out = tmp_path / "out"  # (tmp_path also holds the served folder)
    out.mkdir()
    target = out / "p.bin"
    with pytest.raises(RuntimeError, match="expected a hash starting with 0000") as info:
        download_url(url, target, sha256="0000", progress=False)
    assert isinstance(info.value, TinifyError) and isinstance(info.value, DownloadError)
    with pytest.raises(DownloadError, match="more than the limit of 1000"):
        download_url(url, target, max_bytes=1000, progress=False)
    with pytest.raises(DownloadError, match="404"):
        download_url(f"{served.url}/data/missing.bin", target, progress=False)
    with pytest.raises(DownloadError, match="cannot download http://127.0.0.1:9/"):
        download_url("http://127.0.0.1:9/x.bin", target, progress=False)  # refused
    with pytest.raises(DownloadError, match="file name"):
        download_url(f"{served.url}/data/", out, progress=False)
    assert _leftovers(out) == []
    target.write_bytes(b"old")
    with pytest.raises(DownloadError):
        download_url(url, target, sha256="0000", overwrite=True, progress=False)
    assert target.read_bytes() == b"old"  # a failed download keeps what was there


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes]]]:
    """A one-shot HTTP/1.0 server on 127.0.0.1 answering each request with the next raw
    response of the list (to cut a body short, or stream without a length)."""
    responses: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                if responses:
                    conn.sendall(responses.pop(0))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/f.bin", responses
    finally:
        listener.close()
        thread.join()


def test_cut_and_endless_streams(raw_server: Any, tmp_path: Path) -> None:
    url, responses = raw_server
    responses.append(b"HTTP/1.0 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 1200)
    with pytest.raises(DownloadError, match="connection"):
        download_url(url, tmp_path / "a", progress=False)
    responses.append(b"HTTP/1.0 200 OK\r\n\r\n" + b"y" * 5000)  # no length announced
    with pytest.raises(DownloadError, match="more than the limit of 4096 bytes"):
        download_url(url, tmp_path / "b", max_bytes=4096, chunk_size=1024, progress=False)
    responses.append(b"HTTP/1.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n")
    with pytest.raises(DownloadError, match="announces 99999999999 bytes"):
        download_url(url, tmp_path / "c", max_bytes=1 << 30, progress=False)
    assert _leftovers(tmp_path) == []
    responses.append(b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 3000)
    assert download_url(url, tmp_path / "d", progress=False).read_bytes() == b"z" * 3000


def test_matches_compressai(cai_datasets: ModuleType, served: Any, tmp_path: Path) -> None:
    utils = cai_datasets.utils
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert hash_file(path) == utils.hash_file(path)
    url = f"{served.url}/data/patches%20v1.bin"
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    ours = download_url(url, tmp_path / "ours", progress=False)
    theirs = utils.download_url(url, tmp_path / "theirs")
    assert ours.name == Path(theirs).name and ours.read_bytes() == Path(theirs).read_bytes()
