# SPDX-License-Identifier: Apache-2.0
"""Classical codecs run through external programs, measured like the Pillow ones.

Each codec writes the image to a temporary file, runs its encoder and decoder, and reads the
reconstruction back; ``bpp`` counts the whole encoded file over the image's pixels (as
CompressAI's ``bench`` does). The programs are not part of tinify: a codec whose program is
missing raises :class:`ToolNotFoundError` naming it and saying where to get it, and a program
that fails raises :class:`ToolError` with the end of its output.

=========== ===================================== ===================== ==================
key         programs                              options               ``-q`` range
=========== ===================================== ===================== ==================
jpeg2000    ``ffmpeg`` (libopenjpeg)              ``ffmpeg=``           compression level
bpg         ``bpgenc``, ``bpgdec``                mode, bit depth, ...  0-51 (lower better)
tfci        Python + ``tfci.py`` (TF compression) ``model=``, ``path=`` 1-8
vtm         ``EncoderAppStatic``, ``DecoderApp..`` ``build_dir``, cfg   0-63 (lower better)
hm          ``TAppEncoderStatic``, ``TAppDec..``  ``build_dir``, cfg    0-51 (lower better)
av1         ``aomenc``, ``aomdec``                ``build_dir``         0-63 (lower better)
=========== ===================================== ===================== ==================

VTM, HM and AV1 code the picture as 8-bit 4:4:4 BT.709 YCbCr (``rgb=True``: as GBR for VTM and
HM), the colour conversion of :mod:`tinify.io.video`.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from tinify.exceptions import TinifyError, ToolError, ToolNotFoundError
from tinify.io.video import rgb2ycbcr, ycbcr2rgb

__all__ = [
    "AV1Codec",
    "BPGCodec",
    "ExternalCodec",
    "HMCodec",
    "TFCICodec",
    "ToolError",
    "ToolNotFoundError",
    "VTMCodec",
    "ffmpeg_version",
    "find_tool",
    "run_command",
    "run_timed",
    "vtm_binary",
]


def find_tool(program: str | os.PathLike[str], hint: str) -> str:
    """The path of ``program`` (a name on ``PATH`` or a path to an executable file).

    Raises:
        ToolNotFoundError: not found; the message names it and adds ``hint``.
    """
    text = str(program)
    if os.sep in text or (os.altsep and os.altsep in text):
        if Path(text).is_file() and os.access(text, os.X_OK):
            return text
    else:
        found = shutil.which(text)
        if found:
            return found
    raise ToolNotFoundError(f"{text} not found: {hint}")


def run_command(cmd: Sequence[Any], ignore_returncodes: Sequence[int] | None = None) -> str:
    """Run ``cmd`` (items converted with ``str``) and return its stdout and stderr.

    Raises:
        ToolNotFoundError: the program does not exist.
        ToolError: it exited with a status not in ``ignore_returncodes``.
    """
    args = [str(c) for c in cmd]
    try:
        proc = subprocess.run(args, capture_output=True, check=False)
    except FileNotFoundError:
        raise ToolNotFoundError(f"{args[0]} not found") from None
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    if proc.returncode != 0 and proc.returncode not in (ignore_returncodes or ()):
        tail = " ".join(output.split()[-40:])
        raise ToolError(f"{Path(args[0]).name} exited with status {proc.returncode}: {tail}")
    return output


def run_timed(encode: Sequence[Any], decode: Sequence[Any]) -> tuple[float, float]:
    """Run an encoder then a decoder command (:func:`run_command`); return their seconds."""
    start = time.perf_counter()
    run_command(encode)
    middle = time.perf_counter()
    run_command(decode)
    return middle - start, time.perf_counter() - middle


def ffmpeg_version(ffmpeg: str = "ffmpeg") -> str:
    """``ffmpeg -version``'s version word.

    Raises:
        ToolNotFoundError: no ffmpeg.
    """
    path = find_tool(ffmpeg, "install ffmpeg (e.g. apt-get install ffmpeg)")
    words = run_command([path, "-version"]).split()
    return words[2] if len(words) > 2 else "unknown"


def vtm_binary(build_dir: str | os.PathLike[str], kind: str) -> str:
    """Path of VTM's ``EncoderApp`` / ``DecoderApp`` (``kind``: ``"Encoder"`` or ``"Decoder"``)
    in ``build_dir`` (the ``Static`` builds on Linux).

    Raises:
        RuntimeError: an operating system VTM is not built for here.
    """
    system = platform.system()
    names = {"Darwin": f"{kind}App", "Linux": f"{kind}AppStatic"}
    if system not in names:
        raise RuntimeError(f'Unsupported platform "{system}"')
    return os.path.join(build_dir, names[system])


class ExternalCodec:
    """A codec run by external programs; subclasses give the commands.

    Attributes:
        key: the codec's command-line name.
        label: the results' ``name``.
        suffix: the encoded file's suffix.
        qualities: default settings.
        quality_range: the accepted settings ``(low, high)``.
        lower_is_better: whether a lower setting gives a better picture (a QP).
    """

    key = ""
    label = ""
    suffix = ".bin"
    qualities: tuple[int, ...] = ()
    quality_range = (0, 100)
    lower_is_better = False

    def programs(self) -> list[tuple[str, str]]:
        """``(program, hint)`` for every program the codec runs."""
        return []

    def check(self) -> None:
        """Raise :class:`ToolNotFoundError` unless every program is there."""
        for program, hint in self.programs():
            find_tool(program, hint)

    def available(self) -> bool:
        """Whether every program is there."""
        try:
            self.check()
        except ToolNotFoundError:
            return False
        return True

    def description(self) -> str:
        """The results' ``description``."""
        return self.label

    def check_quality(self, quality: int) -> None:
        """Raise :class:`TinifyError` for a setting outside :attr:`quality_range`."""
        low, high = self.quality_range
        if not low <= int(quality) <= high:
            raise TinifyError(f"Invalid quality value: {quality} ({low},{high})")

    def encode_cmd(self, src: Path, quality: int, out: Path) -> list[Any]:
        """The encoder command line for the PNG ``src``."""
        raise NotImplementedError

    def decode_cmd(self, out: Path, rec: Path) -> list[Any]:
        """The decoder command line writing the PNG ``rec``."""
        raise NotImplementedError

    def code(self, img: Image.Image, quality: int) -> tuple[bytes, Image.Image, float, float]:
        """Encode and decode ``img``; return ``(file bytes, decoded RGB, enc s, dec s)``.

        Raises:
            ToolNotFoundError: a program is missing.
            ToolError: a program failed.
            TinifyError: a setting outside :attr:`quality_range`.
        """
        self.check_quality(quality)
        self.check()
        with tempfile.TemporaryDirectory(prefix="tinify-codec-") as folder:
            return self._code_in(Path(folder), img.convert("RGB"), int(quality))

    def _code_in(
        self, folder: Path, img: Image.Image, quality: int
    ) -> tuple[bytes, Image.Image, float, float]:
        src, out, rec = folder / "in.png", folder / f"out{self.suffix}", folder / "rec.png"
        img.save(src)
        enc, dec = run_timed(self.encode_cmd(src, quality, out), self.decode_cmd(out, rec))
        with Image.open(rec) as decoded:
            picture = decoded.convert("RGB")
        return out.read_bytes(), picture, enc, dec


class JPEG2000Codec(ExternalCodec):
    """JPEG 2000 through ffmpeg's libopenjpeg (CompressAI's ``bench jpeg2000``); ``-q`` is
    ffmpeg's ``-compression_level``."""

    key = "jpeg2000"
    label = "JPEG2000"
    suffix = ".jp2"
    qualities = (10, 20, 30, 40, 50, 60, 70, 80, 90)

    def __init__(self, ffmpeg: str = "ffmpeg") -> None:
        self.ffmpeg = ffmpeg

    def programs(self) -> list[tuple[str, str]]:
        return [(self.ffmpeg, "install ffmpeg (e.g. apt-get install ffmpeg)")]

    def description(self) -> str:
        return f"JPEG2000. ffmpeg version {ffmpeg_version(self.ffmpeg)}"

    def encode_cmd(self, src: Path, quality: int, out: Path) -> list[Any]:
        return [self.ffmpeg, "-loglevel", "panic", "-y", "-i", src, "-vcodec", "jpeg2000",
                "-pix_fmt", "yuv444p", "-c:v", "libopenjpeg", "-compression_level", quality,
                out]  # fmt: skip

    def decode_cmd(self, out: Path, rec: Path) -> list[Any]:
        return [self.ffmpeg, "-loglevel", "panic", "-y", "-i", out, rec]


class BPGCodec(ExternalCodec):
    """BPG (Fabrice Bellard's HEVC still-image format) through ``bpgenc`` / ``bpgdec``."""

    key = "bpg"
    suffix = ".bpg"
    qualities = (22, 27, 32, 37, 42, 47)
    quality_range = (0, 51)
    lower_is_better = True

    def __init__(
        self,
        subsampling: str = "444",
        bitdepth: str = "8",
        colorspace: str = "ycbcr",
        encoder: str = "x265",
        encoder_path: str = "bpgenc",
        decoder_path: str = "bpgdec",
    ) -> None:
        self.subsampling, self.bitdepth = subsampling, bitdepth
        self.colorspace, self.encoder = colorspace, encoder
        self.encoder_path, self.decoder_path = encoder_path, decoder_path
        self.label = f"BPG {self.bitdepth}b {self.subsampling} {self.encoder} {self.colorspace}"

    def programs(self) -> list[tuple[str, str]]:
        hint = "install BPG from https://bellard.org/bpg/ or give --encoder-path/--decoder-path"
        return [(self.encoder_path, hint), (self.decoder_path, hint)]

    def description(self) -> str:
        words = run_command([find_tool(*self.programs()[0]), "-h"], [1]).split()
        return f"BPG. BPG version {words[4] if len(words) > 4 else 'unknown'}"

    def encode_cmd(self, src: Path, quality: int, out: Path) -> list[Any]:
        return [self.encoder_path, "-o", out, "-q", quality, "-f", self.subsampling,
                "-e", self.encoder, "-c", self.colorspace, "-b", self.bitdepth, src]  # fmt: skip

    def decode_cmd(self, out: Path, rec: Path) -> list[Any]:
        return [self.decoder_path, "-o", rec, out]


class TFCICodec(ExternalCodec):
    """The TensorFlow Compression models through their ``tfci.py`` script."""

    key = "tfci"
    suffix = ".tfci"
    qualities = (1, 2, 3, 4, 5, 6, 7, 8)
    quality_range = (1, 8)
    models = ("bmshj2018-factorized-mse", "bmshj2018-hyperprior-mse", "mbt2018-mean-mse")

    def __init__(self, model: str = "bmshj2018-factorized-mse", path: str = "tfci.py") -> None:
        self.model, self.path = model, path
        self.label = model

    def programs(self) -> list[tuple[str, str]]:
        if not Path(self.path).is_file():
            raise ToolNotFoundError(
                f"{self.path} not found: download tfci.py from github.com/tensorflow/compression "
                "and give its path with -p"
            )
        return []

    def description(self) -> str:
        return "TFCI"

    def encode_cmd(self, src: Path, quality: int, out: Path) -> list[Any]:
        return [sys.executable, self.path, "compress", f"{self.model}-{quality:d}", src, out]

    def decode_cmd(self, out: Path, rec: Path) -> list[Any]:
        return [sys.executable, self.path, "decompress", out, rec]


def _ycbcr444_planes(img: Image.Image, rgb: bool) -> np.ndarray:
    """(3, H, W) uint8 planes: BT.709 YCbCr, or G, B, R when ``rgb``."""
    arr = np.asarray(img.convert("RGB")).transpose(2, 0, 1)
    if rgb:
        return np.ascontiguousarray(arr[[1, 2, 0]])
    ycc = rgb2ycbcr(torch.from_numpy(arr.copy()).float() / 255).clamp(0, 1)
    return (ycc.numpy() * 255).round().astype(np.uint8)


def _picture_from_planes(planes: np.ndarray, rgb: bool) -> Image.Image:
    if rgb:
        arr = planes[[2, 0, 1]]
    else:
        back = ycbcr2rgb(torch.from_numpy(planes.astype(np.float32) / 255)).clamp(0, 1)
        arr = (back.numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)), "RGB")


class _YUVCodec(ExternalCodec):
    """A codec fed raw 8-bit 4:4:4 planes (VTM, HM, AV1)."""

    rgb = False

    def yuv_commands(
        self, yuv: Path, out: Path, rec: Path, width: int, height: int, quality: int
    ) -> tuple[list[Any], list[Any]]:
        raise NotImplementedError

    def _code_in(
        self, folder: Path, img: Image.Image, quality: int
    ) -> tuple[bytes, Image.Image, float, float]:
        planes = _ycbcr444_planes(img, self.rgb)
        yuv, out, rec = folder / "in.yuv", folder / f"out{self.suffix}", folder / "rec.yuv"
        yuv.write_bytes(planes.tobytes())
        height, width = planes.shape[1:]
        enc_s, dec_s = run_timed(*self.yuv_commands(yuv, out, rec, width, height, quality))
        data = np.fromfile(rec, dtype=np.uint8)
        if data.size != planes.size:
            raise ToolError(f"the decoder wrote {data.size} bytes, expected {planes.size}")
        picture = _picture_from_planes(data.reshape(planes.shape), self.rgb)
        return out.read_bytes(), picture, enc_s, dec_s


class VTMCodec(_YUVCodec):
    """VVC through the VTM reference software (one intra frame)."""

    key = "vtm"
    label = "VTM"
    qualities = (22, 27, 32, 37, 42, 47)
    quality_range = (0, 63)
    lower_is_better = True
    tool = "VTM"

    def __init__(self, build_dir: str, config: str, rgb: bool = False) -> None:
        self.build_dir, self.config, self.rgb = build_dir, config, rgb
        self.encoder_path = vtm_binary(build_dir, "Encoder")
        self.decoder_path = vtm_binary(build_dir, "Decoder")

    def programs(self) -> list[tuple[str, str]]:
        hint = f"build the {self.tool} reference software and give its folder with -b"
        if not Path(self.config).is_file():
            raise ToolNotFoundError(f"{self.config} not found: give a {self.tool} config with -c")
        return [(self.encoder_path, hint), (self.decoder_path, hint)]

    def extra_options(self) -> list[str]:
        return ["--ConformanceWindowMode=1"]

    def yuv_commands(
        self, yuv: Path, out: Path, rec: Path, width: int, height: int, quality: int
    ) -> tuple[list[Any], list[Any]]:
        enc: list[Any] = [self.encoder_path, "-i", yuv, "-c", self.config, "-q", quality,
                          "-o", os.devnull, "-b", out, "-wdt", width, "-hgt", height,
                          "-fr", "1", "-f", "1", "--InputChromaFormat=444",
                          "--InputBitDepth=8", *self.extra_options()]  # fmt: skip
        dec: list[Any] = [self.decoder_path, "-b", out, "-o", rec, "-d", 8]
        if self.rgb:
            enc += ["--InputColourSpaceConvert=RGBtoGBR", "--SNRInternalColourSpace=1",
                    "--OutputInternalColourSpace=0"]  # fmt: skip
            dec.append("--OutputInternalColourSpace=GBRtoRGB")
        return enc, dec


class HMCodec(VTMCodec):
    """HEVC through the HM reference software (one intra frame)."""

    key = "hm"
    label = "HM"
    quality_range = (0, 51)
    tool = "HM"

    def __init__(self, build_dir: str, config: str, rgb: bool = False) -> None:
        self.build_dir, self.config, self.rgb = build_dir, config, rgb
        self.encoder_path = os.path.join(build_dir, "TAppEncoderStatic")
        self.decoder_path = os.path.join(build_dir, "TAppDecoderStatic")

    def extra_options(self) -> list[str]:
        return ["--SEIDecodedPictureHash", "--Level=5.1", "--CUNoSplitIntraACT=0",
                "--ConformanceMode=1"]  # fmt: skip


class AV1Codec(_YUVCodec):
    """AV1 through the AOM reference software (``aomenc`` / ``aomdec``, one frame, 4:4:4)."""

    key = "av1"
    label = "AV1"
    suffix = ".webm"
    qualities = (12, 22, 32, 42, 52, 62)
    quality_range = (0, 63)
    lower_is_better = True

    def __init__(self, build_dir: str) -> None:
        self.build_dir = build_dir
        self.encoder_path = os.path.join(build_dir, "aomenc")
        self.decoder_path = os.path.join(build_dir, "aomdec")

    def programs(self) -> list[tuple[str, str]]:
        hint = "build libaom (aomenc, aomdec) and give its folder with -b"
        return [(self.encoder_path, hint), (self.decoder_path, hint)]

    def yuv_commands(
        self, yuv: Path, out: Path, rec: Path, width: int, height: int, quality: int
    ) -> tuple[list[Any], list[Any]]:
        enc = [self.encoder_path, "-w", width, "-h", height, "--fps=1/1", "--limit=1",
               "--input-bit-depth=8", "--cpu-used=0", "--threads=1", "--passes=2",
               "--end-usage=q", f"--cq-level={quality}", "--i444", "--skip=0", "--tune=psnr",
               "--psnr", "--bit-depth=8", "-o", out, yuv]  # fmt: skip
        dec = [self.decoder_path, out, "-o", rec, "--rawvideo", "--output-bit-depth=8"]
        return enc, dec
