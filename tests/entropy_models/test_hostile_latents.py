"""Issue 17, API: NaN, infinite or out-of-range latents and CDF values that do not fit int32 are
refused with a clear error instead of being coded as garbage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinify.ans import RansDecoder, RansEncoder
from tinify.entropy_models import EntropyBottleneck, GaussianConditional
from tinify.exceptions import CdfError, ParameterError


@pytest.fixture(scope="module")
def gaussian() -> GaussianConditional:
    model = GaussianConditional(None)
    model.update_scale_table(torch.exp(torch.linspace(-2, 3, 16)))
    return model


@pytest.fixture(scope="module")
def bottleneck() -> EntropyBottleneck:
    model = EntropyBottleneck(4)
    model.update(force=True)
    return model


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_latents_are_refused(
    bad: float, gaussian: GaussianConditional, bottleneck: EntropyBottleneck
) -> None:
    y = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0)) * 3
    indexes = gaussian.build_indexes(torch.ones_like(y))
    reference = gaussian.compress(y, indexes)  # finite values code and decode exactly
    assert torch.equal(gaussian.decompress(reference, indexes), y.round())
    y[1, 2, 0, 1] = bad
    with pytest.raises(ParameterError, match="1 of 72 latent values are NaN or infinite"):
        gaussian.compress(y, indexes)
    with pytest.raises(ParameterError, match="NaN or infinite"):
        gaussian.compress(y, indexes, means=torch.zeros_like(y))
    with pytest.raises(ParameterError, match="NaN or infinite"):
        bottleneck.compress(y)


def test_latents_beyond_int32_are_refused(gaussian: GaussianConditional) -> None:
    y = torch.zeros(1, 4, 2, 2, dtype=torch.float64)
    y[0, 0, 0, 0] = 3e9
    with pytest.raises(ParameterError, match="beyond the coded symbol range"):
        gaussian.compress(y, gaussian.build_indexes(torch.ones_like(y)))


def test_cdf_values_do_not_wrap() -> None:
    encoder = RansEncoder()
    good = [[0, 32768, 65536]]
    stream = encoder.encode_with_indexes([0, 1], [0, 0], good, [3], [0])
    assert list(RansDecoder().decode_with_indexes(stream, [0, 0], good, [3], [0])) == [0, 1]
    wrapped = [[0, (1 << 32) + 32768, (1 << 32) + 65536]]
    with pytest.raises(CdfError, match="outside int32"):
        encoder.encode_with_indexes([0], [0], wrapped, [3], [0])
    with pytest.raises(CdfError, match="outside int32"):
        encoder.encode_with_indexes([0], [0], np.array(wrapped, dtype=np.int64), [3], [0])
    with pytest.raises(CdfError, match="must hold integers"):
        encoder.encode_with_indexes([0], [0], np.array(good, dtype=np.float64), [3], [0])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_compress_refuses_another_dtype_than_the_weights(dtype: torch.dtype) -> None:
    from tinify.zoo import model_architectures

    model = model_architectures["bmshj2018-hyperprior"](N=8, M=12).eval()
    model.update(force=True)
    x = torch.rand(1, 3, 64, 64)
    assert len(model.compress(x)["strings"]) == 2
    with pytest.raises(TypeError, match=f"x has dtype {dtype} but the model's weights are"):
        model.compress(x.to(dtype))
