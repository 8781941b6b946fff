"""Issue 17, images in: convert by declared mode and bit depth (never by value range), apply EXIF
orientation and ICC profiles, convert CMYK and Lab, and say so in a note."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from tinify.codec.cli import main
from tinify.codec.format import MAX_ICC_BYTES, FormatError, TfyHeader, pack, unpack
from tinify.io.image import read_image

HYPER = "bmshj2018-hyperprior"


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


def test_icc_profile_is_kept_and_written_back(
    tmp_path: Path, checkpoints: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    array = np.tile(np.arange(0, 256, 4, dtype=np.uint8)[None, :, None], (64, 1, 3))
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "srgb.png"
    Image.fromarray(array).save(path, icc_profile=srgb)
    pixels, notes = _read(path)
    np.testing.assert_array_equal(pixels, array)
    assert notes == []  # sRGB: nothing to say
    linear = tmp_path / "linear.png"
    profile = linear_rgb_profile()
    Image.fromarray(array).save(linear, icc_profile=profile)
    pixels, notes = _read(linear)
    np.testing.assert_array_equal(pixels, array)  # coded in its own colour space
    assert notes == [
        f"{linear}: ICC profile 'Linear RGB test' kept (stored in the .tfy, written back on "
        "decoding)"
    ]
    assert read_image(linear).info["icc_profile"] == profile
    tfy, out = tmp_path / "linear.tfy", tmp_path / "back.png"
    ckpt = str(checkpoints["hyperprior"])
    assert main(["encode", str(linear), "-o", str(tfy), "--checkpoint", ckpt, "-m", HYPER]) == 0
    header, _ = unpack(tfy.read_bytes())
    assert header.icc_profile == profile and tfy.read_bytes()[18] & 0x04
    assert main(["decode", str(tfy), "-o", str(out), "--checkpoint", ckpt]) == 0
    with Image.open(out) as decoded:
        assert decoded.info["icc_profile"] == profile
    capsys.readouterr()
    gray = tmp_path / "gray-tagged.png"
    Image.fromarray(array).save(gray, icc_profile=b"not a profile")
    assert "unreadable and was dropped" in _read(gray)[1][0]
    assert "icc_profile" not in read_image(gray).info


def test_icc_field_in_the_format() -> None:
    header = TfyHeader(
        model="bmshj2018-hyperprior",
        quality=3,
        metric="mse",
        source="zoo",
        weights_id=bytes(8),
        height=64,
        width=64,
        shapes=((1, 1),),
    )
    streams = [bytes(9), bytes(8)]
    plain = pack(header, streams)
    tagged = pack(replace(header, icc_profile=b"\x01" * 1000), streams)
    assert len(tagged) == len(plain) + 4 + 1000 and tagged[18] == plain[18] | 0x04
    assert unpack(tagged)[0].icc_profile == b"\x01" * 1000
    assert unpack(plain)[0].icc_profile == b""
    with pytest.raises(FormatError, match="ICC profile must be at most"):
        pack(replace(header, icc_profile=bytes(MAX_ICC_BYTES + 1)), streams)
    # A crafted length field (CRC fixed up) is refused before anything is read.
    data = bytearray(tagged)
    (size,) = struct.unpack_from("<I", data, 10)
    struct.pack_into("<I", data, size - 4 - 1000 - 4, MAX_ICC_BYTES + 1)
    struct.pack_into("<I", data, size - 4, zlib.crc32(bytes(data[: size - 4])))
    with pytest.raises(FormatError, match="ICC profile of 1048577 bytes"):
        unpack(bytes(data))


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
