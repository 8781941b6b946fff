# SPDX-License-Identifier: Apache-2.0
"""``tinify train``: train a zoo architecture on a folder of images.

::

    tinify train --model bmshj2018-hyperprior --quality 3 --dataset data/ --steps 100000 \
        --val kodak/ --checkpoint-dir runs/q3

    # several processes (CPU: gloo, GPU: nccl), batch size per process
    torchrun --nproc_per_node 4 -m tinify.training.cli --model ... --device cuda

The ``tinify`` command registers this subcommand through :func:`add_parser`;
``python -m tinify.training.cli`` runs it on its own (what torchrun needs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from tinify.training.config import LR_SCHEDULES, TrainConfig

__all__ = ["add_arguments", "add_parser", "config_from_args", "main", "run"]

_DESCRIPTION = (
    "Train a learned image codec with the rate-distortion loss (lambda * D + bpp) on random "
    "crops of a folder of images. Writes last.pt/best.pt (exact-resume checkpoints), train.csv, "
    "val.csv and, at the end, the model with its coding tables built (tinify-...-<sha>.pt) into "
    "--checkpoint-dir. Under torchrun each process trains on its share of the data."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the training options to ``parser``."""
    d = TrainConfig()
    parser.add_argument(
        "-m", "--model", default=d.model, help="zoo architecture (default: %(default)s)"
    )
    parser.add_argument(
        "-q",
        "--quality",
        type=int,
        default=d.quality,
        help="quality 1-8: N/M and default lambda (default: %(default)s)",
    )
    parser.add_argument(
        "-d", "--dataset", required=True, help="folder of training images (searched recursively)"
    )
    parser.add_argument(
        "--split",
        default=None,
        help="use only DATASET/SPLIT (not recursive), as CompressAI's ImageFolder",
    )
    parser.add_argument(
        "--val", default=None, metavar="DIR", help="validation images (e.g. Kodak), full size"
    )
    parser.add_argument(
        "--metric",
        choices=("mse", "ms-ssim"),
        default=d.metric,
        help="distortion (default: %(default)s)",
    )
    parser.add_argument(
        "--lambda",
        dest="lmbda",
        type=float,
        default=None,
        help="rate-distortion trade-off (default: the standard one for --quality and --metric)",
    )
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="optimizer steps")
    length.add_argument("--epochs", type=int, help="passes over the dataset")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        help="images per step and process (default: %(default)s)",
    )
    parser.add_argument(
        "--patch-size",
        type=int,
        default=d.patch_size,
        help="side of the random square crops (default: %(default)s)",
    )
    parser.add_argument(
        "--lr", type=float, default=d.lr, help="main learning rate (default: %(default)s)"
    )
    parser.add_argument(
        "--aux-lr",
        type=float,
        default=d.aux_lr,
        help="quantile learning rate (default: %(default)s)",
    )
    parser.add_argument(
        "--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--min-lr", type=float, default=None, help="final cosine learning rate (default: lr/100)"
    )
    parser.add_argument(
        "--warmup-steps",
        type=int,
        default=d.warmup_steps,
        help="linear warm-up steps (default: %(default)s)",
    )
    parser.add_argument(
        "--clip-max-norm",
        type=float,
        default=d.clip_max_norm,
        help="gradient clipping, 0 = off (default: %(default)s)",
    )
    parser.add_argument(
        "--device", default=d.device, help="cpu, cuda or cuda:K (default: %(default)s)"
    )
    parser.add_argument(
        "--checkpoint-dir", default=d.checkpoint_dir, help="output folder (default: %(default)s)"
    )
    parser.add_argument(
        "--resume",
        default=None,
        metavar="CKPT",
        help="continue exactly from a checkpoint (last.pt)",
    )
    parser.add_argument(
        "--init",
        default=None,
        metavar="WEIGHTS",
        help="fine-tune: start from these model weights (state dict or checkpoint) with fresh "
        "optimizers and schedule",
    )
    parser.add_argument("--seed", type=int, default=d.seed, help="(default: %(default)s)")
    parser.add_argument(
        "--workers", type=int, default=d.workers, help="DataLoader workers (default: %(default)s)"
    )
    parser.add_argument("--N", type=int, default=None, help="override the architecture's N")
    parser.add_argument("--M", type=int, default=None, help="override the architecture's M")
    parser.add_argument(
        "--log-every",
        type=int,
        default=d.log_every,
        help="steps per CSV row (default: %(default)s)",
    )
    parser.add_argument(
        "--val-every",
        type=int,
        default=d.val_every,
        help="steps between validations, 0 = at the end (default: %(default)s)",
    )
    parser.add_argument(
        "--save-every",
        type=int,
        default=d.save_every,
        help="steps between checkpoints, 0 = at the end (default: %(default)s)",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="STEP",
        help="stop at this step (keeping the schedule of --steps); resume later",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    parser.add_argument(
        "--cache", action="store_true", help="keep decoded training images in memory"
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bar"
    )
    parser.add_argument(
        "--no-export",
        dest="export",
        action="store_false",
        help="do not write the final updated model",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``train`` on the ``tinify`` command's subparsers; ``func`` is :func:`run`."""
    parser = subparsers.add_parser(
        "train", help="train a model on a folder of images", description=_DESCRIPTION
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed arguments (unknown attributes are ignored)."""
    fields = TrainConfig.__dataclass_fields__
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})


def run(args: argparse.Namespace) -> int:
    """Train with the parsed arguments; print a JSON summary on rank 0; return the exit code."""
    from tinify.training.engine import Trainer

    try:
        config = config_from_args(args)
        config.validate()
        trainer = Trainer(config)
    except (ValueError, FileNotFoundError) as err:
        print(f"tinify train: error: {err}", file=sys.stderr)
        return 2
    summary = trainer.run()
    if trainer.ctx.is_main:
        print(json.dumps(summary, indent=2, default=str), flush=True)
    if trainer.ctx.distributed:
        _shut_down_distributed(trainer)
    return 0


def _shut_down_distributed(trainer: Any) -> None:
    """Leave the process group cleanly on every rank.

    Rank 0 may still be writing files when the others finish: the barrier makes every rank wait
    until all are done with the group. DDP's reducer and gloo's pending work objects are then
    freed while the interpreter is whole; left to interpreter shutdown, gloo's worker threads
    can abort the process (SIGABRT, "terminate called without an active exception"), which was
    seen once on a loaded 2-core machine.
    """
    import gc

    import torch.distributed as dist

    dist.barrier()
    trainer.net = trainer.model = None
    gc.collect()
    dist.destroy_process_group()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m tinify.training.cli`` (the same options as ``tinify train``)."""
    parser = argparse.ArgumentParser(prog="tinify train", description=_DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
