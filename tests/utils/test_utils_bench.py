"""``python -m tinify.utils.bench`` and ``find_close``: Pillow codecs measured end to end,
external programs found or reported missing."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinify.codec.external import ToolNotFoundError
from tinify.exceptions import TinifyError
from tinify.utils.bench import __main__ as bench
from tinify.utils.bench import codecs
from tinify.utils.find_close import __main__ as find_close
from tinify.utils.metrics import psnr


def _jpeg_reference(path: Path, quality: int) -> tuple[float, float]:
    """bpp and PSNR of Pillow's JPEG 4:2:0 at ``quality``, computed here by hand."""
    import io

    img = Image.open(path).convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
    rec = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    a = np.asarray(img, dtype=np.float64)
    b = np.asarray(rec, dtype=np.float64)
    import torch

    return 8 * len(buffer.getvalue()) / (img.width * img.height), psnr(
        torch.from_numpy(a), torch.from_numpy(b)
    )


def test_bench_jpeg_layout_and_values(image_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = bench.main(["jpeg", str(image_dir), "-q", "75,25"])
    assert json.loads(capsys.readouterr().out) == doc
    assert doc["name"] == "JPEG 4:2:0" and "Pillow" in doc["description"]
    results = doc["results"]
    assert set(results) == {"psnr-rgb", "ms-ssim-rgb", "bpp", "encoding_time",
                            "decoding_time", "quality"}  # fmt: skip
    assert results["quality"] == [25, 75]  # sorted
    refs = [_jpeg_reference(p, 25) for p in sorted(image_dir.glob("*.png"))]
    assert results["bpp"][0] == pytest.approx(sum(r[0] for r in refs) / 3, rel=1e-12)
    assert results["psnr-rgb"][0] == pytest.approx(sum(r[1] for r in refs) / 3, rel=1e-9)
    assert results["bpp"][0] < results["bpp"][1]


def test_bench_metrics_option_and_jobs(image_dir: Path) -> None:
    one = bench.main(["webp", str(image_dir), "-q", "50", "--metrics", "psnr-rgb"])
    two = bench.main(["webp", str(image_dir), "-q", "50", "--metrics", "psnr-rgb", "-j", "2"])
    assert "ms-ssim-rgb" not in one["results"]
    assert one["results"]["bpp"] == two["results"]["bpp"]
    assert one["results"]["psnr-rgb"] == two["results"]["psnr-rgb"]


@pytest.mark.parametrize("key", ["jpeg2000", "avif"])
def test_bench_other_pillow_codecs(image_dir: Path, key: str) -> None:
    codec = codecs.JPEG2000() if key == "jpeg2000" else codecs.AVIF()
    if not codec.impl.available():
        pytest.skip(f"this Pillow has no {key}")
    q = 35 if key == "jpeg2000" else 60
    info = codec.run(str(image_dir / "crop0.png"), q, ["psnr-rgb"])
    assert set(info) == {"bpp", "encoding_time", "decoding_time", "psnr-rgb"}
    assert 0 < info["bpp"] < 24 and info["psnr-rgb"] > 25


def test_missing_programs_say_what_to_install(
    image_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (["bpg", "--encoder-path", str(tmp_path / "bpgenc")], "bpgenc not found: install BPG"),
        (["vtm", "-b", str(tmp_path), "-c", str(tmp_path / "a.cfg")], "a.cfg not found"),
        (["av1", "-b", str(tmp_path)], "aomenc not found: build libaom"),
        (["tfci", "-p", str(tmp_path / "tfci.py")], "tfci.py not found"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as info:
            bench.main([args[0], str(image_dir), "-q", "1", *args[1:]])
        assert info.value.code == 1
        assert message in capsys.readouterr().err
    (tmp_path / "h.cfg").write_text("")
    with pytest.raises(ToolNotFoundError, match="TAppEncoderStatic not found"):
        codecs.HM(bench_args(build_dir=str(tmp_path), config=str(tmp_path / "h.cfg"))).run(
            str(image_dir / "crop0.png"), 30
        )


def bench_args(**kwargs: object) -> object:
    import argparse

    return argparse.Namespace(rgb=False, **kwargs)


def test_ffmpeg_jpeg2000_when_present(image_dir: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed: the ffmpeg route of jpeg2000 is not tested")
    doc = bench.main(["jpeg2000", str(image_dir), "-q", "10", "--ffmpeg"])
    assert doc["description"].startswith("JPEG2000. ffmpeg version")
    assert doc["results"]["psnr-rgb"][0] > 25


def _stand_in_bpg(folder: Path) -> tuple[Path, Path]:
    """A stand-in for bpgenc / bpgdec (NOT BPG): the "encoder" stores the PNG with its pixels
    quantized to multiples of 2**(q // 8), the "decoder" copies it back. It checks the command
    lines tinify builds, the temporary files, and the bpp and PSNR bookkeeping."""
    enc = folder / "bpgenc"
    enc.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "from PIL import Image\n"
        "a = sys.argv\n"
        "out, q, src = a[a.index('-o') + 1], int(a[a.index('-q') + 1]), a[-1]\n"
        "step = 2 ** (q // 8)\n"
        "Image.open(src).point(lambda v: v // step * step).save(out, format='PNG')\n"
    )
    dec = folder / "bpgdec"
    dec.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        "shutil.copyfile(sys.argv[-1], sys.argv[sys.argv.index('-o') + 1])\n"
    )
    for path in (enc, dec):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return enc, dec


def test_external_codec_plumbing_with_a_stand_in(image_dir: Path, tmp_path: Path) -> None:
    enc, dec = _stand_in_bpg(tmp_path)
    doc = bench.main(["bpg", str(image_dir), "-q", "8,40", "--encoder-path", str(enc),
                      "--decoder-path", str(dec), "--metrics", "psnr-rgb"])  # fmt: skip
    assert doc["name"] == "BPG 8b 444 x265 ycbcr"
    psnr_fine, psnr_coarse = doc["results"]["psnr-rgb"]
    assert psnr_fine > psnr_coarse > 20  # step 2 vs step 32
    path = image_dir / "crop1.png"
    info, rec = codecs.BPG(bench_args(m="444", b="8", c="ycbcr", e="x265",
                                      encoder_path=str(enc), decoder_path=str(dec))
                           ).run(str(path), 16, return_rec=True)  # fmt: skip
    expected = np.asarray(Image.open(path).convert("RGB")) // 4 * 4
    assert np.array_equal(np.asarray(rec), expected)
    with pytest.raises(TinifyError, match=r"Invalid quality value: 60 \(0,51\)"):
        codecs.BPG(bench_args(m="444", b="8", c="ycbcr", e="x265", encoder_path=str(enc),
                              decoder_path=str(dec))).run(str(path), 60)  # fmt: skip


def test_find_close_webp_bpp(
    image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    image = str(image_dir / "crop0.png")
    quality, metrics = find_close.main(["webp", image, "1.0", "--save"])
    assert (tmp_path / f"output_webp_q{quality}.png").is_file()
    # No other setting is closer to the target.
    codec = codecs.WebP()
    others = [codec.run(image, q, [])["bpp"] for q in (quality - 1, quality + 1)]
    assert all(abs(metrics["bpp"] - 1.0) <= abs(b - 1.0) for b in others)
    assert find_close.get_codec_q_bounds(codec) == (False, -1, 101)
    q, found, rec = find_close.find_closest(codec, image, 30.0, "psnr-rgb")
    assert abs(found["psnr-rgb"] - 30.0) < 2 and rec.size == (64, 64)


def test_find_close_external_bounds(tmp_path: Path) -> None:
    enc, dec = _stand_in_bpg(tmp_path)
    bpg = codecs.BPG(bench_args(m="444", b="8", c="ycbcr", e="x265", encoder_path=str(enc),
                                decoder_path=str(dec)))  # fmt: skip
    assert find_close.get_codec_q_bounds(bpg) == (True, -1, 52)
    assert find_close.get_codec_q_bounds(codecs.AV1(bench_args(build_dir="x"))) == (True, -1, 64)


def test_python_dash_m_bench(image_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tinify.utils.bench", "jpeg", str(image_dir), "-q", "50"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"]["quality"] == [50]
