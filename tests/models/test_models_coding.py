"""compress / decompress: exact latent round trips, padding, errors, checkpoints round trips."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

from tinify import BitstreamError
from tinify.models import CompressionModel, JointAutoregressiveHierarchicalPriors
from tinify.models.image.wavefront import compress_latent
from tinify.zoo import create_model, list_models
from tinify.zoo.pretrained import qualities

AUTOREGRESSIVE = {"mbt2018", "cheng2020-anchor", "cheng2020-attn"}


def _capture_g_s_input(model: CompressionModel) -> tuple[list[torch.Tensor], Any]:
    seen: list[torch.Tensor] = []
    handle = model.g_s.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    return seen, handle


def _encoder_latent(model: JointAutoregressiveHierarchicalPriors, x: torch.Tensor) -> Any:
    """Run the AR model's encoder by hand: (y streams, the encoder's y_hat)."""
    with torch.no_grad():
        y = model.g_a(x)
        z = model.h_a(y)
        z_hat = model.entropy_bottleneck.decompress(
            model.entropy_bottleneck.compress(z), z.shape[-2:]
        )
        return compress_latent(
            y,
            model.h_s(z_hat),
            model.context_prediction,
            model.entropy_parameters,
            model.gaussian_conditional,
            model.context_order,
        )


def _round_trip_check(model: CompressionModel, name: str, x: torch.Tensor) -> None:
    with torch.no_grad():
        out = model.compress(x)
        assert set(out) == {"strings", "shape", "x_size"}
        assert len(out["strings"]) == (1 if name.startswith("bmshj2018-factorized") else 2)
        assert all(len(s) == x.size(0) for s in out["strings"])
        assert all(isinstance(b, bytes) for s in out["strings"] for b in s)
        factor = model.downsampling_factor
        assert tuple(out["shape"]) == (x.size(2) // factor, x.size(3) // factor)
        assert isinstance(out["shape"], torch.Size)

        seen, handle = _capture_g_s_input(model)
        decoded = model.decompress(out["strings"], out["shape"])["x_hat"]
        forward = model(x)["x_hat"]
        handle.remove()
        y_hat_dec, y_hat_fwd = seen
        assert decoded.shape == x.shape
        assert float(decoded.min()) >= 0 and float(decoded.max()) <= 1
        if name in AUTOREGRESSIVE:
            assert isinstance(model, JointAutoregressiveHierarchicalPriors)
            strings, y_hat_enc = _encoder_latent(model, x)
            assert strings == out["strings"][0]
            assert torch.equal(y_hat_dec, y_hat_enc)  # every latent recovered exactly
            assert float((y_hat_dec - model.g_a(x)).abs().max()) <= 0.5 + 1e-5
            torch.testing.assert_close(decoded, model.g_s(y_hat_enc).clamp(0, 1))
        else:
            assert torch.equal(y_hat_dec, y_hat_fwd)  # every latent recovered exactly
            torch.testing.assert_close(decoded, forward.clamp(0, 1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("batch", [1, 2])
def test_round_trip_small(model_name: str, make_small: Any, make_image: Any, batch: int) -> None:
    model = make_small(model_name)
    _round_trip_check(model, model_name, make_image(batch, 3, 64, 128))


@pytest.mark.parametrize(
    ("name", "quality"),
    [(n, q) for n in list_models(kind="image") for q in (qualities(n)[0], qualities(n)[-1])],
)
def test_round_trip_full_size(name: str, quality: int, make_image: Any) -> None:
    torch.manual_seed(quality)
    model = create_model(name, quality).eval()
    model.update()
    _round_trip_check(model, name, make_image(1, 3, 64, 64))


@pytest.mark.parametrize("size", [(65, 97), (64, 64), (100, 130), (64, 200)])
def test_any_size_round_trips(
    model_name: str, make_small: Any, make_image: Any, size: tuple[int, int]
) -> None:
    model = make_small(model_name)
    x = make_image(1, 3, *size)
    with torch.no_grad():
        out = model.compress(x)
        assert out["x_size"] == size
        x_hat = model.decompress(**out)["x_hat"]
        assert x_hat.shape == x.shape
        padded = model.decompress(out["strings"], out["shape"])["x_hat"]
    factor = model.downsampling_factor
    assert padded.shape[-2:] == tuple(-(-s // factor) * factor for s in size)
    top = (padded.size(2) - size[0]) // 2
    left = (padded.size(3) - size[1]) // 2
    assert torch.equal(x_hat, padded[..., top : top + size[0], left : left + size[1]])
    if model_name not in AUTOREGRESSIVE:
        # Same as running the model on the centred, zero-padded image and cropping.
        pad = (left, padded.size(3) - size[1] - left, top, padded.size(2) - size[0] - top)
        with torch.no_grad():
            forward = model(torch.nn.functional.pad(x, pad))["x_hat"].clamp(0, 1)
        expected = forward[..., top : top + size[0], left : left + size[1]]
        torch.testing.assert_close(x_hat, expected, atol=1e-5, rtol=0)


def test_state_dict_save_load(model_name: str, make_small: Any, make_image: Any) -> None:
    model = make_small(model_name)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    other = make_small(model_name, seed=1)
    other.load_state_dict(state, strict=True)
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    x = make_image(1, 3, 64, 64)
    with torch.no_grad():
        assert model.compress(x)["strings"] == other.compress(x)["strings"]


def test_from_state_dict(model_name: str, make_small: Any) -> None:
    model = make_small(model_name)
    rebuilt = type(model).from_state_dict(model.state_dict())
    assert type(rebuilt) is type(model)
    assert (rebuilt.N, getattr(rebuilt, "M", None)) == (model.N, getattr(model, "M", None))
    for (k, a), b in zip(model.state_dict().items(), rebuilt.state_dict().values()):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match="does not look like"):
        type(model).from_state_dict({"foo": torch.zeros(1)})


def test_from_state_dict_full_size_cfgs() -> None:
    for name in list_models(kind="image"):
        for quality in (1, qualities(name)[-1]):
            model = create_model(name, quality)
            rebuilt = type(model).from_state_dict(model.state_dict())
            assert rebuilt.N == model.N and rebuilt.M == model.M, (name, quality)


# -- the mixture variant --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cheng2020-anchor", "cheng2020-attn"])
def test_mixture_round_trip(name: str, make_small: Any, make_image: Any) -> None:
    model = make_small(name, entropy_model="mixture")
    x = make_image(2, 3, 64, 128)
    with torch.no_grad():
        out = model(x)
        lik = out["likelihoods"]["y"]
        assert bool(((lik > 0) & (lik <= 1)).all())
        strings, y_hat_enc = _encoder_latent(model, x)
        assert torch.equal(y_hat_enc, torch.round(model.g_a(x)))
        seen, handle = _capture_g_s_input(model)
        coded = model.compress(x)
        assert coded["strings"][0] == strings
        decoded = model.decompress(**coded)["x_hat"]
        handle.remove()
    assert torch.equal(seen[0], y_hat_enc)
    torch.testing.assert_close(decoded, out["x_hat"].clamp(0, 1), atol=1e-5, rtol=0)
    rebuilt = type(model).from_state_dict(model.state_dict())
    assert rebuilt.entropy_model == "mixture" and rebuilt.gaussian_conditional.K == 3


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.rand(3, 64, 64), ValueError, r"\(N, 3, H, W\)"),
        (torch.rand(1, 1, 64, 64), ValueError, r"\(N, 3, H, W\)"),
        (torch.rand(0, 3, 64, 64), ValueError, r"N >= 1"),
        (torch.rand(1, 3, 63, 64), ValueError, "at least 64x64"),
        (torch.rand(1, 3, 64, 32), ValueError, "at least 64x64"),
        (torch.rand(1, 3, 64, 64) * 255, ValueError, r"\[0, 1\]"),
        (torch.rand(1, 3, 64, 64) - 0.5, ValueError, r"\[0, 1\]"),
        (torch.full((1, 3, 64, 64), float("nan")), ValueError, r"\[0, 1\]"),
        (torch.zeros(1, 3, 64, 64, dtype=torch.uint8), TypeError, "floating-point"),
        ([[0.5]], TypeError, "torch.Tensor"),
    ],
)
def test_compress_rejects_bad_images(
    make_small: Any, x: Any, error: type[Exception], match: str
) -> None:
    model = make_small("bmshj2018-hyperprior")
    with pytest.raises(error, match=match):
        model.compress(x)


def test_decompress_rejects_bad_arguments(model_name: str, make_small: Any) -> None:
    model = make_small(model_name)
    with torch.no_grad():
        out = model.compress(torch.rand(2, 3, 64, 64))
    strings, shape = out["strings"], out["shape"]
    with pytest.raises(ValueError, match="list of"):
        model.decompress(strings + [strings[0]], shape)
    with pytest.raises(ValueError, match="list of"):
        model.decompress(b"abc", shape)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bytes"):
        model.decompress([["x"] * 2 for _ in strings], shape)  # type: ignore[misc]
    with pytest.raises(ValueError, match="non-empty"):
        model.decompress([[] for _ in strings], shape)
    if len(strings) == 2:
        with pytest.raises(ValueError, match="streams"):
            model.decompress([strings[0], strings[1][:1]], shape)
    with pytest.raises(ValueError, match="shape"):
        model.decompress(strings, (0, 1))
    with pytest.raises(ValueError, match="shape"):
        model.decompress(strings, "ab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x_size"):
        model.decompress(strings, shape, x_size=(200, 64))


def test_corrupt_streams_raise(model_name: str, make_small: Any, make_image: Any) -> None:
    model = make_small(model_name)
    with torch.no_grad():
        out = model.compress(make_image(1, 3, 64, 64))
        strings = out["strings"]
        with pytest.raises(BitstreamError):
            model.decompress([[s[0][:3]] for s in strings], out["shape"])
        if model_name in AUTOREGRESSIVE:
            # Extra words after the data are detected too.
            padded = [[strings[0][0] + b"\0" * 64], strings[1]]
            with pytest.raises(BitstreamError):
                model.decompress(padded, out["shape"])


def test_compress_needs_update() -> None:
    model = create_model("mbt2018-mean", 1)
    with pytest.raises(ValueError, match="update"):
        model.compress(torch.rand(1, 3, 64, 64))


def test_items_decode_alone(model_name: str, make_small: Any, make_image: Any) -> None:
    model = make_small(model_name)
    x = make_image(3, 3, 64, 128, seed=2)
    with torch.no_grad():
        out = model.compress(x)
        together = model.decompress(**out)["x_hat"]
        for i in range(3):
            alone = model.compress(x[i : i + 1])
            assert alone["strings"] == [s[i : i + 1] for s in out["strings"]]
            single = model.decompress([s[i : i + 1] for s in out["strings"]], out["shape"])
            torch.testing.assert_close(single["x_hat"], together[i : i + 1], atol=1e-5, rtol=0)
