# SPDX-License-Identifier: Apache-2.0
"""``tinify codecs``: classical image codecs through Pillow, measured like the learned ones.

Every image is encoded to an in-memory file at each quality setting and decoded back to RGB.
``bpp`` counts the whole encoded file (headers included, as CompressAI's ``bench`` does) over
the image's pixels; PSNR and MS-SSIM are computed on the 8-bit RGB values (see
:mod:`tinify.codec.evaluate`); times are Pillow's encode and decode calls.

Codecs (only those the installed Pillow supports are offered, see :func:`available_codecs`):

=========== ================================ =============================================
key         Pillow call                      ``-q`` means
=========== ================================ =============================================
jpeg        JPEG, 4:2:0 chroma subsampling   libjpeg quality 1-95
jpeg444     JPEG, 4:4:4 (no subsampling)     libjpeg quality 1-95
webp        WEBP (lossy)                     quality 0-100
avif        AVIF                             quality 0-100
jpeg2000    JPEG2000, 9/7 wavelet            target PSNR in dB of the single quality layer
=========== ================================ =============================================
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, features

from tinify.codec.evaluate import distortion
from tinify.codec.results import mean, results_json
from tinify.exceptions import InputError
from tinify.io.image import image_to_tensor, progress_bar, read_image

__all__ = [
    "CODECS",
    "ClassicalCodec",
    "available_codecs",
    "evaluate_codec",
    "get_codec",
    "read_pictures",
    "run_codec",
]

Note = Callable[[str], None]
Picture = tuple[str, Image.Image]


@dataclass(frozen=True)
class ClassicalCodec:
    """A Pillow image format used as a lossy codec.

    Attributes:
        key: the ``--codec`` name.
        label: the results' ``name``.
        pil_format: Pillow's format name.
        feature: the ``PIL.features`` name that must be available (``None``: always).
        qualities: default quality settings.
        options: extra ``Image.save`` options.
        quality_option: how a quality value is passed to ``Image.save``.
    """

    key: str
    label: str
    pil_format: str
    feature: str | None
    qualities: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    quality_option: Callable[[int], dict[str, Any]] = lambda q: {"quality": q}

    def available(self) -> bool:
        """Whether the installed Pillow can write and read this format."""
        if self.feature is None:
            return True
        try:
            return bool(features.check(self.feature))
        except ValueError:  # a feature name this Pillow does not know
            return False

    def description(self) -> str:
        """Codec and library versions, for the results' ``description``."""
        import PIL

        library = ""
        if self.feature is not None:
            version = features.version(self.feature)
            library = f", {self.feature} {version}" if version else ""
        return f"{self.label} through Pillow {PIL.__version__}{library}"

    def code(self, img: Image.Image, quality: int) -> tuple[bytes, Image.Image, float, float]:
        """Encode and decode ``img``; return ``(file bytes, decoded RGB, enc s, dec s)``."""
        buffer = io.BytesIO()
        start = time.perf_counter()
        img.save(buffer, format=self.pil_format, **self.options, **self.quality_option(quality))
        middle = time.perf_counter()
        data = buffer.getvalue()
        with Image.open(io.BytesIO(data)) as decoded:
            decoded.load()
            rgb = decoded.convert("RGB")
        end = time.perf_counter()
        return data, rgb, middle - start, end - middle


_QUALITIES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)

#: Every codec tinify knows, by key.
CODECS: dict[str, ClassicalCodec] = {
    c.key: c
    for c in (
        ClassicalCodec("jpeg", "JPEG 4:2:0", "JPEG", "jpg", _QUALITIES, {"subsampling": "4:2:0"}),
        ClassicalCodec(
            "jpeg444", "JPEG 4:4:4", "JPEG", "jpg", _QUALITIES, {"subsampling": "4:4:4"}
        ),
        ClassicalCodec("webp", "WebP", "WEBP", "webp", _QUALITIES, {"lossless": False}),
        ClassicalCodec("avif", "AVIF", "AVIF", "avif", _QUALITIES),
        ClassicalCodec(
            "jpeg2000",
            "JPEG2000",
            "JPEG2000",
            "jpg_2000",
            (24, 26, 28, 30, 32, 34, 36, 38, 40, 44),
            {"irreversible": True, "quality_mode": "dB"},
            lambda q: {"quality_layers": [float(q)]},
        ),
    )
}


def available_codecs() -> list[str]:
    """Keys of the codecs the installed Pillow supports."""
    return [key for key, codec in CODECS.items() if codec.available()]


def get_codec(key: str) -> ClassicalCodec:
    """The codec ``key``.

    Raises:
        InputError: unknown, or not supported by the installed Pillow.
    """
    codec = CODECS.get(key)
    if codec is None:
        raise InputError(f"unknown codec {key!r}; choose from {', '.join(CODECS)}")
    if not codec.available():
        raise InputError(
            f"codec {key!r} is not supported by the installed Pillow; available: "
            f"{', '.join(available_codecs())}"
        )
    return codec


def evaluate_codec(
    codec: ClassicalCodec, img: Image.Image, quality: int
) -> dict[str, float | None]:
    """Numbers for one image at one quality."""
    data, decoded, enc, dec = codec.code(img, quality)
    pixels = img.width * img.height
    x, x_hat = image_to_tensor(img), image_to_tensor(decoded)
    return {
        **distortion(x, x_hat),
        "bpp": 8.0 * len(data) / pixels,
        "encoding_time": enc,
        "decoding_time": dec,
    }


def read_pictures(images: Sequence[Path], note: Note | None = None) -> list[Picture]:
    """``(file name, RGB image)`` for every path (see :func:`tinify.io.image.read_image`)."""
    return [(Path(p).name, read_image(p, note)) for p in images]


def run_codec(
    codec: ClassicalCodec,
    pictures: Sequence[Picture],
    qualities: Sequence[int] | None = None,
    progress: bool = True,
    per_image: bool = False,
) -> dict[str, Any]:
    """Evaluate ``codec`` on every picture (from :func:`read_pictures`) at every quality.

    Returns:
        A results document (one point per quality; ``per-image`` values when asked).

    Raises:
        InputError: Pillow failed to code an image.
    """
    qualities = list(qualities or codec.qualities)
    points = []
    records: dict[str, Any] = {}
    jobs = [(q, name, img) for q in qualities for name, img in pictures]
    rows: dict[int, list[dict[str, Any]]] = {q: [] for q in qualities}
    for q, name, img in progress_bar(jobs, len(jobs), codec.key, progress):
        try:
            rows[q].append({"image": name, **evaluate_codec(codec, img, q)})
        except (OSError, ValueError) as err:
            raise InputError(f"{codec.key} at quality {q} failed on {name}: {err}") from None
    for q in qualities:
        keys = [k for k in rows[q][0] if k != "image"]
        points.append({**{k: mean([r[k] for r in rows[q]]) for k in keys}, "quality": q})
        records[str(q)] = rows[q]
    return results_json(codec.label, codec.description(), points, records if per_image else None)
