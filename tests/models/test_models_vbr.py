"""The variable-rate models (Kamisli et al., DCC 2024) against CompressAI 1.2.8.

Small seeded CompressAI models are loaded strictly into tinify; forward outputs, streams at
several rates and reconstructions must match. CompressAI's reference key table is a copy under
tests/data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import tinify
from tinify.entropy_models import EntropyBottleneckVbr
from tinify.exceptions import TinifyError
from tinify.models import (
    JointAutoregressiveHierarchicalPriorsVbr,
    MeanScaleHyperpriorVbr,
    ScaleHyperpriorVbr,
)
from tinify.models.image.vbr import FixedRate, quant_step_to_scale
from tinify.models.image.wavefront import FixedArithmetic
from tinify.zoo import create_model

DATA = Path(__file__).resolve().parents[1] / "data" / "compressai_vbr_reference.json"
CLASSES = {
    "bmshj2018-hyperprior-vbr": ScaleHyperpriorVbr,
    "mbt2018-mean-vbr": MeanScaleHyperpriorVbr,
    "mbt2018-vbr": JointAutoregressiveHierarchicalPriorsVbr,
}
#: (zoo name, vr_entbttlnck) pairs to cross-check.
VARIANTS = [
    ("bmshj2018-hyperprior-vbr", False),
    ("bmshj2018-hyperprior-vbr", True),
    ("mbt2018-mean-vbr", False),
    ("mbt2018-mean-vbr", True),
    pytest.param("mbt2018-vbr", False, marks=pytest.mark.slow),  # CompressAI's serial loops
]
#: (stage, s, inputscale) rate settings: Gain entries and quantization steps from eval_model's
#: default list.
RATES = [(1, 1, 0.0), (2, 7, 0.0), (2, 0, 1 / 10.0), (2, 0, 1 / 2.6833)]


def _image(h: int = 64, w: int = 128, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, h, w, generator=g)
    return torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _compressai_model(compressai: Any, name: str, vr: bool, seed: int = 0) -> Any:
    """A small seeded CompressAI model whose latents are large enough to code many symbols."""
    torch.manual_seed(seed)
    cls = getattr(compressai.models, CLASSES[name].__name__)
    net = cls(16, 24) if name == "mbt2018-vbr" else cls(16, 24, vr_entbttlnck=vr)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        net.g_a[6].weight.mul_(40.0)
        net.h_a[4].weight.mul_(4.0)
        for m in net.modules():
            if isinstance(getattr(m, "mask", None), torch.Tensor):
                m.weight.mul_(m.mask)
    net.update(force=True)
    return net.eval()


def _update_hyper_tables(net: Any, stage: int, scale: torch.Tensor) -> None:
    """What CompressAI's ``update(force=True, scale=...)`` does to the z tables (without its
    slow rebuild of the Gaussian tables)."""
    if stage == 1:
        net.entropy_bottleneck.update(force=True)
    else:
        step = net.lower_bound_zqstep(net.gayn2zqstep(1.0 / scale.view(1)))
        net.entropy_bottleneck.update_variable(force=True, qs=step)


def test_state_dicts_match_compressai() -> None:
    reference = json.loads(DATA.read_text())["state_dicts"]
    for name, cls in CLASSES.items():
        model = cls()
        model.update(force=True)
        shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
        expected = reference[name.replace("-", "_")]
        assert list(shapes) == list(expected), name  # same keys, same order
        assert shapes == expected, name
        assert type(create_model(name, 0)) is cls


@pytest.mark.parametrize(("name", "vr"), VARIANTS)
def test_compressai_model_reproduced(compressai: Any, name: str, vr: bool) -> None:
    reference = _compressai_model(compressai, name, vr)
    model = CLASSES[name].from_state_dict(reference.state_dict()).eval()
    assert model.vr_entbttlnck is vr
    if name == "mbt2018-vbr":
        model.context_order = "raster"  # CompressAI's symbol order
    x = _image(64, 64) if name == "mbt2018-vbr" else _image()
    lengths = set()
    with torch.no_grad():
        for stage, s, value in RATES:
            inputscale = torch.tensor(value)
            ref = reference(x, stage=stage, s=s, inputscale=inputscale)
            out = model(x, stage=stage, s=s, inputscale=inputscale)
            torch.testing.assert_close(out["x_hat"], ref["x_hat"], atol=1e-5, rtol=0)
            for key in ("y", "z"):
                torch.testing.assert_close(
                    out["likelihoods"][key], ref["likelihoods"][key], atol=1e-5, rtol=0
                )
            if vr:  # CompressAI codes z with the tables of its last update(...)
                scale = reference.Gain[s].abs() if value == 0 else inputscale
                _update_hyper_tables(reference, stage, scale)
            enc = reference.compress(x, stage=stage, s=s, inputscale=inputscale)
            ours = model.compress(x, stage=stage, s=s, inputscale=inputscale)
            assert ours["strings"] == enc["strings"], (stage, s, value)
            lengths.add(sum(len(b[0]) for b in enc["strings"]))
            dec = reference.decompress(enc["strings"], enc["shape"], stage, s, inputscale)
            got = model.decompress(enc["strings"], enc["shape"], stage, s, inputscale)
            torch.testing.assert_close(got["x_hat"], dec["x_hat"], atol=1e-5, rtol=0)
    assert len(lengths) >= 3 and max(lengths) > 200  # the rates differ, many symbols coded


def test_state_dict_loads_in_compressai(compressai: Any) -> None:
    torch.manual_seed(3)
    model = MeanScaleHyperpriorVbr(16, 24, vr_entbttlnck=True)
    state = model.state_dict()
    assert "entropy_bottleneck._matrix0" in state and "entropy_bottleneck.matrices.0" not in state
    net = compressai.models.MeanScaleHyperpriorVbr(16, 24, vr_entbttlnck=True)
    net.load_state_dict(state, strict=True)
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key]), key
    again = MeanScaleHyperpriorVbr.from_state_dict(state)
    assert again.vr_entbttlnck and isinstance(again.entropy_bottleneck, EntropyBottleneckVbr)


@pytest.mark.parametrize("order", ["wavefront", "raster"])
def test_autoregressive_round_trip(compressai: Any, order: str) -> None:
    reference = _compressai_model(compressai, "mbt2018-vbr", False, seed=2)
    model = JointAutoregressiveHierarchicalPriorsVbr.from_state_dict(reference.state_dict())
    model.eval().context_order = order
    x = _image(64, 64, seed=1)
    scale = quant_step_to_scale(3.7211)
    with torch.no_grad():
        out = model.compress(x, inputscale=scale)
        decoded = model.decompress(**out, inputscale=scale)["x_hat"]
        expected = reference.decompress(
            reference.compress(x, inputscale=scale)["strings"], out["shape"], inputscale=scale
        )["x_hat"]
    torch.testing.assert_close(decoded, expected, atol=1e-5, rtol=0)
    try:  # another rate does not decode these streams
        with torch.no_grad():
            wrong = model.decompress(**out, inputscale=quant_step_to_scale(1.0))["x_hat"]
    except TinifyError:
        pass
    else:
        assert not torch.allclose(wrong, decoded, atol=1e-3)


def test_hyper_tables_follow_the_rate() -> None:
    """compress/decompress code z with the tables of their own rate, without storing them in
    the model (its unit-step tables stay as update() built them)."""
    torch.manual_seed(1)
    model = ScaleHyperpriorVbr(16, 24, vr_entbttlnck=True).eval()
    model.update(force=True)
    buffers = {k: v.clone() for k, v in model.entropy_bottleneck.named_buffers()}
    x = _image(seed=3)
    with torch.no_grad():
        outs = {q: model.compress(x, inputscale=quant_step_to_scale(q)) for q in (8.0, 1.0)}
        for q, out in outs.items():
            got = model.decompress(**out, inputscale=quant_step_to_scale(q))["x_hat"]
            ref = model(x, inputscale=quant_step_to_scale(q))["x_hat"].clamp(0, 1)
            torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
    for name, buffer in model.entropy_bottleneck.named_buffers():
        assert torch.equal(buffer, buffers[name]), name


def test_quant_step_keyword() -> None:
    """``quant_step=q`` (the codec's keyword) is ``inputscale=float32(1 / q)``."""
    torch.manual_seed(2)
    model = MeanScaleHyperpriorVbr(16, 24, vr_entbttlnck=True).eval()
    model.update(force=True)
    x = _image(seed=4)
    with torch.no_grad():
        out = model.compress(x, quant_step=2.5)
        assert out["strings"] == model.compress(x, inputscale=quant_step_to_scale(2.5))["strings"]
        got = model.decompress(**out, quant_step=2.5)["x_hat"]
        assert torch.equal(got, model.decompress(**out, inputscale=torch.tensor(0.4))["x_hat"])
        assert torch.equal(
            model(x, quant_step=2.5)["x_hat"],
            model(x, inputscale=quant_step_to_scale(2.5))["x_hat"],
        )
        with pytest.raises(TinifyError, match="not both"):
            model.compress(x, inputscale=0.5, quant_step=2.0)
        with pytest.raises(TinifyError, match="positive"):
            model.compress(x, quant_step=0.0)


def test_training_forward_has_gradients() -> None:
    torch.manual_seed(0)
    for model in (
        MeanScaleHyperpriorVbr(16, 24, vr_entbttlnck=True),
        JointAutoregressiveHierarchicalPriorsVbr(16, 24),
    ):
        with torch.no_grad():
            model.g_a[6].weight.mul_(40.0)  # large enough latents for nonzero symbols
        model.train()
        out = model(_image(64, 64), stage=2, s=7)
        bits = sum(-torch.log2(v).sum() for v in out["likelihoods"].values())
        (bits + 1e3 * out["x_hat"].square().mean()).backward()
        for name in ("QuantABCD.0.weight", "g_a.0.weight", "h_a.0.weight", "h_s.4.bias"):
            grad = dict(model.named_parameters())[name].grad
            assert grad is not None and float(grad.abs().sum()) > 0, name
        if isinstance(model, JointAutoregressiveHierarchicalPriorsVbr):
            assert float(model.scale_to_context.weight.grad.abs().sum()) > 0
            assert float(model.context_prediction.weight.grad.abs().sum()) > 0


def test_bad_rate_arguments() -> None:
    model = MeanScaleHyperpriorVbr(16, 24).eval()
    model.update()
    x = _image(64, 64)
    with torch.no_grad():
        with pytest.raises(TinifyError, match="stage"):
            model.compress(x, stage=3)
        with pytest.raises(TinifyError, match="s must be"):
            model.compress(x, s=8)
        with pytest.raises(TinifyError, match="inputscale"):
            model.compress(x, inputscale=-0.5)
        with pytest.raises(TinifyError, match="stage"):
            model(x, stage=0)
        # The fixed path takes scales in 2^-16 .. 2^15 (the integer scale is 16-bit fixed).
        with pytest.raises(TinifyError, match="fixed-point"):
            model.compress(x, inputscale=2.0**15, entropy_path="fixed")
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(TinifyError, match="quantization step"):
            quant_step_to_scale(bad)
    assert float(quant_step_to_scale(4.0)) == 0.25


# -- the fixed-point entropy path (coding mode 1) ----------------------------------------------

#: (zoo name, vr_entbttlnck): every VBR architecture on the fixed path.
FIXED_VARIANTS = [
    ("bmshj2018-hyperprior-vbr", True),
    ("mbt2018-mean-vbr", True),
    ("mbt2018-vbr", False),
]


def _tiny_vbr(name: str, vr: bool, seed: int = 0) -> Any:
    """A small seeded tinify VBR model whose latents code many symbols."""
    torch.manual_seed(seed)
    cls = CLASSES[name]
    net = cls(16, 24) if name == "mbt2018-vbr" else cls(16, 24, vr_entbttlnck=vr)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        net.g_a[6].weight.mul_(40.0)
        net.h_a[4].weight.mul_(4.0)
    net.update(force=True)
    return net.eval()


def _fixed_latent(net: Any, out: dict[str, Any], step: float) -> torch.Tensor:
    """The decoder's ``y_hat`` (the input of ``g_s``) on the fixed path, float32 on the CPU."""
    seen: list[torch.Tensor] = []
    handle = net.g_s.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
    try:
        with torch.no_grad():
            net.decompress(out["strings"], out["shape"], quant_step=step, entropy_path="fixed")
    finally:
        handle.remove()
    return seen[0].to("cpu", torch.float32).contiguous()


@pytest.mark.parametrize(("name", "vr"), FIXED_VARIANTS)
def test_fixed_path_decodes_identical_latents(name: str, vr: bool) -> None:
    """Coding mode 1: the latents decode bit-identically whatever the float parts do (threads,
    float64, noise in the synthesis, poisoned float entropy networks), near ``y``, and the rate
    follows the step."""
    x = _image(64, 64, seed=3)
    net = _tiny_vbr(name, vr)
    sizes = {}
    for step in (6.0, 1.7):
        with torch.no_grad():
            out = net.compress(x, quant_step=step, entropy_path="fixed")
            y = net.g_a(x)
        sizes[step] = sum(len(s) for group in out["strings"] for s in group)
        reference = _fixed_latent(net, out, step)
        # round((y - m) / step) * step + m, moved by the learned offsets: within a step of y.
        assert float((reference - y).abs().max()) <= step
        assert float((reference - y).abs().mean()) <= step / 2

        saved_torch, saved_rust = torch.get_num_threads(), tinify.get_num_threads()
        try:
            for threads in (1, 2):
                torch.set_num_threads(threads)
                tinify.set_num_threads(threads)
                assert torch.equal(_fixed_latent(net, out, step), reference)
        finally:
            torch.set_num_threads(saved_torch)
            tinify.set_num_threads(saved_rust)

        assert torch.equal(_fixed_latent(_tiny_vbr(name, vr).double(), out, step), reference)

        poisoned = _tiny_vbr(name, vr)
        for key in poisoned._fixed_network_modules():
            poisoned.fixed_network(key)  # built from the clean weights
        with torch.no_grad():
            for module in (poisoned.h_s, poisoned.QuantABCD):
                for p in module.parameters():
                    p.fill_(float("nan"))
            if name == "mbt2018-vbr":
                for module in (poisoned.entropy_parameters, poisoned.scale_to_context):
                    for p in module.parameters():
                        p.fill_(float("nan"))
            for p in poisoned.g_s.parameters():
                p.add_(torch.randn_like(p) * 1e-3)
        assert torch.equal(_fixed_latent(poisoned, out, step), reference)
    assert sizes[6.0] < sizes[1.7]


@pytest.mark.parametrize(
    ("method", "seed", "count"),
    [("hyper_sums", 3, None), ("context_sums", 4, 2 * 5)],
    ids=["hyper", "context"],
)
def test_fixed_split_keeps_every_bit(
    monkeypatch: pytest.MonkeyPatch, method: str, seed: int, count: int | None
) -> None:
    """mbt2018-vbr's fixed fronts (``coder.front_params`` and ``write_front`` in order, with the
    context shift): the hyper part of the first entropy-parameter layer, or the early context
    taps' products, computed ahead for blocks of fronts give the unsplit streams and latents.
    ``count``: the blocks of one compress (a 4x8 latent: 3 * 3 + 8 = 17 fronts, blocks of 4
    early-tap fronts, coded and decoded)."""
    x = _image(64, 128, seed=seed)
    net = _tiny_vbr("mbt2018-vbr", False)
    split = getattr(FixedArithmetic, method)
    blocks: list[bool] = []

    def counted(self: FixedArithmetic, rows: torch.Tensor) -> torch.Tensor | None:
        sums = split(self, rows)
        blocks.append(sums is not None)
        return sums

    for step in (6.0, 1.7):
        blocks.clear()
        monkeypatch.setattr(FixedArithmetic, method, counted)
        with torch.no_grad():
            out = net.compress(x, quant_step=step, entropy_path="fixed")
        latent = _fixed_latent(net, out, step)
        assert blocks and all(blocks)
        if count is not None:
            assert len(blocks) == count
        monkeypatch.setattr(FixedArithmetic, method, lambda self, rows: None)
        with torch.no_grad():
            unsplit = net.compress(x, quant_step=step, entropy_path="fixed")
        assert out["strings"] == unsplit["strings"]
        assert torch.equal(_fixed_latent(net, unsplit, step), latent)


def test_fixed_rate_integers() -> None:
    """The integer rate of the fixed path: exact 16-bit scale, floor-scaled sigmas, the
    reconstruction ``(|q| * 2^F + delta) * 2^16 / scale_int + m`` rounded, 0 offsets at q = 0."""
    from tinify.models.fixed import FRAC_BITS
    from tinify.models.image.vbr import SCALE_BITS, FixedRate

    rate = FixedRate(torch.tensor(0.25), 0.11, None)
    assert rate.scale_int == 2**SCALE_BITS // 4 and rate.feature == 2**FRAC_BITS // 4
    assert rate.bound == 451  # rint(float32(0.11) * 4096)
    sigma = torch.tensor([4096, 4097, -4097, 2**31 - 1], dtype=torch.int32)
    assert rate.sigma(sigma).tolist() == [1024, 1024, -1025, (2**31 - 1) // 4]
    q = torch.tensor([0, 1, -2, 3], dtype=torch.int32)
    m = torch.tensor([5, 5, 5, -7], dtype=torch.int32)
    # q / 0.25 = 4q, in F bits, plus m.
    assert rate.values(q, sigma, m).tolist() == [5, 4 * 4096 + 5, -8 * 4096 + 5, 12 * 4096 - 7]
    with pytest.raises(TinifyError, match="range"):
        FixedRate(torch.tensor(2.0**-17), 0.11, None)


def test_fixed_reconstruction_does_not_depend_on_the_symbols_layout() -> None:
    """FixedRate.values adds the learned offsets in place: a transposed (non-contiguous) block
    of symbols must give the values of its contiguous copy (the offsets were once lost on a
    copy)."""
    net = _tiny_vbr("mbt2018-vbr", False)
    rate = net._fixed_rate(torch.tensor(1 / 1.7))
    g = torch.Generator().manual_seed(1)
    q = torch.randint(-3, 4, (24, 5), generator=g, dtype=torch.int32).t()  # (5, 24), transposed
    sigma = torch.randint(500, 9000, (5, 24), generator=g, dtype=torch.int32)
    m_int = torch.randint(-4000, 4000, (5, 24), generator=g, dtype=torch.int32)
    assert not q.is_contiguous() and bool((q != 0).any())
    values = rate.values(q, sigma, m_int)
    assert torch.equal(values, rate.values(q.contiguous(), sigma, m_int))
    # the offsets moved the nonzero symbols' values off the plain q / scale
    plain = FixedRate(rate.scale, 0.11, None).values(q.contiguous(), sigma, m_int)
    assert not torch.equal(values, plain)


def test_fixed_reconstruction_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reconstruction runs on blocks of OFFSET_ROWS elements (bounded memory on large
    latents): blocks of 7 give the same values as one block."""
    import tinify.models.image.vbr as vbr

    net = _tiny_vbr("mbt2018-vbr", False)
    rate = net._fixed_rate(torch.tensor(1 / 1.7))
    g = torch.Generator().manual_seed(2)
    q = torch.randint(-3, 4, (4, 30), generator=g, dtype=torch.int32)
    sigma = torch.randint(500, 9000, (4, 30), generator=g, dtype=torch.int32)
    m_int = torch.randint(-4000, 4000, (4, 30), generator=g, dtype=torch.int32)
    whole = rate.values(q, sigma, m_int)
    monkeypatch.setattr(vbr, "OFFSET_ROWS", 7)
    assert int((q != 0).sum()) > 3 * 7
    assert torch.equal(rate.values(q, sigma, m_int), whole)
