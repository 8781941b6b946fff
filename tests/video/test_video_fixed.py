"""ssf2020 on the fixed-point entropy path (coding mode 1): every frame's latents decode
bit-exactly whatever happens to the float parts (thread count, float64, noisy transforms)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from tinify.models.video import ScaleSpaceFlow

LoadClip = Callable[..., list[Tensor]]


def decoded_latents(model: ScaleSpaceFlow, out: Any, path: str) -> list[Tensor]:
    """The latents ``decompress`` feeds its float decoders, in order: the I-frame's ``y``, then
    per P-frame ``y_motion`` and ``[y_res, y_motion]`` (float32 copies)."""
    seen: list[Tensor] = []

    def grab(module: nn.Module, args: tuple[Tensor, ...]) -> None:
        seen.append(args[0].detach().to(torch.float32).contiguous().clone())

    decoders = (model.img_decoder, model.motion_decoder, model.res_decoder)
    hooks = [m.register_forward_pre_hook(grab) for m in decoders]
    try:
        model.decompress(*out, entropy_path=path)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def copy_of(ssf: ScaleSpaceFlow, cls: type[ScaleSpaceFlow] = ScaleSpaceFlow) -> ScaleSpaceFlow:
    model = cls()
    model.load_state_dict(ssf.state_dict())
    return model.eval()


class NoisyFlow(ScaleSpaceFlow):
    """Warping with a little noise added (as another machine's rounding would)."""

    def warp_volume(
        self, volume: Tensor, flow: Tensor, scale_field: Tensor, padding_mode: str = "border"
    ) -> Tensor:
        out = super().warp_volume(volume, flow, scale_field, padding_mode)
        return out + 1e-3 * torch.randn_like(out)


def add_noise(model: ScaleSpaceFlow, modules: list[nn.Module], level: float) -> None:
    def noisy(module: nn.Module, args: Any, out: Tensor) -> Tensor:
        return out + level * torch.randn_like(out)

    for module in modules:
        module.register_forward_hook(noisy)


@pytest.fixture(scope="module")
def clip(load_clip: LoadClip) -> list[Tensor]:
    return load_clip("davis_bmx-trees", 3, (128, 128), top=100, left=300)


@pytest.fixture(scope="module")
def coded(ssf: ScaleSpaceFlow, clip: list[Tensor]) -> Any:
    return ssf.compress(clip, entropy_path="fixed")


def test_fixed_round_trip(ssf: ScaleSpaceFlow, clip: list[Tensor], coded: Any) -> None:
    """The decoder reads the encoder's latents; frames match the float path's quality."""
    seen: list[Tensor] = []
    decoders = (ssf.img_decoder, ssf.motion_decoder, ssf.res_decoder)
    hooks = [m.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone())) for m in decoders]
    try:
        ssf.compress(clip, entropy_path="fixed")
    finally:
        for hook in hooks:
            hook.remove()
    latents = decoded_latents(ssf, coded, "fixed")
    # compress() does not reconstruct the last frame: its residual decoder never runs.
    assert len(latents) == 5 and len(seen) == 4
    assert all(torch.equal(a, b) for a, b in zip(latents, seen))
    assert all(x.abs().max() > 1 for x in latents)  # something was coded
    float_out = ssf.compress(clip, entropy_path="float")
    assert float_out.strings != coded.strings
    decoded = ssf.decompress(*coded, x_size=coded.x_size, entropy_path="fixed")
    reference = ssf.decompress(*float_out, x_size=float_out.x_size, entropy_path="float")
    for a, b in zip(decoded, reference):
        assert a.shape == (1, 3, 128, 128)
        # Same model, same frames: the two paths differ only by the rounding of the means.
        assert (a - b).abs().mean() < 0.02


def test_fixed_latents_survive_float_perturbations(
    ssf: ScaleSpaceFlow, clip: list[Tensor], coded: Any
) -> None:
    torch.manual_seed(1)
    reference = decoded_latents(ssf, coded, "fixed")

    double = copy_of(ssf).double()
    assert all(
        torch.equal(a, b) for a, b in zip(decoded_latents(double, coded, "fixed"), reference)
    )

    noisy = copy_of(ssf, NoisyFlow)
    hyper_decoders: list[nn.Module] = []
    for hyper in (noisy.img_hyperprior, noisy.motion_hyperprior, noisy.res_hyperprior):
        hyper_decoders += [hyper.hyper_decoder_scale, hyper.hyper_decoder_mean]
    add_noise(noisy, hyper_decoders, 1e-3)
    add_noise(noisy, [noisy.img_decoder, noisy.motion_decoder, noisy.res_decoder], 1e-3)
    got = decoded_latents(noisy, coded, "fixed")
    assert all(torch.equal(a, b) for a, b in zip(got, reference))
    frames = noisy.decompress(*coded, entropy_path="fixed")
    clean = ssf.decompress(*coded, entropy_path="fixed")
    assert all(0 < (a - b).abs().max() < 0.05 for a, b in zip(frames, clean))

    # The same noise in the float path's hyper-decoders changes the decoded latents: the
    # failure mode 1 removes.
    float_out = ssf.compress(clip, entropy_path="float")
    exact = decoded_latents(ssf, float_out, "float")
    perturbed = decoded_latents(noisy, float_out, "float")
    assert not all(torch.equal(a, b) for a, b in zip(perturbed, exact))


_DECODE_IN_CHILD = """
import pickle, sys, torch
from tinify.models.video import ScaleSpaceFlow
torch.set_num_threads(int(sys.argv[1]))
with open(sys.argv[2] + ".pkl", "rb") as f:
    out = pickle.load(f)
model = ScaleSpaceFlow()
model.load_state_dict(torch.load(sys.argv[2], weights_only=True))
seen = []
for m in (model.img_decoder, model.motion_decoder, model.res_decoder):
    m.register_forward_pre_hook(lambda m, a: seen.append(a[0].contiguous().clone()))
with torch.no_grad():
    model.eval().decompress(*out, entropy_path="fixed")
torch.save(seen, sys.argv[3])
"""


@pytest.mark.slow
def test_fixed_latents_same_with_any_thread_count(
    ssf: ScaleSpaceFlow, coded: Any, tmp_path: Path
) -> None:
    """Decoded in fresh processes with 1 and 3 threads: the same latents, bit for bit."""
    reference = decoded_latents(ssf, coded, "fixed")
    src = tmp_path / "in.pt"
    torch.save(ssf.state_dict(), src)
    src.with_name("in.pt.pkl").write_bytes(pickle.dumps((coded.strings, coded.shapes)))
    for threads in (1, 3):
        dst = tmp_path / f"out{threads}.pt"
        command = [sys.executable, "-c", _DECODE_IN_CHILD, str(threads), str(src), str(dst)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        got = torch.load(dst, weights_only=True)
        assert len(got) == len(reference)
        assert all(torch.equal(a, b) for a, b in zip(got, reference))


def test_fixed_networks_follow_the_weights(ssf: ScaleSpaceFlow, clip: list[Tensor]) -> None:
    """Loading other weights re-derives the integer networks (no stale copies)."""
    model = copy_of(ssf)
    first = model.compress(clip[:1], entropy_path="fixed")
    other = ScaleSpaceFlow()
    other.load_state_dict(ssf.state_dict())
    with torch.no_grad():
        other.img_hyperprior.hyper_decoder_mean[0].weight.mul_(1.5)
        other.img_hyperprior.hyper_decoder_scale.deconv1.weight.mul_(1.5)
    model.load_state_dict(other.state_dict())
    second = model.compress(clip[:1], entropy_path="fixed")
    assert second.strings != first.strings
    assert second.strings == other.eval().compress(clip[:1], entropy_path="fixed").strings


def test_integer_hyper_decoders_match_the_float_ones(ssf: ScaleSpaceFlow) -> None:
    """The integer mean and scale decoders compute the float ones (QReLU clamp included) to
    within the fixed-point rounding, and pick the same table rows almost everywhere."""
    from tinify.models.base import CodingOptions
    from tinify.models.fixed import from_fixed, to_fixed

    hyper = copy_of(ssf).motion_hyperprior
    with torch.no_grad():  # some channels above QReLU's 255, some below 0
        hyper.hyper_decoder_scale.deconv3.bias[:4] = 300
        hyper.hyper_decoder_scale.deconv3.bias[4:8] = -300
    g = torch.Generator().manual_seed(3)
    z_hat = torch.randint(-6, 7, (2, 192, 2, 3), generator=g).float() * 4 + 0.25
    with torch.no_grad():
        scales, means = hyper._params(z_hat)
        nets = {k: hyper.fixed_network(f"scale.{k}") for k in ("deconv1", "deconv2", "deconv3")}
        scales_fixed = from_fixed(hyper.hyper_decoder_scale.forward_fixed(to_fixed(z_hat), nets))
        indexes, means_fixed = hyper._coding_params(z_hat, CodingOptions("fixed"))
    assert scales_fixed.shape == scales.shape == (2, 192, 16, 24)
    assert float(scales.max()) == 255 and float(scales_fixed.max()) == 255  # the clamp
    assert float(scales_fixed.min()) == 0
    assert (scales_fixed - scales).abs().max() < 0.05
    assert (means_fixed - means).abs().max() < 0.05
    float_rows = hyper.gaussian_conditional.build_indexes(scales)
    assert (indexes == float_rows).float().mean() > 0.99
