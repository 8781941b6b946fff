"""The .tfy container: round trips, every flipped byte, every truncation, fuzzed headers."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import tinify
from tinify.codec.coding import decode_image, encode_image, rate_options
from tinify.codec.format import (
    CODING_MODES,
    MAGIC,
    MAX_HEADER_SIZE,
    MAX_STREAMS,
    FormatError,
    TfyHeader,
    frame_streams,
    pack,
    unpack,
)
from tinify.codec.loading import LoadedModel, weights_id
from tinify.models import CompressionModel
from tinify.zoo import list_models
from tinify.zoo.pretrained import is_variable_rate

CODING_MODES_BY_NAME = {name: mode for mode, name in CODING_MODES.items()}

HEADER = TfyHeader(
    model="bmshj2018-hyperprior",
    quality=3,
    metric="mse",
    source="zoo",
    weights_id=bytes(range(8)),
    height=70,
    width=45,
    padding=(9, 10, 29, 29),
    shapes=((2, 1),),
    encoder="tinify test",
)
STREAMS = [b"\x01\x02\x03\x04\x05" * 3, b"\xaa\xbb\xcc"]
FILE = pack(HEADER, STREAMS)


def _with_header_crc(data: bytearray) -> bytes:
    """Recompute the header CRC after editing header bytes (to reach the later checks)."""
    (size,) = struct.unpack_from("<I", data, 10)
    struct.pack_into("<I", data, size - 4, zlib.crc32(bytes(data[: size - 4])))
    return bytes(data)


def test_round_trip() -> None:
    header, streams = unpack(FILE)
    assert streams == STREAMS
    assert header.stream_lengths == (15, 3)
    assert replace(header, stream_lengths=(), payload_crc=0) == HEADER
    assert header.padded_size == (128, 64)
    assert FILE.startswith(MAGIC)
    # minimal header 76 + name beyond 1 char + encoder + one 2-D shape + 2 lengths + payload
    assert len(FILE) == 76 + 19 + 11 + 9 + 8 + 18


VIDEO_HEADER = replace(
    HEADER, model="ssf2020", kind="video", frames=3, fps=Fraction(30000, 1001), yuv444=True
)
VIDEO_STREAMS = [bytes([i]) * (i + 1) for i in range(10)]  # 2 + 4 * (3 - 1) streams
VIDEO_FILE = pack(VIDEO_HEADER, VIDEO_STREAMS)


def test_video_fields_round_trip() -> None:
    header, streams = unpack(VIDEO_FILE)
    assert (header.kind, header.frames, header.fps) == ("video", 3, Fraction(30000, 1001))
    assert header.yuv444 and streams == VIDEO_STREAMS
    assert replace(header, stream_lengths=(), payload_crc=0) == VIDEO_HEADER
    assert VIDEO_FILE[18] == 0x02  # flags: bit 1 = 4:4:4 source


def test_describe_image() -> None:
    header, _ = unpack(FILE)
    info = header.describe(file_bytes=len(FILE))
    pixels = 70 * 45
    assert info["model"] == "bmshj2018-hyperprior" and info["quality"] == 3
    assert (info["coding"], info["kind"], info["weights"]) == ("float", "image", "zoo")
    assert info["weights_id"] == "0001020304050607" and info["size"] == "45x70"
    assert info["padding_lrtb"] == [9, 10, 29, 29] and info["latent_shapes"] == [[2, 1]]
    assert info["stream_lengths"] == [15, 3] and info["payload_bytes"] == 18
    assert info["header_bytes"] == len(FILE) - 18 and info["file_bytes"] == len(FILE)
    assert info["bpp_payload"] == round(8 * 18 / pixels, 6)
    assert info["bpp_file"] == round(8 * len(FILE) / pixels, 6)
    assert info["payload_crc32"] == f"{zlib.crc32(b''.join(STREAMS)):08x}"
    assert "fps" in info and info["fps"] is None and "duration_s" not in info
    # Without the file length, the file-level numbers are left out.
    bare = header.describe()
    assert not {"header_bytes", "file_bytes", "bpp_file"} & set(bare)
    assert {k: v for k, v in info.items() if k in bare} == bare


def test_describe_video() -> None:
    header, _ = unpack(VIDEO_FILE)
    info = header.describe(file_bytes=len(VIDEO_FILE))
    # Streams 0-1 are the I-frame (1 + 2 bytes), then four per P-frame.
    assert info["frame_payload_bytes"] == [3, 3 + 4 + 5 + 6, 7 + 8 + 9 + 10]
    assert info["i_frame_bytes"] == 3
    assert info["p_frame_bytes_min_mean_max"] == [18, 26.0, 34]
    assert info["fps"] == "30000/1001" and info["y4m_chroma"] == "444"
    seconds = 3 / Fraction(30000, 1001)
    assert info["duration_s"] == round(float(seconds), 6)
    assert info["kbps_payload"] == round(float(8 * 55 / seconds) / 1e3, 3)


def test_no_streams_round_trip() -> None:
    header, streams = unpack(pack(HEADER, []))
    assert streams == [] and header.payload_size == 0


def test_format_error_is_a_tinify_error() -> None:
    assert issubclass(FormatError, tinify.BitstreamError)
    assert issubclass(FormatError, tinify.TinifyError)


def test_every_flipped_byte_is_rejected() -> None:
    for i in range(len(FILE)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(FILE)
            damaged[i] ^= mask
            with pytest.raises(FormatError):
                unpack(bytes(damaged))


def test_every_truncation_is_rejected() -> None:
    for n in range(len(FILE)):
        with pytest.raises(FormatError) as info:
            unpack(FILE[:n])
        message = str(info.value)
        assert "truncated" in message or "magic" in message, (n, message)


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(FormatError, match="unexpected bytes after the payload"):
        unpack(FILE + b"\x00")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "magic"),
        (b"hello world, this is text" * 10, "magic"),
        (MAGIC[:5], "truncated"),
    ],
)
def test_foreign_files(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        unpack(data)


def test_newer_version_and_reserved_mode() -> None:
    newer = bytearray(FILE)
    newer[8] = 3
    with pytest.raises(FormatError, match="upgrade tinify"):
        unpack(bytes(newer))
    fixed, _ = unpack(pack(replace(HEADER, coding_mode=1), STREAMS))
    assert fixed.coding_mode == 1
    unknown = bytearray(FILE)
    unknown[9] = 7
    with pytest.raises(FormatError, match="coding mode 7"):
        unpack(bytes(unknown))


def test_huge_header_size_is_rejected_before_reading() -> None:
    for size in (MAX_HEADER_SIZE + 1, 2**32 - 1, 10):
        data = bytearray(FILE)
        struct.pack_into("<I", data, 10, size)
        with pytest.raises(FormatError, match="header size"):
            unpack(bytes(data))
    data = bytearray(FILE)
    struct.pack_into("<I", data, 10, MAX_HEADER_SIZE)
    with pytest.raises(FormatError, match="truncated"):
        unpack(bytes(data))


def _stream_count_offset(data: bytes) -> int:
    (size,) = struct.unpack_from("<I", data, 10)
    return size - 4 - 4 * len(STREAMS) - 4


def test_huge_stream_count_with_valid_crc_is_rejected() -> None:
    data = bytearray(FILE)
    struct.pack_into("<I", data, _stream_count_offset(FILE), MAX_STREAMS + 1)
    with pytest.raises(FormatError, match="streams; at most"):
        unpack(_with_header_crc(data))
    struct.pack_into("<I", data, _stream_count_offset(FILE), 1000)
    with pytest.raises(FormatError, match="runs past"):
        unpack(_with_header_crc(data))


def test_huge_stream_length_with_valid_crc_is_rejected() -> None:
    data = bytearray(FILE)
    struct.pack_into("<I", data, _stream_count_offset(FILE) + 4, 2**32 - 1)
    with pytest.raises(FormatError, match="truncated"):
        unpack(_with_header_crc(data))


def test_huge_image_size_with_valid_crc_is_rejected() -> None:
    data = bytearray(FILE)
    struct.pack_into("<I", data, 28, 2**31)
    with pytest.raises(FormatError, match="image size"):
        unpack(_with_header_crc(data))


@pytest.mark.parametrize(
    "change",
    [
        {"model": ""},
        {"model": "x" * 65},
        {"model": "bad name"},
        {"metric": "psnr"},
        {"source": "web"},
        {"quality": 256},
        {"weights_id": b"short"},
        {"height": 0},
        {"width": 70000},
        {"padding": (0, 0, 0, 70000)},
        {"stream_chunks": 0},
        {"frames": 2},
        {"fps": Fraction(30)},
        {"bit_depth": 10},
        {"coding_mode": 2},
        {"shapes": ((0, 1),)},
        {"shapes": ((1, 1, 1, 1, 1),)},
        {"encoder": "é"},
    ],
)
def test_pack_refuses_what_unpack_would_reject(change: dict[str, object]) -> None:
    with pytest.raises(FormatError):
        pack(replace(HEADER, **change), STREAMS)  # type: ignore[arg-type]


@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        unpack(data)
    except FormatError:
        pass


@given(st.binary(max_size=300))
def test_fuzz_after_magic(tail: bytes) -> None:
    try:
        unpack(MAGIC + tail)
    except FormatError:
        pass


@pytest.mark.parametrize("base", [FILE, VIDEO_FILE], ids=["image", "video"])
@given(
    edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 1 << 16),
)
def test_fuzz_mutated_headers_with_valid_crc(
    base: bytes, edits: list[tuple[int, int]], cut: int
) -> None:
    """Edits inside the header with its CRC fixed up reach the field checks: only FormatError."""
    data = bytearray(base)
    cut %= len(base) + 1
    (size,) = struct.unpack_from("<I", data, 10)
    for pos, value in edits:
        pos %= len(base)
        if 14 <= pos < size - 4:
            data[pos] = value
    fixed = _with_header_crc(data)[:cut] if cut > size else _with_header_crc(data)
    try:
        header, streams = unpack(fixed)
    except FormatError:
        return
    assert len(streams) == len(header.stream_lengths)
    assert sum(map(len, streams)) == header.payload_size
    assert sorted(i for r in frame_streams(header) for i in r) == list(range(len(streams)))


# -- a real file from a model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_file(hyperprior: LoadedModel) -> bytes:
    torch.manual_seed(0)
    return encode_image(hyperprior, torch.rand(1, 3, 40, 50))


def test_real_file_every_flipped_byte(real_file: bytes, hyperprior: LoadedModel) -> None:
    for i in range(len(real_file)):
        damaged = bytearray(real_file)
        damaged[i] ^= 0x10
        with pytest.raises(FormatError):
            decode_image(bytes(damaged), hyperprior)


def test_real_file_every_truncation(real_file: bytes, hyperprior: LoadedModel) -> None:
    for n in range(len(real_file)):
        with pytest.raises(FormatError):
            decode_image(real_file[:n], hyperprior)


def test_real_file_round_trip(real_file: bytes, hyperprior: LoadedModel) -> None:
    decoded = decode_image(real_file, hyperprior)
    assert decoded.x_hat.shape == (1, 3, 40, 50)
    assert decoded.header.padding == (7, 7, 12, 12)
    assert decoded.header.stream_chunks == 1


@pytest.mark.parametrize("entropy_path", ["fixed", "float"])
@pytest.mark.parametrize("name", list_models(kind="image"))
def test_every_zoo_architecture(
    name: str, entropy_path: str, make_tiny: Callable[..., CompressionModel]
) -> None:
    model = make_tiny(name)
    loaded = LoadedModel(model, name, 1, "mse", "checkpoint", weights_id(model))
    x = torch.rand(1, 3, 70, 100, generator=torch.Generator().manual_seed(1))
    data = encode_image(loaded, x, entropy_path=entropy_path)
    assert model.entropy_path == "float"  # the option is passed per call, never set
    header, streams = unpack(data)
    assert len(streams) == len(model.latent_names) and header.model == name
    assert header.coding_mode == CODING_MODES_BY_NAME[entropy_path]
    decoded = decode_image(data, loaded)
    assert decoded.x_hat.shape == x.shape
    rate = rate_options(model, header.quant_step)  # variable-rate models: the recorded step
    assert (header.quant_step is not None) is is_variable_rate(name)
    with torch.no_grad():  # the container adds nothing: same result as the model's own padding
        out = model.compress(x, entropy_path=entropy_path, **rate)
        direct = model.decompress(**out, entropy_path=entropy_path, **rate)["x_hat"]
    assert torch.equal(decoded.x_hat, direct)


def test_fixed_mode_file_decodes_with_a_float_default_model(hyperprior: LoadedModel) -> None:
    """Mode 1 selects the fixed path from the header, whatever the model's own setting."""
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    model = hyperprior.model
    fixed = encode_image(hyperprior, x, entropy_path="fixed")
    assert fixed[9] == 1 and encode_image(hyperprior, x, entropy_path="float")[9] == 0
    assert model.entropy_path == "float"
    with torch.no_grad():
        out = model.compress(x, entropy_path="fixed")
        direct = model.decompress(**out, entropy_path="fixed")["x_hat"]
    assert torch.equal(decode_image(fixed, hyperprior).x_hat, direct)
    with pytest.raises(ValueError, match="entropy_path"):
        encode_image(hyperprior, x, entropy_path="integer")
    with pytest.raises(ValueError, match="stream_chunks"):
        encode_image(hyperprior, x, stream_chunks=0)


# -- the quantization step of the variable-rate models ----------------------------------------


def test_quant_step_round_trip() -> None:
    header = replace(HEADER, model="mbt2018-vbr", quant_step=2.6833)
    data = pack(header, STREAMS)
    assert len(data) == len(pack(replace(header, quant_step=None), STREAMS)) + 8
    assert data[18] == 0x08  # flag bit 3 (bit 2 is the ICC profile)
    back, streams = unpack(data)
    assert back.quant_step == 2.6833 and streams == STREAMS
    assert back == replace(header, stream_lengths=back.stream_lengths, payload_crc=back.payload_crc)


def test_quant_step_and_icc_profile_together() -> None:
    """Both optional fields in one header: the step after the shapes, the profile after the
    stream lengths, each with its own flag bit."""
    header = replace(HEADER, model="mbt2018-vbr", quant_step=1.9305, icc_profile=b"icc!" * 5)
    data = pack(header, STREAMS)
    assert data[18] == 0x04 | 0x08
    assert len(data) == len(pack(replace(header, quant_step=None, icc_profile=b""), STREAMS)) + (
        8 + 4 + 20
    )
    back, streams = unpack(data)
    assert (back.quant_step, back.icc_profile, streams) == (1.9305, b"icc!" * 5, STREAMS)


def test_files_without_quant_step_are_unchanged() -> None:
    """A header without a step has flag bit 3 clear and no extra bytes: version-1 files written
    before the field existed read exactly as before."""
    assert not FILE[18] & 0x08
    assert unpack(FILE)[0].quant_step is None
    (size,) = struct.unpack_from("<I", FILE, 10)
    assert size == 76 + len("bmshj2018-hyperprior") - 1 + len("tinify test") + 9 + 2 * 4


@pytest.mark.parametrize("step", [0.0, -1.0, float("nan"), float("inf"), 1e-4, 2048.0])
def test_bad_quant_steps_are_refused(step: float) -> None:
    with pytest.raises(FormatError, match="quantization step"):
        pack(replace(HEADER, quant_step=step), STREAMS)
    good = bytearray(pack(replace(HEADER, quant_step=2.0), STREAMS))
    at = bytes(good).index(struct.pack("<d", 2.0))
    good[at : at + 8] = struct.pack("<d", step)
    with pytest.raises(FormatError, match="quantization step"):
        unpack(_with_header_crc(good))


def test_quant_step_flag_without_its_bytes_is_rejected() -> None:
    data = bytearray(FILE)
    data[18] |= 0x08  # claims a step that is not there: the header runs short
    with pytest.raises(FormatError):
        unpack(_with_header_crc(data))


def test_video_has_no_quant_step() -> None:
    video = replace(
        HEADER, kind="video", frames=2, fps=Fraction(25), shapes=((2, 1),), quant_step=2.0
    )
    with pytest.raises(FormatError, match="only an image"):
        pack(video, [b"a"] * 6)


def test_quant_step_must_match_the_model(make_tiny: Callable[..., CompressionModel]) -> None:
    vbr, plain = make_tiny("mbt2018-mean-vbr"), make_tiny("mbt2018-mean")
    with torch.no_grad():
        vbr.g_a[6].weight.mul_(40.0)  # latents large enough for the step to matter
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    loaded = LoadedModel(vbr, "mbt2018-mean-vbr", 0, "mse", "checkpoint", weights_id(vbr))
    sizes = []
    for step in (8.0, 1.0):
        data = encode_image(loaded, x, quant_step=step)
        header, _ = unpack(data)
        assert header.quant_step == step and header.coding_mode == 0
        decoded = decode_image(data, loaded).x_hat
        with torch.no_grad():
            scale = torch.tensor(1 / step)
            direct = vbr.decompress(**vbr.compress(x, inputscale=scale), inputscale=scale)
        assert torch.equal(decoded, direct["x_hat"])
        sizes.append(header.payload_size)
        # A header that lost its step (re-packed without it) is refused, not decoded wrongly.
        stripped = pack(replace(header, quant_step=None), unpack(data)[1])
        with pytest.raises(FormatError, match="needs a quantization step"):
            decode_image(stripped, loaded)
    assert sizes[0] < sizes[1]  # a larger step, a lower rate
    other = LoadedModel(plain, "mbt2018-mean", 1, "mse", "checkpoint", weights_id(plain))
    with pytest.raises(tinify.TinifyError, match="variable-rate"):
        encode_image(other, x, quant_step=2.0)
    with pytest.raises(tinify.TinifyError, match="quantization step must be"):
        encode_image(loaded, x, quant_step=0.0)
