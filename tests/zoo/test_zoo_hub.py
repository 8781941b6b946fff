"""Pretrained weights: download from a local HTTP server, hash checks, cache, offline, local dir."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch

import tinify.zoo as zoo
from tinify.models import FactorizedPrior
from tinify.zoo import hub, pretrained

ARCH = "bmshj2018-factorized"
SMALL = {"N": 8, "M": 12}


@pytest.fixture
def server(http_server: Any) -> tuple[str, Path]:
    """The shared local HTTP server (tests/conftest.py): (base URL, folder)."""
    return f"{http_server.url}/weights", http_server.root


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A private cache and no weights-related variables from the outside."""
    for var in ("TINIFY_WEIGHTS_DIR", "TINIFY_OFFLINE", "TINIFY_WEIGHTS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TINIFY_CACHE", str(tmp_path / "cache"))
    return monkeypatch


def _checkpoint(folder: Path, legacy: bool = True, wrong_hash: bool = False) -> tuple[Path, Any]:
    """Save a small, updated FactorizedPrior as ``bmshj2018-factorized-prior-1-<hash>.pth.tar``.

    With ``legacy`` the bottleneck keys use the 2020 names (``_matrices.0``), as the hosted
    files do.
    """
    torch.manual_seed(0)
    model = FactorizedPrior(**SMALL)
    model.update()
    state = model.state_dict()
    if legacy:
        state = type(state)(
            (k.replace("entropy_bottleneck.matrices.", "entropy_bottleneck._matrices."), v)
            for k, v in state.items()
        )
    tmp = folder / "tmp.pth"
    torch.save(state, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    prefix = ("0" if digest[0] != "0" else "1") + digest[1:8] if wrong_hash else digest[:8]
    path = folder / f"bmshj2018-factorized-prior-1-{prefix}.pth.tar"
    tmp.rename(path)
    return path, model


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``table(path)``: make quality 1 of bmshj2018-factorized (mse) point at ``path.name``."""

    def point_at(path: Path) -> None:
        files = dict(pretrained._FILES[ARCH])
        files["mse"] = (path.name,) + files["mse"][1:]
        monkeypatch.setitem(pretrained._FILES, ARCH, files)
        monkeypatch.setitem(pretrained._ARCH_KWARGS, ARCH, (SMALL,) * 8)

    return point_at


def _assert_same(model: Any, reference: Any) -> None:
    assert not model.training
    for (k, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k


def test_download_verify_and_cache(
    server: Any, http_server: Any, env: Any, table: Any, tmp_path: Path
) -> None:
    base, root = server
    path, reference = _checkpoint(root)
    table(path)
    env.setenv("TINIFY_WEIGHTS_URL", base.replace("/weights", ""))
    model = zoo.bmshj2018_factorized(1, pretrained=True, progress=False)
    _assert_same(model, reference)
    cached = tmp_path / "cache" / path.name
    assert cached.read_bytes() == path.read_bytes()
    assert [p.name for p in cached.parent.iterdir()] == [path.name]  # no temporary left
    assert len(http_server.requests) == 1

    # A cache hit needs no network, even offline.
    env.setenv("TINIFY_OFFLINE", "1")
    _assert_same(zoo.bmshj2018_factorized(1, pretrained=True), reference)
    assert len(http_server.requests) == 1


def test_progress_bar(server: Any, env: Any, table: Any, capsys: Any) -> None:
    pytest.importorskip("tqdm")
    base, root = server
    path, _ = _checkpoint(root)
    table(path)
    env.setenv("TINIFY_WEIGHTS_URL", base.replace("/weights", ""))
    zoo.bmshj2018_factorized(1, pretrained=True, progress=True)
    assert "B" in capsys.readouterr().err


def test_wrong_hash_is_rejected(server: Any, env: Any, table: Any, tmp_path: Path) -> None:
    base, root = server
    path, _ = _checkpoint(root, wrong_hash=True)
    table(path)
    env.setenv("TINIFY_WEIGHTS_URL", base.replace("/weights", ""))
    with pytest.raises(hub.WeightsError, match="expected a hash starting with") as info:
        zoo.bmshj2018_factorized(1, pretrained=True, progress=False)
    assert "\n" not in str(info.value)
    cache = tmp_path / "cache"
    assert not cache.exists() or not list(cache.iterdir())  # nothing left behind


def test_corrupt_cache_is_replaced(server: Any, env: Any, table: Any, tmp_path: Path) -> None:
    base, root = server
    path, reference = _checkpoint(root)
    table(path)
    cached = tmp_path / "cache" / path.name
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"truncated")
    env.setenv("TINIFY_OFFLINE", "1")
    with pytest.raises(hub.WeightsError, match="fails its hash check"):
        zoo.bmshj2018_factorized(1, pretrained=True)
    env.delenv("TINIFY_OFFLINE")
    env.setenv("TINIFY_WEIGHTS_URL", base.replace("/weights", ""))
    _assert_same(zoo.bmshj2018_factorized(1, pretrained=True, progress=False), reference)
    assert cached.read_bytes() == path.read_bytes()


def test_offline_error_is_one_line(env: Any, table: Any, tmp_path: Path) -> None:
    path, _ = _checkpoint(tmp_path)
    table(path)
    env.setenv("TINIFY_OFFLINE", "1")
    with pytest.raises(hub.WeightsError) as info:
        zoo.bmshj2018_factorized(1, pretrained=True)
    message = str(info.value)
    assert "\n" not in message
    assert f"{pretrained.ROOT_URL}/{path.name}" in message
    assert "TINIFY_OFFLINE" in message and "TINIFY_WEIGHTS_DIR" in message


def test_weights_dir_is_searched_first(env: Any, table: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    path, reference = _checkpoint(folder)
    table(path)
    env.setenv("TINIFY_WEIGHTS_DIR", str(folder))
    env.setenv("TINIFY_OFFLINE", "1")
    _assert_same(zoo.bmshj2018_factorized(1, pretrained=True), reference)
    assert not (tmp_path / "cache").exists()  # used in place, not copied

    path.write_bytes(path.read_bytes() + b"x")  # now corrupt: a clear error
    with pytest.raises(hub.WeightsError, match="expected a hash"):
        zoo.bmshj2018_factorized(1, pretrained=True)


def test_file_urls_and_paths(env: Any, table: Any, tmp_path: Path) -> None:
    folder = tmp_path / "mirror"
    folder.mkdir()
    path, reference = _checkpoint(folder)
    table(path)
    env.setenv("TINIFY_WEIGHTS_URL", folder.as_uri())
    _assert_same(zoo.bmshj2018_factorized(1, pretrained=True), reference)
    env.setenv("TINIFY_WEIGHTS_URL", str(folder))
    _assert_same(zoo.bmshj2018_factorized(1, pretrained=True), reference)
    state = hub.load_state_dict_from_url(path.as_uri())
    assert "entropy_bottleneck._matrices.0" in state  # as stored; renaming happens on load
    assert hub.fetch(str(path)) == path
    with pytest.raises(hub.WeightsError, match="does not exist"):
        hub.fetch(str(folder / "missing-01234567.pth.tar"))


def test_network_failure_is_reported(env: Any, table: Any, tmp_path: Path) -> None:
    path, _ = _checkpoint(tmp_path)
    table(path)
    env.setenv("TINIFY_WEIGHTS_URL", "http://127.0.0.1:9/none")  # discard port: refused
    with pytest.raises(hub.WeightsError, match="cannot download") as info:
        zoo.bmshj2018_factorized(1, pretrained=True, progress=False)
    assert "TINIFY_WEIGHTS_DIR" in str(info.value) and "\n" not in str(info.value)


def test_default_cache_is_torch_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINIFY_CACHE", raising=False)
    assert hub.cache_dir() == Path(torch.hub.get_dir()) / "checkpoints"


def test_wrapped_checkpoints_are_unwrapped(tmp_path: Path) -> None:
    state = {"a": torch.ones(2)}
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "w.pth")
    assert hub.load_checkpoint(tmp_path / "w.pth").keys() == {"a"}
    torch.save([1, 2], tmp_path / "bad.pth")
    with pytest.raises(hub.WeightsError, match="state dict"):
        hub.load_checkpoint(tmp_path / "bad.pth")


def test_missing_file_on_server(server: Any, env: Any, table: Any, tmp_path: Path) -> None:
    base, _ = server
    path, _ = _checkpoint(tmp_path)  # not served
    table(path)
    env.setenv("TINIFY_WEIGHTS_URL", base)
    with pytest.raises(hub.WeightsError, match="(?i)cannot download .*not found"):
        zoo.bmshj2018_factorized(1, pretrained=True, progress=False)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
