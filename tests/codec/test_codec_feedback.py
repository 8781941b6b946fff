"""``tinify encode/decode``: progress bars fed by tinify.utils.progress, --quiet and -v."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tinify.codec import feedback
from tinify.codec.cli import main
from tinify.codec.feedback import ProgressBars, peak_memory_bytes, usage_line
from tinify.utils.progress import listen, report

from .conftest import save_checkpoint

pytest.importorskip("tqdm")

HYPER = "bmshj2018-hyperprior"
CONTEXT = "mbt2018"  # a wavefront (autoregressive) model: its loop reports "wavefronts"


class FakeTerminal(io.StringIO):
    """A standard error that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def context_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "mbt.pth", CONTEXT)


def _encode_args(src: Path, out: Path, ckpt: Path, *extra: str) -> list[str]:
    return ["encode", str(src), "-o", str(out), "--checkpoint", str(ckpt), "-m", CONTEXT, *extra]


def test_bars_one_per_stage() -> None:
    out = FakeTerminal()
    bars = ProgressBars(out, delay=0.0)
    with listen(bars):
        report("analysis tiles", 1, 4)
        report("wavefronts", 3, 10)  # two stages open at once: two bars
        assert set(bars._bars) == {"analysis tiles", "wavefronts"}
        report("analysis tiles", 4, 4)  # finished: its bar is closed
        assert set(bars._bars) == {"wavefronts"}
        assert bars._bars["wavefronts"].n == 3
        report("wavefronts", 1, 10)  # went back: a new run of the stage, a fresh bar
        assert bars._bars["wavefronts"].n == 1
        report("frames", 2, 0)  # unknown total
        assert bars._bars["frames"].total is None
    bars.close()
    assert not bars._bars
    text = out.getvalue()
    assert "analysis tiles" in text and "wavefronts" in text and "frames" in text


def test_bars_wait_for_long_stages() -> None:
    out = FakeTerminal()
    bars = ProgressBars(out, delay=60.0)
    with listen(bars):
        for i in range(1, 6):
            report("wavefronts", i, 5)
    assert out.getvalue() == "" and not bars._bars


def test_forced_bar_and_decode(
    tmp_path: Path,
    image_file: Callable[..., Path],
    context_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src, tfy, png = image_file(64, 96), tmp_path / "a.tfy", tmp_path / "a.png"
    assert main(_encode_args(src, tfy, context_checkpoint, "--progress")) == 0
    err = capsys.readouterr().err
    assert re.search(r"wavefronts: +\d+%", err), err
    assert f"{tfy}: " in err  # the summary line is still there
    decode = ["decode", str(tfy), "-o", str(png), "--checkpoint", str(context_checkpoint)]
    assert main([*decode, "--progress"]) == 0
    assert "wavefronts" in capsys.readouterr().err
    # Not a terminal and not forced: no bar.
    assert main([*decode, "-f"]) == 0
    assert "wavefronts" not in capsys.readouterr().err


def test_bar_on_a_terminal(
    tmp_path: Path,
    image_file: Callable[..., Path],
    context_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(feedback, "AUTO_DELAY", 0.0)
    src, tfy = image_file(64, 96), tmp_path / "a.tfy"
    assert main(_encode_args(src, tfy, context_checkpoint)) == 0
    assert "wavefronts" in terminal.getvalue()
    terminal.truncate(0)
    terminal.seek(0)
    assert main(_encode_args(src, tfy, context_checkpoint, "-f", "--no-progress")) == 0
    assert "wavefronts" not in terminal.getvalue() and f"{tfy}: " in terminal.getvalue()


def test_quiet(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setattr(feedback, "AUTO_DELAY", 0.0)
    ckpt = str(checkpoints["hyperprior"])
    # 16x16 is padded to 64x64: a note, unless quiet.
    src, tfy, png = image_file(16, 16), tmp_path / "q.tfy", tmp_path / "q.png"
    encode = ["encode", str(src), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER]
    assert main([*encode, "--quiet"]) == 0
    assert main(["decode", str(tfy), "-o", str(png), "--checkpoint", ckpt, "--quiet"]) == 0
    assert terminal.getvalue() == ""
    assert tfy.stat().st_size > 0 and png.stat().st_size > 0
    # Errors are still printed, with the same status.
    missing = tmp_path / "missing.tfy"
    assert main(["decode", str(missing), "-o", str(png), "-f", "--quiet"]) == 1
    assert terminal.getvalue().startswith("tinify decode: error: ")
    assert str(missing) in terminal.getvalue()
    # Without --quiet the same encode says the image is tiny.
    terminal.truncate(0)
    terminal.seek(0)
    assert main([*encode, "-f"]) == 0
    assert "tinify: note: " in terminal.getvalue()


def test_quiet_and_verbose_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["encode", "x.png", "--quiet", "-v"])
    assert stop.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_verbose(
    tmp_path: Path,
    image_file: Callable[..., Path],
    checkpoints: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    ckpt = str(checkpoints["hyperprior"])
    src, tfy = image_file(64, 64), tmp_path / "v.tfy"
    assert main(["encode", str(src), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER, "-v"]) == 0
    last = capsys.readouterr().err.splitlines()[-1]
    found = re.fullmatch(
        r"tinify encode: ([\d.]+) s wall, ([\d.]+) s CPU, peak resident memory (\d+) MiB .*", last
    )
    assert found, last
    peak = peak_memory_bytes()
    assert peak is not None and 50 < int(found.group(3)) <= peak / 2**20 + 1
    assert float(found.group(1)) > 0
    # A failed job still reports, then prints its error line; the status is unchanged.
    assert main(["decode", str(tmp_path / "none.tfy"), "-v"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("tinify decode: ") and "s wall" in lines[0]
    assert lines[1].startswith("tinify decode: error: ")


def test_usage_line_units() -> None:
    line = usage_line("tinify encode", 1.5, 2.25)
    assert line.startswith("tinify encode: 1.50 s wall, 2.25 s CPU")
    peak = peak_memory_bytes()
    assert peak is not None and peak > 10 * 2**20  # torch is loaded: far above 10 MiB
