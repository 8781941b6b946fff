# SPDX-License-Identifier: Apache-2.0
"""Resource limits: what a file may declare before tinify spends memory or time on it.

A small hostile file can declare a huge image, thousands of frames or huge tensors; decoding it
would take gigabytes or hours. Every such size is checked against a limit here, before anything
is allocated, and refused with a message that says how to raise the limit:

- :data:`DEFAULT_MAX_PIXELS` pixels per image or video frame (``--max-pixels`` or the
  ``TINIFY_MAX_PIXELS`` environment variable): 67,108,864 (8192x8192), so 50-megapixel photos
  code by default. This is the documented maximum size, not a memory stopgap: images run
  through the transforms in tiles (:mod:`tinify.models.tiling`), so memory grows only with the
  image itself and its latents, about :data:`BYTES_PER_PIXEL` bytes per pixel on top of the
  model and a few tiles (under 3 GB for a 50-megapixel photo with the default model).
- :data:`DEFAULT_MAX_FRAMES` frames per video (``--max-frames`` or ``TINIFY_MAX_FRAMES``).
  Videos are coded and decoded one frame at a time, so memory does not grow with the frame
  count; the limit bounds the time a small file can claim (a version-2 file's index must also
  fit its records, so a frame count the payload cannot hold is refused before decoding).

Both limits are the same for encoding and decoding, so whatever a default ``tinify encode``
writes, a default ``tinify decode`` reads.

A model built from a checkpoint's tensor shapes (``from_state_dict``, every checkpoint
``tinify`` loads) is bounded before anything is allocated:

- every channel count read from the shapes is at most :data:`MAX_CHANNELS` (4096; the zoo's
  models use at most 320);
- the model the shapes describe, built first on PyTorch's ``meta`` device (shapes, no memory),
  has at most :data:`DEFAULT_MAX_MODEL_PARAMETERS` parameters and buffers (2^28, 1 GiB as
  float32; the largest zoo model, ssf2020, has 34 million; ``TINIFY_MAX_MODEL_PARAMETERS``
  raises it), and each of its parameters is in the checkpoint with the same shape, so what is
  allocated is what the file holds (whose declared sizes are checked against the file's
  length by :func:`tinify.utils.checkpoint.check_state_dict`).
"""

from __future__ import annotations

import os

from tinify.codec.format import MAX_PIXELS, MAX_SIDE, FormatError
from tinify.exceptions import InputError, LimitError

__all__ = [
    "BYTES_PER_PIXEL",
    "DEFAULT_MAX_FRAMES",
    "DEFAULT_MAX_MODEL_PARAMETERS",
    "MAX_CHANNELS",
    "DEFAULT_MAX_PIXELS",
    "MIN_STREAM_BYTES",
    "LimitError",
    "check_frames",
    "check_pixels",
    "check_size",
    "check_streams",
    "max_frames",
    "max_model_parameters",
    "max_pixels",
]

#: Default limit of pixels per image or frame (8192x8192: 50-megapixel photos and more).
DEFAULT_MAX_PIXELS = 1 << 26
#: Rough memory per image pixel when coding with tiles (the padded float image, the latents,
#: the decoded image), for the messages.
BYTES_PER_PIXEL = 40
#: Default limit of frames per video.
DEFAULT_MAX_FRAMES = 2048
#: The shortest entropy-coded stream tinify writes (the rANS coder flushes a 64-bit state).
MIN_STREAM_BYTES = 8

#: The largest channel count (layer width) a checkpoint's shapes may give a model.
MAX_CHANNELS = 4096
#: Default limit of parameters and buffers (elements) of a model built from a checkpoint.
DEFAULT_MAX_MODEL_PARAMETERS = 1 << 28

_PIXELS_ENV = "TINIFY_MAX_PIXELS"
_PARAMETERS_ENV = "TINIFY_MAX_MODEL_PARAMETERS"
_FRAMES_ENV = "TINIFY_MAX_FRAMES"


def _limit(value: int | None, env: str, default: int, what: str) -> int:
    """``value`` if given, else the environment variable ``env``, else ``default``."""
    if value is not None:
        if value < 1:
            raise InputError(f"the {what} limit must be positive, got {value}")
        return value
    text = os.environ.get(env)
    if text is None or not text.strip():
        return default
    try:
        parsed = int(text.strip())
    except ValueError:
        parsed = 0
    if parsed < 1:
        raise InputError(f"{env} must be a positive integer, got {text!r}")
    return parsed


def max_pixels(value: int | None = None) -> int:
    """The pixel limit: ``value`` if given, else ``TINIFY_MAX_PIXELS``, else the default.

    Raises:
        TinifyError: ``value`` or the environment variable is not a positive integer.
    """
    return _limit(value, _PIXELS_ENV, DEFAULT_MAX_PIXELS, "pixel")


def max_model_parameters(value: int | None = None) -> int:
    """The model-size limit: ``value`` if given, else ``TINIFY_MAX_MODEL_PARAMETERS``, else the
    default.

    Raises:
        TinifyError: ``value`` or the environment variable is not a positive integer.
    """
    return _limit(value, _PARAMETERS_ENV, DEFAULT_MAX_MODEL_PARAMETERS, "model parameter")


def max_frames(value: int | None = None) -> int:
    """The frame limit: ``value`` if given, else ``TINIFY_MAX_FRAMES``, else the default.

    Raises:
        TinifyError: ``value`` or the environment variable is not a positive integer.
    """
    return _limit(value, _FRAMES_ENV, DEFAULT_MAX_FRAMES, "frame")


def check_pixels(width: int, height: int, limit: int | None = None, what: str = "image") -> None:
    """Refuse a ``width`` x ``height`` image above the pixel limit (see :func:`max_pixels`).

    Raises:
        LimitError: it is larger.
    """
    allowed = max_pixels(limit)
    if width * height > allowed:
        raise LimitError(
            f"{what} of {width}x{height} = {width * height} pixels exceeds the limit of "
            f"{allowed} pixels (coding it needs about "
            f"{_gib(BYTES_PER_PIXEL * width * height)} of memory beyond the model); "
            f"raise the limit"
            f" with --max-pixels N or {_PIXELS_ENV}=N"
        )


def check_size(
    width: int,
    height: int,
    padding: tuple[int, int, int, int],
    limit: int | None = None,
    what: str = "image",
) -> None:
    """Before coding: refuse an image above the pixel limit (:func:`check_pixels`) or one the
    format cannot hold once padded (``padding`` is ``(left, right, top, bottom)``).

    Raises:
        LimitError: it is too large.
    """
    left, right, top, bottom = padding
    ph, pw = height + top + bottom, width + left + right
    if ph > MAX_SIDE or pw > MAX_SIDE or ph * pw > MAX_PIXELS:
        raise LimitError(
            f"{what} of {width}x{height} (padded to {pw}x{ph}) is larger than a .tfy file holds "
            f"({MAX_SIDE} per side, {MAX_PIXELS} pixels); crop or split it"
        )
    check_pixels(width, height, limit, what)


def check_frames(frames: int, limit: int | None = None) -> None:
    """Refuse a video of more frames than the frame limit (see :func:`max_frames`).

    Raises:
        LimitError: it has more.
    """
    allowed = max_frames(limit)
    if frames > allowed:
        raise LimitError(
            f"a video of {frames} frames exceeds the limit of {allowed} frames; raise it with "
            f"--max-frames N or {_FRAMES_ENV}=N, or code parts with --frames N"
        )


def check_streams(lengths: tuple[int, ...] | list[int], frames: int = 1) -> None:
    """Refuse a file whose streams are too short to be real: every stream tinify writes has at
    least :data:`MIN_STREAM_BYTES` bytes, so a frame count the payload cannot hold is refused
    before anything is decoded.

    Raises:
        FormatError: a stream is shorter.
    """
    short = [i for i, n in enumerate(lengths) if n < MIN_STREAM_BYTES]
    if short:
        raise FormatError(
            f"stream {short[0]} has {lengths[short[0]]} bytes, fewer than the "
            f"{MIN_STREAM_BYTES} every coded stream has: the payload of {sum(lengths)} bytes "
            f"cannot hold {frames} frame{'s' if frames != 1 else ''} (corrupt or crafted file)"
        )


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB"
