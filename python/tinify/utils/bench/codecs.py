# SPDX-License-Identifier: Apache-2.0
"""CompressAI 1.2.8's codec classes (``compressai.utils.bench.codecs``) on tinify's codecs.

A codec is built from parsed arguments (``JPEG(args)``; each class adds its options with
``setup_args(parser)``) and measures one image with ``run(path, quality, metrics,
return_rec)``. Pillow codecs (JPEG, WebP, JPEG 2000, AVIF) are :mod:`tinify.codec.baselines`;
the others run external programs through :mod:`tinify.codec.external` and raise
:class:`~tinify.codec.external.ToolNotFoundError` with a clear message when those are missing.
"""

from __future__ import annotations

import abc
import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image

from tinify.codec.baselines import CODECS, ImageCodec, code_and_measure
from tinify.codec.evaluate import distortion
from tinify.codec.external import (
    AV1Codec,
    BPGCodec,
    HMCodec,
    JPEG2000Codec,
    TFCICodec,
    VTMCodec,
    run_command,
)
from tinify.codec.external import vtm_binary as _vtm_binary
from tinify.exceptions import ParameterError
from tinify.io.image import image_to_tensor
from tinify.io.image import read_image as _read_rgb

__all__ = [
    "AV1",
    "AVIF",
    "BPG",
    "HM",
    "JPEG",
    "JPEG2000",
    "TFCI",
    "VTM",
    "BinaryCodec",
    "Codec",
    "PillowCodec",
    "WebP",
    "compute_metrics",
    "filesize",
    "get_vtm_decoder_path",
    "get_vtm_encoder_path",
    "read_image",
    "run_command",
]

Picture = Union[np.ndarray, Image.Image]


def filesize(filepath: str) -> int:
    """Size of a file in bytes.

    Raises:
        ParameterError: not a file.
    """
    if not Path(filepath).is_file():
        raise ParameterError(f'Invalid file "{filepath}".')
    return Path(filepath).stat().st_size


def read_image(filepath: str, mode: str = "RGB") -> Image.Image:
    """An image file as a Pillow image in ``mode`` (RGB: see
    :func:`tinify.io.image.read_image`)."""
    img = _read_rgb(filepath)
    return img if mode == "RGB" else img.convert(mode)


def _tensor(picture: Picture) -> torch.Tensor:
    if isinstance(picture, Image.Image):
        return image_to_tensor(picture.convert("RGB"))
    arr = np.asarray(picture, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None] if arr.ndim == 3 else torch.from_numpy(arr)


def compute_metrics(
    a: Picture, b: Picture, metrics: list[str] | None = None, max_val: float = 255.0
) -> dict[str, float | None]:
    """``psnr-rgb`` and ``ms-ssim-rgb`` (or the ``metrics`` asked for) between two 8-bit
    pictures (Pillow images or (H, W, 3) arrays); MS-SSIM is ``None`` under 161x161."""
    values = distortion(_tensor(a), _tensor(b), int(max_val))
    wanted = metrics if metrics is not None else ["psnr-rgb", "ms-ssim-rgb"]
    return {k: values[k] for k in wanted if k in values}


def get_vtm_encoder_path(build_dir: str) -> str:
    """VTM's encoder in ``build_dir``."""
    return _vtm_binary(build_dir, "Encoder")


def get_vtm_decoder_path(build_dir: str) -> str:
    """VTM's decoder in ``build_dir``."""
    return _vtm_binary(build_dir, "Decoder")


class Codec(abc.ABC):  # noqa: B024 (abstract by convention: subclasses set ``impl``)
    """A codec measured on image files; subclasses build :attr:`impl` from the arguments."""

    _description: str | None = None
    impl: ImageCodec

    def __init__(self, args: argparse.Namespace | None = None) -> None:
        self._set_args(args if args is not None else argparse.Namespace())

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        return args

    @classmethod  # noqa: B027 (optional hook)
    def setup_args(cls, parser: argparse.ArgumentParser) -> None:
        """Add the codec's options to its sub-command parser (none by default)."""

    @property
    def description(self) -> str:
        """The results' ``description``."""
        return self.impl.description()

    @property
    def name(self) -> str:
        """The results' ``name``."""
        return self.impl.label

    def _load_img(self, img: str) -> Image.Image:
        return read_image(os.path.abspath(img))

    def _run_impl(self, in_filepath: str, quality: int) -> tuple[dict[str, Any], Image.Image]:
        row, rec = code_and_measure(self.impl, self._load_img(in_filepath), quality)
        return row, rec

    def run(
        self,
        in_filepath: str,
        quality: int,
        metrics: list[str] | None = None,
        return_rec: bool = False,
    ) -> dict[str, Any] | tuple[dict[str, Any], Image.Image]:
        """``bpp``, ``encoding_time``, ``decoding_time`` and the ``metrics`` (default: PSNR and
        MS-SSIM on RGB) of one image at ``quality``, and the decoded picture if asked."""
        row, rec = self._run_impl(in_filepath, quality)
        wanted = metrics if metrics is not None else ["psnr-rgb", "ms-ssim-rgb"]
        info = {k: v for k, v in row.items() if not k.startswith(("psnr", "ms-ssim"))}
        info.update({k: row[k] for k in wanted if k in row})
        return (info, rec) if return_rec else info


class PillowCodec(Codec):
    """A codec of the installed Pillow (:data:`tinify.codec.baselines.CODECS`)."""

    key = ""

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = CODECS[self.key]
        return args


class JPEG(PillowCodec):
    """JPEG (4:2:0) through Pillow's libjpeg; ``-q`` 1-95."""

    key = "jpeg"


class WebP(PillowCodec):
    """WebP through Pillow's libwebp; ``-q`` 0-100."""

    key = "webp"


class AVIF(PillowCodec):
    """AVIF through Pillow (when it has AVIF support); ``-q`` 0-100."""

    key = "avif"


class JPEG2000(PillowCodec):
    """JPEG 2000: Pillow's OpenJPEG (``-q`` = target PSNR in dB), or ffmpeg's libopenjpeg as
    CompressAI runs it with ``--ffmpeg [PATH]`` (``-q`` = compression level)."""

    key = "jpeg2000"

    @classmethod
    def setup_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--ffmpeg",
            nargs="?",
            const="ffmpeg",
            default=None,
            metavar="PATH",
            help="code with ffmpeg (CompressAI's protocol) instead of Pillow",
        )

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        ffmpeg = getattr(args, "ffmpeg", None)
        self.impl = JPEG2000Codec(ffmpeg) if ffmpeg else CODECS[self.key]
        return args


class BinaryCodec(Codec):
    """A codec run by external programs (:mod:`tinify.codec.external`)."""


class BPG(BinaryCodec):
    """BPG through ``bpgenc`` / ``bpgdec``; ``-q`` 0-51 (lower is better)."""

    @classmethod
    def setup_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-m", choices=["420", "444"], default="444", help="subsampling")
        parser.add_argument("-b", choices=["8", "10"], default="8", help="bit depth")
        parser.add_argument("-c", choices=["rgb", "ycbcr"], default="ycbcr", help="colour space")
        parser.add_argument("-e", choices=["jctvc", "x265"], default="x265", help="HEVC encoder")
        parser.add_argument("--encoder-path", default="bpgenc", help="BPG encoder path")
        parser.add_argument("--decoder-path", default="bpgdec", help="BPG decoder path")

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = BPGCodec(
            getattr(args, "m", "444"),
            getattr(args, "b", "8"),
            getattr(args, "c", "ycbcr"),
            getattr(args, "e", "x265"),
            getattr(args, "encoder_path", "bpgenc"),
            getattr(args, "decoder_path", "bpgdec"),
        )
        return args


class TFCI(BinaryCodec):
    """TensorFlow Compression models through their ``tfci.py`` script; ``-q`` 1-8."""

    _models = list(TFCICodec.models)

    @classmethod
    def setup_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-m", "--model", choices=cls._models, default=cls._models[0])
        parser.add_argument("-p", "--path", required=True, help="tfci python script path")

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = TFCICodec(args.model, args.path)
        return args


class VTM(BinaryCodec):
    """VVC through the VTM reference software; ``-q`` 0-63 (lower is better)."""

    @classmethod
    def setup_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-b", "--build-dir", type=str, required=True, help="build folder")
        parser.add_argument("-c", "--config", type=str, required=True, help="config file")
        parser.add_argument("--rgb", action="store_true", help="code RGB (as GBR), not YCbCr")

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = VTMCodec(args.build_dir, args.config, args.rgb)
        return args


class HM(VTM):
    """HEVC through the HM reference software; ``-q`` 0-51 (lower is better)."""

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = HMCodec(args.build_dir, args.config, args.rgb)
        return args


class AV1(BinaryCodec):
    """AV1 through ``aomenc`` / ``aomdec``; ``-q`` (cq-level) 0-63 (lower is better)."""

    @classmethod
    def setup_args(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("-b", "--build-dir", type=str, required=True, help="AOM binaries")

    def _set_args(self, args: argparse.Namespace) -> argparse.Namespace:
        self.impl = AV1Codec(args.build_dir)
        return args


#: Every codec class, in the order of the sub-commands.
ALL_CODECS: Sequence[type[Codec]] = (JPEG, WebP, JPEG2000, AVIF, BPG, TFCI, VTM, HM, AV1)
