"""Gaussian conditional entropy models: single Gaussian (table-indexed) and Gaussian mixture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from tinify import _core
from tinify.entropy_models.base import TABLE_BUFFERS, EntropyModel, check_finite_symbols
from tinify.exceptions import NotReadyError, ParameterError
from tinify.ops import LowerBound
from tinify.utils.arrays import to_numpy

__all__ = ["GaussianConditional", "GaussianMixtureConditional"]


def _standardized_cumulative(inputs: Tensor) -> Tensor:
    """Standard normal CDF, ``erfc(-x / sqrt 2) / 2``."""
    return 0.5 * torch.erfc(-(2**-0.5) * inputs)


class GaussianConditional(EntropyModel):
    r"""Gaussian conditional model with per-element scale and optional mean.

    J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston, "Variational image compression with a
    scale hyperprior", ICLR 2018; D. Minnen, J. Ballé, G. Toderici, "Joint Autoregressive and
    Hierarchical Priors for Learned Image Compression", NeurIPS 2018.

    With ``d = |y_hat - mu|``, the likelihood of ``y_hat`` is
    ``Phi((1/2 - d) / s) - Phi((-1/2 - d) / s)``, with ``s`` bounded below by ``scale_bound``.
    For coding, each scale is rounded *up* to the next entry of ``scale_table``
    (:meth:`build_indexes`) and the element is coded with that entry's quantized Gaussian. The
    tables are built in Rust by :meth:`update`, deterministically (float64, pure-Rust ``erfc``),
    or loaded from a checkpoint.

    Args:
        scale_table: increasing positive scales, or None to set them later with
            :meth:`update_scale_table`.
        scale_bound: lower bound on scales (defaults to the first table entry if None).
        tail_mass: mass outside each table row (coded by escapes).
    """

    scale_table: Tensor
    scale_bound: Tensor | None

    def __init__(
        self,
        scale_table: Sequence[float] | Tensor | None,
        *args: Any,
        scale_bound: float | None = 0.11,
        tail_mass: float = 1e-9,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        table = self._prepare_scale_table(scale_table) if scale_table is not None else None
        if table is not None and scale_bound is None:
            scale_bound = float(table[0])
        if scale_bound is None or scale_bound <= 0:
            raise ParameterError(f"scale_bound must be positive, got {scale_bound}")
        self.tail_mass = float(tail_mass)
        self.register_buffer("scale_table", table if table is not None else torch.zeros(0))
        self.register_buffer("scale_bound", torch.tensor([float(scale_bound)]))
        self.lower_bound_scale = LowerBound(float(scale_bound))

    @staticmethod
    def _prepare_scale_table(scale_table: Sequence[float] | Tensor) -> Tensor:
        # CompressAI takes lists and tuples; tinify also tensors and numpy arrays (1-D).
        if not isinstance(scale_table, (list, tuple, Tensor, np.ndarray)):
            raise ParameterError(
                f"scale_table must be a list, tuple or 1-D tensor of scales, got "
                f"{type(scale_table).__name__}"
            )
        try:
            table = torch.as_tensor(scale_table, dtype=torch.float32).clone()
        except (TypeError, ValueError, RuntimeError):
            raise ParameterError("scale_table must hold numbers") from None
        if table.dim() != 1:
            raise ParameterError(f"scale_table must be 1-D, got shape {tuple(table.shape)}")
        if table.numel() == 0:
            raise ParameterError("scale_table must not be empty")
        if not torch.isfinite(table).all() or (table <= 0).any():
            raise ParameterError("scale_table entries must be finite and positive")
        if (table[1:] <= table[:-1]).any():
            raise ParameterError("scale_table must be strictly increasing")
        return table

    def _resizable_buffers(self) -> Sequence[str]:
        return (*TABLE_BUFFERS, "scale_table")

    def update_scale_table(
        self, scale_table: Sequence[float] | Tensor, force: bool = False
    ) -> bool:
        """Install ``scale_table`` and build its tables (skipped if tables exist, unless forced)."""
        if self._offset.numel() > 0 and not force:
            return False
        device = self.scale_table.device
        self.scale_table = self._prepare_scale_table(scale_table).to(device)
        self.update()
        return True

    @torch.no_grad()
    def update(self) -> None:
        """Build one quantized Gaussian per scale-table entry (in Rust, deterministic)."""
        if self.scale_table.numel() == 0:
            raise NotReadyError(
                "GaussianConditional has no scale_table: pass one to the constructor or call "
                "update_scale_table()"
            )
        table = _core.CdfTable.gaussian(to_numpy(self.scale_table, np.float32), self.tail_mass)
        cdfs, lengths, offsets = table.to_padded()
        device = self.scale_table.device
        self._quantized_cdf = torch.from_numpy(cdfs).to(device)
        self._cdf_length = torch.from_numpy(lengths).to(device)
        self._offset = torch.from_numpy(offsets).to(device)

    @staticmethod
    def _standardized_cumulative(inputs: Tensor) -> Tensor:
        """The standard normal CDF (CompressAI's method name, used by custom likelihoods)."""
        return _standardized_cumulative(inputs)

    def _likelihood(self, inputs: Tensor, scales: Tensor, means: Tensor | None = None) -> Tensor:
        values = torch.abs(inputs - means if means is not None else inputs)
        scales = self.lower_bound_scale(scales)
        upper = _standardized_cumulative((0.5 - values) / scales)
        lower = _standardized_cumulative((-0.5 - values) / scales)
        return upper - lower

    def forward(
        self,
        inputs: Tensor,
        scales: Tensor,
        means: Tensor | None = None,
        training: bool | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Return ``(y_hat, likelihoods)``: noise in training, ``round(y - mu) + mu`` in eval."""
        if training is None:
            training = self.training
        outputs = self.quantize(inputs, "noise" if training else "dequantize", means)
        likelihood = self.lower_bound_likelihood(self._likelihood(outputs, scales, means))
        return outputs, likelihood

    def build_indexes(self, scales: Tensor) -> Tensor:
        """Table row of every scale: the first entry >= the (bounded) scale, capped at the last.

        Returns an int32 tensor shaped like ``scales``.
        """
        if self.scale_table.numel() == 0:
            raise NotReadyError("GaussianConditional has no scale_table: call update() first")
        scales = self.lower_bound_scale(scales).detach()
        if scales.device.type == "cpu" and scales.dtype == torch.float32:
            # Rust: a binary search per element over the thread pool (torch's is ~5x slower).
            flat = _core.scale_indexes(
                to_numpy(scales.reshape(-1)),
                to_numpy(self.scale_table, np.float32),
            )
            return torch.from_numpy(flat).reshape(scales.shape)
        table = self.scale_table.to(scales.dtype)
        indexes = torch.searchsorted(table, scales.contiguous(), right=False)
        return indexes.clamp_(max=table.numel() - 1).int()

    def build_indexes_fixed(self, scales: Tensor, frac_bits: int) -> Tensor:
        """Table rows of fixed-point scales: int32 ``scales`` hold ``s * 2^frac_bits``.

        The same rule as :meth:`build_indexes` (first entry ``>= max(s, scale_bound)``, capped
        at the last), decided on integers in Rust: ``s_int <= floor(t * 2^frac_bits)``. Every
        machine gets the same rows. Returns int32, shaped like ``scales``.
        """
        if self.scale_table.numel() == 0:
            raise NotReadyError("GaussianConditional has no scale_table: call update() first")
        if frac_bits != _core.FIXED_FRAC_BITS:
            raise ParameterError(f"frac_bits must be {_core.FIXED_FRAC_BITS}, got {frac_bits}")
        bound = self.scale_bound
        assert bound is not None  # always registered by __init__
        flat = _core.fixed_scale_indexes(
            to_numpy(scales.reshape(-1), np.int32),
            to_numpy(self.scale_table, np.float32),
            float(bound.reshape(-1)[0]),
        )
        return torch.from_numpy(flat).reshape(scales.shape).to(scales.device)


class GaussianMixtureConditional(GaussianConditional):
    r"""K-component discretized Gaussian mixture (Z. Cheng, H. Sun, M. Takeuchi, J. Katto,
    "Learned Image Compression with Discretized Gaussian Mixture Likelihoods and Attention
    Modules", CVPR 2020).

    Parameters come as ``K * M`` channels in K blocks: block ``k`` (channels ``k*M .. (k+1)*M``)
    holds component ``k``'s scales, means and weights for the M latent channels. Weights should
    sum to 1 over the components (apply a softmax over K in the model).

    Values are quantized without means (``round(y)``). For coding, every element gets its own
    mixture CDF, built in Rust while coding (scales clamped to [0.11, 256], weights normalised,
    an escape slot for far values): no table, no per-symbol Python. Streams are tinify's own
    (CompressAI's ``GaussianMixtureConditional.compress`` format is not supported).

    Args:
        K: number of mixture components.
    """

    def __init__(
        self,
        K: int = 3,
        scale_table: Sequence[float] | Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(scale_table, *args, **kwargs)
        if not 1 <= K <= 8:
            raise ParameterError(f"K must be between 1 and 8, got {K}")
        self.K = int(K)

    def _check_params(self, inputs: Tensor, *params: Tensor) -> None:
        n, m = inputs.shape[:2]
        for p in params:
            if p.shape[0] != n or p.shape[1] != self.K * m or p.shape[2:] != inputs.shape[2:]:
                raise ParameterError(
                    f"mixture parameters must have shape {(n, self.K * m, *inputs.shape[2:])}, "
                    f"got {tuple(p.shape)}"
                )

    def _likelihood(  # type: ignore[override]
        self, inputs: Tensor, scales: Tensor, means: Tensor, weights: Tensor
    ) -> Tensor:
        m = inputs.size(1)
        likelihood = torch.zeros_like(inputs)
        for k in range(self.K):
            block = slice(k * m, (k + 1) * m)
            likelihood = likelihood + (
                super()._likelihood(inputs, scales[:, block], means[:, block]) * weights[:, block]
            )
        return likelihood

    def forward(  # type: ignore[override]
        self,
        inputs: Tensor,
        scales: Tensor,
        means: Tensor,
        weights: Tensor,
        training: bool | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Return ``(y_hat, likelihoods)`` with ``y_hat = round(y)`` in eval, noise in training."""
        if training is None:
            training = self.training
        self._check_params(inputs, scales, means, weights)
        outputs = self.quantize(inputs, "noise" if training else "dequantize")
        likelihood = self._likelihood(outputs, scales, means, weights)
        return outputs, self.lower_bound_likelihood(likelihood)

    def element_params(self, *params: Tensor) -> list[np.ndarray]:
        """Rearrange (N, K*M, ...) parameters into (N, elements, K) float64 arrays.

        One array per parameter given, in order; element order is row-major over (M, ...),
        matching the symbols.
        """
        n, km = params[0].shape[:2]
        m = km // self.K
        out = []
        for p in params:
            q = p.detach().reshape(n, self.K, m, -1).permute(0, 2, 3, 1).reshape(n, -1, self.K)
            out.append(to_numpy(q, np.float64))
        return out

    def compress(  # type: ignore[override]
        self,
        inputs: Tensor,
        scales: Tensor,
        means: Tensor,
        weights: Tensor,
        *,
        stream_chunks: int | None = None,
    ) -> list[bytes]:
        """Code ``round(inputs)`` (N, M, ...), each element against its own mixture.

        Returns one stream per batch item: mixture streams are never chunked, so
        ``stream_chunks`` (accepted, like every entropy model's) is only checked.
        """
        self._chunks(stream_chunks)
        self._check_params(inputs, scales, means, weights)
        check_finite_symbols(inputs)
        n = inputs.size(0)
        symbols = self.quantize(inputs, "symbols").reshape(n, -1)
        sym = to_numpy(symbols, np.int32)
        w, mu, s = self.element_params(weights, means, scales)
        return _core.encode_mixture_batch(sym, w, mu, s)

    def decompress(  # type: ignore[override]
        self,
        strings: Sequence[bytes],
        scales: Tensor,
        means: Tensor,
        weights: Tensor,
        dtype: torch.dtype = torch.float,
        *,
        stream_chunks: int | None = None,
    ) -> Tensor:
        """Decode streams from :meth:`compress`; returns (N, M, ...) values of ``dtype``.
        (``stream_chunks`` is only checked: mixture streams are never chunked.)

        Raises:
            tinify.BitstreamError: a stream is corrupt or does not match the parameters.
        """
        self._chunks(stream_chunks)
        n, km = scales.shape[:2]
        if not isinstance(strings, (list, tuple)) or len(strings) != n:
            raise ParameterError(f"expected a list of {n} strings")
        if km % self.K:
            raise ParameterError(f"{km} parameter channels are not a multiple of K={self.K}")
        shape = (n, km // self.K, *scales.shape[2:])
        w, mu, s = self.element_params(weights, means, scales)
        rows = _core.decode_mixture_batch([bytes(x) for x in strings], w, mu, s)
        values = torch.from_numpy(rows).reshape(shape)
        return values.to(device=scales.device, dtype=dtype)
