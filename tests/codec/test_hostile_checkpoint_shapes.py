"""Issue 17: a real checkpoint (its tensors store what they declare) whose shapes describe an
absurd model is refused before the model is built, naming the tensor: channel counts are
bounded (``MAX_CHANNELS``), the model is sized on the ``meta`` device against
``TINIFY_MAX_MODEL_PARAMETERS``, and its parameters must have the checkpoint's shapes."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tinify.codec.limits import DEFAULT_MAX_MODEL_PARAMETERS, MAX_CHANNELS
from tinify.exceptions import LimitError, ParameterError
from tinify.models import FactorizedPrior, ScaleHyperprior

#: Address-space cap of the subprocess: torch loads in it, a 1-million-channel model does not.
CAP = 6 << 30


def _small_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return ScaleHyperprior(N=8, M=12).state_dict()


def test_million_channel_layer_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    """A 4 MB file whose g_s.0.weight (M, N, 1, 1) declares N = 1,000,000: the GDN alone would
    need N^2 = 10^12 weights. Refused in a subprocess whose memory is capped, in one line."""
    state = _small_state()
    state["g_s.0.weight"] = torch.zeros(1, 1_000_000, 1, 1)
    path = tmp_path / "wide.pth"
    torch.save(state, path)
    assert path.stat().st_size > 4_000_000

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("TINIFY_DEBUG", None)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "tinify.codec.cli", "update", str(path), "-m",
         "bmshj2018-hyperprior", "-o", str(out)],
        capture_output=True, text=True, env=env, timeout=300, preexec_fn=limit,
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{path}: tensor g_s.0.weight gives ScaleHyperprior N=1000000" in lines[0]
    assert f"more than the {MAX_CHANNELS} channels" in lines[0]
    assert list(out.iterdir()) == []


def test_model_size_is_computed_before_building() -> None:
    """N = 3000 is under the channel bound but the model it describes has billions of
    parameters: refused from the meta-device build, at once."""
    state = _small_state()
    state["g_s.0.weight"] = torch.zeros(12, 3000, 1, 1)
    with pytest.raises(LimitError, match=r"ScaleHyperprior of \d+ parameters") as info:
        ScaleHyperprior.from_state_dict(state)
    total = int(str(info.value).split(" of ")[1].split()[0])
    assert total > DEFAULT_MAX_MODEL_PARAMETERS
    assert "TINIFY_MAX_MODEL_PARAMETERS" in str(info.value)


def test_shapes_must_fit_the_architecture() -> None:
    """N = 1000 builds a model of tens of millions of weights that the 8-channel tensors of
    the file cannot fill: the first mismatching parameter is named, nothing is allocated."""
    state = _small_state()
    state["g_s.0.weight"] = torch.zeros(12, 1000, 1, 1)
    expected = r"tensor entropy_bottleneck.quantiles has shape \(8, 1, 3\), but .* \(1000, 1, 3\)"
    with pytest.raises(ParameterError, match=expected):
        ScaleHyperprior.from_state_dict(state)
    del state["g_s.0.weight"]
    state["g_s.0.weight"] = torch.zeros(12, 8, 5, 5)
    del state["h_a.0.bias"]
    with pytest.raises(ParameterError, match="no tensor h_a.0.bias"):
        ScaleHyperprior.from_state_dict(state)


def test_the_limit_can_be_raised_and_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    state = FactorizedPrior(N=8, M=12).state_dict()
    assert FactorizedPrior.from_state_dict(state).N == 8
    monkeypatch.setenv("TINIFY_MAX_MODEL_PARAMETERS", "1000")
    with pytest.raises(LimitError, match="more than the limit of 1000"):
        FactorizedPrior.from_state_dict(state)
    monkeypatch.setenv("TINIFY_MAX_MODEL_PARAMETERS", "many")
    with pytest.raises(ValueError, match="TINIFY_MAX_MODEL_PARAMETERS must be a positive"):
        FactorizedPrior.from_state_dict(state)
