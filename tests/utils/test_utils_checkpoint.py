"""tinify.utils.checkpoint: the one reader and writer of checkpoint files."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import pytest
import torch

from tinify.exceptions import InputError
from tinify.utils.checkpoint import (
    STATE_DICT_KEYS,
    read_checkpoint,
    read_state_dict,
    save_checkpoint,
    save_hashed_state_dict,
)

STATE = {"a.weight": torch.arange(6.0).reshape(2, 3), "b": torch.tensor([7], dtype=torch.int32)}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_bare_state_dict(tmp_path: Path) -> None:
    path = save_checkpoint(STATE, tmp_path / "sub" / "bare.pt")  # creates the folder
    got = read_state_dict(path)
    assert _same(got.state, STATE) and got.config == {} and not got.wrapped
    assert _same(read_checkpoint(path), STATE)


@pytest.mark.parametrize("key", STATE_DICT_KEYS)
def test_wrapped_layouts(tmp_path: Path, key: str) -> None:
    config = {"model": "bmshj2018-hyperprior", "quality": 2}
    path = save_checkpoint({key: STATE, "config": config, "epoch": 3}, tmp_path / "w.pth.tar")
    got = read_state_dict(path)
    assert _same(got.state, STATE) and got.config == config and got.wrapped


def test_file_objects_are_read() -> None:
    buffer = io.BytesIO()
    torch.save({"state_dict": STATE}, buffer)
    buffer.seek(0)
    assert set(read_checkpoint(buffer)) == {"state_dict"}


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("unpickled",))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such checkpoint file"),
        (b"\x00garbage bytes", "not a readable PyTorch checkpoint"),
        ([1, 2], "holds a list, not a state dict"),
        ({"x": 1}, "not a model state dict"),
        ({}, "not a model state dict"),
        (_Payload(), "not a readable PyTorch checkpoint"),  # weights_only refuses objects
    ],
)
def test_bad_files(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "bad.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path, pickle_module=pickle)
    with pytest.raises(InputError, match=message) as info:
        read_state_dict(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_hashed_state_dict_name_verifies_the_bytes(tmp_path: Path) -> None:
    grad = {k: v.float().requires_grad_(True) for k, v in STATE.items()}
    path = save_hashed_state_dict(grad, tmp_path, "model-q1")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.name == f"model-q1-{digest[:8]}.pth.tar"
    assert _same(read_state_dict(path).state, {k: v.detach() for k, v in grad.items()})
    assert save_hashed_state_dict(STATE, tmp_path, "m", ".pt").suffix == ".pt"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
