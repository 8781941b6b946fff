"""Issue 17, images in: convert by declared mode and bit depth (never by value range), apply EXIF
orientation and ICC profiles, convert CMYK and Lab, and say so in a note."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from tinify.codec.cli import main
from tinify.io.image import read_image


def _read(path: Path) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    img = read_image(path, notes.append)
    assert img.mode == "RGB"
    return np.asarray(img), notes


def test_sixteen_bit_values_below_256_stay_dark(tmp_path: Path) -> None:
    path = tmp_path / "dark.png"
    Image.fromarray(np.full((8, 8), 200, np.uint16)).save(path)
    with Image.open(path) as opened:
        assert opened.mode == "I;16"
    pixels, notes = _read(path)
    assert (pixels == 1).all()  # 200 / 65535 * 255 = 0.78 -> 1, not 200
    assert notes == [f"{path}: 16-bit integer grayscale, scaled to 8-bit RGB"]
    bright = tmp_path / "bright.png"
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(bright)
    assert (_read(bright)[0] == 255).all()


def test_float_tiff_is_read_as_unit_range(tmp_path: Path) -> None:
    path = tmp_path / "f.tif"
    values = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    Image.fromarray(values).save(path)
    pixels, notes = _read(path)
    np.testing.assert_array_equal(pixels[..., 0], np.rint(values * 255).astype(np.uint8))
    assert "32-bit float grayscale (read as [0, 1])" in notes[0]
    assert "clipped" not in notes[0]
    over = tmp_path / "over.tif"
    Image.fromarray(np.full((4, 4), 3.0, np.float32)).save(over)
    pixels, notes = _read(over)
    assert (pixels == 255).all() and "values outside [0, 1] clipped" in notes[0]


def test_thirty_two_bit_integer_tiff(tmp_path: Path) -> None:
    path = tmp_path / "i32.tif"
    values = np.array([[0, 1 << 30], [(1 << 31) - 1, -5]], np.int32)
    Image.fromarray(values).save(path)
    pixels, notes = _read(path)
    assert pixels[..., 0].tolist() == [[0, 128], [255, 0]]
    assert notes == [
        f"{path}: 32-bit signed integer grayscale, scaled to 8-bit RGB (negative values "
        "clipped to black)"
    ]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    array = np.zeros((16, 32, 3), np.uint8)
    array[:, :16] = 255  # left half white
    img = Image.fromarray(array)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rot.png"
    img.save(path, exif=exif.tobytes())
    pixels, notes = _read(path)
    assert pixels.shape == (32, 16, 3)
    assert pixels[:16].min() == 255 and pixels[16:].max() == 0  # white half now on top
    assert notes == [f"{path}: EXIF orientation 6 applied (the pixels were rotated)"]


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def linear_rgb_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile: sRGB primaries (D50-adapted) with gamma 1.0."""
    text = b"Linear RGB test\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(78)
    curv = b"curv" + bytes(4) + struct.pack(">IH", 1, 256) + bytes(2)  # gamma 1.0
    tags = [
        (b"desc", desc),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curv),
        (b"gTRC", curv),
        (b"bTRC", curv),
        (b"cprt", b"text" + bytes(4) + b"none" + bytes(4)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        body += bytes(-(offset + len(body)) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body))
        + b"lcms"
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + bytes(48)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def test_icc_profile_is_applied(tmp_path: Path) -> None:
    array = np.tile(np.arange(0, 256, 16, dtype=np.uint8)[None, :, None], (4, 1, 3))
    path = tmp_path / "srgb.png"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    Image.fromarray(array).save(path, icc_profile=srgb.tobytes())
    pixels, notes = _read(path)
    np.testing.assert_array_equal(pixels, array)  # an sRGB profile changes nothing
    assert notes == []
    linear = tmp_path / "linear.png"
    Image.fromarray(array).save(linear, icc_profile=linear_rgb_profile())
    pixels, notes = _read(linear)
    # Linear 128/255 is sRGB 188: the ramp is brightened as a colour-managed viewer shows it.
    assert pixels[0, 8].tolist() == [188, 188, 188] and array[0, 8, 0] == 128
    assert pixels[0, 0].tolist() == [0, 0, 0]
    assert notes == [
        f"{linear}: converted from its ICC profile 'Linear RGB test' to sRGB (the .tfy holds sRGB)"
    ]


def test_lab_and_cmyk(tmp_path: Path) -> None:
    path = tmp_path / "lab.tif"
    Image.new("LAB", (4, 4), (128, 128, 128)).save(path)
    pixels, notes = _read(path)
    assert abs(int(pixels[0, 0, 0]) - 119) <= 1 and len(set(pixels[0, 0].tolist())) == 1
    assert "LAB converted to sRGB" in notes[0]
    cmyk = tmp_path / "c.tif"
    Image.new("CMYK", (4, 4), (0, 255, 255, 0)).save(cmyk)
    pixels, notes = _read(cmyk)
    assert pixels[0, 0].tolist() == [255, 0, 0] and "CMYK" in notes[0]


def test_tiny_and_thin_images_get_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for width, height in ((1, 1), (5000, 1), (40, 40)):
        path = tmp_path / f"t{width}x{height}.png"
        Image.new("RGB", (width, height), (10, 200, 30)).save(path)
        assert main(["encode", str(path), "-o", str(tmp_path / f"{width}.tfy")]) == 0
        err = capsys.readouterr().err
        tiny = width * height < 64 * 64 / 4 or height == 1
        assert ("is tiny or thin" in err) == tiny, err
    big = tmp_path / "ok.png"
    Image.new("RGB", (64, 48)).save(big)
    assert main(["encode", str(big), "-o", str(tmp_path / "ok.tfy")]) == 0
    assert "is tiny or thin" not in capsys.readouterr().err
