"""ScaleSpaceFlow: CompressAI-compatible keys and outputs, exact latent round trips, errors."""

from __future__ import annotations

import json
import pickle
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import tinify
from tinify.models.video import ScaleSpaceFlow, gaussian_volume, warp_volume
from tinify.models.video.ssf2020 import CompressedVideo, qrelu

LoadClip = Callable[..., list[torch.Tensor]]


def _compress(hyperprior: Any, y: torch.Tensor) -> Any:
    return hyperprior.compress(y)


def _clamped_forward_chain(model: ScaleSpaceFlow, frames: list[torch.Tensor]) -> list[torch.Tensor]:
    """Eval-mode forward, frame by frame, with every reference clamped as compress() does."""
    with torch.no_grad():
        x_ref = model.forward_keyframe(frames[0])[0].clamp(0, 1)
        out = [x_ref]
        for x in frames[1:]:
            x_ref = model.forward_inter(x, x_ref)[0].clamp(0, 1)
            out.append(x_ref)
    return out


# -- state dict -----------------------------------------------------------------------------------


def test_state_dict_matches_compressai_keys(reference_dir: Path) -> None:
    ref = reference_dir
    shapes = json.loads((ref / "compressai_state_dicts.json").read_text())["ssf2020"]
    dtypes = json.loads((ref / "compressai_state_dict_dtypes.json").read_text())["dtypes"]
    model = ScaleSpaceFlow()
    model.update(force=True)
    state = model.state_dict()
    assert sorted(shapes) == [str(q) for q in range(1, 10)]
    for quality, expected in shapes.items():
        assert list(state) == list(expected), quality  # same keys, same order
        for key, shape in expected.items():
            assert list(state[key].shape) == shape, key
    for key, dtype in dtypes["ssf2020"].items():
        assert str(state[key].dtype) == f"torch.{dtype}", key
    n_params = sum(p.numel() for p in model.parameters())
    info = json.loads((ref / "compressai_state_dict_dtypes.json").read_text())["per_quality_info"]
    assert n_params == info["ssf2020"]["1"]["num_parameters"] == 34_209_609


def test_legacy_keys_and_from_state_dict(ssf: ScaleSpaceFlow) -> None:
    state = ssf.state_dict()
    legacy: OrderedDict[str, torch.Tensor] = OrderedDict()
    for key, value in state.items():  # 2021-2024 names: ..._matrix0, ..._bias3, ..._factor1
        for kind, singular in (("matrices", "matrix"), ("biases", "bias"), ("factors", "factor")):
            if f".entropy_bottleneck.{kind}." in key:
                head, index = key.rsplit(".", 1)
                key = f"{head[: -len(kind)]}_{singular}{index}"
        legacy["module." + key] = value
    assert "img_hyperprior.entropy_bottleneck._matrix0" in {k[7:] for k in legacy}
    model = ScaleSpaceFlow.from_state_dict(legacy)
    assert isinstance(model, ScaleSpaceFlow)
    for (key, a), b in zip(state.items(), model.state_dict().values()):
        assert torch.equal(a, b), key
    with pytest.raises(ValueError, match="ScaleSpaceFlow"):
        ScaleSpaceFlow.from_state_dict({"g_a.0.weight": torch.zeros(1)})


# -- CompressAI side by side ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compressai_ssf(compressai: Any, scale_ssf: Any) -> Any:
    import importlib

    video = importlib.import_module("compressai.models.video")
    torch.manual_seed(1)
    net = video.ScaleSpaceFlow()
    scale_ssf(net)
    net.update(force=True)
    return net.eval()


def test_compressai_weights_same_forward(compressai_ssf: Any, load_clip: LoadClip) -> None:
    model = ScaleSpaceFlow()
    assert not model.load_state_dict(compressai_ssf.state_dict(), strict=True).missing_keys
    model.eval()
    frames = load_clip("davis_bmx-trees", 3, (128, 256), top=100, left=200)
    with torch.no_grad():
        ours, theirs = model(frames), compressai_ssf(frames)
    assert len(ours["x_hat"]) == len(theirs["x_hat"]) == 3
    for a, b in zip(ours["x_hat"], theirs["x_hat"]):
        assert a.shape == b.shape == (1, 3, 128, 256)
        assert (a - b).abs().max() <= 1e-4
    assert [set(d) for d in ours["likelihoods"]] == [{"keyframe"}, {"motion", "residual"}] * 1 + [
        {"motion", "residual"}
    ]
    for ld_ours, ld_theirs in zip(ours["likelihoods"], theirs["likelihoods"]):
        assert ld_ours.keys() == ld_theirs.keys()
        for name in ld_ours:
            for latent in ("y", "z"):
                assert (ld_ours[name][latent] - ld_theirs[name][latent]).abs().max() <= 1e-4


def test_compressai_same_prediction_large_motion(compressai_ssf: Any) -> None:
    """Volume and trilinear warp against CompressAI with flows and scales spanning the volume."""
    model = ScaleSpaceFlow()
    g = torch.Generator().manual_seed(3)
    x_ref = F.avg_pool2d(torch.rand(2, 3, 128, 192, generator=g), 3, 1, 1)
    motion = torch.randn(2, 3, 128, 192, generator=g) * torch.tensor([0.2, 0.2, 0.8]).view(
        1, 3, 1, 1
    )
    with torch.no_grad():
        ours = model.forward_prediction(x_ref, motion)
        theirs = compressai_ssf.forward_prediction(x_ref, motion)
    assert (ours - theirs).abs().max() <= 1e-5


def test_compressai_qrelu_gradient(compressai: Any) -> None:
    import importlib

    layers = importlib.import_module("compressai.layers")
    x = torch.linspace(-3, 258, 2000, dtype=torch.float64)
    grads: list[torch.Tensor] = []
    for fn in (lambda t: qrelu(t, 8, 100.0), lambda t: layers.QReLU.apply(t, 8, 100.0)):
        leaf = x.clone().requires_grad_(True)
        fn(leaf).sum().backward()
        assert leaf.grad is not None
        grads.append(leaf.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-12)
    assert (grads[0] != 0).sum() > (grads[0] == 1).sum()  # the smooth tail is exercised


def test_qrelu_values_and_gradient() -> None:
    x = torch.tensor([-0.5, -10.0, 0.0, 100.0, 255.0, 255.5, 300.0], requires_grad=True)
    y = qrelu(x)
    assert y.tolist() == [0.0, 0.0, 0.0, 100.0, 255.0, 255.0, 255.0]
    y.sum().backward()
    assert x.grad is not None
    grad = x.grad.tolist()
    assert grad[2:5] == [1.0, 1.0, 1.0]  # inside the range: the identity
    assert grad[0] == pytest.approx(0.433, abs=1e-3) and grad[1] == 0.0 and grad[6] == 0.0
    assert 0.0 < grad[5] < 1.0  # just outside: the smooth tail


# -- volume and warp ------------------------------------------------------------------------------


def test_gaussian_volume_and_identity_warp() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 96, generator=g)
    volume = gaussian_volume(x, 1.5, 5)
    assert volume.shape == (1, 3, 6, 64, 96)
    assert torch.equal(volume[:, :, 0], x)
    constant = gaussian_volume(torch.full((1, 1, 32, 32), 0.25), 1.5, 5)
    assert torch.allclose(constant, torch.full_like(constant, 0.25), atol=1e-6)
    assert volume[:, :, 1:].var() < volume[:, :, 0].var()  # blurred
    # Zero flow at the centre of slice 0 (depth -1 + 1/6) returns the frame.
    zero = torch.zeros(1, 2, 64, 96)
    out = warp_volume(volume, zero, torch.full((1, 1, 64, 96), -1 + 1 / 6))
    assert torch.allclose(out, x, atol=1e-4)  # float rounding of the sampling grid
    # A flow of 2/W normalised units moves by one pixel.
    shifted = warp_volume(
        volume,
        zero + torch.tensor([2 / 96, 0]).view(1, 2, 1, 1),
        torch.full((1, 1, 64, 96), -1 + 1 / 6),
    )
    assert torch.allclose(shifted[..., :-1], x[..., 1:], atol=1e-4)


# -- training forward -----------------------------------------------------------------------------


def test_forward_structure_and_gradients() -> None:
    torch.manual_seed(0)
    model = ScaleSpaceFlow().train()
    frames = [torch.rand(2, 3, 128, 128) for _ in range(3)]
    out = model(frames)
    assert [x.shape for x in out["x_hat"]] == [(2, 3, 128, 128)] * 3
    lik = out["likelihoods"]
    assert lik[0]["keyframe"]["y"].shape == (2, 192, 8, 8)
    assert lik[0]["keyframe"]["z"].shape == (2, 192, 1, 1)
    for frame in lik:
        for latents in frame.values():
            for v in latents.values():
                assert ((v > 0) & (v <= 1)).all()
    # The I-frame reconstruction is detached before it becomes a reference.
    F.mse_loss(out["x_hat"][1], frames[1]).backward()
    assert all(p.grad is None for p in model.img_encoder.parameters())
    assert model.motion_encoder[0].weight.grad is not None
    aux = model.aux_loss()
    assert aux.dim() == 0 and aux > 0
    expected = sum(
        getattr(model, f"{n}_hyperprior").entropy_bottleneck.loss()
        for n in ("img", "res", "motion")
    )
    assert torch.allclose(aux, expected)
    with pytest.raises(ValueError, match="divisible by 128"):
        model([torch.rand(1, 3, 100, 128)])
    with pytest.raises(TypeError, match="list"):
        model(torch.rand(1, 3, 128, 128))


# -- coding ---------------------------------------------------------------------------------------


def test_round_trip_latents_exact(ssf: ScaleSpaceFlow, load_clip: LoadClip) -> None:
    frames = load_clip("davis_bmx-trees", 3, (256, 256), top=50, left=200)
    out = ssf.compress(frames)
    strings, shapes = out
    assert isinstance(out, CompressedVideo) and out.x_size == (256, 256)
    assert shapes[0] == (2, 2) and shapes[1] == {"motion": (2, 2), "residual": (2, 2)}
    assert len(strings[0]) == 2 and set(strings[1]) == {"motion", "residual"}
    decoded = ssf.decompress(strings, shapes)

    # Latents: what the encoder quantized is what the decoder reads, bit for bit.
    with torch.no_grad():
        x0 = frames[0].contiguous(memory_format=torch.channels_last)  # as compress() does
        y_hat, enc = ssf.img_hyperprior.compress(ssf.img_encoder(x0))
        assert enc["strings"] == strings[0]
        assert torch.equal(ssf.img_hyperprior.decompress(strings[0], shapes[0]), y_hat)
        x_ref = ssf.encode_keyframe(frames[0])[0].clamp(0, 1)
        assert torch.equal(decoded[0], x_ref)
        for i in (1, 2):
            x_rec, enc = ssf.encode_inter(frames[i], x_ref)
            assert enc["strings"] == strings[i] and enc["shape"] == shapes[i]
            _, y_motion_hat, y_res_hat, _, _ = ssf._inter(frames[i], x_ref, _compress)
            for key, latent in (("motion", y_motion_hat), ("residual", y_res_hat)):
                assert sum(len(s) for s in strings[i][key][0]) > 1000  # something was coded
                hyper = ssf.motion_hyperprior if key == "motion" else ssf.res_hyperprior
                assert torch.equal(hyper.decompress(strings[i][key], shapes[i][key]), latent)
            assert torch.equal(decoded[i], x_rec.clamp(0, 1))
            x_ref = x_rec.clamp(0, 1)

    # Frames: the eval-mode forward with clamped references.
    for a, b in zip(decoded, _clamped_forward_chain(ssf, frames)):
        assert a.shape == (1, 3, 256, 256)
        assert (a - b).abs().max() <= 1e-5
        assert 0 <= a.min() and a.max() <= 1


def test_padding_and_crop(ssf: ScaleSpaceFlow, load_clip: LoadClip) -> None:
    frames = load_clip("davis_dog", 2, (100, 150), top=100, left=300)
    out = ssf.compress(frames)
    assert out.x_size == (100, 150) and out.shapes[0] == (1, 2)
    padded = ssf.decompress(*out)
    assert [x.shape for x in padded] == [(1, 3, 128, 256)] * 2
    cropped = ssf.decompress(*out, x_size=out.x_size)
    assert [x.shape for x in cropped] == [(1, 3, 100, 150)] * 2
    # Centred padding: 14 rows on top, 53 columns on the left.
    assert torch.equal(cropped[1], padded[1][..., 14:114, 53:203])
    reference = _clamped_forward_chain(ssf, [F.pad(x, (53, 53, 14, 14)) for x in frames])
    assert (padded[1] - reference[1]).abs().max() <= 1e-5
    # CompressedVideo survives pickling (a codec may store it).
    again = pickle.loads(pickle.dumps(out))
    assert again == out and again.x_size == out.x_size
    with pytest.raises(ValueError, match="x_size"):
        ssf.decompress(*out, x_size=(300, 150))


def test_single_frame_and_batch(ssf: ScaleSpaceFlow) -> None:
    g = torch.Generator().manual_seed(5)
    x = F.avg_pool2d(torch.rand(2, 3, 128, 128, generator=g), 5, 1, 2)
    out = ssf.compress([x])
    assert len(out.strings) == 1 and [len(s) for s in out.strings[0]] == [2, 2]
    (decoded,) = ssf.decompress(*out, x_size=out.x_size)
    assert torch.allclose(decoded, _clamped_forward_chain(ssf, [x])[0], atol=1e-5)
    two = ssf.compress([x, x.flip(-1)])
    frames = ssf.decompress(*two)
    assert [f.shape for f in frames] == [(2, 3, 128, 128)] * 2


@pytest.mark.slow
def test_full_size_round_trip(ssf: ScaleSpaceFlow, load_clip: LoadClip) -> None:
    frames = load_clip("davis_kite-surf", 2)
    assert frames[0].shape == (1, 3, 360, 640)
    out = ssf.compress(frames)
    assert out.shapes[0] == (3, 5)  # padded to 384x640
    decoded = ssf.decompress(*out, x_size=out.x_size)
    assert [x.shape for x in decoded] == [(1, 3, 360, 640)] * 2
    reference = _clamped_forward_chain(ssf, [F.pad(x, (0, 0, 12, 12)) for x in frames])
    for a, b in zip(decoded, reference):
        assert (a - b[..., 12:372, :]).abs().max() <= 1e-5


# -- bad input ------------------------------------------------------------------------------------


def test_compress_rejects_bad_frames(ssf: ScaleSpaceFlow) -> None:
    x = torch.rand(1, 3, 64, 64)
    with pytest.raises(TypeError, match="list"):
        ssf.compress(x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list"):
        ssf.compress([])
    with pytest.raises(ValueError, match="same shape"):
        ssf.compress([x, torch.rand(1, 3, 64, 65)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ssf.compress([x * 2])
    with pytest.raises(ValueError, match="shape"):
        ssf.compress([torch.rand(1, 1, 64, 64)])


def test_decompress_rejects_malformed_streams(ssf: ScaleSpaceFlow) -> None:
    g = torch.Generator().manual_seed(2)
    frames = [torch.rand(1, 3, 128, 128, generator=g) for _ in range(2)]
    strings, shapes = ssf.compress(frames)
    bad: list[tuple[Any, Any, str]] = [
        ([], [], "non-empty"),
        (strings, shapes[:1], "shapes must be a list of 2"),
        ([strings[0], {"motion": strings[1]["motion"]}], shapes, "keys 'motion' and 'residual'"),
        ([strings[0], strings[1]], [shapes[0], (1, 1)], "keys 'motion' and 'residual'"),
        (
            [strings[0], {**strings[1], "residual": [strings[1]["residual"][0]]}],
            shapes,
            "frame 1 residual",
        ),
        (strings, [shapes[0], {"motion": (1, 1), "residual": (2, 2)}], "same size"),
        ([[strings[0][0] * 2, strings[0][1] * 2], strings[1]], shapes, "streams"),
    ]
    for s, sh, message in bad:
        with pytest.raises((ValueError, TypeError), match=message):
            ssf.decompress(s, sh)
    truncated = [
        strings[0],
        {**strings[1], "residual": [[strings[1]["residual"][0][0][:9]], strings[1]["residual"][1]]},
    ]
    with pytest.raises(tinify.BitstreamError):
        ssf.decompress(truncated, shapes)
