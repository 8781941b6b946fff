"""Tiled analysis and synthesis (tinify.models.tiling): receptive fields, equality with the
whole-image computation for every architecture, decoder tile-size independence, the fixed
path's bit-exact latents across tile sizes and thread counts, and bounded memory."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from tinify.exceptions import ParameterError
from tinify.latent_codecs import LatentCodec
from tinify.latent_codecs.base import CodecArithmetic
from tinify.layers.inference import inference_copy, winograd_available, winograd_plan
from tinify.models import Cheng2020Attention, CompressionModel, tiling
from tinify.models.base import last_latent_size
from tinify.models.fixed import FRAC_BITS
from tinify.models.tiling import (
    ReceptiveField,
    analyze,
    receptive_field,
    register_layer,
    synthesize,
    tile_grid,
)
from tinify.models.utils import deconv
from tinify.utils.progress import listen
from tinify.zoo import list_models

from .conftest import build_small, image

ARCHS = [
    *list_models(kind="image"),
    "cheng2020-anchor-checkerboard",
    "elic2022-official",
    "elic2022-chandelier",
]
ROOT = Path(__file__).resolve().parents[2]


def _model(name: str, seed: int = 0) -> CompressionModel:
    extra: dict[str, Any] = {"groups": [8, 16]} if name.startswith("elic") else {}
    return build_small(name, seed=seed, **extra)


def _paths(name: str) -> tuple[str, ...]:
    return ("float",) if name.endswith("-vbr") else ("float", "fixed")


def _latent_and_image(
    model: CompressionModel, out: dict[str, Any], **options: Any
) -> tuple[Tensor, Tensor]:
    """The decoded latent (the input of the synthesis) and the decoded image."""
    seen: list[Tensor] = []
    synthesize_ = model._synthesize

    def spy(y_hat: Tensor, opts: Any = None) -> Tensor:
        seen.append(y_hat.clone())
        return synthesize_(y_hat, opts)

    model._synthesize = spy  # type: ignore[method-assign]
    try:
        with torch.no_grad():
            x_hat = model.decompress(**out, **options)["x_hat"]
    finally:
        del model._synthesize
    return seen[0], x_hat


# -- receptive fields -----------------------------------------------------------------------------


def test_receptive_fields_hand_checked() -> None:
    """Four 5x5 stride-2 convolutions (padding 2) reach 2 * (1 + 2 + 4 + 8) = 30 pixels each
    way; the transposed ones 1 + 1/2 + 1/4 + 1/8 = 15/8 latents. Cheng et al.'s g_a: three
    (stride block, residual block) pairs and a 3x3 stride-2 convolution reach
    3 + 4 + 6 + 8 + 12 + 16 + 8 = 57 pixels."""
    bmshj = _model("bmshj2018-hyperprior")
    assert receptive_field(bmshj.g_a) == ReceptiveField(Fraction(16), Fraction(30), Fraction(30))
    assert receptive_field(bmshj.g_s) == ReceptiveField(
        Fraction(1, 16), Fraction(15, 8), Fraction(15, 8)
    )
    cheng = _model("cheng2020-anchor")
    assert receptive_field(cheng.g_a) == ReceptiveField(Fraction(16), Fraction(57), Fraction(57))
    assert receptive_field(cheng.g_a) is receptive_field(cheng.g_a)  # cached


def _support(grad: Tensor) -> tuple[int, int]:
    rows = grad.abs().sum(dim=(0, 1, 3)).nonzero()
    return int(rows.min()), int(rows.max())


@pytest.mark.parametrize("name", ARCHS)
def test_receptive_field_covers_the_gradient_support(name: str) -> None:
    """Every input an output position depends on (non-zero gradient) lies in the derived field."""
    model = _model(name).double()
    for transform, size, position in (("g_a", 192, 6), ("g_s", 12, 96)):
        module = getattr(model, transform)
        field = receptive_field(module)
        x = torch.rand(1, module_in_channels(module), size, size, dtype=torch.float64)
        x.requires_grad_(True)
        module(x)[..., position, position].sum().backward()
        assert x.grad is not None
        low, high = _support(x.grad)
        centre = position * field.factor
        assert centre - field.lo <= low and high <= centre + field.hi, (transform, low, high)


def module_in_channels(module: nn.Module) -> int:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            return int(m.in_channels)
    raise AssertionError("no convolution")


def test_unknown_layers_are_refused_not_guessed() -> None:
    class Shifted(nn.Conv2d):
        def forward(self, x: Tensor) -> Tensor:
            return super().forward(torch.roll(x, 1, dims=-1))

    x = torch.rand(1, 3, 64, 64)
    for net in (
        nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Upsample(scale_factor=2)),
        nn.Sequential(Shifted(3, 4, 3, padding=1)),
    ):
        with pytest.raises(ParameterError, match="register_layer"):
            analyze(net, x, 32)
        assert torch.equal(analyze(net, x, None), net(x))  # automatic: whole image, no error
        assert torch.equal(analyze(net, x, 0), net(x))

    class Doubler(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            return 2 * x

    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), Doubler())
    register_layer(Doubler)  # pointwise
    assert torch.allclose(analyze(net, x, 32), net(x), atol=1e-6)


def test_tile_grid_is_even_and_aligned() -> None:
    assert tile_grid(96, 32, 16) == [(0, 32), (32, 64), (64, 96)]
    assert tile_grid(3024, 1024, 16) == [(0, 1008), (1008, 2016), (2016, 3024)]
    assert tile_grid(64, 1000, 16) == [(0, 64)]
    for start, stop in tile_grid(208, 48, 16):
        assert start % 16 == 0 and 0 < stop - start <= 48


def test_bad_tile_sizes() -> None:
    model = _model("bmshj2018-factorized")
    x = image(1, 3, 128, 128)
    for bad in (-1, 1.5, "64"):
        with pytest.raises(ParameterError, match="tile_size"):
            model.compress(x, tile_size=bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="multiple of the stride 16"):
        model.compress(x, tile_size=40)


# -- equality with the whole image ----------------------------------------------------------------


@pytest.mark.parametrize("name", ARCHS)
def test_tiled_coding_equals_whole_image(name: str) -> None:
    """Latents equal the whole-image ones up to float rounding and code to the same streams;
    any decoder tile size decodes the same latent exactly and the same image up to rounding."""
    _check_tiled_coding(_model(name), name)


@pytest.mark.parametrize("name", ["bmshj2018-hyperprior", "mbt2018"])
def test_tiled_winograd_copies_equal_whole_image(name: str) -> None:
    """The same on one thread, where the stride-2 transforms' copies are Winograd ones (with
    more threads, as in CI, they are channels-last: see winograd_plan)."""
    if not winograd_available():
        pytest.skip("NNPACK is not available here")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = _model(name)
        assert winograd_plan(model.g_a) and winograd_plan(model.g_s)
        _check_tiled_coding(model, name)
    finally:
        torch.set_num_threads(threads)


def _check_tiled_coding(model: CompressionModel, name: str) -> None:
    x = image(1, 3, 128, 192, seed=1)
    for path in _paths(name):
        whole = model.compress(x, entropy_path=path, tile_size=0)
        options = model.coding_options(path, None, 0)
        with torch.no_grad():
            y_whole = model._analyze(x, options)
        for tile in (48, 1024):  # 48: several uneven tiles; 1024: one tile
            options = model.coding_options(path, None, tile)
            with torch.no_grad():
                y = model._analyze(x, options)
            torch.testing.assert_close(y, y_whole, rtol=0, atol=1e-5)
            tiled = model.compress(x, entropy_path=path, tile_size=tile)
            assert tiled["strings"] == whole["strings"], (path, tile)
        latent, x_hat = _latent_and_image(model, whole, entropy_path=path, tile_size=0)
        for tile in (32, 80):
            latent_t, x_hat_t = _latent_and_image(model, whole, entropy_path=path, tile_size=tile)
            assert torch.equal(latent_t, latent)
            torch.testing.assert_close(x_hat_t, x_hat, rtol=0, atol=1e-5)


def _thin_cheng_g_s() -> nn.Sequential:
    """cheng2020-attn's synthesis transform with 4 channels, float64 (rounding ~1e-15)."""
    torch.manual_seed(0)
    return Cheng2020Attention._transforms(4, 4)[1].eval().double()


@pytest.mark.parametrize("copy", [False, True], ids=["module", "inference-copy"])
def test_synthesis_tiles_shrink_their_halo_child_by_child(
    copy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tile of a sequential synthesis runs child by child, each output cropped to what the
    remaining children read: on interior tiles (the latent is wider than the halo) the last
    layer sees the core and its own reach only, and the result equals the whole-image one and
    the uncropped tiles' one."""
    g_s = _thin_cheng_g_s()
    apply = inference_copy(g_s) if copy else None
    last = apply.net[-1] if apply is not None else g_s[-1]  # type: ignore[union-attr]
    reach = receptive_field(g_s[-1])
    halo = receptive_field(g_s)
    assert math.ceil(halo.lo) + 4 + math.ceil(halo.hi) < 34  # interior tiles exist
    y = torch.randn(2, 4, 36, 34, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    sizes: list[tuple[int, int]] = []
    hook = last.register_forward_pre_hook(lambda m, a: sizes.append(tuple(a[0].shape[-2:])))
    try:
        with torch.no_grad():
            whole = g_s(y)
            sizes.clear()
            staged = synthesize(g_s, y, 4 * 16, channels_last=True, apply=apply)
            staged_sizes = list(sizes)
            monkeypatch.setattr(tiling, "_synthesis_stages", lambda *args: None)
            sizes.clear()
            full = synthesize(g_s, y, 4 * 16, channels_last=True, apply=apply)
    finally:
        hook.remove()
    torch.testing.assert_close(staged, whole, rtol=0, atol=1e-10)
    torch.testing.assert_close(staged, full, rtol=0, atol=1e-10)
    assert len(staged_sizes) == len(sizes) == 81  # 9 x 9 tiles
    scale = int(1 / reach.factor)  # the last child's input: half the output's resolution
    most = 4 * 16 // scale + math.ceil(reach.lo) + math.ceil(reach.hi)
    assert max(max(hw) for hw in staged_sizes) <= most < max(max(hw) for hw in sizes)


@pytest.mark.parametrize("copy", [False, True], ids=["module", "inference-copy"])
def test_analysis_streams_rows_once_per_child(copy: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sequential analysis transform streams column strips by bands of rows: each child
    computes its rows once plus its own reach per band (not the whole transform's halo again),
    over several strips and bands, and the latent equals the whole-image one and the
    overlapping tiles' one."""
    torch.manual_seed(0)
    g_a = Cheng2020Attention._transforms(4, 4)[0].eval().double()
    apply = inference_copy(g_a) if copy else None
    first = apply.net[0] if apply is not None else g_a[0]  # type: ignore[union-attr]
    x = torch.rand(1, 3, 320, 704, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    rows: list[int] = []
    hook = first.register_forward_pre_hook(lambda m, a: rows.append(int(a[0].shape[-2])))
    try:
        with torch.no_grad():
            whole = g_a(x)
            rows.clear()
            streamed = analyze(g_a, x, 64, apply=apply)
            streamed_rows = list(rows)
            monkeypatch.setattr(tiling, "_row_stream", lambda *args: None)
            rows.clear()
            tiled = analyze(g_a, x, 64, apply=apply)
    finally:
        hook.remove()
    torch.testing.assert_close(streamed, whole, rtol=0, atol=1e-10)
    torch.testing.assert_close(streamed, tiled, rtol=0, atol=1e-10)
    strips, bands = 3, 320 // 16  # 704 columns in strips of 4 x 64; bands of 64 / 4 rows
    assert strips < len(streamed_rows) <= strips * bands
    reach = receptive_field(g_a[0])  # the first child re-reads its own reach only
    per_strip = 320 + (bands - 1) * (math.ceil(reach.lo) + math.ceil(reach.hi) + 2)
    assert sum(streamed_rows) <= strips * per_strip < sum(rows)


def test_analysis_streams_keep_the_tiling_checks_and_grad() -> None:
    """A streamed analysis still refuses a child that does not scale exactly and follows the
    caller's grad mode."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 64)
    odd = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 0), nn.ReLU(), nn.Conv2d(4, 2, 5, 2, 2))
    with pytest.raises(ParameterError, match="cannot tile"):
        analyze(odd, x, 16)
    g_a = nn.Sequential(nn.Conv2d(3, 4, 5, 2, 2), nn.ReLU(), nn.Conv2d(4, 2, 5, 2, 2))
    out = analyze(g_a, x.clone().requires_grad_(), 16)
    assert out.requires_grad
    out.sum().backward()
    with torch.no_grad():
        torch.testing.assert_close(analyze(g_a, x, 16), g_a(x), rtol=0, atol=1e-6)


def test_synthesis_stages_keep_the_tiling_checks_grad_and_forward() -> None:
    """Staged tiles still refuse a transform whose layers do not scale exactly, follow the
    caller's grad mode, and leave a Sequential subclass with its own forward (or hooks) to that
    forward."""
    torch.manual_seed(0)
    y = torch.randn(1, 3, 12, 12)
    odd = nn.Sequential(nn.ConvTranspose2d(3, 3, 4, 2, 0), nn.ReLU(), deconv(3, 2))
    with pytest.raises(ParameterError, match="cannot tile"):
        synthesize(odd, y, 16)

    g_s = nn.Sequential(deconv(3, 4), nn.ReLU(), deconv(4, 2))
    out = synthesize(g_s, y.clone().requires_grad_(), 8)
    assert out.requires_grad
    out.sum().backward()

    class Doubled(nn.Sequential):
        def forward(self, x: Tensor) -> Tensor:
            return super().forward(x) * 2

    register_layer(Doubled, lambda m: receptive_field(nn.Sequential(*m.children())))
    doubled = Doubled(deconv(3, 4), nn.ReLU(), deconv(4, 2))
    with torch.no_grad():
        torch.testing.assert_close(synthesize(doubled, y, 8), doubled(y), rtol=0, atol=1e-5)
        calls: list[int] = []
        hook = g_s.register_forward_hook(lambda m, a, o: calls.append(1))
        synthesize(g_s, y, 8)
        hook.remove()
    assert len(calls) == 36  # once per tile (6 x 6): the module's own forward ran


def test_progress_is_reported_per_tile() -> None:
    model = _model("bmshj2018-hyperprior")
    x = image(1, 3, 128, 192)
    seen: list[tuple[str, int, int]] = []
    with listen(lambda stage, done, total: seen.append((stage, done, total))):
        out = model.compress(x, tile_size=64)
        model.decompress(**out, tile_size=128)
    # a sequential analysis streams: strips 4 tiles wide (one here), bands 64 / 4 = 16 rows
    assert [s for s in seen if s[0] == "analysis tiles"] == [
        ("analysis tiles", i, 8) for i in range(1, 9)
    ]
    assert [s for s in seen if s[0] == "synthesis tiles"] == [
        ("synthesis tiles", i, 2) for i in range(1, 3)
    ]


def test_automatic_tiling_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    import tinify.models.tiling as tiling

    model = _model("bmshj2018-factorized")
    x = image(1, 3, 128, 128)
    monkeypatch.setattr(tiling, "AUTO_TILE_PIXELS", 128 * 128 - 1)
    monkeypatch.setattr(tiling, "AUTO_TILE_SIZE", 64)
    seen: list[str] = []
    with listen(lambda stage, done, total: seen.append(stage)):
        out = model.compress(x)
    assert seen.count("analysis tiles") == 8  # one strip, bands of 64 / 4 = 16 rows
    assert out["strings"] == model.compress(x, tile_size=0)["strings"]
    assert synthesize(model.g_s, torch.zeros(1, 24, 2, 2), None).shape == (1, 3, 32, 32)


def test_automatic_tiles_shrink_with_the_halo() -> None:
    """Automatic tiles are 1024 pixels where the halo is small and smaller where it is wide
    (hand-checked from the halos: cheng2020-attn's g_s reaches 12 + 11 latents, so
    1088 - 368 = 720), and a tile plus its halo never spans more than AUTO_TILE_SPAN."""
    import tinify.models.tiling as tiling

    expected = {
        "bmshj2018-hyperprior": (1024, 1024),
        "mbt2018": (1024, 1024),
        "cheng2020-anchor": (976, 848),
        "cheng2020-attn": (848, 720),
        "elic2022-official": (816, 800),
    }
    for name in ARCHS:
        model = _model(name)
        tiles = tuple(tiling.auto_tile(receptive_field(t)) for t in (model.g_a, model.g_s))
        if name in expected:
            assert tiles == expected[name], name
        for transform, tile in zip((model.g_a, model.g_s), tiles):
            field = receptive_field(transform)
            if field.factor > 1:
                halo = 16 * (-(-int(field.lo) // 16)) + 16 * (-(-(int(field.hi) - 15) // 16))
            else:
                halo = 16 * (-(-field.lo.numerator // field.lo.denominator))
                halo += 16 * (-(-field.hi.numerator // field.hi.denominator))
            assert tile % 16 == 0 and tile + halo <= tiling.AUTO_TILE_SPAN, (name, tile, halo)


# -- the fixed path: bit-exact latents whatever the tiles and threads ------------------------------


@pytest.mark.parametrize("name", ["mbt2018-mean", "elic2022-official"])
def test_fixed_path_latents_are_bit_exact_across_tiles_and_threads(
    name: str, tmp_path: Path
) -> None:
    """One stream, decoded with tiles 0/32/80 in-process and in subprocesses with other thread
    counts and tiles: the same latent sha256. mbt2018-mean tiles its own integer h_s; ELIC's
    latent codecs tile theirs and every other integer network (contexts, parameters)."""
    model = _model(name, seed=2)
    x = image(1, 3, 128, 192, seed=4)
    out = model.compress(x, entropy_path="fixed", tile_size=64)
    path = tmp_path / "stream.json"
    path.write_text(
        json.dumps(
            {
                "strings": [s[0].hex() for s in out["strings"]],
                "shape": list(last_latent_size(out["shape"])),
                "x_size": list(out["x_size"]),
            }
        )
    )
    reference, _ = _latent_and_image(model, out, entropy_path="fixed", tile_size=0)
    digest = hashlib.sha256(reference.numpy().tobytes()).hexdigest()
    for tile in (32, 80):
        latent, _ = _latent_and_image(model, out, entropy_path="fixed", tile_size=tile)
        assert hashlib.sha256(latent.numpy().tobytes()).hexdigest() == digest
    script = textwrap.dedent(
        """
        import hashlib, json, sys, torch
        sys.path.insert(0, {root!r})
        from tests.models.test_tiling import _model
        torch.set_num_threads({threads})
        model = _model({name!r}, seed=2)
        data = json.load(open({path!r}))
        out = {{"strings": [[bytes.fromhex(s)] for s in data["strings"]],
               "shape": data["shape"], "x_size": data["x_size"]}}
        seen = []
        real = model._synthesize
        model._synthesize = lambda y, o=None: seen.append(y.clone()) or real(y, o)
        with torch.no_grad():
            model.decompress(**out, entropy_path="fixed", tile_size={tile})
        print(hashlib.sha256(seen[0].numpy().tobytes()).hexdigest())
        """
    )
    for threads, tile in ((1, 0), (2, 48), (1, 112)):
        env = {**os.environ, "TINIFY_NUM_THREADS": str(threads), "OMP_NUM_THREADS": "2"}
        code = script.format(root=str(ROOT), name=name, threads=threads, path=str(path), tile=tile)
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == digest, (threads, tile)


@pytest.mark.parametrize(
    "name", ["cheng2020-anchor-checkerboard", "elic2022-official", "elic2022-chandelier"]
)
def test_latent_codec_integer_networks_are_bit_exact_on_tiles(name: str) -> None:
    """Every integer network of the latent codecs (h_s, checkerboard context, parameter
    aggregation, channel contexts) gives the same int32 output on tiles of 1, 4, 5 and 8 output
    positions as on the whole tensor, for inputs up to +-8 in fixed point; the tiles are
    reported, and torch's global generator is left alone."""
    model = _model(name, seed=3)
    networks = model._fixed_networks_of_codecs()
    generator = torch.Generator().manual_seed(7)
    checked = 0
    for codec in model.latent_codec.modules():
        if not isinstance(codec, LatentCodec):
            continue
        for key, module in codec.fixed_network_modules().items():
            first = next(
                m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
            )
            size = (3, 5) if key == "h_s" else (9, 14)  # h_s upsamples 4x
            bound = 8 << FRAC_BITS
            x = torch.randint(-bound, bound, (1, first.in_channels, *size), generator=generator).to(
                torch.int32
            )
            whole = CodecArithmetic(networks).run(codec, key, module, x)
            assert whole.dtype == torch.int32
            for tile in (1, 4, 5, 8):
                seen: list[int] = []
                rng = torch.get_rng_state()
                with listen(lambda stage, done, total, log=seen: log.append(done)):
                    tiled = CodecArithmetic(networks, tile).run(codec, key, module, x)
                assert torch.equal(torch.get_rng_state(), rng)  # no random init while coding
                assert torch.equal(tiled, whole), (key, tile)
                assert len(seen) > 1, (key, tile)  # really on tiles
            checked += 1
    assert checked >= (2 if name == "cheng2020-anchor-checkerboard" else 6)


# -- bounded memory --------------------------------------------------------------------------------

_MEMORY = """
import resource, sys, torch
from tinify.models.image.bmshj2018 import FactorizedPrior
torch.manual_seed(0)
model = FactorizedPrior(N=16, M=8).eval()
model.update(force=True)
x = torch.rand(1, 3, 3072, 4096)  # 12.6 megapixels

def vm():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

budget = {budget}
resource.setrlimit(resource.RLIMIT_AS, (vm() + budget, vm() + budget))
with torch.no_grad():
    out = model.compress(x, tile_size=512)
    x_hat = model.decompress(**out, tile_size=512)["x_hat"]
    print("tiled", tuple(x_hat.shape), flush=True)
    del x_hat
    try:
        model.compress(x, tile_size=0)
        print("whole fits")
    except (MemoryError, RuntimeError) as err:
        print("whole:", type(err).__name__)
"""


def test_tiles_code_a_12_megapixel_image_in_a_memory_budget_the_whole_image_exceeds() -> None:
    """Encode and decode 12.6 megapixels with 350 MB of address space beyond the model and the
    image (the decoded image alone takes 151 MB); the untiled analysis does not fit in it."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TINIFY_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }
    code = _MEMORY.format(budget=350 << 20)  # the tinify under test: installed or PYTHONPATH
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines == ["tiled (1, 3, 3072, 4096)", "whole: RuntimeError"] or lines == [
        "tiled (1, 3, 3072, 4096)",
        "whole: MemoryError",
    ], result.stdout


def test_fixed_hyper_synthesis_is_bit_exact_on_tiles() -> None:
    """The integer h_s runs on tiles when the image is tiled: the same int32 parameters."""
    model = build_small("bmshj2018-hyperprior")
    z = torch.randn(1, 16, 6, 10, generator=torch.Generator().manual_seed(5)).mul(3).round()
    whole = model._hyper_params_fixed(z, model.coding_options("fixed", None, 0))
    for tile in (64, 48, 128):
        tiled = model._hyper_params_fixed(z, model.coding_options("fixed", None, tile))
        assert tiled.dtype == torch.int32 and torch.equal(tiled, whole)
