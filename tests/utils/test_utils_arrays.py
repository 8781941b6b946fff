"""tinify.utils.arrays.to_numpy: the one tensor -> numpy conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tinify.utils.arrays import is_tensor, to_numpy


def test_cpu_tensor_of_the_right_dtype_is_shared() -> None:
    t = torch.arange(6, dtype=torch.int32)
    a = to_numpy(t, np.int32)
    assert a.dtype == np.int32 and a.tolist() == list(range(6))
    t[0] = 42
    assert a[0] == 42  # no copy


def test_casts_detaches_and_makes_contiguous() -> None:
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4).requires_grad_(True)
    a = to_numpy(t.t(), np.float64)
    assert a.dtype == np.float64 and a.flags.c_contiguous
    assert a.tolist() == t.detach().t().tolist()
    # torch's float -> int cast truncates toward zero, like the code it replaced.
    assert to_numpy(torch.tensor([-1.7, 2.9]), np.int32).tolist() == [-1, 2]
    assert to_numpy(torch.tensor(3.5)).shape == ()  # 0-d stays 0-d


def test_array_likes() -> None:
    assert to_numpy([1, 2, 3], np.int32).dtype == np.int32
    a = np.arange(12).reshape(3, 4)
    assert to_numpy(a) is a
    b = to_numpy(a.T, np.float32)
    assert b.flags.c_contiguous and b.dtype == np.float32 and b.tolist() == a.T.tolist()
    assert is_tensor(torch.zeros(1)) and not is_tensor(a) and not is_tensor([1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor() -> None:
    t = torch.arange(5, device="cuda", dtype=torch.int64)
    assert to_numpy(t, np.int32).tolist() == list(range(5))
