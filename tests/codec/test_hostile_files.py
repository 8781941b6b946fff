"""Issue 17, files: tinify never loses data.

No output over an input, no overwrite without ``-f``, no device/FIFO/folder as output, kept
permissions, ``-o -`` to standard output; SIGTERM and SIGHUP mid-write leave no temporary, and
a temporary left by SIGKILL is removed by the next write.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tinify.codec.cli import main
from tinify.io.image import InputError, check_output
from tinify.utils.files import atomic_folder, atomic_path, remove_stale_parts

RunCli = Callable[..., subprocess.CompletedProcess]
HYPER = "bmshj2018-hyperprior"


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``tinify ARGS`` in this process (faster than a subprocess): returncode and stderr."""

    def run(*args: str | Path) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main([str(a) for a in args])
        return subprocess.CompletedProcess(args, code, "", capsys.readouterr().err)

    return run


@pytest.fixture
def png(image_file: Callable[..., Path]) -> Path:
    return image_file(64, 64, name="pic.png")


def test_refuses_to_write_over_its_input(
    png: Path, tmp_path: Path, run_cli: RunCli, checkpoints: dict[str, Path]
) -> None:
    before = png.read_bytes()
    result = run_cli("encode", png, "-o", png, "-f")
    assert result.returncode == 1
    assert "is the input" in result.stderr and png.read_bytes() == before
    # An image named .tfy: the default output is itself.
    disguised = tmp_path / "photo.tfy"
    disguised.write_bytes(before)
    result = run_cli("encode", disguised, "-f")
    assert result.returncode == 1 and "is the input" in result.stderr
    assert disguised.read_bytes() == before
    # The same file under another name (a hard link), and the checkpoint as output.
    link = tmp_path / "link.png"
    os.link(png, link)
    assert run_cli("encode", png, "-o", link, "-f").returncode == 1
    ckpt = checkpoints["hyperprior"]
    ckpt_bytes = ckpt.read_bytes()
    result = run_cli("encode", png, "-o", ckpt, "--checkpoint", ckpt, "-m", HYPER, "-f")
    assert result.returncode == 1 and ckpt.read_bytes() == ckpt_bytes


def test_overwrite_needs_force_and_keeps_permissions(
    png: Path, tmp_path: Path, run_cli: RunCli, checkpoints: dict[str, Path]
) -> None:
    out = tmp_path / "pic.tfy"
    out.write_bytes(b"precious")
    out.chmod(0o640)
    result = run_cli(
        "encode", png, "-o", out, "--checkpoint", checkpoints["hyperprior"], "-m", HYPER
    )
    assert result.returncode == 1
    assert f"{out}: exists; pass -f/--force to overwrite it" in result.stderr
    assert out.read_bytes() == b"precious"
    result = run_cli(
        "encode", png, "-o", out, "--checkpoint", checkpoints["hyperprior"], "-m", HYPER, "-f"
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"\x89TFY"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    decoded = tmp_path / "back.png"
    decoded.write_bytes(b"old")
    args = ("decode", out, "-o", decoded, "--checkpoint", checkpoints["hyperprior"])
    assert run_cli(*args).returncode == 1 and decoded.read_bytes() == b"old"
    assert run_cli(*args, "--force").returncode == 0
    assert decoded.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_special_files_are_never_outputs(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target in (Path("/dev/null"), fifo):
        with pytest.raises(InputError, match="is not a regular file"):
            check_output(target, force=True)
    with pytest.raises(InputError, match="is a folder"):
        check_output(tmp_path, force=True)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_standard_output(
    png: Path, tmp_path: Path, run_cli: RunCli, checkpoints: dict[str, Path]
) -> None:
    ckpt = checkpoints["hyperprior"]
    env = {**os.environ, "TINIFY_OFFLINE": "1"}
    base = [sys.executable, "-m", "tinify.codec.cli"]
    piped = subprocess.run(
        [*base, "encode", str(png), "-o", "-", "--checkpoint", str(ckpt), "-m", HYPER],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    out = tmp_path / "file.tfy"
    assert run_cli("encode", png, "-o", out, "--checkpoint", ckpt, "-m", HYPER).returncode == 0
    assert piped.stdout == out.read_bytes()
    image = subprocess.run(
        [*base, "decode", str(out), "-o", "-", "--checkpoint", str(ckpt)],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert image.returncode == 0 and image.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("-*"))


_SLOW_WRITER = r"""
import contextlib, sys, time
import tinify.io.image as image
from tinify.codec import cli

real = image.atomic_path

@contextlib.contextmanager
def slow(path):
    with real(path) as tmp:
        yield tmp
        print("WRITING", tmp, flush=True)
        time.sleep(60)

image.atomic_path = slow
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_signal_mid_write_leaves_no_stray_file(
    signum: int, png: Path, tmp_path: Path, checkpoints: dict[str, Path], listing: Callable
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "pic.tfy"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SLOW_WRITER,
            "encode",
            str(png),
            "-o",
            str(out),
            "--checkpoint",
            str(checkpoints["hyperprior"]),
            "-m",
            HYPER,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TINIFY_OFFLINE": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("WRITING"), proc.communicate(timeout=60)
    tmp = Path(line.split()[1])
    assert tmp.exists() and f".pic.tfy.{proc.pid}." in tmp.name
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    if signum == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL and tmp.exists()
        # The next write to the same target removes what the dead process left.
        assert remove_stale_parts(out) == [tmp]
        assert not tmp.exists()
    else:
        assert proc.returncode == 128 + signum
        assert f"stopped by {signal.Signals(signum).name}" in err
    assert listing(out_dir) == set()


def test_stale_parts_of_live_processes_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    mine = tmp_path / f".x.bin.{os.getpid()}.abcdefgh.part"
    mine.write_bytes(b"in progress")
    dead = tmp_path / ".x.bin.999999999.abcdefgh.part"
    dead.mkdir()
    (dead / "frame.png").write_bytes(b"...")
    other = tmp_path / ".y.bin.999999999.abcdefgh.part"
    other.write_bytes(b"another target")
    with atomic_path(target) as tmp:
        assert f".x.bin.{os.getpid()}." in tmp.name
        tmp.write_bytes(b"done")
    assert target.read_bytes() == b"done"
    assert mine.exists() and other.exists() and not dead.exists()
    with atomic_folder(tmp_path / "frames") as folder:
        assert f".frames.{os.getpid()}." in folder.name
