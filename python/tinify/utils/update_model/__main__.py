# SPDX-License-Identifier: Apache-2.0
"""Export a trained model with built coding tables and a hash-named file, with CompressAI
1.2.8's command line.

::

    python -m tinify.utils.update_model checkpoint.pth.tar -a bmshj2018-hyperprior -d weights/

loads the checkpoint (a state dict, or a training checkpoint holding one), builds the coding
tables (``update(force=True)``, unless ``--no-update``), and saves the state dict as
``DIR/NAME-<first 8 hex digits of its SHA-256><the input's suffixes>``, ``NAME`` defaulting to the
input's name without suffixes. See :func:`tinify.codec.update.update_checkpoint`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from tinify.codec.update import update_checkpoint
from tinify.exceptions import TinifyError
from tinify.utils.checkpoint import read_state_dict
from tinify.utils.files import sha256_file as _sha256

__all__ = ["load_checkpoint", "main", "setup_args", "sha256_file"]

#: CompressAI's short architecture names, on top of the zoo's.
ALIASES = {
    "factorized-prior": "bmshj2018-factorized",
    "jarhp": "mbt2018",
    "mean-scale-hyperprior": "mbt2018-mean",
    "scale-hyperprior": "bmshj2018-hyperprior",
}


def _architectures() -> dict[str, str]:
    from tinify.zoo import model_architectures

    return {**ALIASES, **{name: name for name in model_architectures}}


def sha256_file(filepath: Path, len_hash_prefix: int = 8) -> str:
    """The first ``len_hash_prefix`` hex digits of the file's SHA-256."""
    return _sha256(filepath)[:len_hash_prefix]


def load_checkpoint(filepath: Path, arch: str) -> dict[str, torch.Tensor]:
    """The model state dict stored in ``filepath`` (bare, or inside a training checkpoint);
    ``arch`` is accepted for CompressAI's signature (old key names are renamed when the state
    dict is loaded into the model)."""
    return dict(read_state_dict(filepath).state)


def setup_args() -> argparse.ArgumentParser:
    """CompressAI's parser: ``FILEPATH [-n NAME] [-d DIR] [--no-update] [-a ARCH]``."""
    parser = argparse.ArgumentParser(
        description="Export a trained model to a new checkpoint with updated CDFs and a hash "
        "prefix so that it can be loaded later via load_state_dict_from_url."
    )
    parser.add_argument("filepath", type=str, help="Path to the checkpoint model to be exported.")
    parser.add_argument("-n", "--name", type=str, help="Exported model name.")
    parser.add_argument("-d", "--dir", type=str, help="Exported model directory.")
    parser.add_argument(
        "--no-update", action="store_true", help="Do not update the model CDFs parameters."
    )
    parser.add_argument(
        "-a",
        "--architecture",
        default="scale-hyperprior",
        choices=list(_architectures()),
        help="Set model architecture (default: %(default)s).",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> Path:
    """Run the command; return the written file (its path is also printed)."""
    args = setup_args().parse_args(sys.argv[1:] if argv is None else list(argv))
    filepath = Path(args.filepath).resolve()
    if not filepath.is_file():
        raise RuntimeError(f'"{filepath}" is not a valid file.')
    name = args.name or filepath.name.split(".")[0]
    folder = Path(args.dir) if args.dir is not None else Path.cwd()
    folder.mkdir(exist_ok=True)
    try:
        path = update_checkpoint(
            filepath,
            folder / name,
            _architectures()[args.architecture],
            update=not args.no_update,
            suffix="".join(filepath.suffixes),
        )
    except TinifyError as err:
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    print(path)
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
