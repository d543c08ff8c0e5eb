"""Turn whatever the user attached into an image a vision model can take, or say why not.

Every image is untrusted: it is opened with a pixel limit (decompression bombs are
refused before any pixel is decoded), verified, decoded in full at intake (so a truncated
file fails here, not halfway through a chat), turned upright by its EXIF orientation,
reduced to its first frame and to plain RGB, downscaled and re-encoded. Any failure
becomes an `ImageIntakeError` whose message names the file and fits in the UI.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from engine.vision.data_uri import data_uri

MAX_PIXELS = 50_000_000
"""Largest image accepted, in pixels (a 50 MP phone photo fits; a bomb does not)."""

MAX_FILE_BYTES = 100 * 1024 * 1024
"""Largest image file read into memory at all."""

DEFAULT_MAX_SIDE = 896
PNG_BUDGET_BYTES = 1024 * 1024
"""A lossless source stays PNG unless its PNG is bigger than this (then it is a photo)."""

Image.init()
OPENABLE_FORMATS = tuple(f for f in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF", "AVIF") if f in Image.OPEN)
"""Formats Hearth decodes (JPEG includes MPO, the multi-picture JPEG of many cameras).
Pillow can open more, some through outside programs (EPS runs Ghostscript); an attachment
never needs them, so they are not offered to untrusted bytes."""

PHOTO_FORMATS = frozenset({"JPEG", "MPO", "WEBP", "AVIF"})
JPEG_QUALITY = 90

# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; Hearth turns the warning
# into a refusal too (see _open_checked), so the limit is MAX_PIXELS either way.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageIntakeError(Exception):
    """An image Hearth will not attach; the message names the file and is fit for the UI.

    `reason` is a short machine-readable word: empty, unreadable, too_large, unsupported,
    truncated, corrupt, disk_full, unwritable.
    """

    def __init__(self, message: str, *, name: str = "", reason: str = "corrupt") -> None:
        super().__init__(message)
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class PreparedImage:
    """An upright, RGB, size-limited image encoded as PNG or JPEG, ready to send or store."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int
    name: str
    source_width: int
    source_height: int
    source_format: str

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def extension(self) -> str:
        return "png" if self.mime == "image/png" else "jpg"

    @property
    def data_uri(self) -> str:
        return data_uri(self.mime, self.data)


def prepare_image(
    source: Path | str | bytes,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    name: str | None = None,
) -> PreparedImage:
    """Validate, orient, flatten, downscale and encode one image.

    Raises ImageIntakeError (never anything else for bad input) naming `name`, the file's
    name, or "The image" for anonymous bytes.
    """
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    raw, label = _read_source(source, name)
    if not raw:
        raise ImageIntakeError(f"{label} is empty (0 bytes), so there is no image to attach.", name=label, reason="empty")

    with _translated_errors(label):
        probe = _open_checked(raw, label)
        source_format = probe.format or "?"
        source_size = probe.size
        probe.verify()  # checksums (PNG) and structure, without decoding pixels

        image = _open_checked(raw, label)  # verify() leaves the image unusable: reopen
        image.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale, much faster
        image.load()  # decode everything now, so truncation is found at intake
        image = _upright(image)
        image = _to_rgb(image)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        data, mime = _encode(image, source_format)

    return PreparedImage(
        data=data,
        mime=mime,
        width=image.width,
        height=image.height,
        name=label,
        source_width=source_size[0],
        source_height=source_size[1],
        source_format=source_format,
    )


def _read_source(source: Path | str | bytes, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        label = name or "The image"
        if len(raw) > MAX_FILE_BYTES:
            raise _file_too_big(label, len(raw))
        return raw, label
    path = Path(source)
    label = name or path.name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _file_too_big(label, size)
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except ImageIntakeError:
        raise
    except IsADirectoryError:
        raise ImageIntakeError(f"{label} is a folder, not an image.", name=label, reason="unreadable") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ImageIntakeError(f"Could not read {label}: {reason}.", name=label, reason="unreadable") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _file_too_big(label, len(raw))
    return raw, label


def _file_too_big(label: str, size: int) -> ImageIntakeError:
    return ImageIntakeError(
        f"{label} is {size / 1_000_000:.0f} MB; Hearth accepts image files up to "
        f"{MAX_FILE_BYTES // 1_000_000} MB.",
        name=label,
        reason="too_large",
    )


def _too_many_pixels(label: str, width: int | None = None, height: int | None = None) -> ImageIntakeError:
    limit = f"Hearth accepts images up to {MAX_PIXELS // 1_000_000} megapixels (for example 8000×6000)"
    if width and height:
        message = f"{label} is {width}×{height} pixels; {limit}."
    else:
        message = f"{label} has too many pixels; {limit}."
    return ImageIntakeError(message, name=label, reason="too_large")


def _open_checked(raw: bytes, label: str) -> Image.Image:
    """Open lazily (header only) and refuse too many pixels before anything is decoded."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=OPENABLE_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(label, *_claimed_size(raw)) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(label, width, height)
    if width < 1 or height < 1:
        raise ImageIntakeError(f"{label} has no pixels ({width}×{height}).", name=label, reason="corrupt")
    return image


def _claimed_size(raw: bytes) -> tuple[int, int] | tuple[()]:
    """The size a refused file's header claims, read without Pillow's pixel check (which
    refused it before telling): only the plugin's header parser runs, nothing is decoded.
    Used for the error message alone; () when it cannot be told."""
    for fmt in OPENABLE_FORMATS:
        factory, accept = Image.OPEN[fmt]
        try:
            if accept and not accept(raw[:16]):
                continue
            width, height = factory(io.BytesIO(raw)).size
            return (width, height)
        except Exception:  # a header that fails here just means "size unknown"
            continue
    return ()


class _translated_errors:
    """Map whatever Pillow raises on hostile bytes to an ImageIntakeError naming the file.

    Decoders for untrusted input fail in many ways (OSError, SyntaxError, ValueError,
    struct.error, EOFError, IndexError, MemoryError...); all mean "this file is not an
    image Hearth can use", so all are caught here and only here.
    """

    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> bool:
        if error is None or isinstance(error, ImageIntakeError) or not isinstance(error, Exception):
            return False
        raise _describe(self.label, error) from error


def _describe(label: str, error: Exception) -> ImageIntakeError:
    if isinstance(error, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return _too_many_pixels(label)
    if isinstance(error, UnidentifiedImageError):
        supported = "PNG, JPEG, GIF, WebP, BMP, TIFF or AVIF"
        return ImageIntakeError(
            f"{label} is not an image Hearth can read (it accepts {supported}).",
            name=label,
            reason="unsupported",
        )
    if isinstance(error, MemoryError):
        return ImageIntakeError(f"{label} needs more memory to open than is available.", name=label, reason="too_large")
    text = str(error).lower()
    if isinstance(error, EOFError) or "truncated" in text or "ended prematurely" in text:
        return ImageIntakeError(
            f"{label} is incomplete: the file ends before the image does (was it fully downloaded?).",
            name=label,
            reason="truncated",
        )
    return ImageIntakeError(f"{label} is damaged and cannot be read as an image.", name=label, reason="corrupt")


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a photo with a damaged EXIF block is kept as it is stored
    rather than refused (its pixels are fine, only the note about turning it is not)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # any EXIF parsing failure: same meaning, same answer
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """Plain 8-bit RGB; transparency is composited on white (models see what users see)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        image = _deep_to_grey(image)
        mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _deep_to_grey(image: Image.Image) -> Image.Image:
    """16-bit and float greys scaled into 8 bits (a plain convert would clip them to white)."""
    if image.mode == "F":
        low, high = image.getextrema()
        span = (high - low) or 1.0
        return image.point(lambda v: (v - low) * (255.0 / span)).convert("L")
    wide = image.convert("I")
    _low, high = wide.getextrema()
    if high <= 255:
        return wide.convert("L")
    return wide.point(lambda v: v * (255.0 / 65535.0)).convert("L")


def _encode(image: Image.Image, source_format: str) -> tuple[bytes, str]:
    """JPEG for photos; PNG for lossless sources (screenshots, diagrams) that stay small."""
    if source_format not in PHOTO_FORMATS:
        png = io.BytesIO()
        image.save(png, format="PNG", optimize=False, compress_level=6)
        if png.tell() <= PNG_BUDGET_BYTES:
            return png.getvalue(), "image/png"
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return jpeg.getvalue(), "image/jpeg"
