# SPDX-License-Identifier: Apache-2.0
"""``tinify codecs``: classical image codecs through Pillow, measured like the learned ones.

Every image is encoded to an in-memory file at each quality setting and decoded back to RGB.
``bpp`` counts the whole encoded file (headers included, as CompressAI's ``bench`` does) over
the image's pixels; PSNR and MS-SSIM are computed on the 8-bit RGB values (see
:mod:`tinify.codec.evaluate`); times are Pillow's encode and decode calls.

The same measurement runs the codecs of :mod:`tinify.codec.external` (BPG, VTM, HM, AV1, TFCI,
JPEG 2000 through ffmpeg), which call external programs; ``python -m tinify.utils.bench`` and
``tinify.utils.find_close`` offer both kinds.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, features

from tinify.codec.evaluate import distortion
from tinify.codec.results import mean, results_json
from tinify.exceptions import InputError
from tinify.io.image import image_to_tensor, progress_bar, read_image

__all__ = [
    "CODECS",
    "ClassicalCodec",
    "ImageCodec",
    "available_codecs",
    "code_and_measure",
    "evaluate_codec",
    "find_quality",
    "get_codec",
    "read_pictures",
    "run_codec",
]

Note = Callable[[str], None]
Picture = tuple[str, Image.Image]


class ImageCodec(Protocol):
    """What :func:`run_codec` needs of a codec (:class:`ClassicalCodec`, or one of
    :mod:`tinify.codec.external`)."""

    @property
    def key(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def qualities(self) -> tuple[int, ...]: ...

    def check(self) -> None: ...

    def description(self) -> str: ...

    def code(self, img: Image.Image, quality: int) -> tuple[bytes, Image.Image, float, float]: ...


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

    def check(self) -> None:
        """Raise :class:`InputError` unless the installed Pillow supports this format."""
        if not self.available():
            raise InputError(
                f"codec {self.key!r} is not supported by the installed Pillow; available: "
                f"{', '.join(available_codecs())}"
            )

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
    codec.check()
    return codec


def code_and_measure(
    codec: ImageCodec, img: Image.Image, quality: int
) -> tuple[dict[str, float | None], Image.Image]:
    """Numbers for one image at one quality, and the decoded picture."""
    data, decoded, enc, dec = codec.code(img, quality)
    pixels = img.width * img.height
    x, x_hat = image_to_tensor(img), image_to_tensor(decoded)
    row = {
        **distortion(x, x_hat),
        "bpp": 8.0 * len(data) / pixels,
        "encoding_time": enc,
        "decoding_time": dec,
    }
    return row, decoded


def evaluate_codec(codec: ImageCodec, img: Image.Image, quality: int) -> dict[str, float | None]:
    """Numbers for one image at one quality."""
    return code_and_measure(codec, img, quality)[0]


def read_pictures(images: Sequence[Path], note: Note | None = None) -> list[Picture]:
    """``(file name, RGB image)`` for every path (see :func:`tinify.io.image.read_image`)."""
    return [(Path(p).name, read_image(p, note)) for p in images]


def run_codec(
    codec: ImageCodec,
    pictures: Sequence[Picture],
    qualities: Sequence[int] | None = None,
    progress: bool = True,
    per_image: bool = False,
    num_jobs: int = 1,
) -> dict[str, Any]:
    """Evaluate ``codec`` on every picture (from :func:`read_pictures`) at every quality.

    Args:
        num_jobs: images coded at once (threads: Pillow and the external programs run outside
            the GIL; the times then include the contention).

    Returns:
        A results document (one point per quality; ``per-image`` values when asked).

    Raises:
        InputError: the codec failed on an image (or is not supported by the installed Pillow).
        tinify.codec.external.ToolNotFoundError: a program the codec needs is missing.
    """
    codec.check()
    qualities = list(qualities or codec.qualities)
    points = []
    records: dict[str, Any] = {}
    jobs = [(q, name, img) for q in qualities for name, img in pictures]
    rows: dict[int, list[dict[str, Any]]] = {q: [] for q in qualities}

    def one(job: tuple[int, str, Image.Image]) -> dict[str, Any]:
        q, name, img = job
        try:
            return {"image": name, **evaluate_codec(codec, img, q)}
        except (OSError, ValueError) as err:
            raise InputError(f"{codec.key} at quality {q} failed on {name}: {err}") from None

    with ThreadPoolExecutor(max(1, num_jobs)) as pool:
        done = pool.map(one, jobs) if num_jobs > 1 else map(one, jobs)
        for (q, _, _), row in zip(jobs, progress_bar(done, len(jobs), codec.key, progress)):
            rows[q].append(row)
    for q in qualities:
        keys = [k for k in rows[q][0] if k != "image"]
        points.append({**{k: mean([r[k] for r in rows[q]]) for k in keys}, "quality": q})
        records[str(q)] = rows[q]
    return results_json(codec.label, codec.description(), points, records if per_image else None)


def find_quality(
    codec: ImageCodec,
    img: Image.Image,
    target: float,
    metric: str,
    bounds: tuple[int, int],
    lower_is_better: bool = False,
    note: Note | None = None,
) -> tuple[int, dict[str, Any], Image.Image]:
    """Bisect the setting of ``codec`` whose ``metric`` (``bpp``, ``psnr-rgb``,
    ``ms-ssim-rgb``) on ``img`` is closest to ``target``.

    Args:
        bounds: ``(low, high)``, exclusive: settings strictly between them are tried.
        lower_is_better: the metric falls as the setting rises (a quantizer parameter).
        note: called with one progress line per setting tried.

    Returns:
        ``(setting, its numbers, its decoded picture)`` of the closest setting tried.

    Raises:
        InputError: the metric is undefined for this image (MS-SSIM under 161x161).
    """
    low, high = bounds
    best: tuple[int, dict[str, Any], Image.Image] | None = None
    while high > low + 1:
        mid = (low + high) // 2
        row, rec = code_and_measure(codec, img, mid)
        value = row.get(metric)
        if value is None:
            raise InputError(f"{metric} is undefined for this image ({img.width}x{img.height})")
        if best is None or abs(value - target) < abs(best[1][metric] - target):
            best = (mid, row, rec)
        if note is not None:
            note(f"target {metric}: {target:.4f} | value: {value:.4f} | q: {mid}")
        if value == target:
            break
        if (value > target) != lower_is_better:
            high = mid
        else:
            low = mid
    if best is None:
        raise InputError(f"no setting between {low} and {high} to try")
    return best
