# SPDX-License-Identifier: Apache-2.0
"""Reading and writing images and clips, listing datasets, and all-or-nothing outputs.

A clip (video input or output) is a folder of PNG frames, a ``.y4m`` file or a raw 4:2:0
``.yuv`` file (:func:`is_video_path`); the conversions are :mod:`tinify.io.video`'s.
"""

from __future__ import annotations

import contextlib
import io
import stat
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TypeVar, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tinify.exceptions import InputError
from tinify.utils.arrays import to_numpy

if TYPE_CHECKING:  # torch is imported where tensors are made: `tinify info` needs none
    import torch
from tinify.utils.files import atomic_folder, atomic_path

__all__ = [
    "DEFAULT_FPS",
    "IMAGE_EXTENSIONS",
    "VIDEO_SUFFIXES",
    "Clip",
    "ClipStream",
    "InputError",
    "atomic_folder",
    "atomic_output",
    "check_clip_output",
    "check_output",
    "clip_writer",
    "is_video_path",
    "image_to_tensor",
    "list_images",
    "open_clip",
    "output_format",
    "pil_to_tensor",
    "progress_bar",
    "read_clip",
    "read_image",
    "save_image",
    "tensor_to_image",
    "write_bytes",
    "write_clip",
]

PathLike = Union[str, Path]
T = TypeVar("T")

#: File suffixes picked up from a dataset folder (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def read_image(
    path: PathLike, note: Callable[[str], None] | None = None, *, max_pixels: int | None = None
) -> Image.Image:
    """Open ``path`` with Pillow and return it as an 8-bit RGB image.

    Grayscale, palette, alpha, CMYK and 16-bit images are converted; ``note`` (if given) is
    called with a one-line message saying what was converted. Only the first frame of an
    animation is used.

    The size is checked against ``max_pixels`` (see :func:`tinify.codec.limits.max_pixels`)
    from the file's header, before the pixels are decoded.

    Raises:
        InputError: the file is missing, unreadable, not an image, or too large.
        LimitError: the image has more than ``max_pixels`` pixels.
    """
    from tinify.codec.limits import LimitError, check_pixels

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # Tinify's own limit (checked below) replaces Pillow's decompression-bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(path)
        with opened as img:
            try:
                check_pixels(img.width, img.height, max_pixels)
            except LimitError as err:
                raise LimitError(f"{path}: {err}") from None
            frames = int(getattr(img, "n_frames", 1))
            if frames > 1 and note is not None:
                note(f"{path}: has {frames} frames; only the first is coded")
            img.load()
            return _to_rgb(img, path, note)
    except (InputError, LimitError):
        raise
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file Pillow can read") from None
    except Image.DecompressionBombError as err:
        raise LimitError(
            f"{path}: Pillow refuses to open an image this large ({_first_sentence(err)})"
        ) from None
    except MemoryError:
        raise LimitError(
            f"{path}: not enough memory to read this image; lower --max-pixels or free memory"
        ) from None
    except (OSError, ValueError) as err:
        raise InputError(f"{path}: cannot read the image ({err})") from None


def _first_sentence(err: BaseException) -> str:
    return str(err).split(". ")[0].rstrip(".")


def _to_rgb(img: Image.Image, path: Path, note: Callable[[str], None] | None) -> Image.Image:
    """Convert by the image's declared mode and bit depth (never by its value range), apply
    its EXIF orientation and its ICC profile; ``note`` says what was done."""
    messages: list[str] = []
    orientation = img.getexif().get(_EXIF_ORIENTATION)
    source = img
    if orientation not in (None, 1):
        oriented = ImageOps.exif_transpose(img)
        if oriented is not None:
            messages.append(f"EXIF orientation {orientation} applied (the pixels were rotated)")
            img = oriented
    out, message = _convert_mode(img, source)
    if message:
        messages.append(message)
    final = out if out is not img else img.copy()
    final.info.pop("icc_profile", None)
    icc = source.info.get("icc_profile")
    if icc and img.mode not in ("CMYK", "LAB"):
        kept, icc_message = _keep_icc(icc)
        if kept:
            final.info["icc_profile"] = kept
        if icc_message:
            messages.append(icc_message)
    if note is not None and messages:
        note(f"{path}: {'; '.join(messages)}")
    return final


_EXIF_ORIENTATION = 0x0112


def _declared_bits(img: Image.Image, source: Image.Image) -> int:
    """Bits per sample of a single-channel integer image, from its mode and file header."""
    if img.mode.startswith("I;16"):
        return 16
    if source.format in ("PNG", "PPM"):  # mode "I" there means 16-bit samples
        return 16
    tags = getattr(source, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return int(bits) if isinstance(bits, int) and 8 < bits <= 32 else 32


def _convert_mode(img: Image.Image, source: Image.Image) -> tuple[Image.Image, str]:
    """``(RGB image, note)`` (``source``: the image as opened, with its file's tags); the note
    is empty when nothing was lost or changed."""
    mode = img.mode
    if mode == "RGB":
        return img, ""
    if mode.startswith("I"):
        bits = _declared_bits(img, source)
        values = np.asarray(img).astype(np.float64)
        tags = getattr(source, "tag_v2", None)
        signed = bits == 32 and tags is not None and tags.get(339) in (2, (2,))
        top = float(2 ** (bits - 1) - 1 if signed else 2**bits - 1)
        gray = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        kind = "signed " if signed else ""
        clipped = " (negative values clipped to black)" if signed and values.min() < 0 else ""
        out = Image.fromarray(gray, "L").convert("RGB")
        return out, f"{bits}-bit {kind}integer grayscale, scaled to 8-bit RGB{clipped}"
    if mode == "F":
        values = np.asarray(img, dtype=np.float64)
        outside = bool(np.any((values < 0) | (values > 1) | ~np.isfinite(values)))
        gray = np.clip(np.rint(np.nan_to_num(values) * 255.0), 0, 255).astype(np.uint8)
        out = Image.fromarray(gray, "L").convert("RGB")
        clip = "; values outside [0, 1] clipped" if outside else ""
        return out, f"32-bit float grayscale (read as [0, 1]), scaled to 8-bit RGB{clip}"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in img.info):
        out = img.convert("RGBA").convert("RGB")
        return out, f"{mode} with an alpha channel; the alpha channel is dropped (coded as RGB)"
    if mode in ("L", "1"):
        return img.convert("RGB"), "grayscale; converted to RGB (three equal channels)"
    if mode in ("CMYK", "LAB"):
        return _colour_managed(img)
    return img.convert("RGB"), f"mode {mode}; converted to RGB"


def _colour_managed(img: Image.Image) -> tuple[Image.Image, str]:
    """A CMYK or Lab image converted to sRGB (with its ICC profile when it has one)."""
    from PIL import ImageCms

    srgb = ImageCms.createProfile("sRGB")
    icc = img.info.get("icc_profile")
    try:
        source: ImageCms.ImageCmsProfile
        if icc:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            how = "with its ICC profile"
        elif img.mode == "LAB":
            source = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
            how = "(D50 Lab)"
        else:
            return img.convert("RGB"), "CMYK without a colour profile; converted to RGB naively"
        transform = ImageCms.buildTransform(source, srgb, img.mode, "RGB")
        out = ImageCms.applyTransform(img, transform)
    except (OSError, ValueError, ImageCms.PyCMSError) as err:
        raise InputError(f"cannot convert {img.mode} to RGB ({err})") from None
    if out is None:  # only with inPlace=True
        raise InputError(f"cannot convert {img.mode} to RGB")
    return out, f"{img.mode} converted to sRGB {how}"


def _keep_icc(icc: bytes) -> tuple[bytes, str]:
    """``(profile to keep, note)`` for an embedded ICC profile: an RGB profile is kept (the
    .tfy stores it, decoding writes it back; the pixels stay as they are); others are dropped."""
    from PIL import ImageCms

    from tinify.codec.format import MAX_ICC_BYTES

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = ImageCms.getProfileDescription(profile).strip()
        space = profile.profile.xcolor_space.strip()
    except (OSError, ValueError, ImageCms.PyCMSError):
        return b"", "its ICC profile is unreadable and was dropped (colours may shift)"
    if space != "RGB":
        return b"", f"its {space} ICC profile {name!r} does not fit RGB and was dropped"
    if len(icc) > MAX_ICC_BYTES:
        return b"", f"its ICC profile {name!r} is over {MAX_ICC_BYTES} bytes and was dropped"
    if "srgb" in name.lower():
        return icc, ""
    return icc, f"ICC profile {name!r} kept (stored in the .tfy, written back on decoding)"


def pil_to_tensor(img: Image.Image, contiguous: bool = True) -> torch.Tensor:
    """A Pillow image as a uint8 tensor (3, H, W), RGB (other modes are converted).

    With ``contiguous=False`` the result is a channels-last view of one copy of the pixels (no
    second copy of a large image; :func:`tinify.codec.coding.encode_image` reads it as is).
    """
    import torch

    if img.mode != "RGB":
        img = img.convert("RGB")
    view = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)
    return view.contiguous() if contiguous else view


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB Pillow image as a float32 tensor (1, 3, H, W) in [0, 1]."""
    return pil_to_tensor(img).unsqueeze(0).float().div_(255)


def tensor_to_image(x: torch.Tensor) -> Image.Image:
    """A (1, 3, H, W) or (3, H, W) tensor in [0, 1] as an 8-bit RGB Pillow image (converted
    in bands of rows, so a large image needs no second float copy)."""
    import torch

    if x.dim() == 4:
        x = x[0]
    x = x.detach()
    height, width = (int(s) for s in x.shape[-2:])
    out = np.empty((height, width, 3), np.uint8)
    band = max(1, (1 << 20) // max(width, 1))  # rows per band: no whole-image float copy
    for top in range(0, height, band):
        rows = x[:, top : top + band].to("cpu", torch.float32).mul(255).round_().clamp_(0, 255)
        out[top : top + band] = to_numpy(rows.permute(1, 2, 0), np.uint8)
    return Image.fromarray(out, "RGB")


def output_format(path: PathLike) -> str:
    """The Pillow format name for the suffix of ``path`` (``"PNG"`` for ``x.png``).

    Raises:
        InputError: Pillow cannot write files with that suffix.
    """
    suffix = Path(path).suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt not in Image.SAVE:
        raise InputError(f"{path}: cannot write images with suffix {suffix!r}; use .png")
    return fmt


#: zlib level of the PNG files tinify writes. Pillow's default (6) spends 2.5x the time of level
#: 3 for files within 0.1% of its size on photographs (a 3-megapixel decode: 9.1 s vs 3.6 s for
#: 4.93 MB either way), most of ``tinify decode``'s time outside the networks.
PNG_COMPRESS_LEVEL = 3


def save_image(img: Image.Image, path: PathLike, *, icc_profile: bytes = b"") -> None:
    """Write ``img`` to ``path`` atomically, in the format its suffix names (PNG: lossless),
    with ``icc_profile`` embedded when given.

    Raises:
        InputError: unknown suffix or missing folder.
    """
    fmt = output_format(path)
    options: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
    with atomic_output(path) as tmp:
        img.save(tmp, format=fmt, **options)


def check_output(
    path: PathLike, *, force: bool = True, inputs: Iterable[PathLike | None] = ()
) -> Path:
    """Check that ``path`` can be written; return its folder.

    Its folder must exist; it must not be one of ``inputs`` (the same file under any name);
    what exists there must be a regular file (never a folder, device, FIFO or socket: writing
    would replace it), and is only replaced when ``force`` is true.

    Raises:
        InputError: it cannot, with what to do instead.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"{target}: folder {folder} does not exist")
    if target.is_dir():
        raise InputError(f"{target}: is a folder; give a file name")
    if not target.exists() and not target.is_symlink():
        return folder
    for source in inputs:
        if source is not None and _same_file(target, Path(source)):
            raise InputError(
                f"{target}: is the input {source}; writing would destroy it (give another -o)"
            )
    try:
        mode = target.stat().st_mode
    except OSError:  # a dangling link: it would be replaced by the file
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):
        raise InputError(
            f"{target}: is not a regular file (a device, FIFO or socket); tinify writes only "
            "regular files (use -o - for standard output)"
        )
    if not force:
        raise InputError(f"{target}: exists; pass -f/--force to overwrite it")
    return folder


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``, else delete it.

    Readers never see a partial file, and a failure leaves no output at all.

    Raises:
        InputError: the target folder does not exist or ``path`` is a folder.
    """
    check_output(Path(path))
    with atomic_path(path) as tmp:
        yield tmp


def write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def list_images(source: PathLike) -> list[Path]:
    """The images of a dataset: a folder's files with an image suffix (sorted, not recursive),
    or a single file.

    Raises:
        InputError: missing path, or a folder without images.
    """
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    images = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not images:
        raise InputError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return images


def progress_bar(iterable: Iterable[T], total: int, desc: str, enabled: bool = True) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when tqdm is installed and ``enabled``."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, unit="img", leave=False, file=sys.stderr)


# -- clips ----------------------------------------------------------------------------------------

#: File suffixes of video files (a folder is a clip of PNG frames).
VIDEO_SUFFIXES = (".y4m", ".yuv")
#: Frame rate recorded for a clip that does not say (a PNG folder, a raw ``.yuv``).
DEFAULT_FPS = Fraction(25)


def is_video_path(path: PathLike) -> bool:
    """Whether ``path`` names a clip: an existing folder, or a ``.y4m`` / ``.yuv`` file."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Clip:
    """Frames read by :func:`read_clip`.

    Attributes:
        frames: (1, 3, H, W) float32 RGB tensors in [0, 1].
        fps: the frame rate (the Y4M header's, else :data:`DEFAULT_FPS`).
        yuv444: the source was 4:4:4 YUV.
    """

    frames: list[torch.Tensor]
    fps: Fraction
    yuv444: bool = False


def _clip_size(path: Path, size: tuple[int, int] | None) -> tuple[int, int] | None:
    """``(width, height)`` of a clip from its header alone (a Y4M header line, the first PNG's
    header, or the size given for a raw file); None when it cannot be told cheaply."""
    from tinify.io.video import MAX_HEADER_BYTES, VideoFormatError, parse_y4m_header

    if size is not None:
        return size
    try:
        if path.is_dir():
            first = min((p for p in path.iterdir() if p.suffix.lower() == ".png"), default=None)
            if first is None:
                return None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(first) as img:
                    return img.size
        if path.suffix.lower() == ".y4m":
            with open(path, "rb") as f:
                header = parse_y4m_header(f.readline(MAX_HEADER_BYTES + 1))
            return header.width, header.height
    except (OSError, ValueError, VideoFormatError, Image.DecompressionBombError):
        return None  # read_clip reports it
    return None


@dataclass
class ClipStream:
    """A clip opened by :func:`open_clip`: its header facts, and its frames as they are read.

    Attributes:
        frames: an iterator of (1, 3, H, W) float32 RGB tensors in [0, 1], read one at a time
            (a malformed frame raises :class:`InputError` naming the file when reached).
        fps: the frame rate (the Y4M header's, else :data:`DEFAULT_FPS`).
        yuv444: the source is 4:4:4 YUV.
    """

    frames: Iterator[torch.Tensor]
    fps: Fraction
    yuv444: bool = False


def open_clip(
    path: PathLike,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    *,
    max_pixels: int | None = None,
) -> ClipStream:
    """Open a PNG folder, ``.y4m`` or raw 4:2:0 ``.yuv`` file to read its frames one at a time
    (memory: one frame, whatever the clip's length). Arguments and errors as
    :func:`read_clip`; what can be checked from a header is checked here, each frame when it
    is read."""
    from tinify.codec.limits import LimitError, check_pixels
    from tinify.io.video import VideoFormatError, iter_video, iter_y4m, yuv_to_rgb

    p = Path(path)
    suffix = "" if p.is_dir() else p.suffix.lower()
    if size is not None and suffix != ".yuv":
        raise InputError(f"{p}: --size is only for raw .yuv files (the others give their size)")
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    frame_size = _clip_size(p, size)
    if frame_size is not None:
        try:
            check_pixels(*frame_size, max_pixels, "a frame")
        except LimitError as err:
            raise LimitError(f"{p}: {err}") from None
    try:
        if suffix == ".y4m":
            header, planes = iter_y4m(p, max_frames)
            frames: Iterator[torch.Tensor] = (yuv_to_rgb(f) for f in planes)
            clip = ClipStream(frames, Fraction(*header.fps), header.chroma == "444")
        else:
            width, height = size if size is not None else (None, None)
            frames = iter_video(p, width, height, max_frames, max_pixels=max_pixels)
            clip = ClipStream(frames, DEFAULT_FPS)
    except (VideoFormatError, FileNotFoundError, ValueError) as err:
        raise _clip_error(p, err) from None
    clip.frames = _named_errors(p, clip.frames)
    return clip


def _clip_error(path: Path, err: BaseException) -> InputError:
    message = str(err)  # some messages name the file already
    return InputError(message if message.startswith(str(path)) else f"{path}: {message}")


def _named_errors(path: Path, frames: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    """``frames``, with a read error turned into an :class:`InputError` naming ``path``, and
    an empty clip refused."""
    from tinify.codec.limits import LimitError
    from tinify.io.video import VideoFormatError

    count = 0
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except LimitError:
            raise
        except (VideoFormatError, FileNotFoundError, ValueError) as err:
            raise _clip_error(path, err) from None
        count += 1
        yield frame
    if not count:
        raise InputError(f"{path}: holds no frames")


def read_clip(
    path: PathLike,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    *,
    max_pixels: int | None = None,
) -> Clip:
    """Read a PNG folder, ``.y4m`` or raw 4:2:0 ``.yuv`` file as RGB frames (all in memory;
    :func:`open_clip` reads them one at a time).

    Args:
        path: the clip.
        size: ``(width, height)`` of a raw ``.yuv`` file (else taken from its name,
            ``clip_832x480.yuv``).
        max_frames: read at most this many frames.
        max_pixels: refuse frames of more pixels, from the header, before reading any frame
            (see :func:`tinify.codec.limits.max_pixels`).

    Raises:
        InputError: missing, empty or malformed clip, or a size given for another format.
        LimitError: frames larger than ``max_pixels``.
    """
    clip = open_clip(path, size, max_frames, max_pixels=max_pixels)
    return Clip(list(clip.frames), clip.fps, clip.yuv444)


def check_clip_output(
    path: PathLike, *, force: bool = True, inputs: Iterable[PathLike | None] = ()
) -> str:
    """Check a clip output path and return its format: ``"png"`` (a folder, which must not exist
    or be empty), ``"y4m"`` or ``"yuv"`` (files whose folder must exist).

    A file output is checked by :func:`check_output` with ``force`` and ``inputs``.

    Raises:
        InputError: another suffix, a non-empty folder, or a missing parent folder.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        check_output(target, force=force, inputs=inputs)
        return suffix[1:]
    if suffix and not target.is_dir():
        raise InputError(
            f"{target}: a video decodes to a folder of PNG frames, a .y4m or a .yuv file, not "
            f"{suffix!r}"
        )
    if not target.parent.is_dir():
        raise InputError(f"{target}: folder {target.parent} does not exist")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"{target}: exists and is not an empty folder; choose a new folder")
    return "png"


def write_clip(
    frames: Iterable[torch.Tensor], path: PathLike, fps: Fraction, chroma: str = "420"
) -> str:
    """Write RGB frames (1, 3, H, W) in [0, 1] all or nothing; return the format written.

    ``path`` is checked by :func:`check_clip_output`: a folder gets ``00000.png``,
    ``00001.png``, ...; a ``.y4m`` gets ``fps`` and ``chroma`` (``"420"`` or ``"444"``); a
    ``.yuv`` is raw 4:2:0. ``frames`` may be any iterable, written as it yields
    (:func:`clip_writer`).
    """
    suffix = Path(path).suffix.lower()
    with clip_writer(path, fps, chroma) as writer:
        for frame in frames:
            writer(frame)
    return suffix[1:] if suffix in VIDEO_SUFFIXES else "png"


@contextlib.contextmanager
def clip_writer(
    path: PathLike, fps: Fraction, chroma: str = "420"
) -> Iterator[Callable[[torch.Tensor], None]]:
    """Write a clip frame by frame, all or nothing: yields ``write(frame)``, which appends one
    RGB frame (1, 3, H, W) in [0, 1] to a temporary file or folder beside ``path``; leaving
    the block without an error renames it onto ``path``, an error (or no frame) removes it.
    Memory: one frame.

    ``path`` is checked by :func:`check_clip_output` (a new or empty folder of PNG frames
    ``00000.png``, ...; a ``.y4m`` with ``fps`` and ``chroma``; a raw 4:2:0 ``.yuv``).

    Raises:
        InputError: ``path`` cannot be written (see :func:`check_clip_output`).
    """
    from tinify.io.video import Y4MWriter, YUV420Writer, write_png_frames

    kind = check_clip_output(path)
    if kind == "png":
        with atomic_folder(path) as tmp:
            count = 0

            def write_png(frame: torch.Tensor) -> None:
                nonlocal count
                write_png_frames([frame], tmp, pattern=f"{count:05d}.png")
                count += 1

            yield write_png
            if not count:
                raise InputError(f"{path}: no frames to write")
        return
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        if kind == "y4m":
            writer: Y4MWriter | YUV420Writer = Y4MWriter(
                f, (fps.numerator, fps.denominator), chroma
            )
        else:
            writer = YUV420Writer(f)
        yield writer.write
        writer.close()
