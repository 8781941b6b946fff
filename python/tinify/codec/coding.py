# SPDX-License-Identifier: Apache-2.0
"""Images and videos <-> ``.tfy`` bytes with a loaded model: padding, the container, checks.

The image is zero-padded (centred, CompressAI's convention) up to the model's downsampling
factor and at least 64x64; the padding goes into the header and is cropped off after decoding.

The options are passed to ``model.compress`` / ``model.decompress`` per call (the model is never
modified, so threads may share it): ``entropy_path``, which the header stores as its coding mode
(:data:`tinify.codec.format.CODING_MODES`: 0 = ``"float"``, 1 = ``"fixed"``; ``tinify encode
--coding``), and ``stream_chunks``, which the header stores as is. Images whose sides are
already multiples of 64 are not padded, so with ``entropy_path="float"`` their streams are
exactly the ones CompressAI's ``model.compress`` writes (with ``stream_chunks=1``).
``"fixed"`` (the default) computes the entropy parameters in integer arithmetic instead, so a
file decodes bit-exactly on any device.

A video's streams are those of ``model.compress(frames)`` (a :class:`ScaleSpaceFlow`), flattened
in the order of :func:`tinify.codec.format.frame_streams`: ``y, z`` of the I-frame, then
``motion y, motion z, residual y, residual z`` of each P-frame. Videos are coded with
``entropy_path="float"`` (mode 0): ssf2020 has no fixed-point path yet.

A variable-rate model (``bmshj2018-hyperprior-vbr``, ``mbt2018-mean-vbr``, ``mbt2018-vbr``)
codes at any quantization step, a per-call ``quant_step`` option like the others (its
``inputscale`` is ``float32(1 / quant_step)``), which the header records, so one network serves
every rate. These models code with ``entropy_path="float"`` (mode 0).

Large images code in bounded memory: the analysis and synthesis transforms run on tiles
(``tile_size``, :mod:`tinify.models.tiling`; automatic above 4 megapixels), :func:`encode_image`
takes the 8-bit image and builds the one padded float copy the model reads, and
:func:`tinify.io.image.tensor_to_image` converts the decoded image to 8 bits band by band.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from tinify import __version__
from tinify.codec.format import (
    CODING_MODES,
    FormatError,
    TfyHeader,
    frame_streams,
    pack,
    unpack,
)
from tinify.codec.limits import check_frames, check_pixels, check_size, check_streams
from tinify.codec.loading import LoadedModel, WeightsMismatchError
from tinify.exceptions import ParameterError
from tinify.models.base import last_latent_size
from tinify.models.image.vbr import ScaleHyperpriorVbr
from tinify.models.video import ScaleSpaceFlow
from tinify.ops import compute_padding, crop

__all__ = [
    "DEFAULT_ENTROPY_PATH",
    "DEFAULT_QUANT_STEP",
    "DecodedImage",
    "DecodedVideo",
    "decode_image",
    "decode_video",
    "default_entropy_path",
    "encode_image",
    "encode_video",
    "is_variable_rate_model",
    "padded_image",
    "padding_for",
    "rate_options",
]

#: A loaded model, or a function that loads it from the checked header.
ModelOrLoader = Union[LoadedModel, Callable[[TfyHeader], LoadedModel]]

#: The ``entropy_path`` :func:`encode_image` and ``tinify encode`` use unless told otherwise: the
#: deterministic fixed-point path (its rate cost on Kodak was +0.0005% with the shipped model).
DEFAULT_ENTROPY_PATH = "fixed"

#: Smallest side the image models accept.
MIN_CODED_SIDE = 64

#: The quantization step of a variable-rate model when none is given: that of CompressAI's
#: third lambda (0.0067, the zoo's default quality 3), ``1 / 0.19293``.
DEFAULT_QUANT_STEP = 5.1832


def is_variable_rate_model(model: Any) -> bool:
    """True for the variable-rate models (coded at a quantization step, float path only)."""
    return isinstance(model, ScaleHyperpriorVbr)


def default_entropy_path(model: Any) -> str:
    """The ``entropy_path`` used when none is asked for: :data:`DEFAULT_ENTROPY_PATH`, or
    ``"float"`` for the variable-rate models (they have no fixed-point path)."""
    return "float" if is_variable_rate_model(model) else DEFAULT_ENTROPY_PATH


def rate_options(model: Any, quant_step: float | None) -> dict[str, Any]:
    """The keyword arguments that set a model's rate for ``compress`` / ``decompress`` /
    ``forward``: ``{"quant_step": quant_step}`` for a variable-rate model (the step defaults
    to :data:`DEFAULT_QUANT_STEP`; the model codes at ``inputscale = float32(1 / step)``),
    ``{}`` for the others.

    Raises:
        ParameterError: a step for a model that takes none, or a step out of range.
    """
    if not is_variable_rate_model(model):
        if quant_step is not None:
            raise ParameterError(
                "a quantization step is for the variable-rate models (*-vbr); this model codes "
                "at the rate of its weights (choose --quality)"
            )
        return {}
    from tinify.codec.format import MAX_QUANT_STEP, MIN_QUANT_STEP

    step = DEFAULT_QUANT_STEP if quant_step is None else float(quant_step)
    if not MIN_QUANT_STEP <= step <= MAX_QUANT_STEP:
        raise ParameterError(
            f"the quantization step must be in {MIN_QUANT_STEP:g}..{MAX_QUANT_STEP:g}, got "
            f"{quant_step!r} (CompressAI's models are trained for 1 to 10)"
        )
    return {"quant_step": step}


def padding_for(height: int, width: int, factor: int) -> tuple[int, int, int, int]:
    """``(left, right, top, bottom)`` zero padding taking the image to a multiple of ``factor``,
    and at least :data:`MIN_CODED_SIDE` per side."""

    def target(n: int) -> int:
        return max(-(-n // factor) * factor, -(-MIN_CODED_SIDE // factor) * factor)

    pad, _ = compute_padding(height, width, out_h=target(height), out_w=target(width))
    return pad


def padded_image(x: Tensor, pad: tuple[int, int, int, int], dtype: torch.dtype) -> Tensor:
    """The image the model codes: ``x`` zero-padded by ``pad`` (left, right, top, bottom) as a
    float tensor of ``dtype``, in one allocation. An 8-bit ``x`` is scaled by 1/255 in place
    (the values of ``x.to(dtype) / 255``); a float ``x`` without padding is returned as is."""
    if x.is_floating_point() and not any(pad):
        return x
    if x.is_floating_point():
        return F.pad(x, pad)
    left, right, top, bottom = pad
    height, width = (int(s) for s in x.shape[-2:])
    out = x.new_zeros((*x.shape[:-2], height + top + bottom, width + left + right), dtype=dtype)
    region = out[..., top : top + height, left : left + width]
    region.copy_(x)
    region.div_(255)
    return out


def encode_image(
    loaded: LoadedModel,
    x: Tensor,
    *,
    entropy_path: str | None = None,
    stream_chunks: int = 1,
    quant_step: float | None = None,
    max_pixels: int | None = None,
    icc_profile: bytes = b"",
    tile_size: int | None = None,
) -> bytes:
    """Code one image into a complete ``.tfy`` file.

    Args:
        loaded: the model (see :func:`tinify.codec.loading.load_model`).
        x: (1, 3, H, W) float tensor in [0, 1], or uint8 tensor (0..255, scaled by 1/255
            while padding: no second float copy of a large image), on the model's device.
        entropy_path: ``"fixed"`` (coding mode 1, the default: entropy parameters in
            deterministic integer arithmetic, decodable bit-exactly on any device; measured
            rate cost on Kodak with the shipped model +0.0005%) or ``"float"`` (mode 0,
            CompressAI's arithmetic and streams); None: the model's default
            (:func:`default_entropy_path`: ``"float"`` for the variable-rate models, their only
            path).
        stream_chunks: 1 for CompressAI-compatible streams; more for tinify's parallel chunks.
        quant_step: variable-rate models only: the quantization step (default
            :data:`DEFAULT_QUANT_STEP`; larger steps give lower rates), recorded in the header.
        max_pixels: refuse a larger image (default: :func:`tinify.codec.limits.max_pixels`).
        icc_profile: the image's ICC colour profile, stored in the header (empty: sRGB).
        tile_size: tile side of the analysis transform (None: automatic, 0: whole image; see
            :mod:`tinify.models.tiling`). Not recorded: the decoder may use any tile size.

    Returns:
        The file's bytes.

    Raises:
        tinify.ParameterError (a ValueError): a malformed ``x``, an unknown ``entropy_path`` or
            a ``stream_chunks`` outside 1..65536.
        LimitError: the image is larger than ``max_pixels`` or than the format holds (checked
            before coding).
    """
    if x.dim() != 4 or x.size(0) != 1 or x.size(1) != 3:
        raise ParameterError(f"x must have shape (1, 3, H, W), got {tuple(x.shape)}")
    modes = {name: mode for mode, name in CODING_MODES.items()}
    model = loaded.model
    options = model.coding_options(entropy_path or default_entropy_path(model), stream_chunks)
    if is_variable_rate_model(model):
        if options.fixed:
            raise ParameterError(
                f"{loaded.name} has no fixed-point path: code it with --coding float (mode 0)"
            )
        quant_step = DEFAULT_QUANT_STEP if quant_step is None else float(quant_step)
    rate = rate_options(model, quant_step)
    height, width = (int(s) for s in x.shape[-2:])
    pad = padding_for(height, width, model.downsampling_factor)
    check_size(width, height, pad, max_pixels)
    on_cuda = x.is_cuda
    weight = next(model.parameters(), None)
    x = padded_image(x, pad, torch.float32 if weight is None else weight.dtype)
    with torch.no_grad():
        out = model.compress(
            x,
            entropy_path=options.entropy_path,
            stream_chunks=options.stream_chunks,
            tile_size=tile_size,
            **rate,
        )
    del x
    streams = [group[0] for group in out["strings"]]
    header = _header(
        loaded,
        height=height,
        width=width,
        padding=pad,
        shapes=(last_latent_size(out["shape"]),),
        stream_chunks=stream_chunks,
        on_cuda=on_cuda,
        coding_mode=modes[options.entropy_path],
        quant_step=quant_step,
        icc_profile=bytes(icc_profile),
    )
    return pack(header, streams)


def _header(loaded: LoadedModel, **fields: Any) -> TfyHeader:
    """The header of a file written with ``loaded``: its identity (name, quality, metric, weights
    source and id) and this tinify as the encoder, plus ``fields``."""
    return TfyHeader(
        model=loaded.name,
        quality=loaded.quality,
        metric=loaded.metric,
        source=loaded.source,
        weights_id=loaded.weights_id,
        encoder=f"tinify {__version__}",
        **fields,
    )


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


def _options(header: TfyHeader) -> dict[str, Any]:
    """The ``compress`` options a file was coded with, for ``decompress``: its coding mode is
    the ``entropy_path`` (mode 0 for every video), ``stream_chunks`` is stored as is, and so is
    a variable-rate model's ``quant_step``."""
    return {
        "entropy_path": CODING_MODES[header.coding_mode],
        "stream_chunks": header.stream_chunks,
        **({} if header.quant_step is None else {"quant_step": header.quant_step}),
    }


def _is_video_model(name: str) -> bool:
    from tinify.zoo import video_models

    return name in video_models


def _model_for(header: TfyHeader, model: ModelOrLoader) -> LoadedModel:
    """Check that the header's model suits its kind, load the model and check its weights."""
    if (header.kind == "video") != _is_video_model(header.model):
        raise FormatError(
            f"holds a {header.kind} coded with {header.model}, which is not a {header.kind} "
            "model (corrupt file)"
        )
    loaded = model(header) if callable(model) else model
    if loaded.name != header.model or loaded.weights_id != header.weights_id:
        raise WeightsMismatchError(
            f"encoded with {header.model} weights {header.weights_id.hex()}, but the model given "
            f"is {loaded.name} weights {loaded.weights_id.hex()}; decode with the same "
            "--model/--quality/--metric or --checkpoint used to encode"
        )
    return loaded


def _check_shape(header: TfyHeader, factor: int) -> tuple[int, ...]:
    shape = header.shapes[0]
    if len(shape) != 2 or (shape[0] * factor, shape[1] * factor) != header.padded_size:
        raise FormatError(
            f"latent shape {shape} does not match the padded size "
            f"{header.padded_size[0]}x{header.padded_size[1]} (corrupt file)"
        )
    return shape


def decode_image(
    data: bytes,
    model: ModelOrLoader,
    *,
    max_pixels: int | None = None,
    tile_size: int | None = None,
) -> DecodedImage:
    """Decode a ``.tfy`` file holding an image.

    Args:
        data: the file's bytes.
        model: the loaded model, or a function that loads it from the header (called only once
            the header has been checked).
        max_pixels: refuse a larger image (default: :func:`tinify.codec.limits.max_pixels`).
        tile_size: tile side of the synthesis transform (None: automatic, 0: whole image);
            every value decodes the same image up to float rounding.

    Raises:
        FormatError: the file is corrupt, truncated or inconsistent, or holds a video.
        LimitError: the image is larger than ``max_pixels``.
        WeightsMismatchError: the model is not the one the file was encoded with.
        tinify.BitstreamError: a stream does not decode.
    """
    header, streams = unpack(data)
    if header.kind != "image":
        raise FormatError(f"holds a {header.kind}; decode it to a frame folder, .y4m or .yuv")
    check_pixels(header.width, header.height, max_pixels)
    check_streams(header.stream_lengths)
    loaded = _model_for(header, model)
    net = loaded.model
    names = getattr(net, "latent_names", ())
    if len(streams) != len(names) or len(header.shapes) != 1:
        raise FormatError(
            f"has {len(streams)} streams and {len(header.shapes)} shapes; {header.model} needs "
            f"{len(names)} streams and 1 shape (corrupt file)"
        )
    shape = _check_shape(header, net.downsampling_factor)
    if (header.quant_step is None) == is_variable_rate_model(net):
        raise FormatError(
            f"{header.model} "
            + (
                "needs a quantization step, the header has none"
                if header.quant_step is None
                else "takes no quantization step, the header has one"
            )
            + " (corrupt file)"
        )
    with torch.no_grad():
        x_hat = net.decompress(
            [[s] for s in streams], shape, tile_size=tile_size, **_options(header)
        )["x_hat"]
    left, right, top, bottom = header.padding
    x_hat = crop(x_hat, (-left, -right, -top, -bottom))
    return DecodedImage(x_hat=x_hat, header=header, model=loaded)


# -- video ----------------------------------------------------------------------------------------


def encode_video(
    loaded: LoadedModel,
    frames: Sequence[Tensor],
    fps: Fraction,
    yuv444: bool = False,
    *,
    stream_chunks: int = 1,
    max_pixels: int | None = None,
    max_frames: int | None = None,
) -> bytes:
    """Code a clip into a complete ``.tfy`` file (kind video).

    Args:
        loaded: a video model (``ssf2020``).
        frames: (1, 3, H, W) float tensors in [0, 1], all of one size, on the model's device.
        fps: the frame rate to record.
        yuv444: the source was 4:4:4 YUV (recorded so that decoding to Y4M keeps it).
        stream_chunks: 1 for CompressAI-compatible streams; more for tinify's parallel chunks.
        max_pixels: refuse larger frames (default: :func:`tinify.codec.limits.max_pixels`).
        max_frames: refuse more frames (default: :func:`tinify.codec.limits.max_frames`).

    Returns:
        The file's bytes.

    Raises:
        ParameterError: not a video model, no frames, or frames of different shapes.
        LimitError: frames larger than ``max_pixels`` or more than ``max_frames``.
    """
    model = _video_net(loaded)
    if not frames or any(x.dim() != 4 or x.shape[:2] != (1, 3) for x in frames):
        raise ParameterError("frames must be a non-empty list of (1, 3, H, W) tensors")
    height, width = (int(s) for s in frames[0].shape[-2:])
    pad = padding_for(height, width, model.downsampling_factor)
    check_size(width, height, pad, max_pixels, "a frame")
    check_frames(len(frames), max_frames)
    with torch.no_grad():
        strings, shapes = model.compress(
            [F.pad(x, pad) if any(pad) else x for x in frames],
            entropy_path="float",
            stream_chunks=stream_chunks,
        )
    streams = [strings[0][0][0], strings[0][1][0]]
    for frame in strings[1:]:
        for key in ("motion", "residual"):
            streams += [frame[key][0][0], frame[key][1][0]]
    shape = tuple(int(s) for s in shapes[0])
    header = _header(
        loaded,
        height=height,
        width=width,
        padding=pad,
        shapes=(shape,),
        stream_chunks=stream_chunks,
        kind="video",
        frames=len(frames),
        fps=Fraction(fps),
        on_cuda=frames[0].is_cuda,
        yuv444=yuv444,
    )
    return pack(header, streams)


def _video_net(loaded: LoadedModel) -> ScaleSpaceFlow:
    """The network of a video model (the layout of :func:`frame_streams` is its).

    Raises:
        ParameterError: ``loaded`` is not a video model.
    """
    if not _is_video_model(loaded.name) or not isinstance(loaded.model, ScaleSpaceFlow):
        raise ParameterError(f"{loaded.name} is not a video model; a video needs ssf2020")
    return loaded.model


@dataclass
class DecodedVideo:
    """The result of :func:`decode_video`.

    Attributes:
        frames: (1, 3, H, W) float tensors in [0, 1] (original size), one per frame.
        header: the file's header.
        model: the model that decoded it.
    """

    frames: list[Tensor]
    header: TfyHeader
    model: LoadedModel


def decode_video(
    data: bytes,
    model: ModelOrLoader,
    *,
    max_pixels: int | None = None,
    max_frames: int | None = None,
) -> DecodedVideo:
    """Decode a ``.tfy`` file holding a video.

    Args:
        data: the file's bytes.
        model: the loaded video model, or a function that loads it from the header (called only
            once the header has been checked).
        max_pixels: refuse larger frames (default: :func:`tinify.codec.limits.max_pixels`).
        max_frames: refuse more frames (default: :func:`tinify.codec.limits.max_frames`).

    Raises:
        FormatError: the file is corrupt, truncated or inconsistent (a stream too short for
            its frames), or holds an image.
        LimitError: the frames are larger than ``max_pixels`` or more than ``max_frames``.
        WeightsMismatchError: the model is not the one the file was encoded with.
        tinify.BitstreamError: a stream does not decode.
    """
    header, streams = unpack(data)
    if header.kind != "video":
        raise FormatError(f"holds an {header.kind}; decode it to an image file (.png)")
    check_pixels(header.width, header.height, max_pixels, "a frame")
    check_frames(header.frames, max_frames)
    check_streams(header.stream_lengths, header.frames)
    loaded = _model_for(header, model)
    net = _video_net(loaded)
    shape = _check_shape(header, net.downsampling_factor)
    strings: list[Any] = []
    shapes: list[Any] = []
    for i, indexes in enumerate(frame_streams(header)):
        s = [[streams[k]] for k in indexes]
        if i == 0:
            strings.append(s)
            shapes.append(shape)
        else:
            strings.append({"motion": s[:2], "residual": s[2:]})
            shapes.append({"motion": shape, "residual": shape})
    left, right, top, bottom = header.padding
    with torch.no_grad():
        decoded = net.decompress(strings, shapes, **_options(header))
    frames = [crop(x, (-left, -right, -top, -bottom)) for x in decoded]
    return DecodedVideo(frames=frames, header=header, model=loaded)
