"""Every public name of ``compressai.utils.*`` (tests/data/compressai_utils_names.json, copied
from the reference list) resolves under ``tinify.utils.*``; with CompressAI installed, the
functions take CompressAI's parameters (same names, same order, possibly more after them)."""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

NAMES: dict[str, list[str]] = json.loads(
    (Path(__file__).parent.parent / "data" / "compressai_utils_names.json").read_text()
)


@pytest.mark.parametrize("module", sorted(NAMES))
def test_names_resolve(module: str) -> None:
    ours = importlib.import_module(module.replace("compressai", "tinify", 1))
    missing = [name for name in NAMES[module] if not hasattr(ours, name)]
    assert not missing, f"{ours.__name__} lacks {missing}"
    assert all(callable(getattr(ours, name)) for name in NAMES[module])


def test_signatures_match_compressai(compressai: Any) -> None:
    mismatched = []
    for module, names in NAMES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = importlib.import_module(module)
        ours = importlib.import_module(module.replace("compressai", "tinify", 1))
        for name in names:
            reference = getattr(theirs, name)
            if inspect.isclass(reference):
                continue
            expected = list(inspect.signature(reference).parameters)
            got = list(inspect.signature(getattr(ours, name)).parameters)
            if got[: len(expected)] != expected:
                mismatched.append(f"{module}.{name}: {expected} vs {got}")
    assert not mismatched
