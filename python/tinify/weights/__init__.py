# SPDX-License-Identifier: Apache-2.0
"""tinify's own trained weights, shipped inside the package.

:func:`load_default_model` returns a small scale-hyperprior model (J. Ballé, D. Minnen, S. Singh,
S. J. Hwang, N. Johnston, "Variational Image Compression with a Scale Hyperprior", ICLR 2018)
trained by the tinify project with ``tinify train`` on CPU: no download, no CompressAI weights.
It is far smaller and less trained than the zoo's models; use it for tests, demos and as a
known-good codec that works offline. :data:`DEFAULT_MODEL` records how it was trained and what it
measured on Kodak.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tinify.exceptions import WeightsError
from tinify.utils.checkpoint import read_checkpoint
from tinify.utils.files import sha256_file

__all__ = ["DEFAULT_MODEL", "WEIGHTS_DIR", "default_weights_path", "load_default_model"]

#: Folder of the weight files inside the installed package.
WEIGHTS_DIR = Path(__file__).resolve().parent

#: How the default model was built, trained and measured.
DEFAULT_MODEL: dict[str, Any] = {
    "file": "tinify-bmshj2018-hyperprior-N64-M96-mse-q6-07ee4ed5.pt",
    "sha256": "07ee4ed5797eccde59f51cdb58ee916a51448fd999eedd1cee95da6a24d88397",
    "architecture": "bmshj2018-hyperprior",
    "model_class": "ScaleHyperprior",
    "N": 64,
    "M": 96,
    "quality": 6,
    "metric": "mse",
    "lambda": 0.0483,
    "training": {
        "steps": 10700,
        "schedule": (
            "run 1, 2700 steps: steps 0-1500 at lambda 0.0130 (quality 4), steps 1500-2700 at "
            "lambda 0.0483 (quality 6); Adam lr 4e-4 after 300 warm-up steps, cosine decay to "
            "4e-6 at step 2700. Run 2 (tinify train --init <run 1 weights>), 4000 steps at "
            "lambda 0.0483: Adam lr 2e-4 after 100 warm-up steps, cosine decay to 2e-6, seed 1. "
            "Run 3 (--init <run 2 weights>), 4000 steps at lambda 0.0483: lr 1.5e-4 after 50 "
            "warm-up steps, cosine decay to 1.5e-6, seed 2. All: aux Adam lr 1e-3, gradient "
            "clipping 1.0"
        ),
        "batch_size": 8,
        "patch_size": 128,
        "dataset": "BSDS500 train+val+test (500 photos), random 128x128 crops + horizontal flips",
        "seed": 0,
        "hardware": (
            "2 shared CPU cores, no GPU: about 22 minutes (run 1), 45 minutes (run 2) and 40 "
            "minutes (run 3, one torch thread) of training"
        ),
    },
    "kodak": {
        "images": 24,
        "bpp": 0.9171,
        "psnr": 29.201,
        "ms_ssim": 0.9671,
        "measured_with": "compress/decompress (rANS), 8-bit rounded reconstructions, no header",
    },
    "license": "Apache-2.0",
}


def default_weights_path() -> Path:
    """Path of the default model's weight file."""
    return WEIGHTS_DIR / DEFAULT_MODEL["file"]


def load_default_model(device: str | torch.device = "cpu") -> Any:
    """The default tinify-trained model, in eval mode, ready to compress.

    The coding tables come from the file (saved after ``update(force=True)``), so streams are
    the same on every machine. The file's SHA-256 is checked before it is read, and it is loaded
    with ``torch.load(weights_only=True)``.

    Args:
        device: where to put the model.

    Returns:
        A :class:`tinify.models.ScaleHyperprior` with ``N``/``M`` of :data:`DEFAULT_MODEL`.

    Raises:
        WeightsError: the weight file is missing from the installation, or does not match its
            recorded SHA-256 (a ``RuntimeError`` too).
    """
    from tinify.models import ScaleHyperprior

    path = default_weights_path()
    if not path.is_file():
        raise WeightsError(f"default weights not found at {path}; reinstall tinify")
    digest = sha256_file(path)
    if digest != DEFAULT_MODEL["sha256"]:
        raise WeightsError(
            f"{path.name} is corrupt: sha256 {digest}, expected {DEFAULT_MODEL['sha256']}"
        )
    state_dict = read_checkpoint(path)
    model = ScaleHyperprior(N=DEFAULT_MODEL["N"], M=DEFAULT_MODEL["M"])
    model.load_state_dict(state_dict)
    return model.to(device).eval()
