# SPDX-License-Identifier: Apache-2.0
"""The model base class, the default scale table, legacy-key renaming and input checks.

Every image model derives from :class:`CompressionModel` and follows one contract:

- ``forward(x)`` returns ``{"x_hat": ..., "likelihoods": {"y": ..., ["z": ...]}}``;
- ``compress(x, *, entropy_path=None, stream_chunks=None)`` returns ``{"strings": [...],
  "shape": ..., "x_size": (H, W)}``;
- ``decompress(strings, shape, x_size=None, *, entropy_path=None, stream_chunks=None)``
  returns ``{"x_hat": ...}``.

``strings`` and ``shape`` are exactly CompressAI's (latent strings first, then hyper-latent
strings; ``shape`` is the spatial size of the last latent). ``x_size`` is tinify's addition: the
input's original height and width. :meth:`CompressionModel.compress` pads any image of at least
64x64 (centred zeros) up to the model's :attr:`~CompressionModel.downsampling_factor`;
:meth:`CompressionModel.decompress` crops back when given ``x_size`` (``model.decompress(**out)``
does), and otherwise returns the padded size, as CompressAI would. For inputs that are already a
multiple of the factor nothing is padded, so streams are CompressAI's byte for byte.

**Coding options** are keyword-only arguments of every ``compress`` / ``decompress`` (models,
and ``stream_chunks`` also of the entropy models), never state to mutate, so threads may share
one model and code with different options at once (the coder releases the GIL):

- ``entropy_path``: ``"float"`` (CompressAI's arithmetic) or ``"fixed"`` (the deterministic
  integer networks of :mod:`tinify.models.fixed`). This is the one name of the choice in the
  Python API; the ``.tfy`` header stores it as its coding mode (0 / 1) and ``tinify encode``
  spells it ``--coding float|fixed``.
- ``stream_chunks``: streams per latent and item (1: CompressAI's format).
- ``tile_size``: run the analysis and synthesis transforms on tiles of at most this many
  pixels a side (a multiple of the transform's stride), each extended by its receptive-field
  halo (:mod:`tinify.models.tiling`): every latent and pixel equals the whole-image result up to
  float rounding, in bounded memory. ``None`` (the default): automatic, tiles of
  :data:`~tinify.models.tiling.AUTO_TILE_SIZE` pixels (less for transforms with wide halos,
  see :func:`~tinify.models.tiling.auto_tile`) for images above
  :data:`~tinify.models.tiling.AUTO_TILE_PIXELS` pixels; ``0``: never tile. The stream does not
  depend on it (up to float rounding of ``g_a``) and the decoder may use any tile size.

``None`` (the default) takes the module attribute: :attr:`CompressionModel.entropy_path` and each
entropy model's ``stream_chunks``, so code that sets them keeps working. A decoder must be given
the encoder's ``entropy_path`` and ``stream_chunks``. Subclasses receive them resolved, as a
:class:`CodingOptions`, in ``_compress(x, options)`` / ``_decompress(strings, shape, options)``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.entropy_models.base import check_stream_chunks
from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.latent_codecs import LatentCodec
from tinify.latent_codecs.base import chunks_option
from tinify.layers.inference import inference_copy, parameter_signature, winograd_plan
from tinify.models.fixed import check_entropy_path, quantize_network
from tinify.models.tiling import (
    analyze,
    check_tile_size,
    image_tile,
    receptive_field,
    synthesize,
)
from tinify.ops import compute_padding, crop, pad_to_multiple

__all__ = [
    "SCALES_LEVELS",
    "SCALES_MAX",
    "SCALES_MIN",
    "CodingOptions",
    "CompressionModel",
    "SimpleVAECompressionModel",
    "check_image",
    "check_model_config",
    "check_shape",
    "check_strings",
    "get_scale_table",
    "last_latent_size",
    "remap_legacy_keys",
    "rename_key",
]

SCALES_MIN = 0.11
SCALES_MAX = 256
SCALES_LEVELS = 64

#: Smallest height and width :meth:`CompressionModel.compress` accepts.
MIN_INPUT_SIZE = 64


def _tensor_with(state_dict: Mapping[str, Any], size: int) -> str:
    """The name of the first tensor with a dimension of ``size`` (for messages)."""
    for key, value in state_dict.items():
        if isinstance(value, Tensor) and size in tuple(value.shape):
            return key
    return "?"


def check_model_config(
    cls: type[nn.Module], config: Mapping[str, Any], state_dict: Mapping[str, Any]
) -> None:
    """Check the model ``cls(**config)`` that ``state_dict``'s shapes describe, before it is
    built: channel counts at most :data:`~tinify.codec.limits.MAX_CHANNELS`; then, built on
    the ``meta`` device (shapes only, nothing allocated), at most
    :func:`~tinify.codec.limits.max_model_parameters` elements, and every parameter present in
    ``state_dict`` with the same shape. (A constructor that cannot run on the meta device skips
    the second part; the channel bound still holds.)

    Raises:
        LimitError: a channel count or the model size is beyond its limit.
        ParameterError: a parameter is missing or has another shape.
    """
    from tinify.codec.limits import MAX_CHANNELS, max_model_parameters
    from tinify.exceptions import LimitError

    what = "crafted, damaged or not for this architecture"
    for key, value in config.items():
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, int) and not isinstance(v, bool) and v > MAX_CHANNELS:
                raise LimitError(
                    f"tensor {_tensor_with(state_dict, v)} gives {cls.__name__} {key}={v}, more "
                    f"than the {MAX_CHANNELS} channels tinify builds (the zoo's models use at most "
                    f"320): the checkpoint is {what}"
                )
    try:
        with torch.device("meta"):
            probe = cls(**config)
    except Exception:  # noqa: BLE001 (a constructor that computes values needs real memory)
        return
    limit = max_model_parameters()
    total = sum(t.numel() for t in probe.state_dict().values())
    if total > limit:
        raise LimitError(
            f"the checkpoint describes a {cls.__name__} of {total} parameters, more than the "
            f"limit of {limit} (TINIFY_MAX_MODEL_PARAMETERS raises it; the largest zoo model has "
            "34 million)"
        )
    for key, param in probe.named_parameters():
        found = state_dict.get(key)
        if not isinstance(found, Tensor):
            raise ParameterError(
                f"the checkpoint has no tensor {key}, which {cls.__name__} needs: it is {what}"
            )
        if tuple(found.shape) != tuple(param.shape):
            raise ParameterError(
                f"tensor {key} has shape {tuple(found.shape)}, but the {cls.__name__} its other "
                f"shapes describe needs {tuple(param.shape)}: the checkpoint is {what}"
            )


def get_scale_table(
    min: float = SCALES_MIN, max: float = SCALES_MAX, levels: int = SCALES_LEVELS
) -> Tensor:
    """The default Gaussian scale table: ``levels`` log-spaced scales from ``min`` to ``max``.

    Computed in torch float32, ``exp(linspace(log min, log max, levels))``, which gives exactly
    CompressAI's table (a float64 computation differs by one ulp in 46 of the 64 entries).

    Returns:
        Float32 tensor of shape (levels,).
    """
    return torch.exp(torch.linspace(math.log(min), math.log(max), levels))


# -- legacy checkpoints ---------------------------------------------------------------------------

# EntropyBottleneck parameter names over time: ``_matrices.3`` (2020), ``_matrix3`` (2021-2024),
# ``matrices.3`` (CompressAI >= 1.2.5, tinify).
_EB_LIST = re.compile(r"^(?P<prefix>(?:.*\.)?)_(?P<kind>matrices|biases|factors)\.(?P<i>\d+)$")
_EB_FLAT = re.compile(r"^(?P<prefix>(?:.*\.)?)_(?P<kind>matrix|bias|factor)(?P<i>\d+)$")
_EB_PLURAL = {"matrix": "matrices", "bias": "biases", "factor": "factors"}


def rename_key(key: str, bottleneck_prefixes: Collection[str] = ()) -> str:
    """Today's name of one state-dict key of an old CompressAI checkpoint.

    The rules (those of CompressAI's zoo loader, ``compressai.zoo.pretrained.rename_key``, and
    of its models' ``load_state_dict``):

    1. a leading ``module.`` (``nn.DataParallel``) is dropped;
    2. ``.downsample.`` becomes ``.skip.`` (the shortcut of ``ResidualBlockWithStride``);
    3. inside an entropy bottleneck (a prefix in ``bottleneck_prefixes``, or one ending in
       ``entropy_bottleneck.``): ``_matrices.N`` / ``_matrixN`` become ``matrices.N``, and
       likewise ``_biases``/``_bias`` and ``_factors``/``_factor``.

    Unlike CompressAI's ``rename_key``, which returns the intermediate ``_matrixN`` form for
    2020 keys, the result is always the current name. Current keys pass through unchanged.

    Args:
        key: A state-dict key.
        bottleneck_prefixes: Key prefixes (ending in ``.``) of entropy bottlenecks that are not
            named ``entropy_bottleneck``.
    """
    if key.startswith("module."):
        key = key[len("module.") :]
    key = key.replace(".downsample.", ".skip.")
    match = _EB_LIST.match(key) or _EB_FLAT.match(key)
    if match is not None:
        prefix = match["prefix"]
        if prefix in bottleneck_prefixes or prefix.endswith("entropy_bottleneck."):
            kind = _EB_PLURAL.get(match["kind"], match["kind"])
            key = f"{prefix}{kind}.{int(match['i'])}"
    return key


def remap_legacy_keys(state_dict: Mapping[str, Any]) -> OrderedDict[str, Any]:
    """Rename the keys of old CompressAI checkpoints to today's names (a new dict; values shared).

    Every key goes through :func:`rename_key`; any module with a ``quantiles`` parameter counts
    as an entropy bottleneck, at any depth. Current keys pass through unchanged, so this is
    safe to apply to any state dict.

    Raises:
        ValueError: two keys get the same name.
    """
    bottlenecks = set()
    for key in state_dict:
        key = key[len("module.") :] if key.startswith("module.") else key
        if key == "quantiles" or key.endswith(".quantiles"):
            bottlenecks.add(key[: -len("quantiles")])
    out: OrderedDict[str, Any] = OrderedDict()
    for key, value in state_dict.items():
        key = rename_key(key, bottlenecks)
        if key in out:
            raise ParameterError(f"state dict has two entries for {key!r} after renaming old keys")
        out[key] = value
    return out


# -- input checks -------------------------------------------------------------------------------


def check_image(x: Any, min_size: int = MIN_INPUT_SIZE) -> None:
    """Check that ``x`` is an image batch a model can code.

    Raises:
        ParameterTypeError: ``x`` is not a floating-point tensor.
        ParameterError: ``x`` is not (N, 3, H, W), is smaller than ``min_size`` in H or W, or holds
            values outside [0, 1] (or NaN).
    """
    if not isinstance(x, Tensor):
        raise ParameterTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ParameterTypeError(
            f"x must be a floating-point tensor in [0, 1], got dtype {x.dtype}"
        )
    if x.dim() != 4 or x.size(1) != 3 or x.size(0) < 1:
        raise ParameterError(f"x must have shape (N, 3, H, W) with N >= 1, got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h < min_size or w < min_size:
        raise ParameterError(
            f"x is {h}x{w}; images must be at least {min_size}x{min_size} (pad smaller ones)"
        )
    lo, hi = torch.aminmax(x.detach())
    if not (0.0 <= float(lo) and float(hi) <= 1.0):
        raise ParameterError(
            f"x must hold values in [0, 1], got range [{float(lo):g}, {float(hi):g}] "
            "(scale 8-bit images by 1/255)"
        )


def check_strings(strings: Any, count: int) -> int:
    """Check the ``strings`` structure (``count`` lists of bytes, one per item); return N."""
    if not isinstance(strings, (list, tuple)) or len(strings) != count:
        got = len(strings) if isinstance(strings, (list, tuple)) else type(strings).__name__
        raise ParameterError(f"strings must be a list of {count} lists of bytes, got {got}")
    batch = None
    for i, group in enumerate(strings):
        if not isinstance(group, (list, tuple)) or not group:
            raise ParameterError(f"strings[{i}] must be a non-empty list of bytes (one per image)")
        if not all(isinstance(s, (bytes, bytearray)) for s in group):
            raise ParameterTypeError(f"strings[{i}] must hold bytes objects")
        if batch is not None and len(group) != batch:
            raise ParameterError(f"strings[{i}] has {len(group)} streams, strings[0] has {batch}")
        batch = len(group)
    assert batch is not None
    return batch


def check_shape(shape: Any) -> tuple[int, int]:
    """Check a 2-D size (``shape`` or ``x_size`` of a decoder); return it as ``(h, w)``."""
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ParameterError(f"shape must be two positive integers, got {shape!r}") from None
    if h < 1 or w < 1:
        raise ParameterError(f"shape must be two positive integers, got {shape!r}")
    return h, w


# -- coding options -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CodingOptions:
    """The options of one ``compress`` / ``decompress`` call, resolved and checked.

    Attributes:
        entropy_path: ``"float"`` or ``"fixed"`` (see :data:`tinify.models.fixed.ENTROPY_PATHS`).
        stream_chunks: streams per latent and item, or None for each entropy model's own
            ``stream_chunks`` attribute. Pass it on as
            ``entropy_model.compress(..., stream_chunks=options.stream_chunks)``.
        tile_size: tile side of the analysis and synthesis transforms in pixels; None:
            automatic, 0: whole image (see :mod:`tinify.models.tiling`).
    """

    entropy_path: str = "float"
    stream_chunks: int | None = None
    tile_size: int | None = None

    @property
    def fixed(self) -> bool:
        """True on the ``"fixed"`` entropy path."""
        return self.entropy_path == "fixed"


def has_hooks(module: nn.Module) -> bool:
    """Whether forward (pre-)hooks are registered on ``module`` or any module inside it."""
    return any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())


# -- the base class -----------------------------------------------------------------------------


class CompressionModel(nn.Module):
    """Base class of the learned image codecs.

    Subclasses build their transforms and entropy models in ``__init__`` and implement
    ``forward``, ``_compress(x, options)`` (padded input -> ``{"strings", "shape"}``),
    ``_decompress(strings, shape, options)`` (-> padded ``x_hat``; ``options`` is the call's
    :class:`CodingOptions`, to pass on to every entropy model) and
    :meth:`_config_from_state_dict`. This class provides the input checks and padding,
    :meth:`aux_loss`, :meth:`update`, legacy-key renaming on load and :meth:`from_state_dict`.

    Class attributes:
        latent_names: names of the coded latents, in ``strings`` order.
    """

    latent_names: tuple[str, ...] = ("y", "z")
    _downsampling_factor: int = 64
    #: The default of the ``entropy_path`` option of :meth:`compress` / :meth:`decompress`:
    #: ``"float"`` (CompressAI's arithmetic, the default) or ``"fixed"``: entropy parameters from
    #: the deterministic integer networks of :mod:`tinify.models.fixed`, which decode bit-exactly
    #: on any device. A stream must be decoded with the path it was encoded with. Pass the option
    #: per call rather than setting this attribute when a model is shared between threads.
    entropy_path: str = "float"
    _fixed_networks: dict[str, Any]

    def __init__(
        self, entropy_bottleneck_channels: int | None = None, init_weights: Any = None
    ) -> None:
        """Both arguments are CompressAI's deprecated ones, accepted for old model code.

        Args:
            entropy_bottleneck_channels: deprecated; creates ``self.entropy_bottleneck =
                EntropyBottleneck(entropy_bottleneck_channels)`` (create it in your model).
            init_weights: deprecated and ignored.
        """
        super().__init__()
        if entropy_bottleneck_channels is not None:
            warnings.warn(
                "entropy_bottleneck_channels is deprecated: create "
                "self.entropy_bottleneck = EntropyBottleneck(channels) in your model instead",
                DeprecationWarning,
                stacklevel=2,
            )
            self.entropy_bottleneck = EntropyBottleneck(entropy_bottleneck_channels)
        if init_weights is not None:
            warnings.warn(
                "init_weights is deprecated and ignored", DeprecationWarning, stacklevel=2
            )

    @property
    def downsampling_factor(self) -> int:
        """Ratio of the image size to the size of the last latent (``shape``)."""
        return self._downsampling_factor

    # -- training helpers ---------------------------------------------------------------------

    def aux_loss(self) -> Tensor:
        """Sum of the auxiliary (quantile) losses of every :class:`EntropyBottleneck`."""
        losses = [m.loss() for m in self.modules() if isinstance(m, EntropyBottleneck)]
        if not losses:
            return torch.zeros(())
        return torch.stack([loss.reshape(()) for loss in losses]).sum()

    def update(
        self,
        scale_table: Tensor | Sequence[float] | None = None,
        force: bool = False,
        update_quantiles: bool = False,
    ) -> bool:
        """Build the coding tables of every entropy model (call before :meth:`compress`).

        Args:
            scale_table: scales for every :class:`GaussianConditional`
                (default :func:`get_scale_table`).
            force: rebuild tables that already exist (for instance loaded from a checkpoint).
            update_quantiles: re-estimate the bottlenecks' quantiles by bisection first.

        Returns:
            True if any table was (re)built.
        """
        if scale_table is None:
            scale_table = get_scale_table()
        updated = False
        for module in self.modules():
            if isinstance(module, EntropyBottleneck):
                updated |= module.update(force=force, update_quantiles=update_quantiles)
            elif isinstance(module, GaussianConditional):
                updated |= module.update_scale_table(scale_table, force=force)
        # Always re-derived (also when the tables came with a checkpoint): cheap, and a pure
        # function of the float weights.
        self._build_fixed_networks()
        return updated

    # -- fixed-point entropy path -------------------------------------------------------------

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        """Modules the ``"fixed"`` entropy path quantizes, by name (none for models without an
        entropy-parameter network, such as the factorized prior)."""
        return {}

    def _quantize_fixed_networks(self) -> dict[str, Any]:
        """The quantized networks by name: :meth:`_fixed_network_modules`, quantized
        (subclasses with other integer networks add them here)."""
        return {name: quantize_network(m) for name, m in self._fixed_network_modules().items()}

    def _build_fixed_networks(self) -> None:
        """Build the quantized networks (plain attributes, not state-dict entries). The dict is
        complete before it is assigned, so threads that share the model never see half of it."""
        self._fixed_networks = self._quantize_fixed_networks()

    def fixed_network(self, name: str) -> Any:
        """The quantized network ``name`` (a ``tinify._core.FixedNetwork``), built on first use
        if :meth:`update` has not built it yet."""
        nets = self.__dict__.get("_fixed_networks")
        if nets is None or name not in nets:
            self._build_fixed_networks()
            nets = self.__dict__["_fixed_networks"]
        return nets[name]

    # -- inference copies of the transforms ------------------------------------------------

    def inference_transform(self, name: str) -> nn.Module:
        """A faster copy of the transform ``name`` (``"g_a"``, ``"g_s"``, ``"h_a"``, ...): the
        same function up to float rounding (see :func:`tinify.layers.inference.inference_copy`),
        built on first use and kept (a plain attribute, not a state-dict entry). It is rebuilt
        when the transform's weights change (``load_state_dict``, an optimizer step, ``.to()``)
        (a new thread count may change its kind, :func:`~tinify.layers.inference.winograd_plan`:
        one copy of each kind is kept).

        Use it for ``g_s``, and for the analysis transforms only on the fixed-point path: the
        float path's latents must be CompressAI's exactly.

        Raises:
            tinify.ParameterError: the model has no module ``name``.
        """
        module = getattr(self, name, None)
        if not isinstance(module, nn.Module):
            raise ParameterError(f"{type(self).__name__} has no transform {name!r}")
        # One copy per kind: whether it is a Winograd one depends on the calling thread's torch
        # thread count (see winograd_plan), so threads that disagree keep a copy each instead of
        # rebuilding each other's.
        key = (name, winograd_plan(module))
        signature = parameter_signature(module)
        cache: dict[tuple[str, bool], tuple[Any, nn.Module]] = self.__dict__.get(
            "_inference_transforms", {}
        )
        hit = cache.get(key)
        if hit is None or hit[0] != signature:
            hit = (signature, inference_copy(module))
            # A new dict, complete before it is assigned: threads sharing the model never see
            # a half-built one. A copy of other weights goes with its key.
            self.__dict__["_inference_transforms"] = {**cache, key: hit}
        return hit[1]

    def coding_options(
        self,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
    ) -> CodingOptions:
        """The options of one call, checked; ``None`` takes the default (:attr:`entropy_path`,
        each entropy model's ``stream_chunks``, automatic tiling).

        Raises:
            tinify.ParameterError: (a ValueError) an unknown ``entropy_path``, a
                ``stream_chunks`` outside 1..65536 or a negative ``tile_size``.
        """
        path = check_entropy_path(self.entropy_path if entropy_path is None else entropy_path)
        chunks = None if stream_chunks is None else check_stream_chunks(stream_chunks)
        return CodingOptions(path, chunks, check_tile_size(tile_size))

    # -- checkpoints --------------------------------------------------------------------------

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """``nn.Module.load_state_dict`` after :func:`remap_legacy_keys`.

        Coding tables take the checkpoint's shapes (the entropy models resize their buffers).
        """
        extra = {"assign": True} if assign else {}  # torch < 2.1 has no ``assign``
        self.__dict__.pop("_fixed_networks", None)  # stale once the float weights change
        self.__dict__.pop("_inference_transforms", None)
        return super().load_state_dict(remap_legacy_keys(state_dict), strict=strict, **extra)

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        """Constructor arguments read from tensor shapes of a (renamed) state dict."""
        raise NotImplementedError

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, Any], **kwargs: Any) -> CompressionModel:
        """Build a model sized for ``state_dict`` (old key names accepted) and load it strictly.

        The channel counts are read from tensor shapes; ``kwargs`` go to the constructor. The
        model is checked by :func:`check_model_config` before it is built.

        Raises:
            ParameterError: the state dict does not fit the architecture.
            LimitError: it describes a model beyond the limits of :mod:`tinify.codec.limits`.
        """
        renamed = remap_legacy_keys(state_dict)
        try:
            config = cls._config_from_state_dict(renamed)
        except KeyError as err:
            raise ParameterError(
                f"state dict does not look like a {cls.__name__} checkpoint: no key {err}"
            ) from None
        config = {**config, **kwargs}
        check_model_config(cls, config, renamed)
        model = cls(**config)
        model.load_state_dict(renamed)
        return model

    # -- coding -------------------------------------------------------------------------------

    def compress(
        self,
        x: Tensor,
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
    ) -> dict[str, Any]:
        """Encode images ``x`` (N, 3, H, W) in [0, 1], H and W >= 64.

        The batch is padded (centred zeros) to a multiple of :attr:`downsampling_factor`.

        Args:
            x: the images.
            entropy_path: ``"float"`` or ``"fixed"`` (default: :attr:`entropy_path`).
            stream_chunks: streams per latent and item (default: each entropy model's
                ``stream_chunks``; 1 is CompressAI's format).
            tile_size: tile side of the analysis transform in pixels (None: automatic, 0: the
                whole image; see :mod:`tinify.models.base`).

        Returns:
            ``{"strings": [per-latent lists of bytes, one per image], "shape": torch.Size of the
            last latent, "x_size": (H, W)}``.

        Raises:
            TypeError, ValueError: ``x`` is not a valid image batch (see :func:`check_image`),
                or an option is invalid.
        """
        options = self.coding_options(entropy_path, stream_chunks, tile_size)
        return self._compress_with(x, options)

    def _compress_with(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        """:meth:`compress` with resolved ``options``: the checks, the padding, :meth:`_compress`
        and ``x_size``. A subclass with more per-call choices (a variable-rate model's rate)
        passes a :class:`CodingOptions` subclass carrying them, never state on the model."""
        check_image(x)
        weight = next(self.parameters(), None)
        if weight is not None and x.dtype != weight.dtype:
            raise ParameterTypeError(
                f"x has dtype {x.dtype} but the model's weights are {weight.dtype}; convert one "
                f"to the other (x.to({weight.dtype}) or model.to({x.dtype}))"
            )
        height, width = (int(s) for s in x.shape[-2:])
        padded, _ = pad_to_multiple(x, self.downsampling_factor)
        out = self._compress(padded, options)
        out["x_size"] = (height, width)
        return out

    def decompress(
        self,
        strings: Sequence[Sequence[bytes]],
        shape: Sequence[int],
        x_size: Any = None,
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
    ) -> dict[str, Tensor]:
        """Decode the output of :meth:`compress`.

        Args:
            strings: ``out["strings"]``.
            shape: ``out["shape"]``.
            x_size: ``out["x_size"]``; when given, the padding added by :meth:`compress` is
                cropped off. Without it the padded image is returned (CompressAI's behaviour).
            entropy_path, stream_chunks: the encoder's options (see :meth:`compress`).
            tile_size: tile side of the synthesis transform in pixels (None: automatic, 0: the
                whole image); any value decodes the same image up to float rounding.

        Returns:
            ``{"x_hat": (N, 3, H, W) tensor clamped to [0, 1]}``.

        Raises:
            ValueError, TypeError: malformed arguments.
            tinify.BitstreamError: a corrupt or truncated stream.
        """
        options = self.coding_options(entropy_path, stream_chunks, tile_size)
        return self._decompress_with(strings, shape, x_size, options)

    def _decompress_with(
        self,
        strings: Sequence[Sequence[bytes]],
        shape: Sequence[int],
        x_size: Any,
        options: CodingOptions,
    ) -> dict[str, Tensor]:
        """:meth:`decompress` with resolved ``options`` (see :meth:`_compress_with`)."""
        check_strings(strings, len(self.latent_names))
        latent_shape = check_shape(shape)
        x_hat = self._decompress(strings, latent_shape, options)
        if x_size is not None:
            x_hat = crop(x_hat, self._unpad(x_size, x_hat.shape[-2:]))
        return {"x_hat": x_hat}

    def _unpad(self, x_size: Any, padded: Sequence[int]) -> tuple[int, int, int, int]:
        height, width = check_shape(x_size)
        factor = self.downsampling_factor
        ph, pw = (-(-height // factor) * factor, -(-width // factor) * factor)
        if (ph, pw) != tuple(padded):
            raise ParameterError(
                f"x_size {height}x{width} does not match the decoded {padded[0]}x{padded[1]} "
                f"image (expected {ph}x{pw}); pass the x_size that compress() returned"
            )
        _, unpad = compute_padding(height, width, min_div=factor)
        return unpad

    def _transform_for(
        self, name: str, options: CodingOptions
    ) -> tuple[nn.Module, Callable[[Tensor], Tensor]]:
        """``(module, run)`` for transform ``name`` (``"g_a"``, ``"g_s"``) in a call with
        ``options``: the model's own module (whose layers define the tiling halo) and what
        computes it. The one place that chooses: the faster inference copy
        (:meth:`inference_transform`) for ``g_s`` always (only the pixels change, by float
        rounding), and for ``g_a`` on the ``"fixed"`` path only (coding mode 1 need not
        reproduce CompressAI's bytes); the ``"float"`` path's ``g_a`` is the module itself, so
        its latents are CompressAI's exactly. A transform with forward hooks registered on it
        or on any of its layers also runs as itself, so the hooks see every call, as in
        CompressAI.
        """
        module = getattr(self, name)
        assert isinstance(module, nn.Module)
        if (name == "g_a" and not options.fixed) or has_hooks(module):
            return module, module
        return module, self.inference_transform(name)

    def _analyze(self, x: Tensor, options: CodingOptions) -> Tensor:
        """``g_a(x)`` for :meth:`_compress`: the latent ``y`` of the padded input.

        Tiled when ``options.tile_size`` asks for it (see :mod:`tinify.models.tiling`). On the
        ``"fixed"`` path the inference copy of ``g_a`` runs it (channels-last on CPU, oneDNN's
        fastest, and folded GDN; coding mode 1 need not reproduce CompressAI's bytes); the
        ``"float"`` path keeps CompressAI's module and layout, so its whole-image latents are
        CompressAI's exactly.
        """
        g_a, run = self._transform_for("g_a", options)
        channels_last = options.fixed and x.device.type == "cpu"
        apply = None if run is g_a else run
        return analyze(g_a, x, options.tile_size, channels_last=channels_last, apply=apply)

    def _synthesize(self, y_hat: Tensor, options: CodingOptions | None = None) -> Tensor:
        """``g_s(y_hat).clamp_(0, 1)`` for :meth:`_decompress`: the decoded image (N, 3, H, W).

        ``g_s`` runs as its inference copy (:meth:`inference_transform`: channels-last on CPU,
        oneDNN's fastest for these (transposed) convolutions, folded IGDN, sub-pixel last
        layer). Only the pixels change, by float rounding (about 1e-6); every latent is decoded
        before this point. The result is returned contiguous (NCHW), as CompressAI's. Tiled as
        ``options.tile_size`` says (see :mod:`tinify.models.tiling`; automatic without
        ``options``).
        """
        options = CodingOptions() if options is None else options
        g_s, run = self._transform_for("g_s", options)
        channels_last = y_hat.device.type == "cpu"
        x_hat = synthesize(
            g_s, y_hat, options.tile_size, channels_last=channels_last, clamp=True, apply=run
        )
        return x_hat.contiguous()

    def _latent_tile(self, options: CodingOptions | None, pixels: int) -> int:
        """Tile side, in positions of the latent ``y`` (``g_a``'s output), of the fixed path's
        integer networks at ``y``'s resolution (``h_s``, contexts, entropy parameters) in a
        call with ``options`` on an image of ``pixels`` (padded) pixels: the image tile of
        ``options.tile_size`` (see :func:`~tinify.models.tiling.image_tile`; automatic without
        ``options``) over ``g_a``'s stride; 0 for no tiling. Integer tiles are bit-exact
        whatever this is (see :func:`~tinify.models.tiling.latent_tiles`): it only bounds the
        memory, as the image tiles do.
        """
        tile = image_tile(None if options is None else options.tile_size, pixels)
        if not tile:
            return 0
        g_a = getattr(self, "g_a", None)
        if not isinstance(g_a, nn.Module):
            return 0
        try:
            stride = receptive_field(g_a).factor
        except ParameterError:
            return 0  # same integers on the whole latent
        return max(1, int(tile // stride))

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        raise NotImplementedError

    def _decompress(
        self, strings: Sequence[Sequence[bytes]], shape: tuple[int, int], options: CodingOptions
    ) -> Tensor:
        raise NotImplementedError


# -- models built around a latent codec -------------------------------------------------------


def last_latent_size(shape: Any) -> tuple[int, ...]:
    """The spatial size of the last coded latent in the ``shape`` that ``compress`` returned.

    For :class:`CompressionModel` subclasses ``shape`` is that size already; for a
    :class:`SimpleVAECompressionModel` with a hyperprior it is ``shape["hyper"]`` (tinify's file
    format records only this size; :meth:`SimpleVAECompressionModel.latent_shape` rebuilds the
    rest).
    """
    while isinstance(shape, Mapping):
        if "hyper" not in shape:
            raise ParameterError(f"cannot tell the last latent's size from shape {shape!r}")
        shape = shape["hyper"]
    return tuple(int(s) for s in shape)


class SimpleVAECompressionModel(CompressionModel):
    r"""A model made of an analysis transform, a latent codec and a synthesis transform
    (CompressAI 1.2.8's ``compressai.models.base.SimpleVAECompressionModel``)::

               ┌───┐  y  ┌────┐ y_hat ┌───┐
        x ──►──┤g_a├──►──┤ lc ├───►───┤g_s├──►── x_hat
               └───┘     └────┘       └───┘

    Subclasses set ``g_a``, ``g_s`` and ``latent_codec`` (a
    :class:`~tinify.latent_codecs.LatentCodec`) in ``__init__``; ``model["y"]`` indexes into the
    latent codec. ``compress(x)`` pads ``x`` as every tinify model does and returns the latent
    codec's output (``"strings"``, ``"shape"`` in the codec's structure, ``"y_hat"``) plus
    ``"x_size"``; ``decompress(strings, shape, x_size=None)`` decodes it. Both take the
    keyword-only coding options of every model (see :mod:`tinify.models.base`). With
    ``entropy_path="fixed"`` the latent codecs' ``compress_fixed`` / ``decompress_fixed`` run
    every network that derives entropy parameters in integers (the hyperprior's ``h_s``,
    checkerboard contexts and parameter networks, channel contexts): streams then decode
    bit-exactly on any device (see :mod:`tinify.models.fixed`). ``stream_chunks`` is passed on
    to the latent codec (only when given, so a CompressAI-style codec without the keyword
    still works with the defaults).
    """

    g_a: nn.Module
    g_s: nn.Module
    latent_codec: LatentCodec

    def __getitem__(self, key: str) -> LatentCodec:
        codec = self.latent_codec[key]  # type: ignore[index]
        assert isinstance(codec, LatentCodec)
        return codec

    def forward(self, x: Tensor) -> dict[str, Any]:
        """Return ``{"x_hat", "likelihoods"}`` (the latent codec's likelihoods)."""
        y_out = self.latent_codec(self.g_a(x))
        return {"x_hat": self.g_s(y_out["y_hat"]), "likelihoods": y_out["likelihoods"]}

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        """Every network the latent codecs run in integers, as ``"<codec path>:<key>"``."""
        out: dict[str, nn.Module] = {}
        for name, module in self.latent_codec.named_modules():
            if isinstance(module, LatentCodec):
                for key, net in module.fixed_network_modules().items():
                    out[f"{name}:{key}"] = net
        return out

    def _fixed_networks_of_codecs(self) -> Any:
        """The ``networks(codec, key)`` lookup the latent codecs' fixed paths take."""
        names = {id(m): name for name, m in self.latent_codec.named_modules()}
        return lambda codec, key: self.fixed_network(f"{names[id(codec)]}:{key}")

    def _quantize_fixed_networks(self) -> dict[str, Any]:
        """Quantize what can be: a custom network with a layer that has no integer version
        (say GDN) must not stop ``update()``; the fixed path then refuses to code instead."""
        nets = {}
        for name, module in self._fixed_network_modules().items():
            try:
                nets[name] = quantize_network(module)
            except (TypeError, ValueError):
                continue
        return nets

    def _coding_fixed(self, options: CodingOptions) -> bool:
        """True on the fixed-point path of ``options`` (with networks to run in integers: a
        codec without any, such as a lone entropy bottleneck, codes the same either way).

        Raises:
            tinify.ParameterError: a network has no fixed-point version.
        """
        if not options.fixed:
            return False
        modules = self._fixed_network_modules()
        if not modules:
            return False
        nets = self.__dict__.get("_fixed_networks")
        if nets is None:
            self._build_fixed_networks()
            nets = self.__dict__["_fixed_networks"]
        missing = sorted(set(modules) - set(nets))
        if missing:
            raise ParameterError(
                f"{type(self).__name__} has no fixed-point version of {', '.join(missing)}: use "
                "entropy_path='float' (tinify encode --coding float)"
            )
        return True

    def latent_shape(self, size: Sequence[int]) -> Any:
        """The latent codec's ``shape`` for a last-latent size ``(h, w)`` (see
        :func:`last_latent_size`): the size itself, as for a single-latent codec; models with
        a hyperprior override this."""
        return torch.Size(size)

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        y = self._analyze(x, options)
        chunks = chunks_option(options.stream_chunks)
        if self._coding_fixed(options):
            networks = self._fixed_networks_of_codecs()
            tile = self._latent_tile(options, int(x.shape[-2]) * int(x.shape[-1]))
            out = self.latent_codec.compress_fixed(y, networks=networks, tile_size=tile, **chunks)
            return {k: v for k, v in out.items() if k != "y_int"}
        return dict(self.latent_codec.compress(y, **chunks))

    def decompress(  # type: ignore[override]
        self,
        strings: Any,
        shape: Any,
        x_size: Any = None,
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
        tile_size: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Tensor]:
        """Decode the output of :meth:`compress`.

        Args:
            strings: ``out["strings"]``.
            shape: ``out["shape"]``, or the last latent's ``(h, w)`` (see :meth:`latent_shape`).
            x_size: ``out["x_size"]``: crop off the padding added by :meth:`compress`.
            entropy_path, stream_chunks: the encoder's options (see
                :meth:`CompressionModel.compress`), keyword-only.
            tile_size: tile side of the synthesis transform (see
                :meth:`CompressionModel.decompress`), keyword-only.
            **kwargs: more arguments of the latent codec's ``decompress``; ``y_hat`` (an entry
                of ``compress``'s output) is ignored.

        Raises:
            ValueError, TypeError: malformed arguments.
            tinify.BitstreamError: a corrupt or truncated stream.
        """
        options = self.coding_options(entropy_path, stream_chunks, tile_size)
        kwargs.pop("y_hat", None)
        if (
            not isinstance(shape, Mapping)
            and len(shape) == 2
            and not isinstance(shape[0], Sequence)
        ):
            shape = self.latent_shape(check_shape(shape))
        kwargs.update(chunks_option(options.stream_chunks))
        if self._coding_fixed(options):
            networks = self._fixed_networks_of_codecs()
            try:
                pixels = math.prod(last_latent_size(shape)) * self.downsampling_factor**2
            except (TypeError, ValueError):  # a codec's own shape: only an explicit tile
                pixels = 0
            tile = self._latent_tile(options, pixels)
            out = self.latent_codec.decompress_fixed(
                strings, shape, **kwargs, networks=networks, tile_size=tile
            )
            y_hat = out["y_hat"].to(next(self.g_s.parameters()))  # g_s's device and dtype
        else:
            y_hat = self.latent_codec.decompress(strings, shape, **kwargs)["y_hat"]
        x_hat = self._synthesize(y_hat, options)
        if x_size is not None:
            x_hat = crop(x_hat, self._unpad(x_size, x_hat.shape[-2:]))
        return {"x_hat": x_hat}
