# SPDX-License-Identifier: Apache-2.0
"""Results files in the layout of CompressAI's published results.

::

    {"name": "bmshj2018-hyperprior-mse",
     "description": "Inference (ans)",
     "results": {"psnr-rgb": [...], "ms-ssim-rgb": [...], "bpp": [...],
                 "encoding_time": [...], "decoding_time": [...]}}

Each list has one entry per rate point (quality, checkpoint or codec setting), averaged over the
images. tinify adds optional keys that CompressAI's readers ignore: ``"quality"`` (the point
labels) in ``results``, and ``"per-image"`` at the top level. Values that are undefined (MS-SSIM
of images smaller than 161x161, PSNR of a lossless reconstruction) are written as ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from tinify.exceptions import InputError
from tinify.io.image import write_bytes

__all__ = ["RESULT_KEYS", "load_results", "mean", "results_json", "write_results"]

PathLike = Union[str, Path]

#: The per-point keys of CompressAI's image results, in their order.
RESULT_KEYS = ("psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time", "decoding_time")


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the finite values (``None`` if there are none)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def _clean(value: Any) -> Any:
    """Non-finite floats become ``None`` (JSON has no NaN or Infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def results_json(
    name: str,
    description: str,
    points: Sequence[Mapping[str, Any]],
    per_image: Mapping[str, Any] | None = None,
    keys: Sequence[str] = RESULT_KEYS,
) -> dict[str, Any]:
    """Build a results document from one mapping of averaged values per rate point.

    ``keys`` come first, in their order (missing values are ``null``), then the other keys
    of the points, sorted (video results pass ``("q",)``).
    """
    results: dict[str, list[Any]] = {k: [p.get(k) for p in points] for k in keys}
    extra = sorted({k for p in points for k in p} - set(keys))
    for key in extra:
        results[key] = [p.get(key) for p in points]
    doc: dict[str, Any] = {"name": name, "description": description, "results": results}
    if per_image is not None:
        doc["per-image"] = per_image
    return _clean(doc)


def write_results(doc: Mapping[str, Any], path: PathLike | None) -> str:
    """Serialize ``doc`` (2-space indent); write it atomically to ``path`` when given.

    Returns:
        The JSON text.
    """
    text = json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n"
    if path is not None:
        write_bytes(path, text.encode())
    return text


def load_results(path: PathLike, rate_key: str | None = "bpp") -> dict[str, Any]:
    """Read a results file and check its layout (``name`` and a ``results`` mapping with a
    ``rate_key`` list: ``bpp`` for images, ``bitrate`` for videos; ``None``: either).

    Raises:
        InputError: missing file, invalid JSON, or another layout.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not a readable JSON file ({err})") from None
    results = doc.get("results") if isinstance(doc, dict) else None
    keys = ("bpp", "bitrate") if rate_key is None else (rate_key,)
    if not isinstance(results, dict) or not any(isinstance(results.get(k), list) for k in keys):
        wanted = " or ".join(f"'{k}'" for k in keys)
        raise InputError(f"{path}: not a results file (needs 'results' with a {wanted} list)")
    lengths = {len(v) for v in results.values() if isinstance(v, list)}
    if len(lengths) != 1:
        raise InputError(f"{path}: the result lists have different lengths {sorted(lengths)}")
    doc.setdefault("name", path.stem)
    return doc
