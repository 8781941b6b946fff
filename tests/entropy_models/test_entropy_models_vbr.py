"""EntropyModelVbr / EntropyBottleneckVbr: variable quantization steps, against CompressAI 1.2.8."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tinify.entropy_models import EntropyBottleneckVbr, EntropyModelVbr


def _reference(compressai: Any, channels: int = 8) -> Any:
    torch.manual_seed(0)
    ref = compressai.entropy_models.EntropyBottleneckVbr(channels)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        ref.quantiles.data[:, 0, 0] -= 3
        ref.quantiles.data[:, 0, 2] += 5
    return ref


@pytest.mark.parametrize("qs", [None, 0.7, 1.9, 4.0])
def test_bottleneck_matches_compressai(compressai: Any, qs: float | None) -> None:
    ref = _reference(compressai)
    ours = EntropyBottleneckVbr(8)
    assert not ours.load_state_dict(ref.state_dict()).missing_keys
    step = None if qs is None else torch.tensor([qs])  # shape (1,), as the models pass it
    if step is None:
        ref.update(force=True)
        ours.update(force=True)
    else:
        ref.update_variable(force=True, qs=step)
        ours.update_variable(force=True, qs=step)
    for name in ("_quantized_cdf", "_offset", "_cdf_length"):
        assert torch.equal(getattr(ours, name), getattr(ref, name)), name
    z = torch.randn(2, 8, 5, 7, generator=torch.Generator().manual_seed(1)) * 6
    scalar = None if step is None else step[0]
    strings = ref.compress(z, qs=scalar)
    assert ours.compress(z, qs=scalar) == strings
    decoded = ours.decompress(strings, z.shape[-2:], qs=scalar)
    assert torch.equal(decoded, ref.decompress(strings, z.shape[-2:], qs=scalar))
    if scalar is not None:  # the step is honoured: values on the grid median + k * qs
        k = (decoded - ours.quantiles.detach()[:, 0, 1].reshape(1, -1, 1, 1)) / scalar
        assert float((k - k.round()).abs().max()) < 1e-3
    ref.eval()
    ours.eval()
    for a, b in zip(ours(z, qs=scalar), ref(z, qs=scalar)):
        assert torch.equal(a, b)


def test_state_dict_names_are_compressais(compressai: Any) -> None:
    ours = EntropyBottleneckVbr(4)
    state = ours.state_dict()
    assert "_matrix0" in state and "_factor3" in state and "matrices.0" not in state
    ref = compressai.entropy_models.EntropyBottleneckVbr(4)
    ref.load_state_dict(state, strict=True)
    # today's names load too
    renamed = {
        k.replace("_matrix", "matrices.").replace("_bias", "biases."): v for k, v in state.items()
    }
    renamed = {k.replace("_factor", "factors."): v for k, v in renamed.items()}
    other = EntropyBottleneckVbr(4)
    other.load_state_dict(renamed, strict=True)
    assert torch.equal(other.matrices[2], ours.matrices[2])


def test_quantize_variable() -> None:
    model = EntropyModelVbr()
    x = torch.tensor([-2.6, -0.2, 0.74, 3.0])
    means = torch.tensor([0.1, 0.0, -0.1, 1.0])
    qs = torch.tensor(0.5)
    assert model.quantize_variable(x, "symbols", means, qs).tolist() == [-5, 0, 2, 4]
    assert torch.allclose(
        model.quantize_variable(x, "dequantize", means, qs), torch.tensor([-2.4, 0.0, 0.9, 3.0])
    )
    grad_in = x.clone().requires_grad_(True)
    model.quantize_variable(grad_in, "ste", means, qs).sum().backward()
    assert grad_in.grad is not None and grad_in.grad.tolist() == [1.0] * 4
    noisy = model.quantize_variable(torch.zeros(10000), "noise", qs=qs)
    assert float(noisy.abs().max()) <= 0.25 and float(noisy.std()) > 0.1
    assert model.dequantize_variable(torch.tensor([3]), torch.tensor([1.0]), qs=qs).tolist() == [
        2.5
    ]
    with pytest.raises(ValueError, match="mode"):
        model.quantize_variable(x, "bogus")


def test_steps_code_with_their_own_tables_without_touching_the_module() -> None:
    """compress/decompress at a step use that step's tables (those update_variable builds)
    without storing them, so one module codes at several steps, also from two threads, and
    deep-copies after coding."""
    import copy
    import threading

    torch.manual_seed(0)
    eb = EntropyBottleneckVbr(8)
    with torch.no_grad():
        eb.quantiles.data[:, 0, 0] -= 3
        eb.quantiles.data[:, 0, 2] += 5
    eb.update(force=True)
    unit = [eb._quantized_cdf.clone(), eb._offset.clone(), eb._cdf_length.clone()]
    z = torch.randn(1, 8, 6, 6, generator=torch.Generator().manual_seed(2)) * 6
    steps = (torch.tensor(0.7), torch.tensor(3.0))
    expected = {}
    for qs in steps:
        strings = eb.compress(z, qs=qs)
        reference = copy.deepcopy(eb)
        reference.update_variable(force=True, qs=qs)  # CompressAI's way: tables in the buffers
        indexes = reference._channel_indexes(z.shape)
        medians = reference._medians_like(1, 2)
        with_buffers = EntropyModelVbr.compress(
            reference, z, indexes, medians, qs, table=reference.cdf_table()
        )
        assert with_buffers == strings  # the step's tables are update_variable's
        expected[float(qs)] = (strings, eb.decompress(strings, (6, 6), qs=qs))
    for name, buffer in zip(("_quantized_cdf", "_offset", "_cdf_length"), unit):
        assert torch.equal(getattr(eb, name), buffer), name  # the unit tables are untouched
    assert expected[float(steps[0])][0] != expected[float(steps[1])][0]

    failures: list[str] = []
    barrier = threading.Barrier(2)

    def work(qs: torch.Tensor) -> None:
        barrier.wait()
        for _ in range(20):
            strings = eb.compress(z, qs=qs)
            decoded = eb.decompress(strings, (6, 6), qs=qs)
            want_strings, want_decoded = expected[float(qs)]
            if strings != want_strings or not torch.equal(decoded, want_decoded):
                failures.append(f"step {float(qs)}")

    threads = [threading.Thread(target=work, args=(qs,)) for qs in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    copied = copy.deepcopy(eb)
    assert copied.compress(z, qs=steps[1]) == expected[float(steps[1])][0]
