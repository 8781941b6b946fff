# SPDX-License-Identifier: Apache-2.0
"""The training loop of ``tinify train``: single process or DistributedDataParallel.

One step, as in CompressAI's example trainer (after Ballé et al., ICLR 2017/2018)::

    x ──► model ──► RateDistortionLoss ──► loss ─┐
                    model.aux_loss() ──► aux ────┴─► backward(loss + aux)
    clip_grad_norm_(main, 1.0); main_opt.step(); aux_opt.step(); scheduler.step()

The auxiliary loss depends only on the quantiles (the bottleneck's density is detached in it) and
the training forward does not touch them, so one backward of the sum gives each optimizer
exactly its own gradients, and DistributedDataParallel averages both in a single reduction.

Exact resume: a checkpoint holds the model, both optimizers, the scheduler, the step, every
rank's torch/numpy/Python random states and the seed. The data order is a function of the seed
and the epoch (:class:`~tinify.datasets.ResumableSampler`) and every sample's augmentation is
seeded by its position (:class:`~tinify.datasets.SeededDataset`), so a resumed run sees the same
batches, noise and updates as an uninterrupted one: bit for bit on CPU.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from tinify.datasets import ImageFolder, ResumableSampler, SeededDataset
from tinify.datasets.transforms import Compose, RandomCrop, RandomHorizontalFlip, ToTensor
from tinify.exceptions import InputError, ParameterError, first_line
from tinify.losses import RateDistortionLoss
from tinify.models import CompressionModel
from tinify.training.checkpoint import export_model, save_checkpoint
from tinify.training.config import TrainConfig
from tinify.training.distributed import (
    DistContext,
    gather_rng_states,
    init_distributed,
    set_rng_state,
)
from tinify.training.evaluate import validate
from tinify.training.optim import configure_optimizers, split_parameters
from tinify.utils.checkpoint import read_checkpoint, read_state_dict

__all__ = ["LRSchedule", "Trainer", "build_model", "train"]


def build_model(name: str, quality: int, N: int | None = None, M: int | None = None) -> Any:
    """A freshly initialised zoo architecture at ``quality``, with optional N/M overrides.

    Raises:
        ParameterError: unknown model, or ``M`` given for an architecture without one.
    """
    from tinify.zoo import create_model, list_models
    from tinify.zoo.pretrained import architecture_kwargs

    overrides: dict[str, Any] = {k: int(v) for k, v in (("N", N), ("M", M)) if v is not None}
    if name in list_models():
        missing = set(overrides) - set(architecture_kwargs(name, quality))
        if missing:
            raise ParameterError(f"{name} has no {missing.pop()} argument")
    return create_model(name, quality, **overrides)


class LRSchedule:
    """Learning-rate factor per step: linear warm-up, then cosine, step decay or constant.

    A callable object (not a closure), so ``LambdaLR.state_dict()`` stores its fields.
    """

    def __init__(self, kind: str, total_steps: int, warmup_steps: int, min_ratio: float) -> None:
        self.kind = kind
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        span = max(self.total_steps - self.warmup_steps, 1)
        t = min((step - self.warmup_steps) / span, 1.0)
        if self.kind == "cosine":
            return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))
        if self.kind == "step":
            return 1.0 if t < 0.8 else (0.1 if t < 0.95 else 0.01)
        return 1.0


class _Logger:
    """CSV files (always) and TensorBoard (when ``torch.utils.tensorboard`` imports)."""

    def __init__(self, directory: Path, enabled: bool) -> None:
        self.directory = directory
        self.enabled = enabled
        self.tensorboard: Any = None
        self.note = ""
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(log_dir=str(directory / "tensorboard"))
        except Exception as err:  # tensorboard is optional
            self.note = f"TensorBoard logging off ({type(err).__name__}: {err}); CSV only"

    def write(self, name: str, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        path = self.directory / f"{name}.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(f"{name}/{key}", value, row["step"])

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()


class Trainer:
    """A training run of :class:`TrainConfig` (call :meth:`run`).

    Under torchrun (``WORLD_SIZE > 1``) each process trains on its share of every epoch with
    ``batch_size`` images per step; gradients are averaged by DistributedDataParallel, and only
    rank 0 validates, logs and writes files.
    """

    def __init__(self, config: TrainConfig, ctx: DistContext | None = None) -> None:
        config.validate()
        self.config = config
        self.ctx = ctx if ctx is not None else init_distributed(config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.directory = Path(config.checkpoint_dir)
        self.lmbda = config.lambda_value

        torch.manual_seed(config.seed)  # same initial weights on every rank
        self.model: CompressionModel = build_model(config.model, config.quality, config.N, config.M)
        if config.init:
            _load_initial_weights(self.model, config.init)
        self.model.to(self.ctx.device)
        self.main_params = list(split_parameters(self.model)[0].values())
        self.optimizer, self.aux_optimizer = configure_optimizers(
            self.model, config.lr, config.aux_lr
        )
        self.criterion = RateDistortionLoss(self.lmbda, config.metric)
        self._build_data()
        self.total_steps = config.steps or config.epochs * self.steps_per_epoch  # type: ignore[operator]
        min_lr = config.min_lr if config.min_lr is not None else config.lr / 100.0
        self.schedule = LRSchedule(
            config.lr_schedule, self.total_steps, config.warmup_steps, min_lr / config.lr
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self.schedule)
        self.step = 0
        self.best_val = math.inf
        self.net: nn.Module = self.model
        if self.ctx.distributed:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        torch.manual_seed(config.seed + self.ctx.rank)  # rank-specific quantization noise
        if config.resume:
            self._resume(config.resume)
        self.logger = _Logger(self.directory, self.ctx.is_main)

    # -- data ---------------------------------------------------------------------------------

    def _build_data(self) -> None:
        cfg = self.config
        transform = Compose([RandomCrop(cfg.patch_size), RandomHorizontalFlip(), ToTensor()])
        folder = ImageFolder(
            cfg.dataset, transform, split=cfg.split, recursive=cfg.split is None, cache=cfg.cache
        )
        self.sampler = ResumableSampler(
            folder, self.ctx.world_size, self.ctx.rank, shuffle=True, seed=cfg.seed
        )
        self.steps_per_epoch = self.sampler.num_samples // cfg.batch_size
        if self.steps_per_epoch < 1:
            raise InputError(
                f"{len(folder)} images give less than one batch of {cfg.batch_size} per process"
            )
        self.loader = DataLoader(
            SeededDataset(folder),
            batch_size=cfg.batch_size,
            sampler=self.sampler,
            num_workers=cfg.workers,
            drop_last=True,
            pin_memory=self.ctx.device.type == "cuda",
            # The loader draws its workers' base seed from this, never from the global RNG.
            generator=torch.Generator().manual_seed(cfg.seed),
        )

    def _batches(self) -> Iterator[Tensor]:
        """Batches from the current step on, epoch after epoch."""
        while True:
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch)
            self.sampler.set_start(offset * self.config.batch_size)
            yield from self.loader

    # -- one step -----------------------------------------------------------------------------

    def train_step(self, x: Tensor) -> dict[str, float]:
        """One optimizer step on the batch ``x`` (N, 3, P, P); returns the loss terms."""
        x = x.to(self.ctx.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        self.aux_optimizer.zero_grad(set_to_none=True)
        out = self.net(x)
        losses = self.criterion(out, x)
        aux_loss = self.model.aux_loss()
        (losses["loss"] + aux_loss).backward()
        if self.config.clip_max_norm > 0:
            nn.utils.clip_grad_norm_(self.main_params, self.config.clip_max_norm)
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.optimizer.step()
        self.aux_optimizer.step()
        self.scheduler.step()
        self.step += 1
        row = {"lr": lr, **{k: float(v.detach()) for k, v in losses.items()}}
        row["aux_loss"] = float(aux_loss.detach())
        return row

    # -- checkpoints --------------------------------------------------------------------------

    def state_dict(self, rng_states: list[dict[str, Any]]) -> dict[str, Any]:
        """Everything an exact resume needs (``rng_states``: one per rank)."""
        return {
            "format": "tinify-train-1",
            "step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.ctx.world_size,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "aux_optimizer": self.aux_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "best_val": self.best_val,
            "rng": rng_states,
        }

    def _resume(self, path: str) -> None:
        state = read_checkpoint(path, map_location=self.ctx.device)
        if state.get("format") != "tinify-train-1":
            raise InputError(f"{path} is not a tinify training checkpoint")
        try:
            self._restore(path, state)
        except (KeyError, TypeError, IndexError, RuntimeError, AttributeError) as err:
            first = (str(err).strip().splitlines() or [""])[0][:200]
            raise InputError(
                f"{path}: a damaged or incompatible training checkpoint "
                f"({type(err).__name__}: {first}); resume from another one"
            ) from None

    def _restore(self, path: str, state: dict[str, Any]) -> None:
        """Load a checked resume ``state`` into the model, optimizers and schedule."""
        if state["steps_per_epoch"] != self.steps_per_epoch:
            raise InputError(
                f"{path} was written with {state['steps_per_epoch']} steps per epoch, this run "
                f"has {self.steps_per_epoch}: resume with the same data, batch size and processes"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.aux_optimizer.load_state_dict(state["aux_optimizer"])
        planned = dict(vars(self.schedule))
        self.scheduler.load_state_dict(state["scheduler"])  # updates self.schedule in place
        # The schedule follows this run's options: the checkpoint's when they are unchanged; a
        # resume with another --steps (or schedule) re-plans the remaining steps.
        if vars(self.schedule) != planned:
            if self.ctx.is_main:
                print(
                    f"tinify train: learning-rate schedule re-planned from "
                    f"{vars(self.schedule)} to {planned}",
                    file=sys.stderr,
                )
            vars(self.schedule).update(planned)
        self.step = int(state["step"])
        self.best_val = float(state["best_val"])
        rng = state["rng"]
        if len(rng) == self.ctx.world_size:
            set_rng_state(rng[self.ctx.rank])
        else:  # a different process count cannot replay the noise: reseed deterministically
            torch.manual_seed(self.config.seed + 1_000_003 * self.step + self.ctx.rank)

    def save(self, name: str, rng_states: list[dict[str, Any]]) -> Path | None:
        """Write ``<checkpoint_dir>/<name>`` on rank 0 (``rng_states`` from every rank)."""
        if not self.ctx.is_main:
            return None
        return save_checkpoint(self.state_dict(rng_states), self.directory / name)

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to ``steps`` (or ``stop_after``); returns the last training and validation rows."""
        cfg = self.config
        stop = min(self.total_steps, cfg.stop_after or self.total_steps)
        if self.ctx.is_main:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.logger.note:
                print(f"tinify train: {self.logger.note}", file=sys.stderr)
        bar = _progress_bar(self.total_steps, self.step, cfg.progress and self.ctx.is_main)
        window: dict[str, float] = {}
        last_train: dict[str, Any] = {}
        last_val: dict[str, float] = {}
        start = time.perf_counter()
        self.net.train()
        batches = self._batches()
        while self.step < stop:
            row = self.train_step(next(batches))
            for key, value in row.items():
                window[key] = window.get(key, 0.0) + value
            window["count"] = window.get("count", 0.0) + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4f}", bpp=f"{row['bpp_loss']:.3f}")
            last = self.step == stop
            if cfg.log_every and (self.step % cfg.log_every == 0 or last):
                last_train = self._log_train(window, time.perf_counter() - start)
                window = {}
            validating = bool(cfg.val) and (
                last or (cfg.val_every > 0 and self.step % cfg.val_every == 0)
            )
            saving = last or (cfg.save_every > 0 and self.step % cfg.save_every == 0)
            if validating or saving:
                rng_states = gather_rng_states(self.ctx)  # collective: every rank joins
                if validating:
                    last_val = self._validate(rng_states)
                if saving:
                    self.save("last.pt", rng_states)
        if bar is not None:
            bar.close()
        if self.ctx.distributed:
            _check_replicas_in_sync(self.model)
        if self.ctx.is_main and cfg.export and self.step >= self.total_steps:
            stem = f"tinify-{cfg.model}-N{self.model.N}-M{getattr(self.model, 'M', self.model.N)}"
            path = export_model(self.model, self.directory, f"{stem}-{cfg.metric}-q{cfg.quality}")
            last_train["exported"] = str(path)
        self.logger.close()
        return {"step": self.step, "train": last_train, "val": last_val}

    def _log_train(self, window: dict[str, float], seconds: float) -> dict[str, Any]:
        count = window.pop("count", 1.0)
        row: dict[str, Any] = {"step": self.step, "epoch": self.step // self.steps_per_epoch}
        row.update({k: v / count for k, v in window.items()})
        row["seconds"] = round(seconds, 3)
        self.logger.write("train", row)
        return row

    def _validate(self, rng_states: list[dict[str, Any]]) -> dict[str, float]:
        if not self.ctx.is_main:
            return {}
        assert self.config.val is not None
        result = validate(
            self.model, self.config.val, self.lmbda, self.config.metric, self.ctx.device
        )
        self.logger.write("val", {"step": self.step, **result})
        if result["loss"] < self.best_val:
            self.best_val = result["loss"]
            self.save("best.pt", rng_states)
        return result


def _load_initial_weights(model: CompressionModel, path: str) -> None:
    """Load the model weights of ``path`` (``--init``) into ``model``, strictly.

    Raises:
        InputError: unreadable file or weights of another architecture or size.
    """
    state = read_state_dict(path).state
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise InputError(
            f"{path}: the weights do not fit the model being trained ({first_line(err)}); "
            "pass the same --model, --quality, --N and --M as the run that wrote them"
        ) from None


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)


def _check_replicas_in_sync(model: nn.Module) -> None:
    """Raise if the replicas' parameters differ (they must, under DDP, stay identical)."""
    with torch.no_grad():
        total = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum()
    gathered = [torch.zeros_like(total) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, total)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f"DDP replicas diverged: parameter sums {[float(g) for g in gathered]}")


def train(config: TrainConfig) -> dict[str, Any]:
    """Run :class:`Trainer` on ``config`` (joining torchrun's process group if there is one)."""
    return Trainer(config).run()
