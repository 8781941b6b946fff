"""The exception family: every tinify error is a TinifyError (a ValueError), defined in
tinify.exceptions, with CompressAI's built-in type as a second base where it raises another."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tinify.exceptions as exc
from tinify.exceptions import (
    BitstreamError,
    FormatError,
    InputError,
    MissingFileError,
    NotReadyError,
    ParameterError,
    ParameterTypeError,
    TinifyError,
    VideoFormatError,
    WeightsError,
    WeightsMismatchError,
)

PACKAGE = Path(exc.__file__).parent

CLASSES = [
    obj
    for name in exc.__all__
    if inspect.isclass(obj := getattr(exc, name)) and issubclass(obj, BaseException)
]


def test_every_class_is_a_tinify_error_and_a_value_error() -> None:
    assert len(CLASSES) == 23
    for cls in CLASSES:
        assert issubclass(cls, TinifyError) and issubclass(cls, ValueError), cls


def test_hierarchy() -> None:
    assert issubclass(FormatError, BitstreamError)
    assert issubclass(VideoFormatError, InputError)
    assert issubclass(WeightsError, RuntimeError)  # as torch.hub's hash check raises
    assert issubclass(ParameterTypeError, ParameterError) and issubclass(
        ParameterTypeError, TypeError
    )
    assert issubclass(MissingFileError, InputError) and issubclass(
        MissingFileError, FileNotFoundError
    )
    assert issubclass(NotReadyError, RuntimeError)
    assert not issubclass(WeightsMismatchError, InputError)
    assert not issubclass(InputError, RuntimeError)
    assert issubclass(exc.DatasetError, InputError) and issubclass(exc.DatasetError, RuntimeError)
    assert issubclass(exc.DatasetNotFoundError, FileNotFoundError)
    assert issubclass(exc.UnknownOptionError, KeyError)
    assert issubclass(exc.DownloadError, RuntimeError)


def test_old_import_paths_name_the_same_classes() -> None:
    import tinify.ans
    import tinify.codec
    import tinify.codec.format
    import tinify.codec.loading
    import tinify.io.image
    import tinify.io.video
    import tinify.zoo
    import tinify.zoo.hub

    assert tinify.codec.format.FormatError is tinify.codec.FormatError is FormatError
    assert tinify.io.image.InputError is InputError
    assert tinify.io.video.VideoFormatError is VideoFormatError
    assert tinify.zoo.WeightsError is tinify.zoo.hub.WeightsError is WeightsError
    assert tinify.codec.loading.WeightsMismatchError is WeightsMismatchError
    assert tinify.codec.WeightsMismatchError is WeightsMismatchError
    assert tinify.ans.BitstreamError is tinify.BitstreamError is BitstreamError


def test_no_error_class_outside_tinify_exceptions() -> None:
    defined = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Exception")):
                defined.append(f"{path.relative_to(PACKAGE)}:{node.name}")
    python_classes = {"FormatError", "InputError", "VideoFormatError", "WeightsError"}
    python_classes |= {"WeightsMismatchError", "ParameterTypeError", "MissingFileError"}
    python_classes |= {"NotReadyError", "DatasetError", "DatasetNotFoundError", "DownloadError"}
    python_classes |= {"UnknownOptionError", "SizeMismatchError", "ToolError", "ToolNotFoundError"}
    python_classes |= {"UnknownOptimizerError", "BlurArgumentError"}
    python_classes |= {"BufferRegistrationError", "LimitError"}
    assert sorted(defined) == sorted(f"exceptions.py:{name}" for name in python_classes)


def test_importing_the_exceptions_does_not_import_torch() -> None:
    code = "import sys, tinify.exceptions; print('torch' in sys.modules)"
    env = {"PYTHONPATH": str(PACKAGE.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_raised_errors_are_caught_by_compressai_style_handlers(tmp_path: Path) -> None:
    from tinify.codec.format import unpack
    from tinify.io.image import read_image
    from tinify.io.video import read_y4m
    from tinify.utils.metrics import psnr
    from tinify.zoo.hub import fetch

    with pytest.raises(ValueError) as info:
        unpack(b"not a tfy file at all")
    assert isinstance(info.value, FormatError)

    with pytest.raises(ValueError) as info:
        read_image(tmp_path / "missing.png")
    assert isinstance(info.value, InputError) and "no such file" in str(info.value)

    bad = tmp_path / "bad.y4m"
    bad.write_bytes(b"YUV4MPEG2 W8 H8 F25:1 C420\nFRAME\n" + bytes(10))  # truncated frame
    with pytest.raises(InputError) as info:
        read_y4m(bad)
    assert isinstance(info.value, VideoFormatError)

    weights = tmp_path / "w-00000000.pth.tar"
    torch.save({"a": torch.ones(1)}, weights)
    with pytest.raises(RuntimeError) as info:  # a hash mismatch, as with torch.hub
        fetch(str(weights))
    assert isinstance(info.value, WeightsError) and isinstance(info.value, TinifyError)

    with pytest.raises(ValueError) as info:
        psnr(torch.zeros(2), torch.zeros(3))
    assert isinstance(info.value, ParameterError)


def test_second_bases_match_what_compressai_code_catches(tmp_path: Path) -> None:
    import numpy as np

    from tinify.ans import CdfTable, RansDecoder, to_int32
    from tinify.entropy_models import EntropyBottleneck
    from tinify.io.video import read_png_frames
    from tinify.zoo import ssf2020

    with pytest.raises(TypeError) as info:
        to_int32([0.5, 1.5], "symbols")
    assert isinstance(info.value, ParameterTypeError)

    with pytest.raises(FileNotFoundError) as info:
        read_png_frames(tmp_path / "no-such-folder")
    assert isinstance(info.value, MissingFileError) and isinstance(info.value, InputError)

    with pytest.raises(RuntimeError, match=r"update\(\)") as info:
        EntropyBottleneck(4).compress(torch.zeros(1, 4, 2, 2))
    assert isinstance(info.value, NotReadyError)

    table = (
        np.array([[0, 65535, 65536]], np.int32),
        np.array([3], np.int32),
        np.zeros(1, np.int32),
    )
    with pytest.raises(RuntimeError, match="set_stream") as info:
        RansDecoder().decode_stream([0], CdfTable(*table))
    assert isinstance(info.value, NotReadyError)

    with pytest.raises(RuntimeError, match="no pretrained") as info:  # as CompressAI's zoo
        ssf2020(1, metric="ms-ssim", pretrained=True)
    assert isinstance(info.value, WeightsError)


def test_first_line() -> None:
    assert exc.first_line(ValueError("one\ntwo")) == "one"
    assert exc.first_line(KeyError()) == "KeyError"
