"""Keyword-only coding options (``entropy_path``, ``stream_chunks``) of compress / decompress."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from tinify.entropy_models import EntropyBottleneck, EntropyModel
from tinify.latent_codecs import EntropyBottleneckLatentCodec, LatentCodec
from tinify.models import CompressionModel
from tinify.models.base import SimpleVAECompressionModel
from tinify.models.video import ScaleSpaceFlow

from .conftest import build_small, image

# (entropy_path, stream_chunks): the options threads code with at once on one model (two
# different ones, plus a second fixed-path thread sharing the quantized networks).
OPTIONS = [("float", 1), ("fixed", 3), ("fixed", 1)]


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Pin torch's intra-op threads, so that only the options differ between the threads."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _code(model: CompressionModel, x: torch.Tensor, path: str, chunks: int) -> tuple[Any, ...]:
    with torch.no_grad():
        out = model.compress(x, entropy_path=path, stream_chunks=chunks)
        x_hat = model.decompress(**out, entropy_path=path, stream_chunks=chunks)["x_hat"]
    return out["strings"], x_hat


#: Constructor arguments of the small models that need more than ``build_small``'s N and M.
SMALL_KWARGS: dict[str, dict[str, Any]] = {"elic2022-official": {"groups": [4, 4, 8, 8]}}


def _amplified(name: str) -> CompressionModel:
    """A small model whose latents are large enough that both paths and chunks matter."""
    model = build_small(name, seed=1, **SMALL_KWARGS.get(name, {}))
    model.g_a.register_forward_hook(lambda m, a, out: out * 40)
    return model


@pytest.mark.parametrize("name", ["bmshj2018-hyperprior", "mbt2018"])
def test_options_choose_the_streams(name: str) -> None:
    model = _amplified(name)
    x = image(1, 3, 64, 64, seed=1)
    coded = {opt: _code(model, x, *opt) for opt in [*OPTIONS, ("float", 3)]}
    # The AR y streams are never chunked; the hyper-latents always are.
    assert coded[("float", 1)][0][1] != coded[("float", 3)][0][1]
    if name == "mbt2018":  # random weights: the paths give different y streams here
        assert coded[("float", 1)][0][0] != coded[("fixed", 1)][0][0]
    assert model.entropy_path == "float"  # nothing was set on the model
    for m in model.modules():
        if isinstance(m, EntropyBottleneck):
            assert m.stream_chunks == 1
    # None takes the module attributes, and CompressAI's positional calls still work.
    model.entropy_path = "fixed"
    for m in model.modules():
        if isinstance(m, EntropyModel):
            m.stream_chunks = 3
    with torch.no_grad():
        out = model.compress(x)
        x_hat = model.decompress(out["strings"], out["shape"])["x_hat"]
    assert out["strings"] == coded[("fixed", 3)][0]
    assert torch.equal(x_hat, coded[("fixed", 3)][1])


def test_options_are_keyword_only_and_checked() -> None:
    model = build_small("bmshj2018-hyperprior")
    x = image(1, 3, 64, 64)
    with pytest.raises(TypeError):
        model.compress(x, "fixed")  # type: ignore[misc]
    with pytest.raises(ValueError, match="entropy_path"):
        model.compress(x, entropy_path="integer")
    with pytest.raises(ValueError, match="stream_chunks"):
        model.compress(x, stream_chunks=0)
    with pytest.raises(ValueError, match="stream_chunks"):
        model.entropy_bottleneck.compress(torch.zeros(1, 16, 2, 2), stream_chunks=70000)


@pytest.mark.slow
def test_video_model_takes_the_options() -> None:
    """ssf2020 takes both entropy paths; stream_chunks reaches every latent."""
    model = ScaleSpaceFlow()
    model.update(force=True)
    frames = [image(1, 3, 64, 64, seed=s) for s in range(2)]
    fixed = model.compress(frames, entropy_path="fixed", stream_chunks=2)
    decoded = model.decompress(*fixed, x_size=fixed.x_size, entropy_path="fixed", stream_chunks=2)
    assert [x.shape for x in decoded] == [(1, 3, 64, 64)] * 2
    with pytest.raises(ValueError, match="entropy_path"):
        model.compress(frames, entropy_path="integer")
    out = model.compress(frames, stream_chunks=2)
    assert out.strings != model.compress(frames).strings
    decoded = model.decompress(*out, x_size=out.x_size, stream_chunks=2)
    reference = model.decompress(*model.compress(frames), x_size=out.x_size)
    assert all(torch.equal(a, b) for a, b in zip(decoded, reference))


def test_entropy_model_option_equals_attribute() -> None:
    torch.manual_seed(0)
    eb = EntropyBottleneck(4)
    eb.update(force=True)
    z = torch.randn(2, 4, 8, 8) * 5
    chunked = eb.compress(z, stream_chunks=3)
    assert chunked != eb.compress(z)
    eb.stream_chunks = 3
    assert eb.compress(z) == chunked
    eb.stream_chunks = 1
    plain = eb.decompress(eb.compress(z), (8, 8))
    assert torch.equal(eb.decompress(chunked, (8, 8), stream_chunks=3), plain)


@pytest.mark.parametrize(
    "name",
    [
        "bmshj2018-hyperprior",
        "mbt2018",
        # SimpleVAECompressionModels: the options pass through nested latent codecs.
        "cheng2020-anchor-checkerboard",
        "elic2022-official",
    ],
)
def test_threads_share_one_model(name: str, one_torch_thread: None) -> None:
    """Threads code with different options on one model at once: every result equals the
    single-threaded one. (Setting ``model.entropy_path`` / ``stream_chunks`` per call, as the
    codec did before, fails this test within a few rounds.)"""
    model = _amplified(name)
    x = image(1, 3, 64, 64, seed=1)
    expected = {opt: _code(model, x, *opt) for opt in OPTIONS}
    rounds = 40
    start = threading.Barrier(len(OPTIONS))
    failures: list[str] = []

    def work(path: str, chunks: int) -> None:
        try:
            start.wait()
            for i in range(rounds):
                strings, x_hat = _code(model, x, path, chunks)
                want_strings, want_x_hat = expected[(path, chunks)]
                if strings != want_strings or not torch.equal(x_hat, want_x_hat):
                    failures.append(f"{path}/{chunks} round {i}")
        except Exception as err:  # noqa: BLE001 - reported below, in the main thread
            failures.append(f"{path}/{chunks}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=work, args=opt) for opt in OPTIONS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


@pytest.mark.parametrize("name", ["mbt2018-mean-vbr", "mbt2018-vbr"])
def test_threads_share_one_vbr_model(name: str, one_torch_thread: None) -> None:
    """Two threads code at different quantization steps (and stream chunks) on one
    variable-rate model at once: every result equals the single-threaded one and the model's
    state is unchanged. The rate is a per-call option; the hyper-latent tables of each step
    (``vr_entbttlnck``) are built on the side. (Storing the rate on the model for the call,
    as the variable-rate models did before, fails mbt2018-vbr within a few rounds.)"""
    model = build_small(name, seed=1, **({"vr_entbttlnck": True} if "mean" in name else {}))
    model.g_a.register_forward_hook(lambda m, a, out: out * 40)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = image(1, 3, 64, 64, seed=1)
    calls = [(1.5, 1), (6.0, 3)]  # (quant_step, stream_chunks)

    def code(step: float, chunks: int) -> tuple[Any, torch.Tensor]:
        with torch.no_grad():
            out = model.compress(x, quant_step=step, stream_chunks=chunks)
            x_hat = model.decompress(**out, quant_step=step, stream_chunks=chunks)["x_hat"]
        return out["strings"], x_hat

    expected = {call: code(*call) for call in calls}
    assert expected[calls[0]][0][0] != expected[calls[1]][0][0]  # the steps give other y streams
    start = threading.Barrier(len(calls))
    failures: list[str] = []

    def work(step: float, chunks: int) -> None:
        try:
            start.wait()
            for i in range(20):
                strings, x_hat = code(step, chunks)
                want_strings, want_x_hat = expected[(step, chunks)]
                if strings != want_strings or not torch.equal(x_hat, want_x_hat):
                    failures.append(f"step {step} round {i}")
        except Exception as err:  # noqa: BLE001 - reported below, in the main thread
            failures.append(f"step {step}: {type(err).__name__}: {err}")

    threads = [threading.Thread(target=work, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_latent_codecs_take_stream_chunks() -> None:
    """A SimpleVAECompressionModel passes stream_chunks through every nested latent codec, on
    both entropy paths, and leaves the entropy models' attributes alone."""
    model = _amplified("cheng2020-anchor-checkerboard")
    x = image(1, 3, 64, 64, seed=2)
    for path in ("float", "fixed"):
        plain_strings, plain_x_hat = _code(model, x, path, 1)
        chunked_strings, chunked_x_hat = _code(model, x, path, 3)
        assert len(plain_strings) == 3  # anchors, non-anchors, z: each one chunked
        assert all(a != b for a, b in zip(plain_strings, chunked_strings))
        assert torch.equal(plain_x_hat, chunked_x_hat)
    assert all(m.stream_chunks == 1 for m in model.modules() if isinstance(m, EntropyModel))


class _CompressAIStyleCodec(LatentCodec):
    """A user's latent codec written for CompressAI: its methods take no keyword options."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = EntropyBottleneckLatentCodec(channels=4)

    def forward(self, y: torch.Tensor) -> dict[str, Any]:
        return self.inner(y)

    def compress(self, y: torch.Tensor) -> dict[str, Any]:  # type: ignore[override]
        return self.inner.compress(y)

    def decompress(self, strings: Any, shape: Any) -> dict[str, Any]:  # type: ignore[override]
        return self.inner.decompress(strings, shape)


class _TinyVAE(SimpleVAECompressionModel):
    def __init__(self, codec: LatentCodec) -> None:
        super().__init__()
        self.g_a = nn.Conv2d(3, 4, 16, stride=16)
        self.g_s = nn.ConvTranspose2d(4, 3, 16, stride=16)
        self.latent_codec = codec
        self.latent_names = ("y",)


def test_compressai_style_latent_codec_codes_with_the_defaults() -> None:
    torch.manual_seed(0)
    x = image(1, 3, 64, 64, seed=3)
    own = _TinyVAE(_CompressAIStyleCodec()).eval()
    own.update(force=True)
    builtin = _TinyVAE(EntropyBottleneckLatentCodec(channels=4)).eval()
    builtin.load_state_dict({k.replace("inner.", ""): v for k, v in own.state_dict().items()})
    builtin.update(force=True)
    with torch.no_grad():
        out = own.compress(x)  # no option given: the codec is called as CompressAI calls it
        # No network to run in integers: "fixed" codes the same streams.
        assert own.compress(x, entropy_path="fixed")["strings"] == out["strings"]
        assert builtin.compress(x)["strings"] == out["strings"]
        assert builtin.compress(x, stream_chunks=2)["strings"] != out["strings"]
        x_hat = own.decompress(**out)["x_hat"]
    assert torch.equal(x_hat, builtin.decompress(**out)["x_hat"])
