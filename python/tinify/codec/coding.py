# SPDX-License-Identifier: Apache-2.0
"""Image <-> ``.tfy`` bytes with a loaded model: padding, the container, and its checks.

The image is zero-padded (centred, CompressAI's convention) up to the model's downsampling
factor and at least 64x64; the padding goes into the header and is cropped off after decoding.
Images whose sides are already multiples of 64 are not padded, so in coding mode 0 (``"float"``)
their streams are exactly the ones CompressAI's ``model.compress`` writes (with
``stream_chunks = 1``). Mode 1 (``"fixed"``, the default) computes the entropy parameters in
integer arithmetic instead, so a file decodes bit-exactly on any device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from tinify import __version__
from tinify.codec.format import CODING_MODES, FormatError, TfyHeader, pack, unpack
from tinify.codec.loading import LoadedModel, WeightsMismatchError, set_stream_chunks
from tinify.ops import compute_padding, crop

__all__ = ["DEFAULT_CODING", "DecodedImage", "decode_image", "encode_image", "padding_for"]

#: The coding mode :func:`encode_image` and ``tinify encode`` use unless told otherwise: the
#: deterministic fixed-point path (its rate cost on Kodak was +0.0005% with the shipped model).
DEFAULT_CODING = "fixed"

#: Smallest side the image models accept.
MIN_CODED_SIDE = 64


def padding_for(height: int, width: int, factor: int) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` zero padding taking the image to a multiple of ``factor``,
    and at least :data:`MIN_CODED_SIDE` per side."""

    def target(n: int) -> int:
        return max(-(-n // factor) * factor, -(-MIN_CODED_SIDE // factor) * factor)

    pad, _ = compute_padding(height, width, out_h=target(height), out_w=target(width))
    return pad


@contextlib.contextmanager
def _entropy_path(model: Any, path: str) -> Iterator[None]:
    """Run with ``model.entropy_path = path``, restoring the caller's setting afterwards."""
    saved = getattr(model, "entropy_path", "float")
    model.entropy_path = path
    try:
        yield
    finally:
        model.entropy_path = saved


def encode_image(
    loaded: LoadedModel, x: Tensor, stream_chunks: int = 1, coding: str = DEFAULT_CODING
) -> bytes:
    """Code one image into a complete ``.tfy`` file.

    Args:
        loaded: the model (see :func:`tinify.codec.loading.load_model`).
        x: (1, 3, H, W) float tensor in [0, 1], on the model's device.
        stream_chunks: 1 for CompressAI-compatible streams; more for tinify's parallel chunks.
        coding: ``"fixed"`` (coding mode 1, the default: entropy parameters in deterministic
            integer arithmetic, decodable bit-exactly on any device; measured rate cost on
            Kodak with the shipped model +0.0005%) or ``"float"`` (mode 0, CompressAI's
            arithmetic and streams).

    Returns:
        The file's bytes.
    """
    if x.dim() != 4 or x.size(0) != 1 or x.size(1) != 3:
        raise ValueError(f"x must have shape (1, 3, H, W), got {tuple(x.shape)}")
    modes = {name: mode for mode, name in CODING_MODES.items()}
    if coding not in modes:
        raise ValueError(f"coding must be one of {sorted(modes)}, got {coding!r}")
    model = loaded.model
    height, width = (int(s) for s in x.shape[-2:])
    pad = padding_for(height, width, model.downsampling_factor)
    set_stream_chunks(model, stream_chunks)
    with torch.no_grad(), _entropy_path(model, coding):
        out = model.compress(F.pad(x, pad) if any(pad) else x)
    streams = [group[0] for group in out["strings"]]
    header = TfyHeader(
        model=loaded.name,
        quality=loaded.quality,
        metric=loaded.metric,
        source=loaded.source,
        weights_id=loaded.weights_id,
        height=height,
        width=width,
        padding=pad,
        shapes=(tuple(int(s) for s in out["shape"]),),
        stream_chunks=stream_chunks,
        on_cuda=x.is_cuda,
        coding_mode=modes[coding],
        encoder=f"tinify {__version__}",
    )
    return pack(header, streams)


@dataclass
class DecodedImage:
    """The result of :func:`decode_image`.

    Attributes:
        x_hat: (1, 3, H, W) float tensor in [0, 1] (original size).
        header: the file's header.
        model: the model that decoded it.
    """

    x_hat: Tensor
    header: TfyHeader
    model: LoadedModel


def decode_image(
    data: bytes,
    model: LoadedModel | Callable[[TfyHeader], LoadedModel],
) -> DecodedImage:
    """Decode a ``.tfy`` file.

    Args:
        data: the file's bytes.
        model: the loaded model, or a function that loads it from the header (called only once
            the header has been checked).

    Raises:
        FormatError: the file is corrupt, truncated or inconsistent.
        WeightsMismatchError: the model is not the one the file was encoded with.
        tinify.BitstreamError: a stream does not decode.
    """
    header, streams = unpack(data)
    if header.kind != "image":
        raise FormatError(f"holds a {header.kind}; only images can be decoded by this tinify")
    loaded = model(header) if callable(model) else model
    if loaded.name != header.model or loaded.weights_id != header.weights_id:
        raise WeightsMismatchError(
            f"encoded with {header.model} weights {header.weights_id.hex()}, but the model given "
            f"is {loaded.name} weights {loaded.weights_id.hex()}; decode with the same "
            "--model/--quality/--metric or --checkpoint used to encode"
        )
    net = loaded.model
    names = getattr(net, "latent_names", ())
    if len(streams) != len(names) or len(header.shapes) != 1:
        raise FormatError(
            f"has {len(streams)} streams and {len(header.shapes)} shapes; {header.model} needs "
            f"{len(names)} streams and 1 shape (corrupt file)"
        )
    shape = header.shapes[0]
    factor = net.downsampling_factor
    if len(shape) != 2 or (shape[0] * factor, shape[1] * factor) != header.padded_size:
        raise FormatError(
            f"latent shape {shape} does not match the padded size "
            f"{header.padded_size[0]}x{header.padded_size[1]} (corrupt file)"
        )
    set_stream_chunks(net, header.stream_chunks)
    with torch.no_grad(), _entropy_path(net, CODING_MODES[header.coding_mode]):
        x_hat = net.decompress([[s] for s in streams], shape)["x_hat"]
    left, right, top, bottom = header.padding
    x_hat = crop(x_hat, (-left, -right, -top, -bottom))
    return DecodedImage(x_hat=x_hat, header=header, model=loaded)
