"""Issue 17, messages: ``tinify train --resume`` with an empty, text, hostile, truncated or
incomplete file prints one line naming the file, never a traceback."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from tinify.exceptions import TinifyError
from tinify.training import load_checkpoint
from tinify.training.cli import main


class _Hostile:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo owned > /dev/null",))


def _bad_files(folder: Path) -> dict[str, Path]:
    files = {
        "empty": b"",
        "text": b"hello, this is not a checkpoint\n",
        "hostile": pickle.dumps(_Hostile()),
    }
    out = {}
    for name, data in files.items():
        out[name] = folder / f"{name}.pt"
        out[name].write_bytes(data)
    incomplete = folder / "incomplete.pt"
    torch.save({"format": "tinify-train-1", "steps_per_epoch": 3}, incomplete)
    out["incomplete"] = incomplete
    real = folder / "list.pt"
    torch.save([1, 2, 3], real)
    out["list"] = real
    truncated = folder / "truncated.pt"
    torch.save({"model": {"w": torch.zeros(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    out["truncated"] = truncated
    return out


def test_load_checkpoint_names_the_file(tmp_path: Path) -> None:
    for name, path in _bad_files(tmp_path).items():
        if name == "incomplete":
            assert load_checkpoint(path)["steps_per_epoch"] == 3
            continue
        with pytest.raises(TinifyError, match=f"^{path}: "):
            load_checkpoint(path)
    with pytest.raises(TinifyError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("kind", ["empty", "text", "hostile", "incomplete", "truncated"])
def test_resume_with_a_bad_file_is_one_line(
    kind: str, image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_files(tmp_path)[kind]
    args = ["--model", "bmshj2018-factorized", "--N", "8", "--M", "8", "--dataset",
            str(image_dir), "--steps", "2", "--batch-size", "4", "--patch-size", "32",
            "--checkpoint-dir", str(tmp_path / "run"), "--no-progress",
            "--resume", str(path)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"tinify train: error: {path}")
    assert "Traceback" not in err[0]
