# SPDX-License-Identifier: Apache-2.0
"""Files and tools around the models: the ``.tfy`` container and the ``tinify`` command.

- :mod:`tinify.codec.format`: the container (:func:`pack`, :func:`unpack`, :class:`TfyHeader`,
  :class:`FormatError`; videos frame by frame: :class:`VideoWriter`, :class:`VideoReader`),
  documented in ``docs/format.md``.
- :mod:`tinify.codec.coding`: :func:`encode_image` / :func:`decode_image` and
  :func:`encode_video` / :func:`decode_video` with a loaded model, and their streaming forms
  :func:`encode_video_to` / :func:`decode_video_frames` (one frame in memory).
- :mod:`tinify.codec.loading`: zoo weights, checkpoint files and the shipped default model.
- :mod:`tinify.codec.evaluate`, :mod:`~tinify.codec.baselines`, :mod:`~tinify.codec.plot`,
  :mod:`~tinify.codec.update`: ``tinify eval``, ``codecs``, ``plot`` and ``update``.
- :mod:`tinify.codec.cli`: the ``tinify`` command.

Only the container is imported eagerly (it needs neither torch nor Pillow).
"""

from __future__ import annotations

import importlib
from typing import Any

from tinify.codec.format import (
    FORMAT_VERSION,
    MAGIC,
    FormatError,
    TfyHeader,
    VideoReader,
    VideoWriter,
    pack,
    unpack,
)
from tinify.exceptions import WeightsMismatchError

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "FormatError",
    "LoadedModel",
    "TfyHeader",
    "VideoReader",
    "VideoWriter",
    "WeightsMismatchError",
    "decode_image",
    "decode_video",
    "decode_video_frames",
    "encode_image",
    "encode_video",
    "encode_video_to",
    "load_model",
    "pack",
    "unpack",
]

_LAZY = {
    "decode_image": "tinify.codec.coding",
    "decode_video": "tinify.codec.coding",
    "decode_video_frames": "tinify.codec.coding",
    "encode_image": "tinify.codec.coding",
    "encode_video": "tinify.codec.coding",
    "encode_video_to": "tinify.codec.coding",
    "LoadedModel": "tinify.codec.loading",
    "load_model": "tinify.codec.loading",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tinify.codec' has no attribute {name!r}")
