# SPDX-License-Identifier: Apache-2.0
"""Training configuration and the standard rate-distortion trade-offs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from tinify.exceptions import ParameterError

__all__ = ["LAMBDAS", "LR_SCHEDULES", "TrainConfig", "default_lambda"]

#: lambda per quality 1..8, the values CompressAI's zoo weights were trained with.
LAMBDAS: dict[str, tuple[float, ...]] = {
    "mse": (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.18),
    "ms-ssim": (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.0),
}

#: Learning-rate schedules of :class:`TrainConfig`.
LR_SCHEDULES = ("cosine", "step", "constant")


def default_lambda(metric: str, quality: int) -> float:
    """The standard lambda of ``metric`` at ``quality`` (1..8).

    Raises:
        ParameterError: unknown metric or quality out of range.
    """
    if metric not in LAMBDAS:
        raise ParameterError(f"metric must be one of {tuple(LAMBDAS)}, got {metric!r}")
    table = LAMBDAS[metric]
    if not 1 <= quality <= len(table):
        raise ParameterError(f"quality must be 1..{len(table)} for a default lambda, got {quality}")
    return table[quality - 1]


@dataclass
class TrainConfig:
    """Everything a training run depends on (the ``tinify train`` options).

    Attributes:
        model: zoo architecture name (``tinify.zoo.list_models()``).
        quality: zoo quality; picks N/M and the default lambda.
        dataset: folder of training images (searched recursively unless ``split`` is set).
        split: optional sub-folder of ``dataset`` (``"train"``), non-recursive as in CompressAI.
        val: optional folder of validation images (full images, padded to the model's factor).
        metric: ``"mse"`` or ``"ms-ssim"``.
        lmbda: rate-distortion trade-off; default :func:`default_lambda`.
        steps: number of optimizer steps (exclusive with ``epochs``).
        epochs: number of passes over the dataset (used when ``steps`` is None).
        batch_size: images per step and per process.
        patch_size: side of the random square training crops.
        lr: learning rate of the main parameters (Adam).
        aux_lr: learning rate of the entropy-bottleneck quantiles (Adam, constant).
        lr_schedule: ``"cosine"`` (to ``min_lr``), ``"step"`` (x0.1 at 80% and 95% of the steps)
            or ``"constant"``.
        min_lr: final learning rate of the cosine schedule (default ``lr / 100``).
        warmup_steps: linear warm-up steps before the schedule.
        clip_max_norm: gradient-norm clipping of the main parameters (0: off).
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:K"`` (under torchrun: one GPU per local rank).
        checkpoint_dir: where checkpoints, logs and the exported model go.
        resume: checkpoint to continue from (exactly: same step, states and data order).
        init: weights to start from (fine-tuning): a state dict or checkpoint file whose model
            weights are loaded; the step, optimizers and schedule start afresh.
        seed: seeds the initialisation, the data order, the augmentations and the noise.
        workers: DataLoader worker processes.
        N, M: channel overrides (small models); default from the zoo's quality table.
        log_every: steps between CSV/TensorBoard rows.
        val_every: steps between validations (0: only at the end).
        save_every: steps between checkpoints (0: only at the end).
        stop_after: stop (with a checkpoint) after this global step, keeping the schedule of
            ``steps`` (for time-limited jobs; resume later).
        threads: ``torch.set_num_threads`` value (default: leave torch's).
        progress: show a progress bar (tqdm, when installed).
        cache: keep decoded training images in memory.
        export: at the end, save the updated model (coding tables built) as
            ``<checkpoint_dir>/tinify-<model>-N<N>-M<M>-<metric>-q<quality>-<sha256[:8]>.pt``.
    """

    model: str = "bmshj2018-hyperprior"
    quality: int = 3
    dataset: str = ""
    split: str | None = None
    val: str | None = None
    metric: str = "mse"
    lmbda: float | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 16
    patch_size: int = 256
    lr: float = 1e-4
    aux_lr: float = 1e-3
    lr_schedule: str = "cosine"
    min_lr: float | None = None
    warmup_steps: int = 0
    clip_max_norm: float = 1.0
    device: str = "cpu"
    checkpoint_dir: str = "checkpoints"
    resume: str | None = None
    init: str | None = None
    seed: int = 0
    workers: int = 0
    N: int | None = None
    M: int | None = None
    log_every: int = 50
    val_every: int = 1000
    save_every: int = 1000
    stop_after: int | None = None
    threads: int | None = None
    progress: bool = True
    cache: bool = False
    export: bool = True

    def validate(self) -> None:
        """Check the values that do not need the data or the model.

        Raises:
            ParameterError: an invalid combination or value.
        """
        if not self.dataset:
            raise ParameterError("a training dataset folder is required")
        if self.metric not in LAMBDAS:
            raise ParameterError(f"metric must be one of {tuple(LAMBDAS)}, got {self.metric!r}")
        if (self.steps is None) == (self.epochs is None):
            raise ParameterError("give exactly one of steps and epochs")
        for name in ("steps", "epochs", "batch_size", "patch_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ParameterError(f"{name} must be >= 1, got {value}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ParameterError(
                f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}"
            )
        if self.lr <= 0 or self.aux_lr <= 0:
            raise ParameterError("lr and aux_lr must be positive")
        for name in ("warmup_steps", "workers", "log_every", "val_every", "save_every"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.resume and self.init:
            raise ParameterError(
                "give at most one of resume and init (resume restores the weights)"
            )
        if self.stop_after is not None and self.stop_after < 1:
            raise ParameterError(f"stop_after must be >= 1, got {self.stop_after}")

    @property
    def lambda_value(self) -> float:
        """``lmbda``, or the standard one for ``metric`` and ``quality``."""
        if self.lmbda is not None:
            return float(self.lmbda)
        return default_lambda(self.metric, self.quality)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain values (stored in checkpoints)."""
        return dataclasses.asdict(self)
