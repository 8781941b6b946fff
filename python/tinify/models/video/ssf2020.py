# SPDX-License-Identifier: Apache-2.0
"""Scale-space flow video codec (Agustsson et al., CVPR 2020), CompressAI's ``ssf2020``.

Low-delay P coding: the first frame is coded as an image, every later frame from the previous
reconstruction by a scale-space-flow prediction plus a coded residual. Three hyperprior latent
codecs (image, motion, residual) share one design.

Names, state-dict keys and shapes are those of CompressAI 1.2.8's ``ScaleSpaceFlow``, so its
published weights load with ``strict=True`` and ``forward`` reproduces its outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.exceptions import ParameterError, ParameterTypeError
from tinify.layers import conv, deconv
from tinify.layers.inference import subpixel_conv, subpixel_weight
from tinify.layers.qrelu import qrelu
from tinify.models.base import (
    CodingOptions,
    CompressionModel,
    check_image,
    check_shape,
    check_strings,
    has_hooks,
)
from tinify.models.fixed import FRAC_BITS, from_fixed, run_network, to_fixed
from tinify.models.video.scale_space import gaussian_volume, warp_volume
from tinify.ops import crop, pad_to_multiple, quantize_ste
from tinify.registry.torch import register_model

__all__ = [
    "CodedFrame",
    "CompressedVideo",
    "HyperScaleDecoder",
    "Hyperprior",
    "ScaleSpaceFlow",
    "SubpelDeconv",
    "VideoDecoder",
    "VideoEncoder",
    "qrelu",
    "ssf_decoder",
    "ssf_encoder",
]

#: Height and width of coded frames must be multiples of this (16 for y, 8 more for z).
SSF_DOWNSAMPLING = 128


# -- building blocks ----------------------------------------------------------------------------


def _nhwc(x: Tensor) -> Tensor:
    """On CPU, ``x`` in channels-last layout: oneDNN runs the SSF (transposed) convolutions
    1.4-1.6x faster with it. Values change only by float rounding. Other devices: unchanged."""
    if x.device.type != "cpu":
        return x
    return x.contiguous(memory_format=torch.channels_last)


def ssf_encoder(in_planes: int, mid_planes: int = 128, out_planes: int = 192) -> nn.Sequential:
    """Four 5x5 stride-2 convolutions with ReLUs: (N, in, H, W) -> (N, out, H/16, W/16).

    Keys ``0, 2, 4, 6`` (the ReLUs are ``1, 3, 5``).
    """
    return nn.Sequential(
        conv(in_planes, mid_planes),
        nn.ReLU(inplace=True),
        conv(mid_planes, mid_planes),
        nn.ReLU(inplace=True),
        conv(mid_planes, mid_planes),
        nn.ReLU(inplace=True),
        conv(mid_planes, out_planes),
    )


class SubpelDeconv(nn.ConvTranspose2d):
    """A 5x5 stride-2 transposed convolution (:func:`tinify.layers.deconv`) computed as a 3x3
    convolution to ``4 * out_channels`` phases followed by ``PixelShuffle(2)``
    (:func:`~tinify.layers.inference.subpixel_weight`, rebuilt from the trainable weight at each
    call, and :func:`~tinify.layers.inference.subpixel_conv`).

    For the few output channels of the SSF decoders' last layer (3) this runs about twice as
    fast on CPU as the transposed convolution. Same parameters and state-dict keys as
    ``ConvTranspose2d``; the result equals it up to float rounding.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 5, stride=2, padding=2, output_padding=1)

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        if output_size is not None:
            return super().forward(x, output_size)
        kernel, pad = subpixel_weight(self.weight, 2, (2, 2))
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        # The kernel in the input's layout: a channels-last kernel on an NCHW input (the
        # Winograd inference copies) ran 1.5x slower than an NCHW one.
        nhwc = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        return subpixel_conv(x, _nhwc(kernel) if nhwc else kernel, bias, pad, 2)


def ssf_decoder(out_planes: int, in_planes: int = 192, mid_planes: int = 128) -> nn.Sequential:
    """Four 5x5 stride-2 transposed convolutions with ReLUs: (N, in, h, w) -> (N, out, 16h, 16w).

    The last one is a :class:`SubpelDeconv` (same keys ``6.weight``, ``6.bias``).
    """
    return nn.Sequential(
        deconv(in_planes, mid_planes),
        nn.ReLU(inplace=True),
        deconv(mid_planes, mid_planes),
        nn.ReLU(inplace=True),
        deconv(mid_planes, mid_planes),
        nn.ReLU(inplace=True),
        SubpelDeconv(mid_planes, out_planes),
    )


class HyperScaleDecoder(nn.Module):
    """Scale branch of the hyper-decoder: three x2 transposed convolutions, each followed by
    :func:`qrelu` (scales in [0, 255]). Keys ``deconv1``, ``deconv2``, ``deconv3``."""

    def __init__(self, in_planes: int = 192, mid_planes: int = 192, out_planes: int = 192) -> None:
        super().__init__()
        self.deconv1 = deconv(in_planes, mid_planes)
        self.deconv2 = deconv(mid_planes, mid_planes)
        self.deconv3 = deconv(mid_planes, out_planes)

    #: Largest output of :func:`qrelu` (its default 8-bit depth).
    max_value = 255

    def forward(self, x: Tensor) -> Tensor:
        """(N, in, h, w) -> (N, out, 8h, 8w)."""
        x = qrelu(self.deconv1(x))
        x = qrelu(self.deconv2(x))
        return qrelu(self.deconv3(x))

    def layers(self) -> dict[str, nn.Module]:
        """The three transposed convolutions by name, for the fixed-point path (each
        :func:`qrelu` is an integer clamp between them, see :meth:`forward_fixed`)."""
        return {"deconv1": self.deconv1, "deconv2": self.deconv2, "deconv3": self.deconv3}

    def forward_fixed(self, x: Tensor, networks: Mapping[str, Any]) -> Tensor:
        """:meth:`forward` on the integer path of :mod:`tinify.models.fixed`.

        Args:
            x: int32 (N, in, h, w) holding ``x * 2^FRAC_BITS``.
            networks: :meth:`layers`, each quantized by
                :func:`~tinify.models.fixed.quantize_network`.

        Returns:
            int32 (N, out, 8h, 8w) scales times ``2^FRAC_BITS``; :func:`qrelu` is the exact clamp
            to ``[0, 255 * 2^FRAC_BITS]``.
        """
        top = self.max_value << FRAC_BITS
        for name in ("deconv1", "deconv2", "deconv3"):
            x = run_network(networks[name], x).clamp_(0, top)
        return x


class Hyperprior(CompressionModel):
    r"""Mean-scale hyperprior latent codec of one SSF branch (image, motion or residual).

    ::

        y ──► hyper_encoder ──► z ──► EB ──► z_hat ─┬─► hyper_decoder_scale ──► scales
        │                                           └─► hyper_decoder_mean  ──► means
        └──────────────► GC(y; means, scales) ──► y_hat = round(y - means) + means

    ``hyper_encoder`` sees ``y`` itself (not ``|y|``) and downsamples by 8. Unlike the image
    models this is a *latent* codec: its input and output are latents, and :meth:`compress`
    returns ``(y_hat, {"strings": [y_strings, z_strings], "shape": z size})`` so the caller can
    reconstruct without decoding.

    With ``entropy_path="fixed"`` both hyper-decoders run in integers
    (:mod:`tinify.models.fixed`): ``z_hat`` enters as ``rint(z_hat * 2^F)``, the scale branch's
    :func:`qrelu` is an integer clamp, scales pick their table rows on integers and the means are
    ``m_int * 2^-F``. The entropy parameters of ``y`` are then a pure function of the decoded
    ``z_hat``, identical on every machine, thread count, device and float precision, so ``y_hat``
    decodes bit-exactly wherever the stream goes.

    Args:
        planes: channels of ``y`` and ``z``.
        mid_planes: channels of the hidden hyper layers.
    """

    _downsampling_factor = 8

    def __init__(self, planes: int = 192, mid_planes: int = 192) -> None:
        super().__init__()
        self.entropy_bottleneck = EntropyBottleneck(mid_planes)
        self.hyper_encoder = nn.Sequential(
            conv(planes, mid_planes),
            nn.ReLU(inplace=True),
            conv(mid_planes, mid_planes),
            nn.ReLU(inplace=True),
            conv(mid_planes, mid_planes),
        )
        self.hyper_decoder_mean = nn.Sequential(
            deconv(mid_planes, mid_planes),
            nn.ReLU(inplace=True),
            deconv(mid_planes, mid_planes),
            nn.ReLU(inplace=True),
            deconv(mid_planes, planes),
        )
        self.hyper_decoder_scale = HyperScaleDecoder(mid_planes, mid_planes, planes)
        self.gaussian_conditional = GaussianConditional(None)

    def _params(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        z_hat = _nhwc(z_hat)
        return self.hyper_decoder_scale(z_hat), self.hyper_decoder_mean(z_hat)

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        scale = {f"scale.{k}": m for k, m in self.hyper_decoder_scale.layers().items()}
        return {"mean": self.hyper_decoder_mean, **scale}

    def _coding_params(self, z_hat: Tensor, options: CodingOptions) -> tuple[Tensor, Tensor]:
        """``(indexes, means)`` of ``y`` from the decoded hyper-latent, on the call's path.

        Fixed: the hyper-decoders in integers; rows chosen on integer scales, means
        ``m_int * 2^-F`` in ``z_hat``'s dtype, both on ``z_hat``'s device.
        """
        if not options.fixed:
            scales, means = self._params(z_hat)
            return self.gaussian_conditional.build_indexes(scales), means
        z_int = to_fixed(z_hat)
        nets = {k: self.fixed_network(f"scale.{k}") for k in ("deconv1", "deconv2", "deconv3")}
        scales_int = self.hyper_decoder_scale.forward_fixed(z_int, nets)
        indexes = self.gaussian_conditional.build_indexes_fixed(scales_int, FRAC_BITS)
        means = from_fixed(run_network(self.fixed_network("mean"), z_int), z_hat.dtype)
        return indexes.to(z_hat.device), means.to(z_hat.device)

    def forward(self, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:  # type: ignore[override]
        """Return ``(y_hat, {"y": y_likelihoods, "z": z_likelihoods})`` for ``y`` (N, C, h, w).

        ``y_hat`` is ``round(y - means) + means`` with a straight-through gradient, in training
        and evaluation alike; the likelihoods use noise in training.
        """
        z = self.hyper_encoder(_nhwc(y))
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self._params(z_hat)
        _, y_likelihoods = self.gaussian_conditional(y, scales, means)
        y_hat = quantize_ste(y - means) + means
        return y_hat, {"y": y_likelihoods, "z": z_likelihoods}

    def compress(  # type: ignore[override]
        self, y: Tensor, *, entropy_path: str | None = None, stream_chunks: int | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """Code ``y``; return ``(y_hat, {"strings": [y_strings, z_strings], "shape": z size})``.

        ``y_hat`` is exactly what :meth:`decompress` returns for these strings. Options as
        :meth:`ScaleSpaceFlow.compress`.
        """
        options = self.coding_options(entropy_path, stream_chunks)
        chunks = options.stream_chunks
        z = self.hyper_encoder(_nhwc(y))
        z_strings = self.entropy_bottleneck.compress(z, stream_chunks=chunks)
        # round(z - median) + median is bit-for-bit the decoder's z_hat: no need to decode.
        medians = self.entropy_bottleneck._get_medians().detach()
        z_hat = self.entropy_bottleneck.quantize(z, "dequantize", medians)
        indexes, means = self._coding_params(z_hat, options)
        y_strings = self.gaussian_conditional.compress(y, indexes, means, stream_chunks=chunks)
        y_hat = self.gaussian_conditional.quantize(y, "dequantize", means)
        return y_hat, {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def decompress(  # type: ignore[override]
        self,
        strings: Sequence[Sequence[bytes]],
        shape: Sequence[int],
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode ``y_hat`` (N, C, 8h, 8w) from ``[y_strings, z_strings]`` and z ``shape``
        (with the encoder's options)."""
        options = self.coding_options(entropy_path, stream_chunks)
        chunks = options.stream_chunks
        z_hat = self.entropy_bottleneck.decompress(list(strings[1]), shape, stream_chunks=chunks)
        indexes, means = self._coding_params(z_hat, options)
        return self.gaussian_conditional.decompress(
            list(strings[0]), indexes, z_hat.dtype, means, stream_chunks=chunks
        )


# -- the video model ----------------------------------------------------------------------------


class CompressedVideo(tuple[list[Any], list[Any]]):
    """What :meth:`ScaleSpaceFlow.compress` returns: CompressAI's 2-tuple, plus ``x_size``.

    ``strings, shapes = out`` unpacks exactly like CompressAI 1.2.8's ``(frame_strings,
    shape_infos)``; the extra attribute ``x_size`` is the (H, W) of the frames before padding.
    ``model.decompress(*out, x_size=out.x_size)`` returns frames of that size.
    """

    x_size: tuple[int, int]

    def __new__(
        cls, frame_strings: list[Any], shape_infos: list[Any], x_size: tuple[int, int]
    ) -> CompressedVideo:
        self = super().__new__(cls, (frame_strings, shape_infos))
        self.x_size = (int(x_size[0]), int(x_size[1]))
        return self

    def __getnewargs__(self) -> tuple[Any, ...]:  # type: ignore[override]
        return (self[0], self[1], self.x_size)

    @property
    def strings(self) -> list[Any]:
        """Per-frame strings (the first element)."""
        return self[0]

    @property
    def shapes(self) -> list[Any]:
        """Per-frame latent shapes (the second element)."""
        return self[1]


def _code(
    hyperprior: Hyperprior, y: Tensor, options: CodingOptions
) -> tuple[Tensor, dict[str, Any]]:
    return hyperprior.compress(
        y, entropy_path=options.entropy_path, stream_chunks=options.stream_chunks
    )


def _decode(hyperprior: Hyperprior, strings: Any, shape: Any, options: CodingOptions) -> Tensor:
    return hyperprior.decompress(
        strings, shape, entropy_path=options.entropy_path, stream_chunks=options.stream_chunks
    )


def _estimate(hyperprior: Hyperprior, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    return hyperprior(y)


@register_model("ssf2020")
class ScaleSpaceFlow(CompressionModel):
    r"""Scale-space flow video codec of E. Agustsson, D. Minnen, N. Johnston, J. Ballé,
    S. J. Hwang, G. Toderici, "Scale-Space Flow for End-to-End Optimized Video Compression",
    CVPR 2020, as built by CompressAI 1.2.8 (``ssf2020``).

    Frame 0 is an I-frame; every later frame is a P-frame predicted from the previous
    reconstruction (low delay). Each of the three latents (image, motion, residual; 192 channels
    at 1/16) has its own mean-scale :class:`Hyperprior`::

        I-frame  x_0 ──► img_encoder ──► img_hyperprior ──► img_decoder ──► x_hat_0

        P-frame  [x_t, x_ref] ──► motion_encoder ──► motion_hyperprior ──► y_motion_hat
                 y_motion_hat ──► motion_decoder ──► (flow, scale)
                 x_ref ──► gaussian_volume ──► warp_volume(flow, scale) ──► x_pred
                 x_t - x_pred ──► res_encoder ──► res_hyperprior ──► y_res_hat
                 [y_res_hat, y_motion_hat] ──► res_decoder ──► + x_pred ──► x_hat_t

    Frames are (N, 3, H, W) in [0, 1]. :meth:`forward` needs H and W divisible by 128;
    :meth:`compress` pads (centred zeros) to a multiple of 128 itself.

    Coding API (CompressAI's structure):

    - ``compress(frames)`` returns ``(frame_strings, shape_infos)`` (a :class:`CompressedVideo`,
      which also carries ``x_size``): ``frame_strings[0] = [y_strings, z_strings]`` and
      ``shape_infos[0] = z size (H/128, W/128)`` for the I-frame; for P-frame ``i``,
      ``frame_strings[i] = {"motion": [y_strings, z_strings], "residual": [y_strings,
      z_strings]}`` and ``shape_infos[i] = {"motion": z size, "residual": z size}``. Each
      ``*_strings`` list holds one ``bytes`` per batch item.
    - ``decompress(frame_strings, shape_infos, x_size=None)`` returns the list of frames, clamped
      to [0, 1], cropped to ``x_size`` when given (else the padded size, like CompressAI).

    References: ``compress`` and ``decompress`` clamp every reconstruction to [0, 1] and use the
    clamped frame as the next reference, on both sides, as CompressAI's evaluation tool and
    ``codec.py`` example do (its published results use this). CompressAI's own
    ``model.compress`` keeps the unclamped reconstruction instead, so P-frame streams of the two
    differ; the building blocks :meth:`encode_keyframe`, :meth:`encode_inter`,
    :meth:`decode_keyframe`, :meth:`decode_inter` and :meth:`forward` are unclamped, as in
    CompressAI.

    Differences from CompressAI: :meth:`aux_loss` is the *sum* of the three bottlenecks' auxiliary
    losses (a scalar tensor, like every tinify model; CompressAI returns a list), and
    :attr:`downsampling_factor` is defined (128).

    Args:
        num_levels: levels of the scale-space volume (it has ``num_levels + 1`` slices).
        sigma0: blur of the first level, in pixels.
        scale_field_shift: stored for signature compatibility; as in CompressAI 1.2.8 it does
            not enter the computation (the published weights were trained that way).
    """

    _downsampling_factor = SSF_DOWNSAMPLING

    def __init__(
        self, num_levels: int = 5, sigma0: float = 1.5, scale_field_shift: float = 1.0
    ) -> None:
        super().__init__()
        self.img_encoder = ssf_encoder(3)
        self.img_decoder = ssf_decoder(3)
        self.img_hyperprior = Hyperprior()
        self.res_encoder = ssf_encoder(3)
        self.res_decoder = ssf_decoder(3, in_planes=2 * 192)
        self.res_hyperprior = Hyperprior()
        self.motion_encoder = ssf_encoder(2 * 3)
        self.motion_decoder = ssf_decoder(2 + 1)
        self.motion_hyperprior = Hyperprior()
        self.sigma0 = float(sigma0)
        self.num_levels = int(num_levels)
        self.scale_field_shift = float(scale_field_shift)

    def _hyperpriors(self) -> tuple[Hyperprior, Hyperprior, Hyperprior]:
        return self.img_hyperprior, self.motion_hyperprior, self.res_hyperprior

    def _build_fixed_networks(self) -> None:
        """Quantize the three hyperpriors' decoders (:meth:`update` calls this), so the fixed
        path always runs the integers of the current float weights."""
        super()._build_fixed_networks()
        for hyperprior in self._hyperpriors():
            hyperprior._build_fixed_networks()

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """:meth:`CompressionModel.load_state_dict`; the hyperpriors' integer networks are
        dropped (stale) and re-derived on next use."""
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        for hyperprior in self._hyperpriors():
            hyperprior.__dict__.pop("_fixed_networks", None)
        return result

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        state_dict["motion_decoder.6.weight"]  # KeyError -> "not a ScaleSpaceFlow checkpoint"
        return {}

    # -- prediction ---------------------------------------------------------------------------

    def forward_prediction(self, x_ref: Tensor, motion_info: Tensor) -> Tensor:
        """Warp ``x_ref``'s scale-space volume with ``motion_info`` (N, 3, H, W): flow, scale."""
        flow, scale_field = motion_info[:, :2], motion_info[:, 2:3]
        x_ref = x_ref.contiguous()
        volume = self.gaussian_volume(x_ref, self.sigma0, self.num_levels)
        return self.warp_volume(volume, flow, scale_field)

    @staticmethod
    def gaussian_volume(x: Tensor, sigma: float, num_levels: int) -> Tensor:
        """The scale-space volume of ``x``: :func:`~tinify.models.video.gaussian_volume`
        (CompressAI's method; override it to change the prediction)."""
        return gaussian_volume(x, sigma, num_levels)

    def warp_volume(
        self, volume: Tensor, flow: Tensor, scale_field: Tensor, padding_mode: str = "border"
    ) -> Tensor:
        """Sample ``volume`` along ``flow`` and ``scale_field``:
        :func:`~tinify.models.video.warp_volume` (CompressAI's method)."""
        return warp_volume(volume, flow, scale_field, padding_mode)

    def _transform(self, name: str, options: CodingOptions | None) -> Any:
        """What computes transform ``name`` (``"img_encoder"``, ..., ``"res_decoder"``):
        in coding mode 1 (``options.fixed``) its inference copy
        (:meth:`~tinify.models.CompressionModel.inference_transform`: Winograd or channels-last
        convolutions; the latents need not be CompressAI's, and encoder and decoder both use
        the copies, so on one machine and thread count the references do not drift; across
        machines or thread counts, which may pick the other kind of copy, the reconstructions
        differ by float rounding, the latents not at all); otherwise (training, ``options``
        None, and mode 0) the module itself in channels-last layout, CompressAI's computation.
        A transform with forward hooks always runs as itself."""
        module = getattr(self, name)
        if options is not None and options.fixed and not has_hooks(module):
            return self.inference_transform(name)
        return lambda x: module(_nhwc(x))

    def _inter(
        self, x_cur: Tensor, x_ref: Tensor, code: Any, options: CodingOptions | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Any, Any]:
        """Motion and residual analysis shared by training and encoding.

        ``code(hyperprior, y)`` quantizes (``forward`` or ``compress``); ``options``: the coding
        call's (see :meth:`_transform`), None in training. Returns ``(x_pred, y_motion_hat,
        y_res_hat, motion_info, residual_info)``.
        """
        y_motion = self._transform("motion_encoder", options)(torch.cat([x_cur, x_ref], dim=1))
        y_motion_hat, motion_out = code(self.motion_hyperprior, y_motion)
        flow = self._transform("motion_decoder", options)(y_motion_hat)
        x_pred = self.forward_prediction(x_ref, flow)
        y_res = self._transform("res_encoder", options)(x_cur - x_pred)
        y_res_hat, res_out = code(self.res_hyperprior, y_res)
        return x_pred, y_motion_hat, y_res_hat, motion_out, res_out

    def _reconstruct(
        self,
        x_pred: Tensor,
        y_motion_hat: Tensor,
        y_res_hat: Tensor,
        options: CodingOptions | None = None,
    ) -> Tensor:
        res_decoder = self._transform("res_decoder", options)
        x_res_hat = res_decoder(torch.cat([y_res_hat, y_motion_hat], dim=1))
        return x_pred + x_res_hat.contiguous()

    # -- training -----------------------------------------------------------------------------

    def forward_keyframe(self, x: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """I-frame: ``(x_hat, {"keyframe": {"y", "z"}})``."""
        y_hat, likelihoods = self.img_hyperprior(self.img_encoder(_nhwc(x)))
        return self.img_decoder(_nhwc(y_hat)).contiguous(), {"keyframe": likelihoods}

    def forward_inter(self, x_cur: Tensor, x_ref: Tensor) -> tuple[Tensor, dict[str, Any]]:
        """P-frame: ``(x_rec, {"motion": {"y", "z"}, "residual": {"y", "z"}})``."""
        x_pred, y_motion_hat, y_res_hat, motion, res = self._inter(x_cur, x_ref, _estimate)
        x_rec = self._reconstruct(x_pred, y_motion_hat, y_res_hat)
        return x_rec, {"motion": motion, "residual": res}

    def forward(self, frames: Sequence[Tensor]) -> dict[str, Any]:  # type: ignore[override]
        """Code a clip (list of (N, 3, H, W), H and W divisible by 128) with likelihoods.

        Returns:
            ``{"x_hat": [x_hat per frame], "likelihoods": [{"keyframe": {"y", "z"}},
            {"motion": {"y", "z"}, "residual": {"y", "z"}}, ...]}``. Reconstructions are not
            clamped; the I-frame reconstruction is detached before it is used as a reference,
            later references keep their gradient (as in CompressAI).
        """
        _check_frames(frames, multiple=self.downsampling_factor)
        x_hat, likelihoods = self.forward_keyframe(frames[0])
        reconstructions, all_likelihoods = [x_hat], [likelihoods]
        x_ref = x_hat.detach()
        for x in frames[1:]:
            x_ref, likelihoods = self.forward_inter(x, x_ref)
            reconstructions.append(x_ref)
            all_likelihoods.append(likelihoods)
        return {"x_hat": reconstructions, "likelihoods": all_likelihoods}

    # -- coding building blocks (unclamped, CompressAI's) -------------------------------------

    # Options as in :meth:`compress`: ``entropy_path`` (None: :attr:`entropy_path`) and
    # ``stream_chunks`` (streams per latent and item; None: each entropy model's attribute).

    def encode_keyframe(
        self,
        x: Tensor,
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> tuple[Tensor, dict[str, Any]]:
        """Code an I-frame: ``(x_hat, {"strings": [y_strings, z_strings], "shape": z size})``."""
        x_hat, out = self._encode_frame(x, None, self.coding_options(entropy_path, stream_chunks))
        assert x_hat is not None
        return x_hat, out

    def encode_inter(
        self,
        x_cur: Tensor,
        x_ref: Tensor,
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> tuple[Tensor, dict[str, Any]]:
        """Code a P-frame: ``(x_rec, {"strings": {"motion", "residual"}, "shape": {...}})``."""
        options = self.coding_options(entropy_path, stream_chunks)
        x_rec, out = self._encode_frame(x_cur, x_ref, options)
        assert x_rec is not None
        return x_rec, out

    def _encode_frame(
        self, x: Tensor, x_ref: Tensor | None, options: CodingOptions, reconstruct: bool = True
    ) -> tuple[Tensor | None, dict[str, Any]]:
        """Code one frame (unclamped, CompressAI's steps): an I-frame when ``x_ref`` is None,
        else a P-frame predicted from ``x_ref``. Returns ``(reconstruction, {"strings",
        "shape"})``; the reconstruction is None when ``reconstruct`` is False (the last frame
        of a clip: nothing uses it). :meth:`encode_keyframe`, :meth:`encode_inter` and
        :class:`VideoEncoder` all code through this."""
        if x_ref is None:
            y = self._transform("img_encoder", options)(x)
            y_hat, out = _code(self.img_hyperprior, y, options)
            if not reconstruct:
                return None, out
            return self._transform("img_decoder", options)(y_hat).contiguous(), out
        code = functools.partial(_code, options=options)
        x_pred, y_motion_hat, y_res_hat, motion, res = self._inter(x, x_ref, code, options)
        x_rec = self._reconstruct(x_pred, y_motion_hat, y_res_hat, options) if reconstruct else None
        return x_rec, _inter_out(motion, res)

    def decode_keyframe(
        self,
        strings: Sequence[Sequence[bytes]],
        shape: Sequence[int],
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode an I-frame from ``[y_strings, z_strings]`` and its z ``shape``."""
        options = self.coding_options(entropy_path, stream_chunks)
        y_hat = _decode(self.img_hyperprior, strings, shape, options)
        return self._transform("img_decoder", options)(y_hat).contiguous()

    def decode_inter(
        self,
        x_ref: Tensor,
        strings: Mapping[str, Any],
        shapes: Mapping[str, Any],
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode a P-frame from ``{"motion", "residual"}`` strings and shapes."""
        options = self.coding_options(entropy_path, stream_chunks)
        motion = _decode(self.motion_hyperprior, strings["motion"], shapes["motion"], options)
        x_pred = self.forward_prediction(x_ref, self._transform("motion_decoder", options)(motion))
        residual = _decode(self.res_hyperprior, strings["residual"], shapes["residual"], options)
        return self._reconstruct(x_pred, motion, residual, options)

    # -- whole sequences ----------------------------------------------------------------------

    @torch.no_grad()
    def compress(  # type: ignore[override]
        self,
        frames: Sequence[Tensor],
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> CompressedVideo:
        """Code a clip: frames (N, 3, H, W) in [0, 1], all the same size, any H and W.

        Frames are padded (centred zeros) to a multiple of 128; references are clamped to
        [0, 1] (see the class docstring). The last frame is not reconstructed (nothing uses it).

        Options (keyword-only, see :mod:`tinify.models.base`): ``entropy_path``: ``"float"``
        (CompressAI's arithmetic and streams) or ``"fixed"`` (the three hyperpriors' decoders
        in integers, see :class:`Hyperprior`: every frame's latents decode bit-exactly on any
        machine; only the float reconstructions differ by rounding), default
        :attr:`entropy_path`; ``stream_chunks``: streams per latent and item (default: each
        entropy model's own).

        Returns:
            ``(frame_strings, shape_infos)`` with ``x_size = (H, W)`` attached
            (:class:`CompressedVideo`).

        Raises:
            TypeError, ValueError: ``frames`` is not a non-empty list of equally sized image
                batches in [0, 1].
        """
        _check_frames(frames)
        encoder = VideoEncoder(self, entropy_path=entropy_path, stream_chunks=stream_chunks)
        last = len(frames) - 1
        coded = [encoder.encode(x, last=i == last) for i, x in enumerate(frames)]
        return CompressedVideo(
            [c.strings for c in coded], [c.shape for c in coded], encoder.x_size or (0, 0)
        )

    @torch.no_grad()
    def decompress(  # type: ignore[override]
        self,
        strings: Sequence[Any],
        shapes: Sequence[Any],
        x_size: Any = None,
        *,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> list[Tensor]:
        """Decode the output of :meth:`compress`.

        Args:
            strings: ``frame_strings`` (one entry per frame, see the class docstring).
            shapes: ``shape_infos``.
            x_size: ``out.x_size``; when given, the padding added by :meth:`compress` is cropped
                off. Without it the frames keep the padded size (CompressAI's behaviour).
            entropy_path, stream_chunks: the encoder's options (see :meth:`compress`).

        Returns:
            One (N, 3, H, W) tensor per frame, clamped to [0, 1].

        Raises:
            ValueError, TypeError: malformed arguments.
            tinify.BitstreamError: a corrupt or truncated stream.
        """
        _check_streams(strings, shapes)
        decoder = VideoDecoder(
            self, x_size=x_size, entropy_path=entropy_path, stream_chunks=stream_chunks
        )
        return [decoder.decode(s, shape) for s, shape in zip(strings, shapes)]


# -- streaming ----------------------------------------------------------------------------------


class CodedFrame(NamedTuple):
    """One frame coded by :class:`VideoEncoder`.

    Attributes:
        intra: an I-frame (coded alone) or a P-frame (predicted from the previous frame).
        strings: the frame's entry of ``compress``'s ``frame_strings``: ``[y_strings,
            z_strings]`` for an I-frame, ``{"motion": [...], "residual": [...]}`` for a P-frame
            (one ``bytes`` per batch item in each list).
        shape: its entry of ``shape_infos`` (the z size, or ``{"motion", "residual"}`` sizes).
    """

    intra: bool
    strings: Any
    shape: Any

    @property
    def streams(self) -> list[bytes]:
        """The streams of batch item 0 in file order: ``y, z`` of an I-frame; motion ``y, z``
        then residual ``y, z`` of a P-frame."""
        groups = [self.strings] if self.intra else [self.strings[k] for k in _INTER_KEYS]
        return [latent[0] for group in groups for latent in group]


class VideoEncoder:
    """Code a clip one frame at a time with a :class:`ScaleSpaceFlow`, holding one reference.

    ::

        encoder = VideoEncoder(model, gop=12)
        for x in frames:                      # any iterable: a reader, a generator
            coded = encoder.encode(x)         # CodedFrame: intra, strings, shape
            write(coded)

    Frame ``i`` is an I-frame when ``i == 0`` or ``gop > 0`` and ``i % gop == 0``; every
    other frame is a P-frame predicted from the previous reconstruction, clamped to [0, 1] (the
    reference :meth:`ScaleSpaceFlow.compress` uses; with ``gop=0`` the frames are exactly
    ``compress``'s). Frames are padded (centred zeros) to a multiple of 128 as ``compress``
    pads. Memory: the model, the reference frame and one frame's working set, whatever the
    clip's length.

    Args:
        model: the (updated) network.
        gop: intra period; 0 (the default, CompressAI's video evaluation) codes only frame 0 as
            an I-frame.
        entropy_path, stream_chunks: the coding options of :meth:`ScaleSpaceFlow.compress`.

    Attributes:
        frames: how many frames were coded.
        x_size: ``(H, W)`` of the frames (None before the first).
    """

    def __init__(
        self,
        model: ScaleSpaceFlow,
        *,
        gop: int = 0,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> None:
        if isinstance(gop, bool) or not isinstance(gop, int) or gop < 0:
            raise ParameterError(f"gop must be a non-negative integer, got {gop!r}")
        self.model, self.gop = model, gop
        self._options = model.coding_options(entropy_path, stream_chunks)
        self.frames = 0
        self.x_size: tuple[int, int] | None = None
        self._batch = 0
        self._ref: Tensor | None = None

    def encode(self, x: Tensor, *, last: bool = False) -> CodedFrame:
        """Code the next frame, (N, 3, H, W) in [0, 1] of the first frame's size.

        Args:
            x: the frame.
            last: no frame follows: its reconstruction (the next reference) is skipped.

        Raises:
            TypeError, ValueError: a malformed frame, or one of another size; a P-frame after
                a frame coded with ``last=True``.
        """
        check_image(x, min_size=1)
        size = (int(x.shape[-2]), int(x.shape[-1]))
        if self.x_size is None:
            self.x_size, self._batch = size, int(x.size(0))
        elif (size, int(x.size(0))) != (self.x_size, self._batch):
            raise ParameterError(
                f"frame {self.frames} is {tuple(x.shape)}; the first frame was "
                f"({self._batch}, 3, {self.x_size[0]}, {self.x_size[1]}): all frames must have "
                "the same shape"
            )
        x = pad_to_multiple(x, self.model.downsampling_factor)[0]
        intra = self.frames == 0 or (self.gop > 0 and self.frames % self.gop == 0)
        if not intra and self._ref is None:
            raise ParameterError("a P-frame follows the frame coded with last=True: no reference")
        with torch.no_grad():
            x_ref = None if intra else self._ref
            ref, out = self.model._encode_frame(x, x_ref, self._options, reconstruct=not last)
        self._ref = None if ref is None else ref.clamp_(0, 1)
        self.frames += 1
        return CodedFrame(intra, out["strings"], out["shape"])


class VideoDecoder:
    """Decode frames one at a time (the inverse of :class:`VideoEncoder`), holding one reference.

    ::

        decoder = VideoDecoder(model, x_size=(h, w))
        for coded in records:                 # from an I-frame on
            x_hat = decoder.decode(coded.strings, coded.shape)

    An I-frame (``strings`` a list ``[y_strings, z_strings]``) decodes alone and restarts the
    prediction, so decoding may start at any I-frame (random access); a P-frame (a dict with
    ``"motion"`` and ``"residual"``) needs the frame before it.

    Args:
        model: the network the frames were coded with.
        x_size: ``(H, W)`` of the frames: the padding is cropped off (None: keep the padded
            size, as CompressAI's ``decompress``).
        entropy_path, stream_chunks: the encoder's options.
    """

    def __init__(
        self,
        model: ScaleSpaceFlow,
        *,
        x_size: Any = None,
        entropy_path: str | None = None,
        stream_chunks: int | None = None,
    ) -> None:
        self.model, self.x_size = model, x_size
        self._options = model.coding_options(entropy_path, stream_chunks)
        self._ref: Tensor | None = None
        self.frames = 0

    def decode(self, strings: Any, shape: Any) -> Tensor:
        """Decode the next frame; return it (N, 3, H, W), clamped to [0, 1].

        Raises:
            ValueError, TypeError: malformed strings or shapes, or a P-frame with no frame
                before it.
            tinify.BitstreamError: a corrupt or truncated stream.
        """
        model, options = self.model, self._options
        path, chunks = options.entropy_path, options.stream_chunks
        with torch.no_grad():
            if isinstance(strings, Mapping):
                if self._ref is None:
                    raise ParameterError(
                        "a P-frame needs the frame before it: start decoding at an I-frame"
                    )
                x = model.decode_inter(
                    self._ref, strings, shape, entropy_path=path, stream_chunks=chunks
                )
            else:
                x = model.decode_keyframe(strings, shape, entropy_path=path, stream_chunks=chunks)
        self._ref = x.clamp_(0, 1)
        self.frames += 1
        if self.x_size is None:
            return x
        return crop(x, model._unpad(self.x_size, x.shape[-2:]))


# -- argument checks ----------------------------------------------------------------------------

_INTER_KEYS = ("motion", "residual")


def _inter_out(motion: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    return {
        "strings": {"motion": motion["strings"], "residual": res["strings"]},
        "shape": {"motion": motion["shape"], "residual": res["shape"]},
    }


def _check_frames(frames: Any, multiple: int | None = None) -> None:
    """Frames must be a non-empty list of equally shaped (N, 3, H, W) tensors.

    With ``multiple`` (``forward``), H and W must be divisible by it; without (``compress``),
    values must lie in [0, 1] (see :func:`check_image`).
    """
    if isinstance(frames, Tensor) or not isinstance(frames, (list, tuple)) or not frames:
        raise ParameterTypeError(
            "frames must be a non-empty list of (N, 3, H, W) tensors, one per frame"
        )
    for i, x in enumerate(frames):
        if not isinstance(x, Tensor):
            raise ParameterTypeError(f"frames[{i}] must be a torch.Tensor, got {type(x).__name__}")
        if multiple is None:
            check_image(x, min_size=1)
        elif x.dim() != 4 or x.size(1) != 3:
            raise ParameterError(f"frames[{i}] must have shape (N, 3, H, W), got {tuple(x.shape)}")
        if x.shape != frames[0].shape:
            raise ParameterError(
                f"frames[{i}] has shape {tuple(x.shape)}, frames[0] {tuple(frames[0].shape)}; "
                "all frames must have the same shape"
            )
    h, w = frames[0].shape[-2:]
    if multiple is not None and (h % multiple or w % multiple):
        raise ParameterError(
            f"frames are {h}x{w}; forward() needs sizes divisible by {multiple} (pad with "
            "tinify.ops.pad_to_multiple, or crop)"
        )


def _check_streams(strings: Any, shapes: Any) -> None:
    """Check the structure :meth:`ScaleSpaceFlow.compress` returns (frames, batch, sizes agree)."""
    if not isinstance(strings, (list, tuple)) or not strings:
        raise ParameterError("strings must be a non-empty list with one entry per frame")
    if not isinstance(shapes, (list, tuple)) or len(shapes) != len(strings):
        got = len(shapes) if isinstance(shapes, (list, tuple)) else type(shapes).__name__
        raise ParameterError(
            f"shapes must be a list of {len(strings)} entries (one per frame), got {got}"
        )
    batch = check_strings(strings[0], 2)
    size = check_shape(shapes[0])
    for i in range(1, len(strings)):
        for what, entry in (("strings", strings[i]), ("shapes", shapes[i])):
            if not isinstance(entry, Mapping) or set(entry) != set(_INTER_KEYS):
                raise ParameterError(
                    f"{what}[{i}] must be a dict with keys 'motion' and 'residual'"
                )
        for key in _INTER_KEYS:
            try:
                n = check_strings(strings[i][key], 2)
                frame_size = check_shape(shapes[i][key])
            except (TypeError, ValueError) as err:
                raise type(err)(f"frame {i} {key}: {err}") from None
            if n != batch:
                raise ParameterError(
                    f"strings[{i}][{key!r}] has {n} streams, strings[0] has {batch}"
                )
            if frame_size != size:
                raise ParameterError(
                    f"shapes[{i}][{key!r}] is {frame_size}, shapes[0] is {size}: all frames "
                    "must have the same size"
                )
