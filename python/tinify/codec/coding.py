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

A video is coded frame by frame (:class:`tinify.models.video.VideoEncoder`) and written as it
is coded in the streaming layout (format version 2, :class:`tinify.codec.format.VideoWriter`):
one record per frame, ``y, z`` of an I-frame or ``motion y, motion z, residual y, residual z``
of a P-frame, then the index. :func:`encode_video_to` and :func:`decode_video_frames` hold one
frame (and the reference) in memory whatever the clip's length; :func:`encode_video` and
:func:`decode_video` are their whole-clip forms. With the default intra period (0: only frame 0
is an I-frame) the streams are those of ``model.compress(frames)``. Version-1 videos (tinify
0.1.0) decode as before. Videos take the same ``entropy_path`` choice and default as images:
``"fixed"`` (mode 1) runs ssf2020's three hyper-decoders in integers, so every frame's latents
decode bit-exactly on any device; ``"float"`` (mode 0) gives CompressAI's streams.

A variable-rate model (``bmshj2018-hyperprior-vbr``, ``mbt2018-mean-vbr``, ``mbt2018-vbr``)
codes at any quantization step, a per-call ``quant_step`` option like the others (its
``inputscale`` is ``float32(1 / quant_step)``), which the header records, so one network serves
every rate. These models code with ``entropy_path="float"`` (mode 0) unless ``"fixed"`` (mode 1)
is asked for.

Large images code in bounded memory: the analysis and synthesis transforms run on tiles
(``tile_size``, :mod:`tinify.models.tiling`; automatic above 4 megapixels), :func:`encode_image`
takes the 8-bit image and builds the one padded float copy the model reads, and
:func:`tinify.io.image.tensor_to_image` converts the decoded image to 8 bits band by band.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import IO, Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from tinify import __version__
from tinify.codec.format import (
    CODING_MODES,
    FORMAT_VERSION,
    MAX_FRAMES,
    FormatError,
    TfyHeader,
    VideoReader,
    VideoWriter,
    pack,
    unpack,
)
from tinify.codec.limits import check_frames, check_pixels, check_size, check_streams
from tinify.codec.loading import LoadedModel, WeightsMismatchError
from tinify.exceptions import ParameterError
from tinify.models.base import last_latent_size
from tinify.models.image.vbr import ScaleHyperpriorVbr
from tinify.models.video import ScaleSpaceFlow, VideoDecoder, VideoEncoder
from tinify.ops import compute_padding, crop
from tinify.utils.progress import report

__all__ = [
    "DEFAULT_ENTROPY_PATH",
    "DEFAULT_QUANT_STEP",
    "DecodedImage",
    "DecodedVideo",
    "decode_image",
    "decode_video",
    "decode_video_frames",
    "default_entropy_path",
    "encode_image",
    "encode_video",
    "encode_video_to",
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
    """True for the variable-rate models (coded at a quantization step)."""
    return isinstance(model, ScaleHyperpriorVbr)


def default_entropy_path(model: Any) -> str:
    """The ``entropy_path`` used when none is asked for: :data:`DEFAULT_ENTROPY_PATH`, or
    ``"float"`` for the variable-rate models (their fixed-point path, ``--coding fixed``, codes
    the hyper-latent at unit step, see :mod:`tinify.models.image.vbr`, so the float path stays
    their default until its rate cost is measured with the published weights)."""
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
    the ``entropy_path``, ``stream_chunks`` is stored as is, and so is
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
    frames: Iterable[Tensor],
    fps: Fraction,
    yuv444: bool = False,
    *,
    entropy_path: str | None = None,
    gop: int = 0,
    stream_chunks: int = 1,
    max_pixels: int | None = None,
    max_frames: int | None = None,
) -> bytes:
    """Code a clip into a complete ``.tfy`` file (kind video) in memory: :func:`encode_video_to`
    into a buffer; returns the file's bytes."""
    buffer = io.BytesIO()
    encode_video_to(
        buffer,
        loaded,
        frames,
        fps,
        yuv444,
        gop=gop,
        entropy_path=entropy_path,
        stream_chunks=stream_chunks,
        max_pixels=max_pixels,
        max_frames=max_frames,
    )
    return buffer.getvalue()


def encode_video_to(
    file: IO[bytes],
    loaded: LoadedModel,
    frames: Iterable[Tensor],
    fps: Fraction,
    yuv444: bool = False,
    *,
    gop: int = 0,
    entropy_path: str | None = None,
    stream_chunks: int = 1,
    max_pixels: int | None = None,
    max_frames: int | None = None,
) -> TfyHeader:
    """Code a clip frame by frame into ``file`` (format version 2), writing each frame's record
    as soon as it is coded; return the header (with the frame count).

    ``frames`` may be any iterable (a reader's generator): one frame is read ahead, so memory
    holds two input frames, the reference and one frame's working set, whatever the clip's
    length. ``file`` only needs ``write`` (a pipe will do); it is complete once this returns.
    Write to a temporary file and rename it (:func:`tinify.utils.files.atomic_path`) to publish
    it all or nothing: an error leaves a file without an index, which readers refuse.

    Args:
        file: a binary file opened for writing.
        loaded: a video model (``ssf2020``).
        frames: (1, 3, H, W) float tensors in [0, 1], all of one size, on the model's device.
        fps: the frame rate to record.
        yuv444: the source was 4:4:4 YUV (recorded so that decoding to Y4M keeps it).
        entropy_path: ``"fixed"`` (coding mode 1, the default as for images: bit-exact
            latents on any device) or ``"float"`` (mode 0, CompressAI's streams).
        gop: intra period: an I-frame every ``gop`` frames (0: only frame 0, CompressAI's video
            evaluation, the default), recorded in the header.
        stream_chunks: 1 for CompressAI-compatible streams; more for tinify's parallel chunks.
        max_pixels: refuse larger frames (default: :func:`tinify.codec.limits.max_pixels`).
        max_frames: refuse more frames (default: :func:`tinify.codec.limits.max_frames`),
            checked as they come, before the first extra frame is coded.

    Raises:
        ParameterError: not a video model, no frames, frames of different shapes, or a bad
            ``gop``.
        LimitError: frames larger than ``max_pixels`` or more than ``max_frames``.
    """
    model = _video_net(loaded)
    if isinstance(gop, bool) or not isinstance(gop, int) or not 0 <= gop <= MAX_FRAMES:
        raise ParameterError(f"gop must be an integer in 0..{MAX_FRAMES}, got {gop!r}")
    source = iter(frames)
    x = next(source, None)
    if x is None:
        raise ParameterError("frames must be a non-empty list of (1, 3, H, W) tensors")
    shape = _frame_shape(x, 0)
    height, width = shape[-2:]
    pad = padding_for(height, width, model.downsampling_factor)
    check_size(width, height, pad, max_pixels, "a frame")
    factor = model.downsampling_factor
    options = model.coding_options(entropy_path or default_entropy_path(model), stream_chunks)
    header = _header(
        loaded,
        height=height,
        width=width,
        padding=pad,
        shapes=(((height + pad[2] + pad[3]) // factor, (width + pad[0] + pad[1]) // factor),),
        stream_chunks=stream_chunks,
        kind="video",
        frames=0,
        fps=Fraction(fps),
        on_cuda=x.is_cuda,
        yuv444=yuv444,
        coding_mode={name: mode for mode, name in CODING_MODES.items()}[options.entropy_path],
        gop=gop,
    )
    writer = VideoWriter(file, header)
    encoder = VideoEncoder(
        model, gop=gop, entropy_path=options.entropy_path, stream_chunks=stream_chunks
    )
    count = 0
    while x is not None:
        count += 1
        check_frames(count, max_frames)
        following = next(source, None)
        if following is not None and _frame_shape(following, count) != shape:
            raise ParameterError(
                f"frame {count} has shape {tuple(following.shape)}, frame 0 {shape}: all "
                "frames must have the same shape"
            )
        coded = encoder.encode(F.pad(x, pad) if any(pad) else x, last=following is None)
        writer.add_frame(coded.intra, coded.streams)
        report("frames", count)
        x = following
    writer.close()
    return replace(writer.header, frames=count)


def _frame_shape(x: Any, index: int) -> tuple[int, ...]:
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[:2] != (1, 3):
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ParameterError(f"frame {index} must be a (1, 3, H, W) tensor, got {got}")
    return tuple(int(s) for s in x.shape)


def _video_net(loaded: LoadedModel) -> ScaleSpaceFlow:
    """The network of a video model (the frame layout of the format is its).

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
        header: the file's header (with the frame count; for a version-2 file also the stream
            lengths of every frame read, in version 1's order, so
            :func:`tinify.codec.format.frame_streams` applies).
        model: the model that decoded it.
    """

    frames: list[Tensor]
    header: TfyHeader
    model: LoadedModel


def open_video(data: bytes | IO[bytes] | VideoReader) -> VideoReader:
    """A :class:`~tinify.codec.format.VideoReader` over a file's bytes or an open binary file
    (or the reader given), refusing an image.

    Raises:
        FormatError: not a ``.tfy`` video, truncated or corrupt.
    """
    reader = data if isinstance(data, VideoReader) else VideoReader(data)
    if reader.header.kind != "video":
        raise FormatError(f"holds an {reader.header.kind}; decode it to an image file (.png)")
    return reader


def decode_video_frames(
    data: bytes | IO[bytes] | VideoReader,
    model: ModelOrLoader,
    *,
    start: int = 0,
    stop: int | None = None,
    max_pixels: int | None = None,
    max_frames: int | None = None,
    streams: list[int] | None = None,
) -> Iterator[tuple[int, Tensor]]:
    """Decode a video file frame by frame: yield ``(index, frame)`` for frames ``start`` to
    ``stop - 1``, each (1, 3, H, W) in [0, 1] at the original size.

    Decoding starts at the I-frame at or before ``start`` (the index's GOP start, so with an
    intra period only that group is decoded before ``start``); frames before ``start`` are
    decoded but not yielded. Memory: one frame record, the reference and the frame yielded.
    The header, the index, the limits and the records to decode (a first pass over them:
    CRCs, numbers, types, sizes) are checked before the model is loaded, so a damaged file
    costs no decoding and yields nothing.

    Args:
        data: the file's bytes, an open seekable binary file, or a reader.
        model: the loaded video model, or a function that loads it from the header.
        start, stop: the frames to yield (``stop`` None: to the end).
        max_pixels: refuse larger frames (default: :func:`tinify.codec.limits.max_pixels`).
        max_frames: refuse more frames (default: :func:`tinify.codec.limits.max_frames`).
        streams: when a list, each frame's stream lengths are appended to it as it is read.

    Raises:
        FormatError: the file is corrupt, truncated or inconsistent, or holds an image; an
            empty or out-of-range frame range.
        LimitError: the frames are larger than ``max_pixels`` or more than ``max_frames``.
        WeightsMismatchError: the model is not the one the file was encoded with.
        tinify.BitstreamError: a stream does not decode.
    """
    reader = open_video(data)
    header = reader.header
    stop = header.frames if stop is None else stop
    if not 0 <= start < stop <= header.frames:
        raise ParameterError(
            f"frames {start}:{stop} are outside the video's 0:{header.frames}; give a range "
            f"A:B with 0 <= A < B <= {header.frames}"
        )
    check_pixels(header.width, header.height, max_pixels, "a frame")
    check_frames(header.frames, max_frames)
    if header.version == FORMAT_VERSION:
        check_streams(header.stream_lengths, header.frames)
    first = reader.gop_start(start)
    reader.verify(first, stop)  # a damaged record is refused before anything is decoded
    loaded = _model_for(header, model)
    net = _video_net(loaded)
    shape = tuple(_check_shape(header, net.downsampling_factor))
    options = _options(header)
    decoder = VideoDecoder(
        net, entropy_path=options["entropy_path"], stream_chunks=options["stream_chunks"]
    )
    left, right, top, bottom = header.padding
    for index in range(first, stop):
        intra, record = reader.read_frame(index)
        check_streams([len(s) for s in record], 1)
        if streams is not None:
            streams.extend(len(s) for s in record)
        lists = [[s] for s in record]
        if intra:
            x = decoder.decode(lists, shape)
        else:
            both = {"motion": shape, "residual": shape}
            x = decoder.decode({"motion": lists[:2], "residual": lists[2:]}, both)
        report("frames", index + 1 - first, stop - first)
        if index >= start:
            yield index, crop(x, (-left, -right, -top, -bottom))


def decode_video(
    data: bytes | IO[bytes],
    model: ModelOrLoader,
    *,
    max_pixels: int | None = None,
    max_frames: int | None = None,
) -> DecodedVideo:
    """Decode a whole ``.tfy`` video into memory (:func:`decode_video_frames`, every frame).

    Args:
        data: the file's bytes (or an open seekable binary file).
        model: the loaded video model, or a function that loads it from the header (called only
            once the header has been checked).
        max_pixels: refuse larger frames (default: :func:`tinify.codec.limits.max_pixels`).
        max_frames: refuse more frames (default: :func:`tinify.codec.limits.max_frames`).

    Raises:
        As :func:`decode_video_frames`.
    """
    reader = open_video(data)
    loaded: list[LoadedModel] = []

    def load(header: TfyHeader) -> LoadedModel:
        loaded.append(model(header) if callable(model) else model)
        return loaded[0]

    lengths: list[int] = []
    frames = [
        x
        for _, x in decode_video_frames(
            reader, load, max_pixels=max_pixels, max_frames=max_frames, streams=lengths
        )
    ]
    header = reader.header
    if header.version != FORMAT_VERSION:
        header = replace(header, stream_lengths=tuple(lengths))
    return DecodedVideo(frames=frames, header=header, model=loaded[0])
