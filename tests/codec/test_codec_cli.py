"""The tinify command end to end: encode, decode, info, eval, update, and every bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.codec.cli import main
from tinify.codec.format import unpack

HYPER = "bmshj2018-hyperprior"


# -- subprocess end to end ------------------------------------------------------------------------


def test_encode_decode_info_subprocess(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    src = image_file(80, 96)
    tfy = tmp_path / "out.tfy"
    png = tmp_path / "back.png"
    ckpt = checkpoints["hyperprior"]
    result = run_cli("encode", src, "-o", tfy, "--checkpoint", ckpt, "--model", HYPER)
    assert result.returncode == 0, result.stderr
    header, streams = unpack(tfy.read_bytes())
    assert (header.height, header.width, header.model) == (80, 96, HYPER)
    assert header.source == "checkpoint" and len(streams) == 2

    assert main(["decode", str(tfy), "-o", str(png), "--checkpoint", str(ckpt)]) == 0
    with Image.open(png) as img:
        assert (img.size, img.mode) == ((96, 80), "RGB")
    capsys.readouterr()
    assert main(["info", str(tfy), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == "96x80" and info["payload_bytes"] == header.payload_size


def test_bad_input_subprocess(
    tmp_path: Path,
    checkpoints: dict[str, Path],
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image at all")
    out = tmp_path / "junk.tfy"
    result = run_cli("encode", junk, "-o", out, "--checkpoint", checkpoints["hyperprior"])
    assert result.returncode == 1
    assert "not an image file" in one_error_line(result.stderr, "encode")
    assert not out.exists()
    assert listing(tmp_path) == {"junk.png"}


def test_foreign_tfy_in_process(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
) -> None:
    fake = tmp_path / "fake.tfy"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    assert main(["decode", str(fake), "-o", str(tmp_path / "x.png")]) == 1
    assert "wrong magic bytes" in one_error_line(capsys.readouterr().err, "decode")
    assert not (tmp_path / "x.png").exists()


def test_console_script_help(
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("encode", "decode", "info", "eval", "codecs", "plot", "update", "train"):
        assert command in result.stdout
    script = shutil.which("tinify")
    if script is not None:  # the console script of the installed package
        version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
        assert version.returncode == 0 and version.stdout.startswith("tinify ")


# -- in-process -----------------------------------------------------------------------------------


@pytest.fixture
def encoded(tmp_path: Path, image_file: Callable[..., Path], checkpoints: dict[str, Path]) -> Path:
    src = image_file(70, 45)
    out = tmp_path / "small.tfy"
    args = ["encode", str(src), "-o", str(out), "--checkpoint", str(checkpoints["hyperprior"])]
    assert main([*args, "--model", HYPER]) == 0
    return out


@pytest.mark.parametrize("name", [HYPER, "bmshj2018-factorized"])
@pytest.mark.parametrize("size", [(64, 64), (70, 45), (96, 80), (20, 30)])
def test_round_trip_sizes(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    name: str,
    size: tuple[int, int],
) -> None:
    ckpt = checkpoints["hyperprior" if name == HYPER else "factorized"]
    src = image_file(*size)
    tfy, png = tmp_path / "a.tfy", tmp_path / "a.png"
    assert main(["encode", str(src), "-o", str(tfy), "--checkpoint", str(ckpt), "-m", name]) == 0
    assert main(["decode", str(tfy), "-o", str(png), "--checkpoint", str(ckpt)]) == 0
    with Image.open(png) as img:
        assert img.size == (size[1], size[0])
    header, _ = unpack(tfy.read_bytes())
    padded = header.padded_size
    factor = 64 if name == HYPER else 16
    assert padded[0] % factor == 0 and padded[1] % factor == 0
    assert min(padded) >= 64


def test_kodak_crop(tmp_path: Path, shared_dir: Path, checkpoints: dict[str, Path]) -> None:
    kodak = shared_dir / "data" / "kodak" / "kodim23.png"
    if not kodak.is_file():
        pytest.skip("Kodak image not found")
    src = tmp_path / "crop.png"
    with Image.open(kodak) as img:
        img.crop((300, 200, 428, 296)).save(src)
    tfy, png = tmp_path / "crop.tfy", tmp_path / "crop-out.png"
    ckpt = str(checkpoints["hyperprior"])
    assert main(["encode", str(src), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER]) == 0
    assert main(["decode", str(tfy), "-o", str(png), "--checkpoint", ckpt]) == 0
    with Image.open(png) as a, Image.open(src) as b:
        assert a.size == b.size == (128, 96)


def test_stream_chunks_recorded(
    tmp_path: Path, image_file: Callable[..., Path], checkpoints: dict[str, Path]
) -> None:
    src = image_file(128, 128)
    ckpt = str(checkpoints["hyperprior"])
    outputs = []
    for chunks in ("1", "4"):
        tfy = tmp_path / f"c{chunks}.tfy"
        args = ["encode", str(src), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER]
        assert main([*args, "--stream-chunks", chunks]) == 0
        assert unpack(tfy.read_bytes())[0].stream_chunks == int(chunks)
        png = tmp_path / f"c{chunks}.png"
        assert main(["decode", str(tfy), "-o", str(png), "--checkpoint", ckpt]) == 0
        outputs.append(np.asarray(Image.open(png)))
    assert np.array_equal(outputs[0], outputs[1])


def test_coding_mode_recorded(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--coding`` picks header byte 9 (fixed by default); decode follows the header."""
    src = image_file(64, 96)
    ckpt = str(checkpoints["hyperprior"])
    for coding, mode in ((None, 1), ("fixed", 1), ("float", 0)):
        tfy = tmp_path / f"{coding}.tfy"
        args = ["encode", str(src), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER]
        assert main(args + (["--coding", coding] if coding else [])) == 0
        data = tfy.read_bytes()
        assert data[9] == mode and unpack(data)[0].coding_mode == mode
        assert (
            main(["decode", str(tfy), "-o", str(tmp_path / f"{coding}.png"), "--checkpoint", ckpt])
            == 0
        )
        capsys.readouterr()
        assert main(["info", str(tfy), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["coding_mode"] == mode and info["coding"] == ("float", "fixed")[mode]


def test_alpha_and_grayscale_notes(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ckpt = str(checkpoints["hyperprior"])
    for mode, word in (("RGBA", "alpha"), ("L", "grayscale"), ("P", "mode P")):
        src = image_file(64, 64, mode=mode)
        tfy = tmp_path / f"{mode}.tfy"
        assert main(["encode", str(src), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER]) == 0
        err = capsys.readouterr().err
        assert "note:" in err and word in err


def test_sixteen_bit_grayscale(
    tmp_path: Path, checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "deep.png"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(src)
    tfy = tmp_path / "deep.tfy"
    args = ["encode", str(src), "-o", str(tfy), "--checkpoint", str(checkpoints["hyperprior"])]
    assert main([*args, "-m", HYPER]) == 0
    assert "16-bit" in capsys.readouterr().err


def test_info_text(encoded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(encoded)]) == 0
    out = capsys.readouterr().out
    assert "model" in out and HYPER in out and "stream_chunks" in out


def test_decode_needs_the_checkpoint(
    encoded: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
) -> None:
    out = tmp_path / "x.png"
    assert main(["decode", str(encoded), "-o", str(out)]) == 1
    assert "--checkpoint" in one_error_line(capsys.readouterr().err, "decode")
    assert not out.exists()


def test_decode_with_other_weights(
    encoded: Path,
    tmp_path: Path,
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
) -> None:
    out = tmp_path / "x.png"
    other = str(checkpoints["hyperprior-other"])
    assert main(["decode", str(encoded), "-o", str(out), "--checkpoint", other]) == 1
    assert "weights" in one_error_line(capsys.readouterr().err, "decode")
    assert not out.exists()


@pytest.mark.parametrize("how", ["flip", "truncate", "append", "empty"])
def test_decode_damaged_files(
    encoded: Path,
    tmp_path: Path,
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    how: str,
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    data = bytearray(encoded.read_bytes())
    if how == "flip":
        data[len(data) - 3] ^= 0x40
    elif how == "truncate":
        data = data[:-5]
    elif how == "append":
        data += b"\x00"
    else:
        data = bytearray()
    encoded.write_bytes(bytes(data))
    before = listing(tmp_path)
    out = tmp_path / "x.png"
    args = ["decode", str(encoded), "-o", str(out), "--checkpoint", str(checkpoints["hyperprior"])]
    assert main(args) == 1
    line = one_error_line(capsys.readouterr().err, "decode")
    assert str(encoded) in line
    assert listing(tmp_path) == before
    assert main(["info", str(encoded)]) == 1
    one_error_line(capsys.readouterr().err, "info")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encode", "{missing}", "--checkpoint", "{ckpt}"], "no such file"),
        (["encode", "{img}", "--checkpoint", "{missing}"], "no such checkpoint"),
        (["encode", "{img}", "--checkpoint", "{junk}"], "not a readable PyTorch checkpoint"),
        (["encode", "{img}", "--checkpoint", "{ckpt}", "-m", "nope"], "unknown model"),
        (["encode", "{img}", "--checkpoint", "{ckpt}"], "does not name its architecture"),
        (
            ["encode", "{img}", "--checkpoint", "{ckpt}", "-m", "bmshj2018-factorized"],
            "do not fit",
        ),
        (["encode", "{img}", "-m", "nope"], "unknown"),
        (["encode", "{img}", "-m", HYPER, "-q", "2"], "bmshj2018-hyperprior-2-"),
        (["encode", "{img}", "-m", HYPER, "-q", "9"], "quality"),
        (["encode", "{img}", "-q", "3"], "add --model"),
        (["encode", "{img}", "--pretrained"], "needs --model"),
        (["eval", "{img}", "-m", HYPER, "--pretrained", "--checkpoint", "{ckpt}"], "exclude"),
        (["eval", "{img}", "-m", HYPER, "-q", "1", "--checkpoint", "{ckpt}"], "not both"),
        (["encode", "{img}", "-o", "{nodir}/a.tfy", "--checkpoint", "{ckpt}"], "does not exist"),
        (["encode", "{img}", "-o", "{tmp}", "--checkpoint", "{ckpt}"], "is a folder"),
        (["encode", "{img}", "--checkpoint", "{ckpt}", "-m", HYPER, "--device", "tpu"], "device"),
        (["encode", "{img}", "--checkpoint", "{ckpt}", "--stream-chunks", "0"], "stream-chunks"),
        (["decode", "{missing}"], "no such file"),
        (["decode", "{junk}", "-o", "{out}.xyz"], "suffix"),
        (["info", "{junk}"], "magic"),
        (["eval", "{missing}", "--checkpoint", "{ckpt}"], "no such file"),
        (["eval", "{tmp}/empty", "--checkpoint", "{ckpt}"], "no images"),
        (["update", "{junk}", "-m", HYPER], "not a readable"),
        (["plot", "{junk}"], "not a readable JSON"),
        (["codecs", "{img}", "--codec", "gif"], "unknown codec"),
    ],
)
def test_bad_inputs_give_one_line(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
    one_error_line: Callable[[str, str], str],
    listing: Callable[[Path], set[str]],
) -> None:
    monkeypatch.setenv("TINIFY_OFFLINE", "1")
    monkeypatch.setenv("TINIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINIFY_WEIGHTS_URL", str(tmp_path / "no-weights"))
    work = tmp_path / "cwd"  # default outputs (plot's rd.png) land here, never in the checkout
    work.mkdir()
    monkeypatch.chdir(work)
    (tmp_path / "empty").mkdir()
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00junk" * 10)
    values = {
        "missing": str(tmp_path / "missing.png"),
        "ckpt": str(checkpoints["hyperprior"]),
        "img": str(image_file(64, 64)),
        "junk": str(junk),
        "nodir": str(tmp_path / "nodir"),
        "out": str(tmp_path / "out"),
        "tmp": str(tmp_path),
    }
    before = listing(tmp_path)
    code = main([a.format(**values) for a in args])
    assert code == 1
    line = one_error_line(capsys.readouterr().err, args[0])
    assert message in line
    assert listing(tmp_path) == before  # no partial output


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["encode"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_default_model_or_clear_error(
    tmp_path: Path,
    image_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
) -> None:
    src = image_file(64, 64)
    tfy = tmp_path / "d.tfy"
    code = main(["encode", str(src), "-o", str(tfy)])
    if code == 0:
        assert unpack(tfy.read_bytes())[0].source == "default"
        assert main(["decode", str(tfy), "-o", str(tmp_path / "d.png")]) == 0
    else:
        line = one_error_line(capsys.readouterr().err, "encode")
        assert "default model" in line and "--model" in line
        assert not tfy.exists()


def test_eval_with_checkpoints(
    tmp_path: Path, image_file: Callable[..., Path], checkpoints: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for seed, size in enumerate([(64, 64), (80, 96)]):
        image_file(*size, seed=seed, name=f"data/im{seed}.png")
    out = tmp_path / "r.json"
    ckpts = [str(checkpoints["hyperprior"]), str(checkpoints["hyperprior-other"])]
    args = ["eval", str(data), "-m", HYPER, "--checkpoint", *ckpts, "-o", str(out)]
    assert main([*args, "--no-progress", "--per-image"]) == 0
    doc = json.loads(out.read_text())
    assert doc["name"] == f"{HYPER}-mse" and doc["description"] == "Inference (ans)"
    results = doc["results"]
    for key in ("psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time", "decoding_time"):
        assert len(results[key]) == 2
    assert results["ms-ssim-rgb"] == [None, None]  # images under 161x161
    assert all(b > 0 for b in results["bpp"])
    assert all(f > b for f, b in zip(results["bpp-file"], results["bpp"]))
    rows = doc["per-image"]["hyper.pth"]
    assert [r["image"] for r in rows] == ["im0.png", "im1.png"]
    assert results["bpp"][0] == pytest.approx(sum(r["bpp"] for r in rows) / 2)

    # bpp counts the payload exactly: re-encode one image with the CLI and compare.
    tfy = tmp_path / "im0.tfy"
    args = ["encode", str(data / "im0.png"), "-o", str(tfy), "--checkpoint", ckpts[0], "-m", HYPER]
    assert main(args) == 0
    header, _ = unpack(tfy.read_bytes())
    assert rows[0]["bpp"] == pytest.approx(8 * header.payload_size / (64 * 64))
    assert rows[0]["bpp-file"] == pytest.approx(8 * tfy.stat().st_size / (64 * 64))


def test_eval_estimate(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = image_file(170, 165)
    args = ["eval", str(src), "-m", HYPER, "--checkpoint", str(checkpoints["hyperprior"])]
    assert main([*args, "--estimate", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["description"] == "Inference (entropy estimation)"
    assert 0 < doc["results"]["ms-ssim-rgb"][0] <= 1


def test_update(
    tmp_path: Path,
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    listing: Callable[[Path], set[str]],
) -> None:
    import hashlib

    from tinify.codec.loading import load_model_from_checkpoint

    # A training checkpoint: stale tables, optimizer state, a config naming the model.
    model = load_model_from_checkpoint(checkpoints["hyperprior"], HYPER).model
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["entropy_bottleneck._quantized_cdf"].zero_()
    ckpt = tmp_path / "last.pt"
    torch.save(
        {
            "format": "tinify-train-1",
            "config": {"model": HYPER, "quality": 2, "metric": "mse"},
            "model": state,
            "optimizer": {"state": {}, "param_groups": []},
        },
        ckpt,
    )
    outdir = tmp_path / "weights"
    outdir.mkdir()
    assert main(["update", str(ckpt), "-o", str(outdir)]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.parent == outdir and written.name.startswith("last-")
    digest = hashlib.sha256(written.read_bytes()).hexdigest()
    assert written.name == f"last-{digest[:8]}.pth.tar"
    saved = torch.load(written, weights_only=True)
    assert "optimizer" not in saved and saved["entropy_bottleneck._quantized_cdf"].any()
    assert listing(outdir) == {written.name}

    # -o NAME.pth.tar names the file; the result encodes directly.
    assert main(["update", str(ckpt), "-o", str(outdir / "mine.pth.tar"), "-m", HYPER]) == 0
    assert Path(capsys.readouterr().out.strip()).name.startswith("mine-")


def test_train_unavailable_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
) -> None:
    monkeypatch.setitem(sys.modules, "tinify.training.cli", None)  # import fails
    assert main(["train", "--steps", "1"]) == 1
    assert "not available" in one_error_line(capsys.readouterr().err, "train")


def test_train_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    assert "usage: tinify train" in capsys.readouterr().out


# -- variable-rate models ---------------------------------------------------------------------


@pytest.fixture
def vbr_checkpoint(tmp_path: Path) -> Path:
    """A tiny mbt2018-mean-vbr with a variable-step hyper-latent, latents scaled up to code."""
    from tinify.models import MeanScaleHyperpriorVbr

    torch.manual_seed(0)
    model = MeanScaleHyperpriorVbr(8, 12, vr_entbttlnck=True)
    with torch.no_grad():
        model.g_a[6].weight.mul_(40.0)
    model.update(force=True)
    path = tmp_path / "vbr.pth"
    torch.save(model.state_dict(), path)
    return path


def test_variable_rate_encode_decode_eval(
    tmp_path: Path,
    image_file: Callable[..., Path],
    vbr_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    one_error_line: Callable[[str, str], str],
) -> None:
    src = image_file(64, 96)
    model = ["-m", "mbt2018-mean-vbr", "--checkpoint", str(vbr_checkpoint)]
    sizes = {}
    for step in (8.0, 1.5):
        tfy = tmp_path / f"s{step}.tfy"
        assert main(["encode", str(src), "-o", str(tfy), *model, "--quant-step", str(step)]) == 0
        header, _ = unpack(tfy.read_bytes())
        assert header.quant_step == step and header.coding_mode == 0
        sizes[step] = header.payload_size
        out = tmp_path / f"s{step}.png"
        assert main(["decode", str(tfy), "-o", str(out), "--checkpoint", str(vbr_checkpoint)]) == 0
        with Image.open(out) as decoded:
            assert decoded.size == (96, 64)
    assert sizes[8.0] < sizes[1.5]
    capsys.readouterr()
    assert main(["info", str(tmp_path / "s1.5.tfy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quant_step"] == 1.5

    result = tmp_path / "r.json"
    args = ["eval", str(src), *model, "--quant-step", "8", "1.5", "--no-progress"]
    assert main([*args, "-o", str(result)]) == 0
    doc = json.loads(result.read_text())
    assert doc["results"]["quant_step"] == [8.0, 1.5]
    assert doc["results"]["bpp"] == pytest.approx(
        [8 * sizes[8.0] / (64 * 96), 8 * sizes[1.5] / (64 * 96)]
    )

    # The fixed-point mode (coding mode 1) codes a VBR model too, its step in the header.
    tfy = tmp_path / "fixed.tfy"
    assert main(["encode", str(src), "-o", str(tfy), *model, "--coding", "fixed"]) == 0
    header, _ = unpack(tfy.read_bytes())
    assert header.coding_mode == 1 and header.quant_step is not None
    out = tmp_path / "fixed.png"
    assert main(["decode", str(tfy), "-o", str(out), "--checkpoint", str(vbr_checkpoint)]) == 0
    with Image.open(out) as decoded:
        assert decoded.size == (96, 64)

    # Refusal: a step for a fixed-rate model.
    hyper = tmp_path / "hyper.pth"
    from tinify.models import ScaleHyperprior

    plain = ScaleHyperprior(8, 12)
    plain.update()
    torch.save(plain.state_dict(), hyper)
    bad = ["encode", str(src), "-o", str(tmp_path / "x.tfy")]
    assert main([*bad, "-m", HYPER, "--checkpoint", str(hyper), "--quant-step", "2"]) == 1
    assert "variable-rate" in one_error_line(capsys.readouterr().err, "encode")
    assert not (tmp_path / "x.tfy").exists()
