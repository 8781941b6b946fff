# SPDX-License-Identifier: Apache-2.0
"""Training learned codecs: the loop behind ``tinify train``, optimizers and checkpoints.

::

    from tinify.training import TrainConfig, train
    train(TrainConfig(model="bmshj2018-hyperprior", quality=3, dataset="images/", steps=1000))
"""

from __future__ import annotations

from tinify.training.checkpoint import export_model, load_checkpoint, save_checkpoint
from tinify.training.config import LAMBDAS, LR_SCHEDULES, TrainConfig, default_lambda
from tinify.training.engine import LRSchedule, Trainer, build_model, train
from tinify.training.evaluate import evaluate_codec, validate
from tinify.training.optim import (
    configure_optimizers,
    net_aux_optimizer,
    net_optimizer,
    split_parameters,
)

__all__ = [
    "LAMBDAS",
    "LR_SCHEDULES",
    "LRSchedule",
    "TrainConfig",
    "Trainer",
    "build_model",
    "configure_optimizers",
    "default_lambda",
    "evaluate_codec",
    "export_model",
    "load_checkpoint",
    "net_aux_optimizer",
    "net_optimizer",
    "save_checkpoint",
    "split_parameters",
    "train",
    "validate",
]
