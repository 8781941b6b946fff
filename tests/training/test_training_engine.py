"""The training loop: loss goes down, exact resume, schedules, checkpoints and the CLI."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from tinify.training import LRSchedule, TrainConfig, Trainer, load_checkpoint, validate
from tinify.training.cli import add_parser, config_from_args, main


def tiny_config(dataset: Path, out: Path, **overrides: Any) -> TrainConfig:
    """A factorized prior with N = M = 8 on 32x32 crops, batches of 4 (3 steps per epoch)."""
    options: dict[str, Any] = {
        "model": "bmshj2018-factorized",
        "quality": 1,
        "N": 8,
        "M": 8,
        "dataset": str(dataset),
        "steps": 8,
        "batch_size": 4,
        "patch_size": 32,
        "lr": 1e-3,
        "checkpoint_dir": str(out),
        "log_every": 2,
        "val_every": 0,
        "save_every": 0,
        "progress": False,
        "export": False,
    }
    options.update(overrides)
    return TrainConfig(**options)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _states_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_states_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_states_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


def test_training_reduces_the_loss(image_dir: Path, val_dir: Path, tmp_path: Path) -> None:
    config = tiny_config(image_dir, tmp_path, steps=30, lr=3e-3, lr_schedule="constant")
    trainer = Trainer(config)
    before = validate(trainer.model, val_dir, trainer.lmbda)
    summary = trainer.run()
    after = validate(trainer.model, val_dir, trainer.lmbda)
    assert summary["step"] == 30
    assert after["loss"] < 0.8 * before["loss"]
    assert after["psnr"] > before["psnr"]
    rows = read_csv(tmp_path / "train.csv")
    assert [int(r["step"]) for r in rows] == list(range(2, 31, 2))
    assert {"lr", "loss", "bpp_loss", "mse_loss", "aux_loss", "epoch"} <= set(rows[0])


@pytest.mark.parametrize("workers", [0, 1])
def test_resume_continues_exactly(image_dir: Path, tmp_path: Path, workers: int) -> None:
    """N steps straight == K steps, stop, resume, N - K steps: bit for bit."""
    straight = tiny_config(image_dir, tmp_path / "straight", steps=8)
    Trainer(straight).run()
    # Stop mid-epoch (3 steps per epoch), in a process-like fresh state; resume with workers.
    first = tiny_config(image_dir, tmp_path / "split", steps=8, stop_after=4)
    Trainer(first).run()
    torch.manual_seed(12345)  # the resumed run must not depend on the caller's RNG state
    second = tiny_config(
        image_dir,
        tmp_path / "resumed",
        steps=8,
        resume=str(tmp_path / "split" / "last.pt"),
        workers=workers,
    )
    Trainer(second).run()
    a = load_checkpoint(tmp_path / "straight" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")
    assert a["step"] == b["step"] == 8
    for key in ("model", "optimizer", "aux_optimizer", "scheduler", "rng"):
        assert _states_equal(a[key], b[key]), key
    # The log of the resumed run starts where the first one stopped.
    rows = read_csv(tmp_path / "resumed" / "train.csv")
    assert int(rows[0]["step"]) == 6


def test_checkpoint_contents_and_export(image_dir: Path, val_dir: Path, tmp_path: Path) -> None:
    config = tiny_config(
        image_dir, tmp_path, model="bmshj2018-hyperprior", patch_size=64, steps=3,
        val=str(val_dir), val_every=2, save_every=2, export=True,
    )  # fmt: skip
    summary = Trainer(config).run()
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 3 and state["world_size"] == 1 and len(state["rng"]) == 1
    assert state["config"]["model"] == "bmshj2018-hyperprior"
    assert (tmp_path / "best.pt").exists()
    assert [int(r["step"]) for r in read_csv(tmp_path / "val.csv")] == [2, 3]
    exported = Path(summary["train"]["exported"])
    assert exported.name.startswith("tinify-bmshj2018-hyperprior-N8-M8-mse-q1-")
    from tinify.models import ScaleHyperprior
    from tinify.training import evaluate_codec
    from tinify.training.checkpoint import sha256_file

    assert exported.stem.endswith(sha256_file(exported)[:8])
    sd = torch.load(exported, weights_only=True)
    model = ScaleHyperprior.from_state_dict(sd).eval()
    result = evaluate_codec(model, val_dir)
    assert result["bpp"] > 0 and math.isfinite(result["psnr"]) and len(result["per_image"]) == 2


def test_resume_with_more_steps_replans_the_schedule(image_dir: Path, tmp_path: Path) -> None:
    Trainer(tiny_config(image_dir, tmp_path / "a", steps=4)).run()
    resumed = Trainer(
        tiny_config(image_dir, tmp_path / "b", steps=10, resume=str(tmp_path / "a" / "last.pt"))
    )
    assert resumed.step == 4 and resumed.schedule.total_steps == 10
    assert resumed.run()["step"] == 10


def test_resume_rejects_other_data(image_dir: Path, tmp_path: Path) -> None:
    Trainer(tiny_config(image_dir, tmp_path / "a", steps=2)).run()
    with pytest.raises(ValueError, match="steps per epoch"):
        Trainer(
            tiny_config(
                image_dir, tmp_path / "b", batch_size=2, resume=str(tmp_path / "a" / "last.pt")
            )
        )


def test_init_starts_from_given_weights_with_fresh_optimizers(
    image_dir: Path, tmp_path: Path
) -> None:
    Trainer(tiny_config(image_dir, tmp_path / "a", steps=3)).run()
    last = tmp_path / "a" / "last.pt"
    tuned = Trainer(tiny_config(image_dir, tmp_path / "b", steps=2, seed=5, init=str(last)))
    weights = load_checkpoint(last)["model"]
    assert tuned.step == 0 and not tuned.optimizer.state
    assert _states_equal(dict(tuned.model.state_dict()), dict(weights))
    assert tuned.run()["step"] == 2
    with pytest.raises(ValueError, match="do not fit"):
        Trainer(tiny_config(image_dir, tmp_path / "c", N=16, M=16, init=str(last)))
    with pytest.raises(ValueError, match="at most one"):
        Trainer(tiny_config(image_dir, tmp_path / "d", init=str(last), resume=str(last)))


def test_lr_schedules() -> None:
    cosine = LRSchedule("cosine", total_steps=110, warmup_steps=10, min_ratio=0.01)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(10) == pytest.approx(1.0) and cosine(60) == pytest.approx(0.505)
    assert cosine(110) == pytest.approx(0.01) and cosine(500) == pytest.approx(0.01)
    step = LRSchedule("step", total_steps=100, warmup_steps=0, min_ratio=0.0)
    assert [step(s) for s in (0, 79, 80, 94, 95)] == [1.0, 1.0, 0.1, 0.1, 0.01]
    assert LRSchedule("constant", 100, 0, 0.0)(99) == 1.0


def test_config_validation(image_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of steps and epochs"):
        tiny_config(image_dir, tmp_path, steps=None).validate()
    with pytest.raises(ValueError, match="metric"):
        tiny_config(image_dir, tmp_path, metric="psnr").validate()
    with pytest.raises(ValueError, match="less than one batch"):
        Trainer(tiny_config(image_dir, tmp_path, batch_size=13))
    with pytest.raises(ValueError, match="has no M"):
        Trainer(tiny_config(image_dir, tmp_path, model="cheng2020-anchor"))
    assert tiny_config(image_dir, tmp_path, quality=4).lambda_value == 0.0130
    assert tiny_config(image_dir, tmp_path, lmbda=0.5).lambda_value == 0.5
    ms = tiny_config(image_dir, tmp_path, metric="ms-ssim", quality=3)
    assert ms.lambda_value == 8.73


def test_epochs_set_the_number_of_steps(image_dir: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(image_dir, tmp_path, steps=None, epochs=2))
    assert trainer.steps_per_epoch == 3 and trainer.total_steps == 6


def test_ms_ssim_training_runs(image_dir: Path, tmp_path: Path) -> None:
    summary = Trainer(tiny_config(image_dir, tmp_path, metric="ms-ssim", steps=2)).run()
    assert math.isfinite(summary["train"]["ms_ssim_loss"])


def test_cli_parser_registration(image_dir: Path, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="tinify")
    subparsers = parser.add_subparsers(dest="command")
    add_parser(subparsers)
    args = parser.parse_args(
        ["train", "--model", "bmshj2018-factorized", "-q", "2", "--dataset", str(image_dir),
         "--steps", "5", "--lambda", "0.02", "--N", "8", "--M", "8", "--no-progress"]
    )  # fmt: skip
    config = config_from_args(args)
    assert callable(args.func)
    assert (config.quality, config.steps, config.lmbda, config.N, config.progress) == (
        2, 5, 0.02, 8, False,
    )  # fmt: skip
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--dataset", "x", "--steps", "1", "--epochs", "1"])


def test_cli_main_trains_and_reports_errors(
    image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--model", "bmshj2018-factorized", "--N", "8", "--M", "8", "--dataset",
            str(image_dir), "--steps", "2", "--batch-size", "4", "--patch-size", "32",
            "--checkpoint-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(args) == 0
    assert '"step": 2' in capsys.readouterr().out
    assert any(tmp_path.glob("tinify-bmshj2018-factorized-N8-M8-mse-q3-*.pt"))
    assert main([*args[:-3], "--batch-size", "64", "--checkpoint-dir", str(tmp_path)]) == 2
    assert "less than one batch" in capsys.readouterr().err
