"""The deterministic fixed-point entropy path (``entropy_path="fixed"``, issue 9)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import tinify
from tinify import _core
from tinify.models import CompressionModel, SimpleVAECompressionModel
from tinify.models.fixed import FRAC_BITS, quantize_network, run_network, to_fixed
from tinify.models.image import wavefront
from tinify.models.image.wavefront import FixedArithmetic
from tinify.zoo import model_architectures

from .conftest import build_small, image

# Every image model with an entropy-parameter network, and the mixture variants.
FIXED_MODELS: list[tuple[str, dict[str, Any]]] = [
    ("bmshj2018-hyperprior", {}),
    ("mbt2018-mean", {}),
    ("mbt2018", {}),
    ("mbt2018", {"entropy_model": "mixture"}),
    ("cheng2020-anchor", {}),
    ("cheng2020-anchor", {"entropy_model": "mixture"}),
    ("cheng2020-attn", {}),
]
IDS = [name + ("-mixture" if kw else "") for name, kw in FIXED_MODELS]
GOLDEN = Path(__file__).resolve().parent.parent / "data" / "golden" / "fixed"


def _fixed(name: str, kwargs: dict[str, Any], seed: int = 0) -> CompressionModel:
    model = build_small(name, seed=seed, **kwargs)
    model.entropy_path = "fixed"
    return model


def _decode_latent(model: CompressionModel, out: dict[str, Any]) -> torch.Tensor:
    """The decoder's ``y_hat`` (the input of ``g_s``), as float32 on the CPU."""
    seen: list[torch.Tensor] = []
    g_s = model.g_s
    assert isinstance(g_s, nn.Module)
    handle = g_s.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        with torch.no_grad():
            model.decompress(out["strings"], out["shape"])
    finally:
        handle.remove()
    return seen[0].to("cpu", torch.float32).contiguous()


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


@pytest.mark.parametrize(("name", "kwargs"), FIXED_MODELS, ids=IDS)
def test_fixed_round_trip_matches_encoder(name: str, kwargs: dict[str, Any]) -> None:
    model = _fixed(name, kwargs)
    x = image(2, 3, 64, 64)
    with torch.no_grad():
        out = model.compress(x)
    y_hat = _decode_latent(model, out)
    # The decoded latent is round(y - m) + m with the fixed-point means: within 1/2 of y.
    with torch.no_grad():
        y = model.g_a(x)
    assert y_hat.shape == y.shape
    assert float((y_hat - y).abs().max()) <= 0.5 + 1e-3
    # Items decode alone exactly as in their batch.
    single = {"strings": [[s[1]] for s in out["strings"]], "shape": out["shape"]}
    assert torch.equal(_decode_latent(model, single), y_hat[1:])


@pytest.mark.parametrize(("name", "kwargs"), FIXED_MODELS, ids=IDS)
def test_fixed_decode_ignores_float_perturbations(name: str, kwargs: dict[str, Any]) -> None:
    model = _fixed(name, kwargs, seed=1)
    x = image(1, 3, 64, 64, seed=1)
    with torch.no_grad():
        out = model.compress(x)
    reference = _decode_latent(model, out)

    # 1. torch intra-op threads and tinify's Rust threads.
    saved_torch, saved_rust = torch.get_num_threads(), tinify.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            tinify.set_num_threads(threads)
            assert torch.equal(_decode_latent(model, out), reference)
    finally:
        torch.set_num_threads(saved_torch)
        tinify.set_num_threads(saved_rust)

    # 2. float64 everywhere (synthesis, bottleneck, parameters) on the decoder.
    double = _fixed(name, kwargs, seed=1).double()
    assert torch.equal(_decode_latent(double, out), reference)

    # 3. The float networks' outputs are never used: poison them (and disturb g_s) after the
    #    integer weights were built by update().
    poisoned = _fixed(name, kwargs, seed=1)
    poisoned.fixed_network("h_s")  # built from the clean weights
    with torch.no_grad():
        for module_name in ("h_s", "entropy_parameters", "context_prediction"):
            module = getattr(poisoned, module_name, None)
            if isinstance(module, nn.Module):
                for p in module.parameters():
                    p.fill_(float("nan"))
        for p in poisoned.g_s.parameters():
            p.add_(torch.randn_like(p) * 1e-3)
    assert torch.equal(_decode_latent(poisoned, out), reference)


@pytest.mark.parametrize(("name", "kwargs"), FIXED_MODELS, ids=IDS)
def test_fixed_encoder_tolerates_noisy_analysis(name: str, kwargs: dict[str, Any]) -> None:
    """Noise on g_a's output (a different encoder machine) still gives a decodable stream."""
    model = _fixed(name, kwargs, seed=2)
    x = image(1, 3, 64, 64, seed=2)
    noisy = _fixed(name, kwargs, seed=2)
    handle = noisy.g_a.register_forward_hook(lambda m, a, out: out + 1e-4 * torch.randn_like(out))
    try:
        with torch.no_grad():
            out = noisy.compress(x)
    finally:
        handle.remove()
    with torch.no_grad():
        y = model.g_a(x)
    assert float((_decode_latent(model, out) - y).abs().max()) <= 0.5 + 1e-2


@pytest.mark.parametrize("name", ["bmshj2018-hyperprior", "mbt2018-mean", "cheng2020-anchor"])
def test_fixed_params_identical_across_threads(name: str) -> None:
    model = _fixed(name, {})
    z_hat = torch.randint(-6, 7, (1, 16, 2, 3)).float() + 0.25
    saved = tinify.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 1, 2):
            tinify.set_num_threads(threads)
            results.append(model._hyper_params_fixed(z_hat))  # type: ignore[operator]
    finally:
        tinify.set_num_threads(saved)
    assert results[0].dtype == torch.int32
    assert all(torch.equal(r, results[0]) for r in results)


def test_fixed_network_tracks_float_network() -> None:
    """Conv, transposed conv, pixel shuffle and (leaky) ReLU agree with torch to rounding."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.ConvTranspose2d(4, 6, 5, stride=2, padding=2, output_padding=1),
        nn.LeakyReLU(),
        nn.Conv2d(6, 8, 3, padding=1),
        nn.PixelShuffle(2),
        nn.ReLU(),
        nn.Conv2d(2, 3, 3, stride=2, padding=1),
    ).double()
    x = torch.randint(-8, 9, (1, 4, 3, 5)).double()
    with torch.no_grad():
        expected = net(x)[0]
    got = run_network(quantize_network(net), to_fixed(x))[0].double() * 2.0**-FRAC_BITS
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) < 1e-2 * (1 + float(expected.abs().max()))


def test_fixed_weights_are_exact_integers() -> None:
    weight = torch.tensor([[[[0.5]], [[-0.25]]], [[[3.0]], [[1e-3]]]])
    layer = _core.FixedLayer.conv2d(weight.numpy(), np.array([1.0, -2.0], np.float32), 1, 0)
    quantized = layer.quantized()
    assert quantized is not None
    w, shift, bias = quantized
    assert shift.tolist() == [15, 13]
    assert w.tolist() == [[16384, -8192], [24576, 8]]  # 1e-3 * 2^13 = 8.19 -> 8
    assert bias.tolist() == [1 << 27, -(1 << 26)]
    with pytest.raises(tinify.TinifyError):
        _core.FixedLayer.conv2d(np.full((1, 1, 1, 1), np.nan, np.float32), None, 1, 0)
    with pytest.raises(tinify.TinifyError):
        _core.FixedNetwork([layer]).forward(np.zeros((3, 2, 2), np.int32))


def test_fixed_scale_indexes_match_float_rule() -> None:
    from tinify.entropy_models import GaussianConditional
    from tinify.models.base import get_scale_table

    gc = GaussianConditional(get_scale_table())
    scales_int = torch.randint(-100, 2**21, (5000,), dtype=torch.int32)
    exact = scales_int.double() * 2.0**-FRAC_BITS
    table = gc.scale_table.double()
    expected = torch.searchsorted(table, exact.clamp(min=float(gc.scale_bound)), right=False)
    expected = expected.clamp(max=table.numel() - 1).int()
    assert torch.equal(gc.build_indexes_fixed(scales_int, FRAC_BITS), expected)


def test_fixed_networks_stay_out_of_state_dict() -> None:
    model = _fixed("mbt2018", {})
    fresh = build_small("mbt2018")
    with torch.no_grad():
        model.compress(image(1, 3, 64, 64))
    assert list(model.state_dict()) == list(fresh.state_dict())
    # A checkpoint loaded into a model with tables already present: update(force=False)
    # rebuilds nothing but still derives the integer weights from the loaded float weights.
    other = build_small("mbt2018", seed=5)
    other.load_state_dict(model.state_dict())
    assert other.update() is False
    for key in ("h_s", "entropy_parameters", "context"):
        assert _probe(model, key) == _probe(other, key)


def _probe(model: CompressionModel, key: str) -> str:
    """Digest of a quantized network's output on a fixed probe input (equal integer weights
    give equal outputs; one changed weight almost surely changes it)."""
    net = model.fixed_network(key)
    assert isinstance(net, _core.FixedNetwork)
    m = int(model.M)
    channels = {"h_s": int(model.N), "entropy_parameters": 4 * m, "context": 12 * m}
    probe = torch.arange(channels[key] * 16, dtype=torch.int32).reshape(1, -1, 4, 4) * 37 % 9001
    return _digest(run_network(net, probe))


def test_entropy_path_is_validated() -> None:
    model = build_small("bmshj2018-hyperprior")
    assert model.entropy_path == "float"
    model.entropy_path = "integer"
    with pytest.raises(ValueError, match="entropy_path"):
        model.compress(image(1, 3, 64, 64))


def test_factorized_prior_has_no_parameter_network() -> None:
    model = build_small("bmshj2018-factorized")
    x = image(1, 3, 64, 64)
    with torch.no_grad():
        float_out = model.compress(x)
        model.entropy_path = "fixed"
        assert model.compress(x)["strings"] == float_out["strings"]


@pytest.mark.parametrize(("name", "kwargs"), FIXED_MODELS, ids=IDS)
def test_fixed_golden_streams(name: str, kwargs: dict[str, Any]) -> None:
    """Stored streams of small seeded models decode to pinned latents."""
    key = name + ("-mixture" if kwargs else "")
    model = _fixed(name, kwargs, seed=3)
    manifest_path = GOLDEN / "manifest.json"
    stream_path = GOLDEN / f"{key}.bin"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if os.environ.get("TINIFY_REGEN_GOLDEN") == "1":
        # Random weights give tiny latents; amplified, most symbols are nonzero and the scales
        # and means of the fixed path decide many of them.
        handle = model.g_a.register_forward_hook(lambda m, a, out: out * 40)
        try:
            with torch.no_grad():
                out = model.compress(image(1, 3, 64, 64, seed=3))
        finally:
            handle.remove()
        y, z = (s[0] for s in out["strings"])
        GOLDEN.mkdir(parents=True, exist_ok=True)
        stream_path.write_bytes(len(y).to_bytes(4, "little") + y + z)
        manifest[key] = {
            "shape": list(out["shape"]),
            "stream_sha256": hashlib.sha256(stream_path.read_bytes()).hexdigest(),
            "y_hat_sha256": _digest(_decode_latent(model, out)),
        }
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    entry = manifest[key]
    data = stream_path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["stream_sha256"]
    y_len = int.from_bytes(data[:4], "little")
    out = {"strings": [[data[4 : 4 + y_len]], [data[4 + y_len :]]], "shape": entry["shape"]}
    assert _digest(_decode_latent(model, out)) == entry["y_hat_sha256"]


#: The autoregressive models whose first entropy-parameter layer is split (hyper part ahead).
SPLIT_MODELS = [
    ("mbt2018", {}),
    ("mbt2018", {"entropy_model": "mixture"}),
    ("cheng2020-anchor", {}),
]


def _code_amplified(model: CompressionModel, x: torch.Tensor) -> tuple[Any, torch.Tensor]:
    """The fixed-path streams of ``x`` and the decoded latent, with the latents amplified 40x:
    most symbols nonzero, many decided by the fixed scales and means."""
    handle = model.g_a.register_forward_hook(lambda m, a, out: out * 40)
    try:
        with torch.no_grad():
            out = model.compress(x)
    finally:
        handle.remove()
    return out["strings"], _decode_latent(model, out)


@pytest.mark.parametrize("ahead_bytes", [1, wavefront.AHEAD_BYTES])
@pytest.mark.parametrize(
    ("name", "kwargs"), SPLIT_MODELS, ids=[n + ("-mixture" if kw else "") for n, kw in SPLIT_MODELS]
)
def test_fixed_hyper_split_keeps_every_bit(
    monkeypatch: pytest.MonkeyPatch, name: str, kwargs: dict[str, Any], ahead_bytes: int
) -> None:
    """The hyper part of the first entropy-parameter layer, computed ahead for blocks of fronts
    (one front a block, or the default size), gives the streams and decoded latents of the
    unsplit layer (``run_rows`` on ``[hyper, context]``, the path before the split)."""
    model = _fixed(name, kwargs, seed=3)
    x = image(2, 3, 128, 192, seed=3)
    split = FixedArithmetic.hyper_sums
    blocks: list[int] = []

    def counted(self: FixedArithmetic, hyper: torch.Tensor) -> torch.Tensor | None:
        sums = split(self, hyper)
        assert sums is not None  # every block is split (its bound holds)
        blocks.append(hyper.shape[0])
        return sums

    monkeypatch.setattr(wavefront, "AHEAD_BYTES", ahead_bytes)
    monkeypatch.setattr(FixedArithmetic, "hyper_sums", counted)
    strings, latent = _code_amplified(model, x)
    # 8x12 latents: 3 * 7 + 12 = 33 fronts per item, coded and decoded for 2 items.
    assert sum(blocks) == 4 * 8 * 12
    assert len(blocks) == (4 * 33 if ahead_bytes == 1 else 4)
    monkeypatch.setattr(FixedArithmetic, "hyper_sums", lambda self, hyper: None)
    unsplit_strings, unsplit_latent = _code_amplified(model, x)
    assert strings == unsplit_strings
    assert torch.equal(latent, unsplit_latent)


def test_model_classes_cover_fixed_path() -> None:
    """Every image architecture but the factorized prior quantizes some network."""
    for name, cls in model_architectures.items():
        if name in ("bmshj2018-factorized", "bmshj2018-factorized-relu", "ssf2020"):
            continue
        if issubclass(cls, SimpleVAECompressionModel):  # tested in test_models_sensetime.py
            continue
        model = build_small(name)
        assert model._fixed_network_modules(), name
        assert isinstance(cls, type)


@pytest.mark.parametrize(
    "shape",
    [(0, 4, 4), (3, 0, 4), (3, 1, 1), (2, 4, 4), (3, 4, 4), (48, 2, 2)],
)
def test_fixed_network_bad_inputs_raise_not_panic(shape: tuple[int, int, int]) -> None:
    """Shapes that do not fit raise TinifyError (a Rust panic would escape pytest.raises)."""
    net = quantize_network(
        nn.Sequential(nn.Conv2d(3, 12, 3, padding=0), nn.PixelShuffle(2), nn.ReLU())
    )
    x = np.zeros(shape, np.int32)
    if shape == (3, 4, 4):
        assert net.forward(x).shape == (3, 4, 4)
        with pytest.raises(ValueError, match="contiguous"):
            net.forward(np.zeros((3, 4, 8), np.int32)[:, :, ::2])
        with pytest.raises(tinify.TinifyError):
            net.forward_rows(np.zeros((2, 3), np.int32))  # a 3x3 kernel cannot act on rows
        return
    with pytest.raises(tinify.TinifyError):
        net.forward(x)


def test_fixed_helpers_reject_bad_arguments() -> None:
    with pytest.raises(tinify.TinifyError):
        _core.fixed_softmax(np.zeros((3, 0), np.int32))
    with pytest.raises(tinify.TinifyError):
        _core.fixed_scale_indexes(np.zeros(3, np.int32), np.zeros(0, np.float32), 0.11)
    with pytest.raises(tinify.TinifyError):
        _core.FixedLayer.leaky_relu(float("nan"))
    with pytest.raises(tinify.TinifyError):  # constructing is fine; using it is not
        _core.FixedNetwork([_core.FixedLayer.pixel_shuffle(0)]).forward(
            np.zeros((1, 1, 1), np.int32)
        )
    with pytest.raises(TypeError, match="fixed-point"):
        quantize_network(nn.Sequential(nn.Conv2d(3, 3, 3, padding="same")))
    with pytest.raises(TypeError, match="no fixed-point version"):
        quantize_network(nn.Sequential(nn.Sigmoid()))


@pytest.mark.cuda
@pytest.mark.parametrize(("name", "kwargs"), FIXED_MODELS, ids=IDS)
def test_fixed_streams_cross_devices(name: str, kwargs: dict[str, Any]) -> None:
    """Encoded on the CPU, decoded on CUDA (and the reverse): the same latents, bit for bit."""
    cpu = _fixed(name, kwargs, seed=4)
    gpu = _fixed(name, kwargs, seed=4).to("cuda")
    x = image(1, 3, 64, 64, seed=4)
    with torch.no_grad():
        from_cpu = cpu.compress(x)
        from_gpu = gpu.compress(x.cuda())
    assert torch.equal(_decode_latent(gpu, from_cpu), _decode_latent(cpu, from_cpu))
    assert torch.equal(_decode_latent(cpu, from_gpu), _decode_latent(gpu, from_gpu))


@pytest.mark.parametrize(("fronts", "ahead_bytes"), [(3, wavefront.AHEAD_BYTES), (4, 1), (4, None)])
@pytest.mark.parametrize(
    ("name", "kwargs"), SPLIT_MODELS, ids=[n + ("-mixture" if kw else "") for n, kw in SPLIT_MODELS]
)
def test_fixed_context_split_keeps_every_bit(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kwargs: dict[str, Any],
    fronts: int,
    ahead_bytes: int | None,
) -> None:
    """The early context taps' products, computed ahead for blocks of ``fronts`` fronts (or one
    front a block: ``AHEAD_BYTES = 1``; None: a block in two fails its bound), give the streams
    and decoded latents of the unsplit context layer."""
    model = _fixed(name, kwargs, seed=4)
    x = image(2, 3, 128, 192, seed=4)
    split = FixedArithmetic.context_sums
    blocks: list[int] = []

    def counted(self: FixedArithmetic, context_in: torch.Tensor) -> torch.Tensor | None:
        sums = split(self, context_in)
        assert sums is not None  # every block is split (its bound holds)
        blocks.append(context_in.shape[0])
        if ahead_bytes is None and len(blocks) % 2:
            return None  # as if the block's bound failed: its fronts run unsplit
        return sums

    monkeypatch.setattr(wavefront, "CONTEXT_AHEAD_FRONTS", fronts)
    if ahead_bytes is not None:
        monkeypatch.setattr(wavefront, "AHEAD_BYTES", ahead_bytes)
    monkeypatch.setattr(FixedArithmetic, "context_sums", counted)
    strings, latent = _code_amplified(model, x)
    # 8x12 latents: 33 fronts per item, coded and decoded for 2 items.
    assert sum(blocks) == 4 * 8 * 12
    assert len(blocks) == 4 * (33 if ahead_bytes == 1 else -(-33 // fronts))
    monkeypatch.setattr(FixedArithmetic, "context_sums", lambda self, context_in: None)
    unsplit_strings, unsplit_latent = _code_amplified(model, x)
    assert strings == unsplit_strings
    assert torch.equal(latent, unsplit_latent)


@pytest.mark.parametrize("disorder", ["none", "params", "rewrite", "write"])
def test_fixed_context_split_only_in_order(monkeypatch: pytest.MonkeyPatch, disorder: str) -> None:
    """``ContextCoder.front_params`` equals the unsplit ``entropy_params`` of the latent as it is
    at every call, with the early taps computed ahead (in order) or not: a call out of
    sequence, a front written again or ``write`` falls back to the per-front context."""
    model = _fixed("mbt2018", {}, seed=5)
    monkeypatch.setattr(wavefront, "CONTEXT_AHEAD_FRONTS", 4)
    arithmetic = FixedArithmetic(
        model.fixed_network("context"), model.fixed_network("entropy_parameters")
    )
    m = model.context_prediction.in_channels
    c_hyp = model.entropy_parameters[0].in_channels - model.context_prediction.out_channels
    generator = torch.Generator().manual_seed(5)
    params = torch.randint(
        -(2**14), 2**14, (1, c_hyp, 6, 9), generator=generator, dtype=torch.int32
    )
    coder = wavefront.ContextCoder(
        model.context_prediction, model.entropy_parameters, params, arithmetic=arithmetic
    )
    assert coder.early_taps == 7
    calls: list[bool] = []
    split = FixedArithmetic.context_sums

    def counted(self: FixedArithmetic, context_in: torch.Tensor) -> torch.Tensor | None:
        sums = split(self, context_in)
        calls.append(sums is not None)
        return sums

    monkeypatch.setattr(FixedArithmetic, "context_sums", counted)

    def values(size: int) -> torch.Tensor:
        return torch.randint(-(2**16), 2**16, (size, m), generator=generator, dtype=torch.int32)

    def check(i: int) -> None:
        expected = coder.entropy_params(coder.fronts[i])
        assert torch.equal(coder.front_params(i), expected)

    for i, front in enumerate(coder.fronts):
        if i == 10 and disorder == "params":
            check(14)  # out of sequence: the block of fronts 8..11 is dropped
        if i == 10 and disorder == "rewrite":
            coder.write_front(6, values(coder.fronts[6].numel()))  # taps ahead of 8..11 change
        if i == 10 and disorder == "write":
            coder.write(coder.fronts[5], values(coder.fronts[5].numel()))
        check(i)
        coder.write_front(i, values(front.numel()))
    assert calls and all(calls)
    # 24 fronts: blocks from fronts 0, 4, 8, ... (from 10 on after the call out of sequence);
    # none after front 6 or 5 is written again, at front 10 (blocks 0, 4, 8 before).
    assert len(calls) == {"none": 6, "params": 7, "rewrite": 3, "write": 3}[disorder]
