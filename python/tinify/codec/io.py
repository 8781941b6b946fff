# SPDX-License-Identifier: Apache-2.0
"""Reading and writing image files, listing datasets, and all-or-nothing output files."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Callable, TypeVar, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from tinify.exceptions import TinifyError

__all__ = [
    "IMAGE_EXTENSIONS",
    "InputError",
    "atomic_output",
    "check_output",
    "image_to_tensor",
    "list_images",
    "output_format",
    "progress_bar",
    "read_image",
    "save_image",
    "tensor_to_image",
    "write_bytes",
]

PathLike = Union[str, Path]
T = TypeVar("T")

#: File suffixes picked up from a dataset folder (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")

# Pillow raises DecompressionBombError past 2x this; refuse earlier with a clear message.
_MAX_PIXELS = 1 << 28


class InputError(TinifyError):
    """An input file or folder cannot be used (missing, unreadable, not an image, too large)."""


def read_image(path: PathLike, note: Callable[[str], None] | None = None) -> Image.Image:
    """Open ``path`` with Pillow and return it as an 8-bit RGB image.

    Grayscale, palette, alpha, CMYK and 16-bit images are converted; ``note`` (if given) is
    called with a one-line message saying what was converted. Only the first frame of an
    animation is used.

    Raises:
        InputError: the file is missing, unreadable, not an image, or too large.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            if img.width * img.height > _MAX_PIXELS:
                raise InputError(f"{path}: {img.width}x{img.height} is too large to code")
            frames = int(getattr(img, "n_frames", 1))
            if frames > 1 and note is not None:
                note(f"{path}: has {frames} frames; only the first is coded")
            img.load()
            return _to_rgb(img, path, note)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"{path}: cannot read the image ({err})") from None


def _to_rgb(img: Image.Image, path: Path, note: Callable[[str], None] | None) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img.copy()
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit integer) grayscale: keep the top 8 bits of 16-bit samples.
        values = np.asarray(img, dtype=np.int64)
        shift = 8 if values.max(initial=0) > 255 else 0
        gray = np.clip(values >> shift, 0, 255).astype(np.uint8)
        out = Image.fromarray(gray).convert("RGB")
        message = "16-bit grayscale, reduced to 8-bit RGB"
    elif mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        out = img.convert("RGBA").convert("RGB")
        message = f"{mode} with an alpha channel; the alpha channel is dropped (coded as RGB)"
    elif mode in ("L", "1"):
        out = img.convert("RGB")
        message = "grayscale; converted to RGB (three equal channels)"
    else:
        out = img.convert("RGB")
        message = f"mode {mode}; converted to RGB"
    if note is not None:
        note(f"{path}: {message}")
    return out


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB Pillow image as a float32 tensor (1, 3, H, W) in [0, 1]."""
    array = np.asarray(img, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255)


def tensor_to_image(x: torch.Tensor) -> Image.Image:
    """A (1, 3, H, W) or (3, H, W) tensor in [0, 1] as an 8-bit RGB Pillow image."""
    if x.dim() == 4:
        x = x[0]
    array = x.detach().to("cpu", torch.float32).mul(255).round_().clamp_(0, 255)
    return Image.fromarray(array.to(torch.uint8).permute(1, 2, 0).contiguous().numpy(), "RGB")


def output_format(path: PathLike) -> str:
    """The Pillow format name for the suffix of ``path`` (``"PNG"`` for ``x.png``).

    Raises:
        InputError: Pillow cannot write files with that suffix.
    """
    suffix = Path(path).suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt not in Image.SAVE:
        raise InputError(f"{path}: cannot write images with suffix {suffix!r}; use .png")
    return fmt


def save_image(img: Image.Image, path: PathLike) -> None:
    """Write ``img`` to ``path`` atomically, in the format its suffix names (PNG: lossless).

    Raises:
        InputError: unknown suffix or missing folder.
    """
    fmt = output_format(path)
    with atomic_output(path) as tmp:
        img.save(tmp, format=fmt)


def check_output(path: PathLike) -> Path:
    """Check that ``path`` can be written (its folder exists, it is not a folder); return the
    folder.

    Raises:
        InputError: it cannot.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{target}: folder {folder} does not exist")
    if target.is_dir():
        raise InputError(f"{target}: is a folder; give a file name")
    return folder


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``, else delete it.

    Readers never see a partial file, and a failure leaves no output at all.

    Raises:
        InputError: the target folder does not exist or ``path`` is a folder.
    """
    target = Path(path)
    folder = check_output(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def list_images(source: PathLike) -> list[Path]:
    """The images of a dataset: a folder's files with an image suffix (sorted, not recursive),
    or a single file.

    Raises:
        InputError: missing path, or a folder without images.
    """
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    images = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not images:
        raise InputError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return images


def progress_bar(iterable: Iterable[T], total: int, desc: str, enabled: bool = True) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when tqdm is installed and ``enabled``."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="img", leave=False, file=sys.stderr)
