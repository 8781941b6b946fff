# SPDX-License-Identifier: Apache-2.0
"""CompressAI 1.2.8's video codec classes (``compressai.utils.video.bench.codecs``) on
:mod:`tinify.codec.video_baselines`: x264 and x265 through ffmpeg, VTM and HM through their
reference software. A class is built without arguments, takes its options with
``add_parser_args(parser)`` and ``set_args(args)``, and gives the command lines."""

from __future__ import annotations

import abc
import argparse
from pathlib import Path
from typing import Any

from tinify.codec.external import ffmpeg_version, run_command
from tinify.codec.video_baselines import (
    HMVideoCodec,
    VideoCodec,
    VTMVideoCodec,
    X264Codec,
    X265Codec,
    read_raw_sequence,
)

__all__ = ["HM", "VTM", "Codec", "get_ffmpeg_version", "run_command", "x264", "x265"]


def get_ffmpeg_version() -> str:
    """``ffmpeg -version``'s version word (raises ToolNotFoundError without ffmpeg)."""
    return ffmpeg_version()


class Codec(abc.ABC):
    """A video codec; :meth:`set_args` builds :attr:`impl`."""

    help = ""
    impl: VideoCodec

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The sub-command name."""

    @property
    def description(self) -> str:
        """The results' ``description``."""
        return self.impl.description()

    def name_config(self) -> str:
        """The results' ``name``."""
        return self.impl.name_config()

    @abc.abstractmethod
    def add_parser_args(self, parser: argparse.ArgumentParser) -> None:
        """Add the codec's options."""

    def set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        """Take the parsed options."""
        return args

    def get_bin_path(self, filepath: Path, qp: int, binpath: str, inputdir: Path) -> Path:
        """Where the bitstream of ``filepath`` at ``qp`` is kept (folder created)."""
        path = self.impl.bin_path(Path(filepath), qp, Path(binpath), Path(inputdir))
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def get_encode_cmd(self, filepath: Path, qp: int, binpath: Path) -> list[Any]:
        """The encoder command line."""
        return self.impl.encode_cmd(read_raw_sequence(filepath), qp, Path(binpath))

    def get_decode_cmd(self, binpath: Path, decpath: Path, input_filepath: Path) -> list[Any]:
        """The decoder command line (raw 8-bit 4:2:0 output)."""
        return self.impl.decode_cmd(Path(binpath), Path(decpath), read_raw_sequence(input_filepath))


class x264(Codec):  # noqa: N801 (CompressAI's name)
    """H.264 (x264) through ffmpeg."""

    preset = ""
    tune = ""

    @property
    def name(self) -> str:
        return "x264"

    def add_parser_args(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-p", "--preset", default="medium", help="preset")
        parser.add_argument(
            "--tune", default="psnr", help="x264/x265 tune (psnr, ssim, zerolatency, ...)"
        )
        parser.add_argument("--ffmpeg", default="ffmpeg", help="ffmpeg binary")

    def set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.preset, self.tune = args.preset, args.tune
        kind = X265Codec if self.name == "x265" else X264Codec
        self.impl = kind(args.preset, args.tune, getattr(args, "ffmpeg", "ffmpeg"))
        return args


class x265(x264):  # noqa: N801 (CompressAI's name)
    """HEVC (x265) through ffmpeg."""

    @property
    def name(self) -> str:
        return "x265"


class VTM(Codec):
    """VVC through the VTM reference software."""

    @property
    def name(self) -> str:
        return "VTM"

    def add_parser_args(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-b", "--build-dir", type=str, required=True, help="build folder")
        parser.add_argument("-c", "--config", type=str, required=True, help="config file")
        parser.add_argument("--rgb", action="store_true", help="code RGB (as GBR)")

    def set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = VTMVideoCodec(args.build_dir, args.config, args.rgb)
        return args


class HM(VTM):
    """HEVC through the HM reference software."""

    @property
    def name(self) -> str:
        return "HM"

    def set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = HMVideoCodec(args.build_dir, args.config, args.rgb)
        return args
