"""The factorized (non-parametric) entropy bottleneck of Ballé et al. (2018)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tinify import _core
from tinify.entropy_models.base import EntropyModel
from tinify.exceptions import ParameterError
from tinify.utils.arrays import to_numpy

__all__ = ["EntropyBottleneck"]


class EntropyBottleneck(EntropyModel):
    r"""Per-channel learned density, as in J. Ballé, D. Minnen, S. Singh, S. J. Hwang,
    N. Johnston, "Variational image compression with a scale hyperprior", ICLR 2018
    (Appendix 6.1).

    Each channel's cumulative density is ``sigmoid(f(x))`` where ``f`` is a small monotone
    network: ``K = len(filters) + 1`` layers ``h <- softplus(H_k) h + b_k``, the first ``K - 1``
    followed by ``h <- h + tanh(a_k) * tanh(h)``. The likelihood of a quantized value ``v`` is
    ``sigmoid(f(v + 1/2)) - sigmoid(f(v - 1/2))``. Values are quantized around each channel's
    median (``quantiles[:, 0, 1]``), which the auxiliary loss :meth:`loss` learns together with
    the tail quantiles that bound the coding tables.

    Args:
        channels: number of channels ``C``.
        tail_mass: probability mass left outside the table range (coded by escapes).
        init_scale: initial half-width of the density.
        filters: hidden widths of the density network.
    """

    target: Tensor

    def __init__(
        self,
        channels: int,
        *args: object,
        tail_mass: float = 1e-9,
        init_scale: float = 10,
        filters: Sequence[int] = (3, 3, 3, 3),
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if channels < 1:
            raise ParameterError(f"channels must be >= 1, got {channels}")
        if not 0 < tail_mass < 1:
            raise ParameterError(f"tail_mass must be in (0, 1), got {tail_mass}")
        self.channels = int(channels)
        self.filters = tuple(int(f) for f in filters)
        self.init_scale = float(init_scale)
        self.tail_mass = float(tail_mass)

        widths = (1, *self.filters, 1)
        layers = len(self.filters) + 1
        scale = self.init_scale ** (1.0 / layers)
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(layers):
            # softplus(init) = 1 / (scale * fan_out): the initial density is wide and smooth.
            init = math.log(math.expm1(1.0 / scale / widths[k + 1]))
            self.matrices.append(
                nn.Parameter(torch.full((channels, widths[k + 1], widths[k]), init))
            )
            self.biases.append(
                nn.Parameter(torch.empty(channels, widths[k + 1], 1).uniform_(-0.5, 0.5))
            )
            if k < layers - 1:
                self.factors.append(nn.Parameter(torch.zeros(channels, widths[k + 1], 1)))

        quantiles = torch.tensor([-self.init_scale, 0.0, self.init_scale])
        self.quantiles = nn.Parameter(quantiles.repeat(channels, 1, 1))
        t = math.log(2.0 / self.tail_mass - 1.0)
        self.register_buffer("target", torch.tensor([-t, 0.0, t]))

    # -- density --------------------------------------------------------------------------------

    def _get_medians(self) -> Tensor:
        """Channel medians, shape (C, 1, 1)."""
        return self.quantiles[:, :, 1:2]

    def _logits_cumulative(self, inputs: Tensor, stop_gradient: bool) -> Tensor:
        """``f(inputs)`` for inputs of shape (C, 1, L); returns (C, 1, L)."""
        h = inputs
        for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            h = torch.matmul(F.softplus(matrix), h) + bias
            if k < len(self.factors):
                factor = self.factors[k].detach() if stop_gradient else self.factors[k]
                h = h + torch.tanh(factor) * torch.tanh(h)
        return h

    def _likelihood(
        self, inputs: Tensor, stop_gradient: bool = False
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Likelihood of quantized ``inputs`` (C, 1, L), with the lower and upper logits."""
        lower = self._logits_cumulative(inputs - 0.5, stop_gradient)
        upper = self._logits_cumulative(inputs + 0.5, stop_gradient)
        return torch.sigmoid(upper) - torch.sigmoid(lower), lower, upper

    def loss(self) -> Tensor:
        """Auxiliary loss: drives ``quantiles`` to the tail_mass/2, 1/2, 1 - tail_mass/2 levels."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    def forward(self, x: Tensor, training: bool | None = None) -> tuple[Tensor, Tensor]:
        """Quantize ``x`` (N, C, ...) and return ``(x_hat, likelihoods)``, both shaped like ``x``.

        Training adds uniform noise; evaluation rounds around the channel medians.
        """
        if training is None:
            training = self.training
        if x.dim() < 2 or x.size(1) != self.channels:
            raise ParameterError(f"expected (N, {self.channels}, ...) input, got {tuple(x.shape)}")
        # (N, C, ...) -> (C, 1, N * ...): every channel's values in one row.
        values = x.transpose(0, 1).contiguous()
        moved_shape = values.shape
        values = values.reshape(self.channels, 1, -1)
        outputs = self.quantize(values, "noise" if training else "dequantize", self._get_medians())
        likelihood, _, _ = self._likelihood(outputs)
        likelihood = self.lower_bound_likelihood(likelihood)
        outputs = outputs.reshape(moved_shape).transpose(0, 1).contiguous()
        likelihood = likelihood.reshape(moved_shape).transpose(0, 1).contiguous()
        return outputs, likelihood

    # -- tables ---------------------------------------------------------------------------------

    @torch.no_grad()
    def update(self, force: bool = False, update_quantiles: bool = False) -> bool:
        """Build the coding tables from the learned density (through Rust).

        Args:
            force: rebuild even if tables exist.
            update_quantiles: first re-estimate the tail quantiles by bisection.

        Returns:
            True when the tables were (re)built.
        """
        if self._offset.numel() > 0 and not force:
            return False
        if update_quantiles:
            self._update_quantiles()
        q = self.quantiles[:, 0, :]
        medians = q[:, 1]
        minima = torch.clamp(torch.ceil(medians - q[:, 0]).int(), min=0)
        maxima = torch.clamp(torch.ceil(q[:, 2] - medians).int(), min=0)
        pmf_start = medians - minima
        pmf_length = minima + maxima + 1
        max_length = int(pmf_length.max().item())
        if max_length > 65534:
            raise ParameterError(
                f"the learned quantiles span {max_length} values, more than 16-bit tables can "
                "hold; check training (the auxiliary loss) before update()"
            )
        samples = (
            torch.arange(max_length, device=q.device)[None, None, :] + pmf_start[:, None, None]
        )
        pmf, lower, upper = self._likelihood(samples, stop_gradient=True)
        self.store_tables(pmf, lower, upper, minima, pmf_length)
        return True

    @torch.no_grad()
    def quantized_tables(
        self, pmf: Tensor, lower: Tensor, upper: Tensor, minima: Tensor, pmf_length: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Quantize the sampled densities (C, 1, L) into ``(quantized_cdf, cdf_length, offset)``
        (through Rust), on this module's device, without storing them.

        ``minima`` (C,) are the symbols below the median (``offset = -minima``) and
        ``pmf_length`` (C,) the valid samples of each row.
        """
        pmf = pmf[:, 0, :]
        # Tail mass outside the shared sample grid (CompressAI's layout, kept for bit-exactness).
        tail = torch.sigmoid(lower[:, 0, :1]) + torch.sigmoid(-upper[:, 0, -1:])
        rows = torch.cat([pmf, torch.zeros_like(tail)], dim=1)
        rows.scatter_(1, pmf_length.long()[:, None], tail)
        cdfs = _core.pmfs_to_quantized_cdfs(
            to_numpy(rows, np.float32),
            to_numpy(pmf_length.long() + 1),
        )
        device = self._quantized_cdf.device
        return (
            torch.from_numpy(cdfs).to(device),
            (pmf_length + 2).to(device, torch.int32),
            (-minima).to(device, torch.int32),
        )

    @torch.no_grad()
    def store_tables(
        self, pmf: Tensor, lower: Tensor, upper: Tensor, minima: Tensor, pmf_length: Tensor
    ) -> None:
        """Quantize the sampled densities (C, 1, L) into the coding buffers (see
        :meth:`quantized_tables`)."""
        tables = self.quantized_tables(pmf, lower, upper, minima, pmf_length)
        self._quantized_cdf, self._cdf_length, self._offset = tables

    @torch.no_grad()
    def _update_quantiles(
        self, search_radius: float = 1e5, rtol: float = 1e-4, atol: float = 1e-3
    ) -> None:
        """Find the three quantiles of every channel by bisection on the logits."""
        device = self.quantiles.device
        shape = (self.channels, 1, 1)
        low = torch.full(shape, -search_radius, device=device)
        high = torch.full(shape, search_radius, device=device)
        for j, level in enumerate(self.target.tolist()):
            lo, hi = low.clone(), high.clone()
            for _ in range(200):
                mid = (lo + hi) / 2
                above = self._logits_cumulative(mid, stop_gradient=True) > level
                hi = torch.where(above, mid, hi)
                lo = torch.where(above, lo, mid)
                if torch.allclose(lo, hi, rtol=rtol, atol=atol):
                    break
            self.quantiles.data[:, :, j : j + 1] = (lo + hi) / 2

    # -- coding ---------------------------------------------------------------------------------

    def _channel_indexes(self, size: Sequence[int]) -> Tensor:
        view = [1] * len(size)
        view[1] = -1
        idx = torch.arange(size[1], dtype=torch.int32, device=self._quantized_cdf.device)
        return idx.view(*view).expand(*size)

    def _medians_like(self, n: int, spatial_dims: int) -> Tensor:
        medians = self._get_medians().detach().reshape(1, -1, *([1] * spatial_dims))
        return medians.expand(n, -1, *([1] * spatial_dims))

    def compress(  # type: ignore[override]
        self, x: Tensor, *, stream_chunks: int | None = None
    ) -> list[bytes]:
        """Code ``x`` (N, C, ...) channel by channel; ``stream_chunks`` streams per batch item
        (default: the :attr:`stream_chunks` attribute; 1 is CompressAI's format)."""
        if x.dim() < 2 or x.size(1) != self._quantized_cdf.size(0) and self._quantized_cdf.numel():
            raise ParameterError(
                f"expected (N, {self._quantized_cdf.size(0)}, ...) input, got {tuple(x.shape)}"
            )
        indexes = self._channel_indexes(x.shape)
        medians = self._medians_like(x.size(0), x.dim() - 2)
        return super().compress(x, indexes, medians, stream_chunks=stream_chunks)

    def decompress(  # type: ignore[override]
        self, strings: Sequence[bytes], size: Sequence[int], *, stream_chunks: int | None = None
    ) -> Tensor:
        """Decode streams from :meth:`compress` (with its ``stream_chunks``) into
        (len(strings), C, *size)."""
        self._check_tables()
        out_size = (len(strings), self._quantized_cdf.size(0), *[int(s) for s in size])
        indexes = self._channel_indexes(out_size)
        medians = self._medians_like(len(strings), len(size))
        return super().decompress(
            list(strings), indexes, medians.dtype, medians, stream_chunks=stream_chunks
        )
