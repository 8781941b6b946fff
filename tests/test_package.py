"""Package metadata: one version number (Cargo's workspace version) seen from every place."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

import tinify
import tinify._core
import tinify.version

ROOT = Path(__file__).resolve().parent.parent


def _cargo_workspace_version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    section = text.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version\s*=\s*"([^"]+)"', section, re.MULTILINE)
    assert match is not None, "no version in [workspace.package]"
    return match.group(1)


def test_one_version_everywhere() -> None:
    version = _cargo_workspace_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?(a|b|rc|dev)\d+)?", version)
    assert tinify._core.__version__ == version
    assert tinify.__version__ == version
    assert tinify.version.__version__ == version
    assert tinify.version.__version__ is tinify._core.__version__


def test_installed_metadata() -> None:
    """The installed distribution (wheel or editable) carries the same version and the licence."""
    try:
        meta = importlib.metadata.metadata("tinify-codec")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tinify-codec is not installed (source tree on PYTHONPATH)")
    dist = importlib.metadata.distribution("tinify-codec")
    installed = Path(str(dist.locate_file("tinify"))).resolve()
    if installed != Path(tinify.__file__).resolve().parent:
        pytest.skip(f"the imported tinify is not the installed one ({installed})")
    assert meta["Version"] == tinify.__version__
    assert "Apache-2.0" in (meta.get("License-Expression") or meta.get("License") or "")
