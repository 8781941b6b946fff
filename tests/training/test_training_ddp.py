"""Two-process DistributedDataParallel training on CPU (gloo), launched with torchrun."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tinify.training import load_checkpoint

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not available"
)


def test_two_process_gloo_training_and_resume(
    image_dir: Path, val_dir: Path, tmp_path: Path, torchrun: Callable[..., Any]
) -> None:
    common = ["--model", "bmshj2018-hyperprior", "--N", "8", "--M", "8",
              "--dataset", str(image_dir), "--batch-size", "2", "--patch-size", "64",
              "--log-every", "1", "--no-progress", "--device", "cpu"]  # fmt: skip
    out = tmp_path / "run"
    first = torchrun(
        "tinify.training.cli",
        [*common, "--steps", "6", "--stop-after", "3", "--checkpoint-dir", str(out)],
        tmp_path,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    state = load_checkpoint(out / "last.pt")
    assert state["step"] == 3 and state["world_size"] == 2
    # One random state per rank, and they differ (rank-specific quantization noise).
    assert len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])

    second = torchrun(
        "tinify.training.cli",
        [*common, "--steps", "6", "--val", str(val_dir), "--checkpoint-dir", str(out),
         "--resume", str(out / "last.pt")],
        tmp_path,
    )  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    # Only rank 0 printed the summary and wrote the logs (one row per step, no duplicates).
    assert second.stdout.count('"train":') == 1 and '"step": 6' in second.stdout
    with open(out / "train.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert load_checkpoint(out / "last.pt")["step"] == 6
    assert len(list(out.glob("tinify-bmshj2018-hyperprior-N8-M8-mse-q3-*.pt"))) == 1
