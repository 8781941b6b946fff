# SPDX-License-Identifier: Apache-2.0
"""Tiled application of the analysis and synthesis transforms: any image size in bounded memory.

A convolutional transform is shift-equivariant up to its stride: each output position depends
on a bounded window of the input (its receptive field). :func:`receptive_field` derives that
window from the transform's modules, and :func:`analyze` / :func:`synthesize` run the transform
on overlapping tiles, each extended by its **halo** (the receptive-field margin), crop the halo
off and write the tile into the output. Where a tile touches the image border its extension is
clipped there, so the convolutions zero-pad exactly as on the whole image; inside the image the
halo holds the only wrong values (from the tile's own zero padding), and it is cropped. Every
latent and every pixel therefore equals the whole-image computation up to float rounding (the
convolution kernels may sum in another order on another tile size), and a decoder may use any
tile size: the stream carries no tiling.

**The receptive field.** Each module maps an output position ``o`` to the input interval
``[o*f - lo, o*f + hi]`` (``f`` input units per output unit: the stride of a convolution,
``1/s`` for a transposed convolution or a pixel shuffle). A chain composes as
``LO += lo*F, HI += hi*F, F *= f`` (``F`` the factor from the transform's input to the current
feature map); parallel branches (residual and attention blocks) take the largest ``lo`` and
``hi``; pointwise layers (activations, GDN, which mixes channels only) add nothing. The bounds
are exact real numbers (:class:`fractions.Fraction`), so the interval contains every input the
output reads, whatever the integer rounding of strided positions. A module type with spatial
extent that is not known here raises :class:`~tinify.exceptions.ParameterError` rather than
guessing; :func:`register_layer` teaches a new type (say a fused inference copy of a layer).

Tiles are aligned to the transform's total stride (analysis tiles and halos are multiples of
it), so every strided convolution samples the same positions as on the whole image.

**Shrinking halos.** A sequential synthesis transform runs a tile child by child and crops each
child's output to what the remaining children still read (:class:`_Stages`): the halo is
mostly the reach of the low-resolution layers, so the full-resolution layers, which cost the
most, run on the tile and a few pixels. cheng2020-attn's ``g_s`` on 512-pixel tiles of a 1.5 MP
image took 1.89x the whole-image time with the full halo on every layer, 1.10x this way.

**Streamed analysis.** Analysis transforms are the other way round: their most expensive layers
come first, at full and half resolution, and must compute the whole halo the later layers read
(cheng2020's reach 57-120 pixels each way). A sequential analysis transform therefore does not
run on overlapping tiles but streams (:class:`_RowStream`): column strips
:data:`STREAM_STRIP_TILES` tiles wide (the whole width up to that), each in bands of rows a tile
over :data:`STREAM_STRIP_TILES` high, every child computing each of its rows once and keeping
the few input rows it still reads (a line buffer). A band holds about a tile's pixels, so the
memory stays that of a tile; only each child's own reach is computed twice per band. At 3 MP
(one thread) cheng2020-anchor's tiled ``g_a`` costs 1.07x the whole-image time where overlapping
tiles cost 1.26x, cheng2020-attn's 1.07x where they cost 1.47x.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import torch
from torch import Tensor, nn

from tinify.exceptions import ParameterError
from tinify.layers import (
    GDN,
    GDN1,
    IGDN,
    AttentionBlock,
    MaskedConv2d,
    ResidualBlock,
    ResidualBlockUpsample,
    ResidualBlockWithStride,
    ResidualUnit,
    SpectralConv2d,
    SpectralConvTranspose2d,
)
from tinify.utils.memory import release_free_memory
from tinify.utils.progress import report

__all__ = [
    "AUTO_TILE_PIXELS",
    "AUTO_TILE_SIZE",
    "AUTO_TILE_SPAN",
    "STREAM_STRIP_TILES",
    "ReceptiveField",
    "analyze",
    "auto_tile",
    "check_tile_size",
    "image_tile",
    "latent_tiles",
    "receptive_field",
    "register_layer",
    "synthesize",
    "tile_grid",
]


#: With ``tile_size=None`` (automatic), images of more pixels than this are tiled.
AUTO_TILE_PIXELS = 4 << 20
#: With ``tile_size=None``, the largest tile side (pixels of the image) above
#: :data:`AUTO_TILE_PIXELS`.
AUTO_TILE_SIZE = 1024
#: With ``tile_size=None``, a tile and its halo span at most this many pixels: 1024-pixel tiles
#: for transforms whose halo is at most 64 pixels (bmshj2018, mbt2018), smaller ones for wider
#: fields (cheng2020's and ELIC's reach 57-179 pixels each way), so that a tile's activations
#: take about the same memory whatever the model (a 1024-pixel tile of cheng2020-attn's ``g_s``
#: spans 1376 pixels and took 1.5 GiB; 704 pixels span 1088).
AUTO_TILE_SPAN = AUTO_TILE_SIZE + 64


#: A sequential analysis transform streams column strips this many tiles wide in bands of
#: rows a tile's side over this many high (about a tile's pixels per band, see
#: :class:`_RowStream`): wide strips make the side halos a small part of the work.
STREAM_STRIP_TILES = 4


@dataclass(frozen=True)
class ReceptiveField:
    """Output position ``o`` of a module reads its input in ``[o*factor - lo, o*factor + hi]``.

    Attributes:
        factor: input units per output unit (2 for a stride-2 convolution, 1/2 for a stride-2
            transposed convolution, 16 for a /16 analysis transform).
        lo: reach towards lower indices, in input units.
        hi: reach towards higher indices, in input units.
    """

    factor: Fraction = Fraction(1)
    lo: Fraction = Fraction(0)
    hi: Fraction = Fraction(0)

    def then(self, nxt: ReceptiveField) -> ReceptiveField:
        """This module followed by ``nxt`` (``nxt`` reads this one's output)."""
        return ReceptiveField(
            self.factor * nxt.factor,
            self.lo + nxt.lo * self.factor,
            self.hi + nxt.hi * self.factor,
        )

    def join(self, other: ReceptiveField) -> ReceptiveField:
        """Two branches read the same input and their outputs are combined pointwise.

        Raises:
            ParameterError: the branches scale differently (their outputs could not be added).
        """
        if self.factor != other.factor:
            raise ParameterError(
                f"parallel branches with different scales ({self.factor} and {other.factor})"
            )
        return ReceptiveField(self.factor, max(self.lo, other.lo), max(self.hi, other.hi))


POINTWISE = ReceptiveField()

#: ``type -> function(module) -> ReceptiveField`` for every module type with a known field.
_RULES: dict[type, Callable[[nn.Module], ReceptiveField]] = {}


def register_layer(cls: type, rule: Callable[[nn.Module], ReceptiveField] | None = None) -> None:
    """Teach :func:`receptive_field` a module type.

    Args:
        cls: the module class (its subclasses are covered only if they keep its ``forward``).
        rule: ``rule(module) -> ReceptiveField``; None declares the type pointwise (no spatial
            extent: activations, normalizations across channels). Use :func:`chain` and
            :func:`branches` to build one from submodules.
    """
    _RULES[cls] = (lambda m: POINTWISE) if rule is None else rule


def chain(modules: Sequence[nn.Module | None]) -> ReceptiveField:
    """The field of modules applied one after the other (``None`` is the identity)."""
    field = POINTWISE
    for m in modules:
        if m is not None:
            field = field.then(receptive_field(m))
    return field


def branches(*paths: Sequence[nn.Module | None]) -> ReceptiveField:
    """The field of parallel chains whose outputs are combined pointwise (an empty chain is the
    identity shortcut)."""
    fields = [chain(p) for p in paths]
    out = fields[0]
    for f in fields[1:]:
        out = out.join(f)
    return out


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _square(name: str, value: tuple[int, int], module: nn.Module) -> int:
    if value[0] != value[1]:
        raise ParameterError(
            f"cannot tile {type(module).__name__} with a different {name} per axis {value}"
        )
    return value[0]


def _conv_field(m: nn.Module) -> ReceptiveField:
    assert isinstance(m, nn.Conv2d)
    stride = _square("stride", _pair(m.stride), m)
    kernel, dilation = _pair(m.kernel_size), _pair(m.dilation)
    reach = [(k - 1) * d for k, d in zip(kernel, dilation)]
    if isinstance(m.padding, str):  # "same" (stride 1) or "valid"
        pads = [r // 2 for r in reach] if m.padding == "same" else [0, 0]
    else:
        pads = list(_pair(m.padding))
    # output o reads input o*s - p + t*d, t = 0..k-1
    lo = max(pads)
    hi = max(max(r - p for r, p in zip(reach, pads)), 0)
    return ReceptiveField(Fraction(stride), Fraction(lo), Fraction(hi))


def _deconv_field(m: nn.Module) -> ReceptiveField:
    assert isinstance(m, nn.ConvTranspose2d)
    stride = _square("stride", _pair(m.stride), m)
    pads = _pair(cast(tuple[int, ...], m.padding))  # a transposed convolution's is never a str
    kernel, dilation = _pair(m.kernel_size), _pair(m.dilation)
    # output o = i*s - p + t*d: o reads the inputs i in [(o + p - (k-1)*d)/s, (o + p)/s]
    lo = max(max((k - 1) * d - p for k, d, p in zip(kernel, dilation, pads)), 0)
    hi = max(max(pads), 0)
    return ReceptiveField(Fraction(1, stride), Fraction(lo, stride), Fraction(hi, stride))


def _shuffle_field(m: nn.Module) -> ReceptiveField:
    assert isinstance(m, nn.PixelShuffle)
    r = int(m.upscale_factor)
    return ReceptiveField(Fraction(1, r), Fraction(r - 1, r), Fraction(0))


def _unshuffle_field(m: nn.Module) -> ReceptiveField:
    assert isinstance(m, nn.PixelUnshuffle)
    r = int(m.downscale_factor)
    return ReceptiveField(Fraction(r), Fraction(0), Fraction(r - 1))


def _sequential_field(m: nn.Module) -> ReceptiveField:
    return chain(list(m.children()))


def _register_builtin() -> None:
    for conv in (nn.Conv2d, MaskedConv2d, SpectralConv2d):
        register_layer(conv, _conv_field)
    for deconv in (nn.ConvTranspose2d, SpectralConvTranspose2d):
        register_layer(deconv, _deconv_field)
    from tinify.layers.inference import FastPixelShuffle  # the Winograd copies' shuffle

    for shuffle in (nn.PixelShuffle, FastPixelShuffle):
        register_layer(shuffle, _shuffle_field)
    register_layer(nn.PixelUnshuffle, _unshuffle_field)
    register_layer(nn.Sequential, _sequential_field)
    pointwise = (
        GDN,  # divisive normalization across channels, at each position
        GDN1,
        IGDN,
        nn.Identity,
        nn.ReLU,
        nn.ReLU6,
        nn.LeakyReLU,
        nn.PReLU,
        nn.ELU,
        nn.GELU,
        nn.SiLU,
        nn.Sigmoid,
        nn.Tanh,
        nn.Softplus,
        nn.Hardtanh,
        nn.Dropout,
    )
    for layer in pointwise:
        register_layer(layer)

    def stride_block(m: nn.Module) -> ReceptiveField:
        assert isinstance(m, ResidualBlockWithStride)
        return branches([m.conv1, m.leaky_relu, m.conv2, m.gdn], [m.skip])

    def residual_block(m: nn.Module) -> ReceptiveField:
        assert isinstance(m, ResidualBlock)
        return branches([m.conv1, m.leaky_relu, m.conv2, m.leaky_relu], [m.skip])

    def upsample_block(m: nn.Module) -> ReceptiveField:
        assert isinstance(m, ResidualBlockUpsample)
        return branches([m.subpel_conv, m.leaky_relu, m.conv, m.igdn], [m.upsample])

    def residual_unit(m: nn.Module) -> ReceptiveField:
        assert isinstance(m, ResidualUnit)
        return branches([m.conv, m.relu], [])

    def attention_block(m: nn.Module) -> ReceptiveField:
        assert isinstance(m, AttentionBlock)
        return branches([m.conv_a], [m.conv_b], [])

    register_layer(ResidualBlockWithStride, stride_block)
    register_layer(ResidualBlock, residual_block)
    register_layer(ResidualBlockUpsample, upsample_block)
    register_layer(ResidualUnit, residual_unit)
    register_layer(AttentionBlock, attention_block)


_register_builtin()

_CACHE: weakref.WeakKeyDictionary[nn.Module, ReceptiveField] = weakref.WeakKeyDictionary()


def _rule_for(module: nn.Module) -> Callable[[nn.Module], ReceptiveField] | None:
    """The rule of the nearest registered class whose ``forward`` the module still uses."""
    for cls in type(module).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            return rule if type(module).forward is getattr(cls, "forward", None) else None
    return None


def receptive_field(module: nn.Module) -> ReceptiveField:
    """The receptive field of ``module`` (cached per module instance).

    Raises:
        ParameterError: a submodule type is unknown (register it with :func:`register_layer`),
            or its shape cannot be tiled (parallel branches of different scales, a stride that
            differs per axis).
    """
    cached = _CACHE.get(module)
    if cached is not None:
        return cached
    rule = _rule_for(module)
    if rule is None:
        raise ParameterError(
            f"cannot tile a transform holding {type(module).__name__}: its receptive field is "
            "unknown; declare it with tinify.models.tiling.register_layer, or code with "
            "tile_size=0 (tinify: --tile 0)"
        )
    field = rule(module)
    _CACHE[module] = field
    return field


# -- tiles ------------------------------------------------------------------------------------


def check_tile_size(tile_size: int | None) -> int | None:
    """Check the ``tile_size`` coding option: None (automatic), 0 (never tile) or a positive
    side in pixels.

    Raises:
        ParameterError: a negative or non-integer value.
    """
    if tile_size is None:
        return None
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 0:
        raise ParameterError(
            f"tile_size must be None (automatic), 0 (no tiling) or a positive number of pixels, "
            f"got {tile_size!r}"
        )
    return tile_size


def tile_grid(size: int, tile: int, align: int = 1) -> list[tuple[int, int]]:
    """``(start, stop)`` of the tiles covering ``range(size)``: as few as tiles of at most
    ``tile`` allow, of near-equal lengths, every boundary a multiple of ``align`` (``size`` and
    ``tile`` should be multiples of it)."""
    units, per = -(-size // align), max(tile // align, 1)
    count = -(-units // per)
    bounds = [(units * i // count) * align for i in range(count + 1)]
    bounds[-1] = size
    return list(zip(bounds[:-1], bounds[1:]))


def _round_up(value: Fraction | int, multiple: int) -> int:
    n = math.ceil(value)
    return -(-max(n, 0) // multiple) * multiple


def _integer_factor(field: ReceptiveField, what: str) -> int:
    if field.factor.denominator != 1:
        raise ParameterError(f"cannot tile {what}: its scale {field.factor} is not an integer")
    return int(field.factor)


def image_tile(tile_size: int | None, pixels: int) -> int:
    """The tile side the ``tile_size`` option gives an image of ``pixels`` pixels: 0 for the
    whole image (``0``, or automatic at most :data:`AUTO_TILE_PIXELS`), else the side."""
    tile_size = check_tile_size(tile_size)
    if tile_size is None:
        return AUTO_TILE_SIZE if pixels > AUTO_TILE_PIXELS else 0
    return tile_size


def auto_tile(field: ReceptiveField) -> int:
    """The automatic tile side (pixels of the image) of a transform with receptive field
    ``field`` (an analysis or a synthesis transform): :data:`AUTO_TILE_SIZE`, less what its halo
    needs beyond :data:`AUTO_TILE_SPAN`, a multiple of the stride (at least 4 strides)."""
    if field.factor >= 1:  # analysis: the halo in input pixels, aligned to the stride
        s = int(field.factor)
        halo = _round_up(field.lo, s) + _round_up(field.hi - s + 1, s)
    else:  # synthesis: whole latents each way
        s = int(field.factor.denominator)
        halo = (math.ceil(field.lo) + math.ceil(field.hi)) * s
    tile = min(AUTO_TILE_SIZE, AUTO_TILE_SPAN - halo)
    return max(4 * s, tile // s * s)


def _plan(
    transform: nn.Module, tile_size: int | None, size: tuple[int, int]
) -> tuple[int, ReceptiveField | None]:
    """``(tile, field)`` for a transform whose image side is ``size``: ``tile`` 0 runs the
    whole image. Automatic tiling falls back to the whole image for a transform that cannot be
    tiled; an explicit ``tile_size`` raises instead."""
    tile_size = check_tile_size(tile_size)
    if tile_size == 0:
        return 0, None
    if tile_size is None:
        if size[0] * size[1] <= AUTO_TILE_PIXELS:
            return 0, None
        try:
            field = receptive_field(transform)
        except ParameterError:
            return 0, None
        tile = auto_tile(field)
    else:
        field = receptive_field(transform)
        tile = tile_size
    if tile >= size[0] and tile >= size[1]:
        return 0, None
    return tile, field


def _whole(transform: nn.Module, x: Tensor, channels_last: bool) -> Tensor:
    if channels_last:
        return transform(x.contiguous(memory_format=torch.channels_last)).contiguous()
    return transform(x)


class _Stages:
    """A sequential upsampling transform run child by child on a tile, each child's output
    cropped to what the remaining children read around the tile's core (a shrinking halo).

    The halo of a whole synthesis transform is mostly the reach of its low-resolution layers
    (cheng2020-attn's ``g_s``: 179 pixels each way, so a 720-pixel tile ran its
    full-resolution layers on 1078 pixels, 2.2x the work of the core). After child ``l`` only
    ``receptive_field(children[l+1:])`` around the core is still read, so the rest is cropped
    there: the expensive last layers run on the core and a few pixels. Where the tile touches
    the image border nothing is cropped on that side (the layers zero-pad as on the whole
    image); inside, the values a child's own padding spoils lie within the cropped margin, by
    the same argument as for the whole halo. So the result is the same as without stages, up
    to float rounding.

    Args:
        children: the callables of the children (the transform's, or its inference copy's).
        fields: each child's receptive field (upsampling or stride 1: integer ``1/factor``).
        channels_last: the input's layout for the children (cropped views are made contiguous
            in it, as the children's fast paths want).
        frozen: run without autograd (an inference copy's children; the module's own
            children follow the caller's grad mode).
    """

    def __init__(
        self,
        children: Sequence[Callable[[Tensor], Tensor]],
        fields: Sequence[ReceptiveField],
        channels_last: bool,
        frozen: bool = False,
    ) -> None:
        self.children = list(children)
        self.frozen = frozen
        self.scales = [int(1 / f.factor) for f in fields]
        needs, rest = [], ReceptiveField()
        for f in reversed(fields):  # needs[l]: what children l+1.. read, in child l's units
            needs.append((math.ceil(rest.lo), math.ceil(rest.hi)))
            rest = f.then(rest)
        self.needs = needs[::-1]
        self.layout = torch.channels_last if channels_last else torch.contiguous_format

    def __call__(self, part: Tensor, core: tuple[int, int], size: tuple[int, int]) -> Tensor:
        """The output of the core ``size`` (rows, columns) at offset ``core`` of ``part``
        (input units).

        Raises:
            ParameterError: a child's output is not exactly its scale times its input (the
                transform cannot be tiled).
        """
        x = part.contiguous(memory_format=self.layout)
        (oy, ox), (h, w) = core, size
        with torch.no_grad() if self.frozen else contextlib.nullcontext():
            for child, k, (before, after) in zip(self.children, self.scales, self.needs):
                expect = (x.shape[-2] * k, x.shape[-1] * k)
                x = child(x)
                if tuple(x.shape[-2:]) != expect:
                    raise ParameterError(
                        f"cannot tile {type(child).__name__}: an input of "
                        f"{expect[0] // k}x{expect[1] // k} gave {tuple(x.shape[-2:])}, "
                        f"not {expect}"
                    )
                oy, ox, h, w = oy * k, ox * k, h * k, w * k
                y0, x0 = max(oy - before, 0), max(ox - before, 0)
                y1, x1 = min(oy + h + after, x.shape[-2]), min(ox + w + after, x.shape[-1])
                if (y0, x0, y1, x1) != (0, 0, *x.shape[-2:]):
                    x = x[..., y0:y1, x0:x1].contiguous(memory_format=self.layout)
                oy, ox = oy - y0, ox - x0
        return x.contiguous()


def _sequential_children(
    transform: nn.Module, apply: Callable[[Tensor], Tensor] | None, channels_last: bool
) -> tuple[list[Callable[[Tensor], Tensor]], list[ReceptiveField], bool, bool] | None:
    """What runs a sequential ``transform`` child by child: ``(children, fields, channels_last,
    frozen)``, the children being the module's own (``apply`` None) or its inference copy's
    (then the copy's layout, and ``frozen``: without autograd); None unless ``transform`` is a
    plain ``nn.Sequential`` (its ``forward`` runs its children in turn, no hooks) of at least
    two children with known receptive fields, and the copy too."""
    from tinify.layers.inference import InferenceTransform

    def plain(module: nn.Module) -> bool:
        return (
            type(module).forward is nn.Sequential.forward
            and not module._forward_hooks
            and not module._forward_pre_hooks
        )

    if not isinstance(transform, nn.Sequential) or len(transform) < 2 or not plain(transform):
        return None
    frozen = False
    if apply is None:
        children: list[nn.Module] = list(transform)
    elif isinstance(apply, InferenceTransform) and isinstance(apply.net, nn.Sequential):
        if not plain(apply.net):
            return None
        children, channels_last, frozen = list(apply.net), apply.channels_last, True
    else:
        return None
    if len(children) != len(transform):
        return None
    try:
        fields = [receptive_field(child) for child in transform]
    except ParameterError:
        return None
    return list(children), fields, channels_last, frozen


def _synthesis_stages(
    transform: nn.Module, apply: Callable[[Tensor], Tensor] | None, channels_last: bool
) -> _Stages | None:
    """The :class:`_Stages` of a synthesis ``transform`` whose children all upsample or keep
    the scale (see :func:`_sequential_children`), run as itself (``apply`` None) or as its
    inference copy; None for anything else (say an integer network: it is exact on any tile
    anyway)."""
    found = _sequential_children(transform, apply, channels_last)
    if found is None or any(f.factor.numerator != 1 for f in found[1]):
        return None
    return _Stages(*found)


class _RowStream:
    """A sequential downsampling transform run on a column strip band of rows by band of rows,
    every child computing each of its output rows once (line buffers, no overlapping tiles).

    Each child keeps the rows of its input that it still needs (its own reach above the next
    rows it computes) and receives the rows the previous child computes next. For a band of
    output rows, the rows every child must reach are worked out backwards (child ``c``'s
    output rows ``[a, b)`` read its input rows ``[a*s - lo, (b-1)*s + hi]``, widened to
    multiples of its stride ``s`` so that strided layers sample the rows they sample on the
    whole image), then the children run forwards on just the rows not computed yet plus their
    reach. Only a child's own reach is computed twice (a few rows per band), where overlapping
    tiles compute the whole transform's halo again in every layer: for cheng2020's analysis
    transforms, whose most expensive layers come first, that halo is 57-120 pixels each way.

    A child sees a crop of its input starting and ending at real rows, zero-padded by its own
    layers, so the outputs within its reach of a crop edge inside the image are wrong; they
    are never used, because every kept output row reads only rows of the crop. At the image's
    top and bottom the crop ends where the image does, so the padding is the whole image's.
    The result therefore equals the whole-image computation up to float rounding.

    Args: as :class:`_Stages` (children downsampling by integer factors or keeping the scale).
    """

    def __init__(
        self,
        children: Sequence[Callable[[Tensor], Tensor]],
        fields: Sequence[ReceptiveField],
        channels_last: bool,
        frozen: bool = False,
    ) -> None:
        # A pointwise child (an activation, GDN) joins the step before it: no line buffer
        # (and no copy of the rows) of its own.
        self.children: list[list[Callable[[Tensor], Tensor]]] = []
        self.steps: list[tuple[int, int, int]] = []
        for child, f in zip(children, fields):
            if self.children and f == POINTWISE:
                self.children[-1].append(child)
            else:
                self.children.append([child])
                self.steps.append((int(f.factor), math.ceil(f.lo), math.ceil(f.hi)))
        self.frozen = frozen
        self.layout = torch.channels_last if channels_last else torch.contiguous_format

    def bands(self, strip: Tensor, bands: Sequence[tuple[int, int]]) -> Iterator[Tensor]:
        """The output rows ``[b0, b1)`` of each band of ``bands`` in turn (consecutive, from
        row 0 to the last output row), over the whole width of ``strip`` (the input rows and
        columns of one column strip).

        Raises:
            ParameterError: a child's output is not exactly its input scaled by its factor
                (the transform cannot be tiled).
        """
        n = len(self.steps)
        heights = [int(strip.shape[-2])]
        for s, _, _ in self.steps:
            heights.append(heights[-1] // s)
        done = [0] * n  # output rows computed by each step
        kept: list[Tensor | None] = [None] * n  # step c's input rows [first[c], done[c - 1])
        first = [0] * n
        for _, b1 in bands:
            ends = [0] * n  # rows each step must have computed for this band
            ends[-1] = b1
            for c in range(n - 1, 0, -1):
                s, _, hi = self.steps[c]
                ends[c - 1] = min(heights[c], _round_up((ends[c] - 1) * s + hi + 1, s))
            rows: Tensor | None = None
            # grad mode set per band, not across the yield (the caller's code runs there)
            with torch.no_grad() if self.frozen else contextlib.nullcontext():
                for c, (step, (s, lo, hi)) in enumerate(zip(self.children, self.steps)):
                    if ends[c] <= done[c]:
                        continue
                    i0 = max(done[c] * s - lo, 0) // s * s
                    i1 = min(heights[c], _round_up((ends[c] - 1) * s + hi + 1, s))
                    held = strip if c == 0 else kept[c]
                    assert held is not None
                    y = held[..., i0 - first[c] : i1 - first[c], :]
                    y = y.contiguous(memory_format=self.layout)
                    size = (i1 - i0, int(y.shape[-1]))
                    expect = (size[0] // s, size[1] // s)
                    for child in step:
                        y = child(y)
                    if size[0] % s or size[1] % s or tuple(y.shape[-2:]) != expect:
                        raise ParameterError(
                            f"cannot tile {type(step[0]).__name__}: an input of "
                            f"{size[0]}x{size[1]} gave {tuple(y.shape[-2:])}, not "
                            f"{size[0] / s:g}x{size[1] / s:g}"
                        )
                    new = y[..., done[c] - i0 // s : ends[c] - i0 // s, :]
                    del y
                    done[c] = ends[c]
                    if c > 0:  # keep a copy of the input rows the next bands still read
                        start = max(done[c] * s - lo, 0) // s * s
                        rest = held[..., start - first[c] :, :]
                        # a copy, not a view: the band's rows are freed now, not at the next
                        # band (a view holds the whole buffer: 12% more peak memory)
                        kept[c], first[c] = rest.clone(memory_format=self.layout), start
                        del rest
                    del held
                    if c + 1 < n:
                        held = kept[c + 1]
                        new = new if held is None else torch.cat([held, new], dim=-2)
                        kept[c + 1] = new.contiguous(memory_format=self.layout)
                    else:
                        rows = new.contiguous()
                    del new
            assert rows is not None
            yield rows
            del rows


def _row_stream(
    transform: nn.Module, apply: Callable[[Tensor], Tensor] | None, channels_last: bool
) -> _RowStream | None:
    """The :class:`_RowStream` of an analysis ``transform`` whose children all downsample by
    integer factors or keep the scale (see :func:`_sequential_children`); None otherwise."""
    found = _sequential_children(transform, apply, channels_last)
    if found is None or any(f.factor.denominator != 1 for f in found[1]):
        return None
    return _RowStream(*found)


def _streamed(
    stream: _RowStream,
    src: Tensor,
    bands: list[tuple[int, int]],
    cols: list[tuple[int, int]],
    halo: tuple[int, int],
    s: int,
    stage: str,
) -> Tensor:
    """:func:`analyze` by :class:`_RowStream`: column strips ``cols`` of ``src`` extended by
    ``halo`` (before, after; clipped at the border, cropped off the output as for tiles), each
    streamed by the row ``bands`` (input rows, multiples of the stride ``s``)."""
    width = int(src.shape[-1])
    before, after = halo
    out_bands = [(y0 // s, y1 // s) for y0, y1 in bands]
    total, done = len(bands) * len(cols), 0
    out: Tensor | None = None
    for x0, x1 in cols:
        ex0, ex1 = max(x0 - before, 0), min(x1 + after, width)
        ox = (x0 - ex0) // s
        strip = src[..., ex0:ex1]
        for (b0, b1), rows in zip(out_bands, stream.bands(strip, out_bands)):
            if out is None:
                shape = (*rows.shape[:-2], int(src.shape[-2]) // s, width // s)
                out = rows.new_empty(shape)
            out[..., b0:b1, x0 // s : x1 // s] = rows[..., ox : ox + (x1 - x0) // s]
            del rows
            release_free_memory()
            done += 1
            report(stage, done, total)
    assert out is not None
    return out


def _tiles(
    run: Callable[[Tensor], Tensor],
    src: Tensor,
    rows: list[tuple[int, int]],
    cols: list[tuple[int, int]],
    halo: tuple[int, int],
    ratio: Fraction,
    channels_last: bool,
    stage: str,
    clamp: bool = False,
    stages: _Stages | None = None,
) -> Tensor:
    """Run ``run`` on each tile of ``src`` (``rows`` x ``cols``) extended by ``halo`` (before,
    after; clipped at the border), crop the halo off and write it into the output, whose
    positions are ``ratio`` times the input's (exact integers: the tiles are aligned). With
    ``stages``, the tile runs through them instead, cropped after each (see :class:`_Stages`)."""
    height, width = (int(v) for v in src.shape[-2:])
    before, after = halo

    def scaled(n: int) -> int:
        return int(n * ratio)

    total = len(rows) * len(cols)
    out: Tensor | None = None
    done = 0
    for y0, y1 in rows:
        for x0, x1 in cols:
            ey0, ey1 = max(y0 - before, 0), min(y1 + after, height)
            ex0, ex1 = max(x0 - before, 0), min(x1 + after, width)
            part = src[..., ey0:ey1, ex0:ex1]
            if channels_last:
                part = part.contiguous(memory_format=torch.channels_last)
            if stages is not None:  # the core alone (the stages check each child's scale)
                result = stages(part, (y0 - ey0, x0 - ex0), (y1 - y0, x1 - x0))
            else:
                result = run(part)
                expect = (scaled(ey1 - ey0), scaled(ex1 - ex0))
                if tuple(result.shape[-2:]) != expect:
                    raise ParameterError(
                        f"cannot tile {type(run).__name__}: a {ey1 - ey0}x{ex1 - ex0} tile "
                        f"gave {tuple(result.shape[-2:])}, not {expect}"
                    )
                oy, ox = scaled(y0 - ey0), scaled(x0 - ex0)
                result = result[..., oy : oy + scaled(y1 - y0), ox : ox + scaled(x1 - x0)]
            if clamp:
                result = result.clamp_(0, 1)
            if out is None:
                out = result.new_empty((*result.shape[:-2], scaled(height), scaled(width)))
            out[..., scaled(y0) : scaled(y1), scaled(x0) : scaled(x1)] = result
            del result, part
            release_free_memory()  # the tile's freed blocks, or the heap fragments
            done += 1
            report(stage, done, total)
    assert out is not None
    return out


def analyze(
    transform: nn.Module,
    x: Tensor,
    tile_size: int | None = None,
    *,
    channels_last: bool = False,
    stage: str = "analysis tiles",
    apply: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """``transform(x)`` for a downsampling transform, on tiles of at most ``tile_size`` pixels.

    Args:
        transform: the analysis transform (image -> latent, stride ``s``).
        x: (N, C, H, W) input; H and W multiples of ``s`` when tiled (the models' padded input).
        tile_size: tile side in input pixels, a multiple of ``s``; None: automatic (tiles of
            :func:`auto_tile` above :data:`AUTO_TILE_PIXELS` pixels); 0: the whole image.
            The tiles split the image evenly, aligned to ``s``. A plain ``nn.Sequential``
            transform (every zoo model's) streams instead, in strips of
            :data:`STREAM_STRIP_TILES` tiles' width and bands of rows a tile over
            :data:`STREAM_STRIP_TILES` high (:class:`_RowStream`): about a tile's pixels at a
            time, each row computed once.
        channels_last: run in channels-last layout (the result is NCHW either way).
        stage: the :func:`tinify.utils.progress.report` stage, reported after each tile (or band).
        apply: computes the transform on a tile (or the whole image) instead of ``transform``:
            a module computing the same function, such as its faster inference copy
            (:func:`tinify.layers.inference.inference_copy`); the tiling halo is
            ``transform``'s.

    Returns:
        The latent (N, C', H/s, W/s); contiguous when tiled or ``channels_last``.

    Raises:
        ParameterError: ``tile_size`` or the input size is not a multiple of ``s``, or the
            transform cannot be tiled (see :func:`receptive_field`).
    """
    height, width = (int(v) for v in x.shape[-2:])
    tile, field = _plan(transform, tile_size, (height, width))
    run = transform if apply is None else apply
    if field is None:
        return run(x) if apply is not None else _whole(transform, x, channels_last)
    s = _integer_factor(field, "an analysis transform")
    if tile % s:
        raise ParameterError(f"tile_size {tile} must be a multiple of the stride {s}")
    if height % s or width % s:
        raise ParameterError(f"cannot tile a {height}x{width} input: not a multiple of {s}")
    # output o reads [o*s - lo, o*s + hi]: a tile [a*s, b*s) needs [a*s - lo, (b-1)*s + hi]
    before = _round_up(field.lo, s)
    after = _round_up(field.hi - s + 1, s)
    stream = _row_stream(transform, apply, channels_last)
    if stream is not None:  # strips of STREAM_STRIP_TILES tiles' width, as many tiles' bands
        band = max(s, tile // STREAM_STRIP_TILES // s * s)
        bands, strips = tile_grid(height, band, s), tile_grid(width, tile * STREAM_STRIP_TILES, s)
        return _streamed(stream, x, bands, strips, (before, after), s, stage)
    rows, cols = tile_grid(height, tile, s), tile_grid(width, tile, s)
    return _tiles(run, x, rows, cols, (before, after), Fraction(1, s), channels_last, stage)


def synthesize(
    transform: nn.Module,
    y: Tensor,
    tile_size: int | None = None,
    *,
    channels_last: bool = False,
    clamp: bool = False,
    stage: str = "synthesis tiles",
    apply: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """``transform(y)`` for an upsampling transform, on tiles of at most ``tile_size`` output
    pixels.

    Args:
        transform: the synthesis transform (latent -> image, x ``s``).
        y: (N, C, h, w) latent.
        tile_size: tile side in output pixels, a multiple of ``s``; None: automatic; 0: the
            whole image (see :func:`analyze`).
        channels_last: run in channels-last layout (the result is NCHW either way).
        clamp: clamp the output to [0, 1] (the decoded image), tile by tile.
        stage: the :func:`tinify.utils.progress.report` stage, reported after each tile.
        apply: computes the transform on a tile instead of ``transform`` (say its integer
            version, which has the same receptive field); its tiles are then bit-exact.

    Returns:
        The output (N, C', h*s, w*s); contiguous when tiled or ``channels_last``.

    Raises:
        ParameterError: ``tile_size`` is not a multiple of ``s``, or the transform cannot be
            tiled.
    """
    height, width = (int(v) for v in y.shape[-2:])
    tile, field = 0, None
    if tile_size != 0:
        # the image size needs the transform's scale; only a tiled call needs the field
        try:
            scale = receptive_field(transform).factor
        except ParameterError:
            if tile_size is not None:
                raise
            scale = Fraction(0)
        if scale.numerator == 1:
            s = scale.denominator
            tile, field = _plan(transform, tile_size, (height * s, width * s))
        elif tile_size is not None:
            raise ParameterError(f"cannot tile a synthesis transform of scale {scale}")
    run = transform if apply is None else apply
    if field is None:
        x = run(y) if apply is not None else _whole(transform, y, channels_last)
        return x.clamp_(0, 1) if clamp else x
    s = int(field.factor.denominator)
    if tile % s:
        raise ParameterError(f"tile_size {tile} must be a multiple of the stride {s}")
    # pixel o reads latents [o/s - lo, o/s + hi]: a tile [a*s, b*s) needs [a - lo, b + hi)
    before, after = math.ceil(field.lo), math.ceil(field.hi)
    t = tile // s
    rows, cols = tile_grid(height, t), tile_grid(width, t)
    stages = _synthesis_stages(transform, apply, channels_last)
    return _tiles(
        run,
        y,
        rows,
        cols,
        (before, after),
        Fraction(s),
        channels_last,
        stage,
        clamp=clamp,
        stages=stages,
    )


def latent_tiles(
    module: nn.Module,
    x: Tensor,
    tile: int,
    run: Callable[[Tensor], Tensor],
    *,
    stage: str = "entropy-network tiles",
) -> Tensor:
    """``run(x)`` on tiles of at most ``tile`` output positions, for an integer network
    ``run`` with the layers of ``module`` (the float network it was quantized from, whose
    layers give the halo): a hyper-synthesis (``x`` upsampled by ``s``) or a stride-1 network
    (context, entropy parameters) at a latent's resolution.

    The fixed-point path's networks are exact integer arithmetic, so every tile computes the
    same integers as the whole tensor and the result does not depend on ``tile``: tiling only
    bounds the working memory (the integer layers hold several int64/float64 copies of their
    input and output). ``tile`` is rounded down to a multiple of ``s`` (at least ``s``); 0 runs
    the whole tensor, and so does a ``module`` that cannot be tiled (same result, more memory).

    Args:
        module: the float network (its receptive field, see :func:`receptive_field`).
        x: (N, C, H, W) input of ``run``.
        tile: tile side in output positions; 0: no tiling.
        run: computes the network on a tile (or the whole input).
        stage: the :func:`tinify.utils.progress.report` stage, after each tile.
    """
    if tile <= 0:
        return run(x)
    try:
        scale = receptive_field(module).factor
    except ParameterError:
        return run(x)
    if scale.numerator != 1:
        return run(x)
    s = scale.denominator
    return synthesize(module, x, max(s, tile // s * s), stage=stage, apply=run)
