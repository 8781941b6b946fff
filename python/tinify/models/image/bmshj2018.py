# SPDX-License-Identifier: Apache-2.0
"""Ballé et al.: the factorized-prior (ICLR 2017) and scale-hyperprior (ICLR 2018) models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.layers import GDN, IGDN, conv, deconv
from tinify.models.base import CodingOptions, CompressionModel
from tinify.models.fixed import FRAC_BITS, from_fixed, run_network, to_fixed
from tinify.models.tiling import latent_tiles
from tinify.registry.torch import register_model

__all__ = [
    "FactorizedPrior",
    "FactorizedPriorReLU",
    "ScaleHyperprior",
    "analysis_transform",
    "synthesis_transform",
]


def analysis_transform(N: int, M: int) -> nn.Sequential:
    """``g_a``: four 5x5 stride-2 convolutions with GDN between them, 3 -> M channels, /16."""
    return nn.Sequential(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))


def synthesis_transform(N: int, M: int) -> nn.Sequential:
    """``g_s``: four 5x5 stride-2 transposed convolutions with IGDN between them, M -> 3, x16."""
    return nn.Sequential(
        deconv(M, N), IGDN(N), deconv(N, N), IGDN(N), deconv(N, N), IGDN(N), deconv(N, 3)
    )


@register_model("bmshj2018-factorized")
class FactorizedPrior(CompressionModel):
    r"""Factorized-prior model of J. Ballé, V. Laparra, E. P. Simoncelli, "End-to-end Optimized
    Image Compression", ICLR 2017 (arXiv:1611.01704), with the GDN transforms and the
    non-parametric factorized density of Ballé et al. (ICLR 2018).

    ::

              ┌─────┐   y   ┌───┐  y_hat  ┌─────┐
        x ──► │ g_a │ ────► │ Q │ ──────► │ g_s │ ──► x_hat
              └─────┘       └───┘    ▲    └─────┘
                                     │ EB (entropy_bottleneck, per channel)

    ``compress`` returns ``{"strings": [y_strings], "shape": y size (H/16, W/16), "x_size"}``.
    No network computes entropy parameters here (the bottleneck's tables are fixed integers), so
    streams are already device-independent; ``entropy_path`` has no effect.

    Args:
        N: channels of the hidden layers.
        M: channels of the latent ``y``.
        **kwargs: :class:`CompressionModel`'s (deprecated) arguments.
    """

    latent_names = ("y",)
    _downsampling_factor = 16

    def __init__(self, N: int, M: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entropy_bottleneck = EntropyBottleneck(M)
        self.g_a, self.g_s = self._transforms(N, M)
        self.N = int(N)
        self.M = int(M)

    @staticmethod
    def _transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        """``g_a`` and ``g_s`` (GDN / IGDN between the convolutions)."""
        return analysis_transform(N, M), synthesis_transform(N, M)

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        # g_s.0 is the deconv M -> N: its weight is (M, N, 5, 5).
        m, n = state_dict["g_s.0.weight"].shape[:2]
        return {"N": int(n), "M": int(m)}

    def forward(self, x: Tensor) -> dict[str, Any]:
        """Return ``{"x_hat", "likelihoods": {"y"}}`` for images (N, 3, H, W)."""
        y = self.g_a(x)
        y_hat, y_likelihoods = self.entropy_bottleneck(y)
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods}}

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        y = self._analyze(x, options)
        y_strings = self.entropy_bottleneck.compress(y, stream_chunks=options.stream_chunks)
        return {"strings": [y_strings], "shape": y.size()[-2:]}

    def _decompress(
        self, strings: Sequence[Sequence[bytes]], shape: tuple[int, int], options: CodingOptions
    ) -> Tensor:
        y_hat = self.entropy_bottleneck.decompress(
            list(strings[0]), shape, stream_chunks=options.stream_chunks
        )
        return self._synthesize(y_hat, options)


@register_model("bmshj2018-factorized-relu")
class FactorizedPriorReLU(FactorizedPrior):
    r""":class:`FactorizedPrior` with ReLU activations instead of GDN / IGDN (the transforms of
    J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston, "Variational Image Compression with
    a Scale Hyperprior", ICLR 2018, arXiv:1802.01436, with plain nonlinearities)::

        g_a: conv 5x5/2, ReLU, conv, ReLU, conv, ReLU, conv -> M      (/16)
        g_s: deconv 5x5/2, ReLU, deconv, ReLU, deconv, ReLU, deconv -> 3   (x16)

    Args:
        N: channels of the hidden layers.
        M: channels of the latent ``y``.
    """

    @staticmethod
    def _transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        g_a = nn.Sequential(
            conv(3, N),
            nn.ReLU(inplace=True),
            conv(N, N),
            nn.ReLU(inplace=True),
            conv(N, N),
            nn.ReLU(inplace=True),
            conv(N, M),
        )
        g_s = nn.Sequential(
            deconv(M, N),
            nn.ReLU(inplace=True),
            deconv(N, N),
            nn.ReLU(inplace=True),
            deconv(N, N),
            nn.ReLU(inplace=True),
            deconv(N, 3),
        )
        return g_a, g_s


@register_model("bmshj2018-hyperprior")
class ScaleHyperprior(CompressionModel):
    r"""Scale-hyperprior model of J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston,
    "Variational Image Compression with a Scale Hyperprior", ICLR 2018 (arXiv:1802.01436).

    A hyper-latent ``z`` (coded with a factorized prior) predicts the scale of a zero-mean
    Gaussian for every element of ``y``::

              ┌─────┐   y   ┌───┐  y_hat  ┌─────┐
        x ──► │ g_a │ ─┬──► │ Q │ ──────► │ g_s │ ──► x_hat
              └─────┘  │    └───┘    ▲    └─────┘
                     |y|             │ GC(0, scales)
                    ┌─────┐  z  ┌───┐ z_hat ┌─────┐
                    │ h_a │ ──► │ Q │ ────► │ h_s │ ──► scales
                    └─────┘     └───┘  EB   └─────┘

    ``compress`` returns ``{"strings": [y_strings, z_strings], "shape": z size (H/64, W/64),
    "x_size"}``. With ``entropy_path="fixed"`` the scales come from an integer ``h_s``
    (:mod:`tinify.models.fixed`), so streams decode bit-exactly on any device.

    Args:
        N: channels of the hidden layers and of ``z``.
        M: channels of ``y``.
        **kwargs: :class:`CompressionModel`'s (deprecated) arguments.
    """

    _downsampling_factor = 64

    def __init__(self, N: int, M: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.g_a, self.g_s = self._transforms(N, M)
        self.h_a, self.h_s = self._hyper_transforms(N, M)
        self.gaussian_conditional = GaussianConditional(None)
        self.N = int(N)
        self.M = int(M)

    @staticmethod
    def _transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        """``g_a`` and ``g_s`` (subclasses with other transforms override this)."""
        return analysis_transform(N, M), synthesis_transform(N, M)

    @staticmethod
    def _hyper_transforms(N: int, M: int) -> tuple[nn.Sequential, nn.Sequential]:
        """``h_a`` (input ``|y|``) and ``h_s`` (output: non-negative scales, M channels)."""
        h_a = nn.Sequential(
            conv(M, N, kernel_size=3, stride=1),
            nn.ReLU(inplace=True),
            conv(N, N),
            nn.ReLU(inplace=True),
            conv(N, N),
        )
        h_s = nn.Sequential(
            deconv(N, N),
            nn.ReLU(inplace=True),
            deconv(N, N),
            nn.ReLU(inplace=True),
            conv(N, M, kernel_size=3, stride=1),
            nn.ReLU(inplace=True),
        )
        return h_a, h_s

    @classmethod
    def _config_from_state_dict(cls, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        m, n = state_dict["g_s.0.weight"].shape[:2]
        return {"N": int(n), "M": int(m)}

    def _hyper_input(self, y: Tensor) -> Tensor:
        return y.abs()

    def _fixed_network_modules(self) -> dict[str, nn.Module]:
        return {"h_s": self.h_s}

    def _hyper_params_fixed(self, z_hat: Tensor, options: CodingOptions | None = None) -> Tensor:
        """``h_s(z_hat)`` in the integer path: int32 (N, C, H, W) with ``FRAC_BITS`` bits.

        On tiles when the image is tiled (``options.tile_size``; tiles of 1/16 the image
        tile, in latent positions, see :meth:`_latent_tile`): integer arithmetic, so bit-exact
        whatever the tiles, and the integer layers' working memory stays bounded on large
        images.
        """
        net = self.fixed_network("h_s")
        factor = self.downsampling_factor
        pixels = int(z_hat.shape[-2]) * int(z_hat.shape[-1]) * factor * factor
        return latent_tiles(
            self.h_s,
            to_fixed(z_hat),
            self._latent_tile(options, pixels),
            lambda z: run_network(net, z),
            stage="hyper-synthesis tiles",
        )

    def _coding_params(self, z_hat: Tensor, options: CodingOptions) -> tuple[Tensor, Tensor | None]:
        """``(indexes, means)`` of ``y`` for coding, from the float or the fixed path.

        Fixed: ``h_s`` in integers; scales map to rows on integers and means are
        ``m_int * 2^-F`` in float32, so both are identical on every machine.
        """
        if not options.fixed:
            scales, means = self._gaussian_params(z_hat)
            return self.gaussian_conditional.build_indexes(scales), means
        scales_int, means_int = self._split_params(self._hyper_params_fixed(z_hat, options))
        indexes = self.gaussian_conditional.build_indexes_fixed(scales_int, FRAC_BITS)
        means = None if means_int is None else from_fixed(means_int, z_hat.dtype)
        return indexes.to(z_hat.device), None if means is None else means.to(z_hat.device)

    def _split_params(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(scales, means)`` from the output of ``h_s`` (no means here)."""
        return params, None

    def _gaussian_params(self, z_hat: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(scales, means)`` of ``y`` from the decoded hyper-latent."""
        return self._split_params(self.h_s(z_hat))

    def forward(self, x: Tensor) -> dict[str, Any]:
        """Return ``{"x_hat", "likelihoods": {"y", "z"}}`` for images (N, 3, H, W)."""
        y = self.g_a(x)
        z = self.h_a(self._hyper_input(y))
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self._gaussian_params(z_hat)
        y_hat, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        x_hat = self.g_s(y_hat)
        return {"x_hat": x_hat, "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def _compress_z(self, z: Tensor, options: CodingOptions) -> tuple[list[bytes], Tensor]:
        """Code the hyper-latent; return its streams and the decoder's ``z_hat`` (decoded, so
        both sides derive the same entropy parameters of ``y``)."""
        chunks = options.stream_chunks
        z_strings = self.entropy_bottleneck.compress(z, stream_chunks=chunks)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:], stream_chunks=chunks)
        return z_strings, z_hat

    def _compress(self, x: Tensor, options: CodingOptions) -> dict[str, Any]:
        y = self._analyze(x, options)
        z = self.h_a(self._hyper_input(y))
        z_strings, z_hat = self._compress_z(z, options)
        indexes, means = self._coding_params(z_hat, options)
        y_strings = self.gaussian_conditional.compress(
            y, indexes, means=means, stream_chunks=options.stream_chunks
        )
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def _decompress(
        self, strings: Sequence[Sequence[bytes]], shape: tuple[int, int], options: CodingOptions
    ) -> Tensor:
        chunks = options.stream_chunks
        z_hat = self.entropy_bottleneck.decompress(list(strings[1]), shape, stream_chunks=chunks)
        indexes, means = self._coding_params(z_hat, options)
        y_hat = self.gaussian_conditional.decompress(
            list(strings[0]), indexes, z_hat.dtype, means=means, stream_chunks=chunks
        )
        del indexes, means  # two whole latents less while g_s runs
        return self._synthesize(y_hat, options)
