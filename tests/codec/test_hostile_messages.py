"""Issue 17, messages: every failure is one line that names the file."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from tinify.codec.cli import main
from tinify.codec.coding import encode_image
from tinify.codec.format import pack, unpack
from tinify.codec.limits import LimitError
from tinify.codec.loading import LoadedModel
from tinify.io.image import read_image


def _error(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    capsys.readouterr()
    assert main([str(a) for a in args]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_info_on_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error(capsys, "info", tmp_path)
    assert line == f"tinify info: error: {tmp_path}: is a folder; give a .tfy file"


def test_corrupt_stream_names_the_file(
    tmp_path: Path,
    hyperprior: LoadedModel,
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    torch.manual_seed(0)
    data = encode_image(hyperprior, torch.rand(1, 3, 64, 64), entropy_path="float")
    header, streams = unpack(data)
    damaged = tmp_path / "damaged.tfy"
    # Valid CRCs, but the second stream (the hyper-latent) is a zero state: it cannot decode.
    damaged.write_bytes(pack(header, [streams[0], bytes(8)]))
    line = _error(
        capsys, "decode", damaged, "-o", tmp_path / "x.png", "--checkpoint",
        checkpoints["hyperprior"],
    )  # fmt: skip
    assert line.startswith(f"tinify decode: error: {damaged}: ")
    assert not (tmp_path / "x.png").exists()


def test_disk_full_names_the_output_and_leaves_nothing(
    tmp_path: Path, checkpoints: dict[str, Path]
) -> None:
    src = tmp_path / "in.png"
    Image.new("RGB", (64, 64), (90, 20, 200)).save(src)
    out = tmp_path / "out" / "big.tfy"
    out.parent.mkdir()

    def small_files() -> None:  # writes beyond 64 bytes fail with EFBIG, like a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))

    result = subprocess.run(
        [sys.executable, "-m", "tinify.codec.cli", "encode", str(src), "-o", str(out),
         "--checkpoint", str(checkpoints["hyperprior"]), "-m", "bmshj2018-hyperprior"],
        capture_output=True, text=True, timeout=120, preexec_fn=small_files,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == f"tinify encode: error: {out}: File too large"
    assert list(out.parent.iterdir()) == []


def test_zoo_weights_are_named_and_not_downloaded_when_forbidden(
    tmp_path: Path,
    hyperprior: LoadedModel,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TINIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINIFY_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("TINIFY_OFFLINE", raising=False)
    torch.manual_seed(0)
    header, streams = unpack(encode_image(hyperprior, torch.rand(1, 3, 64, 64)))
    path = tmp_path / "zoo.tfy"
    path.write_bytes(pack(replace(header, source="zoo", model="mbt2018", quality=3), streams))
    line = _error(capsys, "decode", path, "-o", tmp_path / "z.png", "--no-download")
    assert line.startswith(f"tinify decode: error: {path}: mbt2018-3-")
    assert "forbids downloading https://" in line
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_pillow_bomb_warning_and_error_become_tinify_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    warned = tmp_path / "warned.png"
    Image.new("RGB", (40, 40)).save(warned)  # 1600 pixels: Pillow would warn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(warned).size == (40, 40)
    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (64, 64)).save(bomb)  # 4096 > 2 * 1000: Pillow refuses to open it
    with pytest.raises(LimitError, match=f"^{bomb}: Pillow refuses to open an image this large"):
        read_image(bomb)


def test_info_imports_neither_torch_nor_cuda(tmp_path: Path, hyperprior: LoadedModel) -> None:
    torch.manual_seed(0)
    path = tmp_path / "x.tfy"
    path.write_bytes(encode_image(hyperprior, torch.rand(1, 3, 64, 64)))
    code = (
        "import sys\n"
        "from tinify.codec.cli import main\n"
        f"assert main(['info', {str(path)!r}]) == 0\n"
        "heavy = [m for m in sys.modules if m == 'torch' or 'cuda' in m.lower()]\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout and "bmshj2018-hyperprior" in result.stdout


def test_a_closed_pipe_on_standard_output_is_not_an_error(tmp_path: Path) -> None:
    """``tinify info F | head -1``: the reader leaves early; tinify stops without a message."""
    from tinify.codec.format import TfyHeader, pack

    header = TfyHeader(
        model="bmshj2018-factorized",
        quality=1,
        metric="mse",
        source="zoo",
        weights_id=bytes(8),
        height=64,
        width=64,
    )
    path = tmp_path / "a.tfy"
    path.write_bytes(pack(header, [b"\x00" * 8]))
    code = f"import sys; from tinify.codec.cli import main; sys.exit(main(['info', {str(path)!r}]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before tinify writes anything
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "error" not in err and "Broken pipe" not in err
