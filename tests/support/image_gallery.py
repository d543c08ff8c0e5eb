"""A gallery of real-world image oddities, written with Pillow into a temporary folder.

Each entry is what users really attach: phone photos lying on their side (EXIF
orientation), print-shop CMYK JPEGs, 16-bit scans, transparent icons, animated GIFs,
half-downloaded files, a text file someone renamed to .png, a decompression bomb.
"""
from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)


def png_header_claiming(width: int, height: int) -> bytes:
    """A structurally valid PNG whose IHDR claims width×height: a bomb costing 60 bytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00\x00\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def noisy_image(size: tuple[int, int], seed: int = 1) -> Image.Image:
    """Incompressible pixels, so a file cut in half is cut inside its pixel data."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def sideways_photo() -> bytes:
    """60×40 JPEG, red left half / blue right half, EXIF orientation 6 (rotate 90° clockwise)."""
    image = Image.new("RGB", (60, 40), BLUE)
    image.paste(RED, (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(image, "JPEG", quality=95, exif=exif.tobytes())


def cmyk_jpeg() -> bytes:
    return encoded(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG", quality=95)  # pure red ink


def sixteen_bit_png() -> bytes:
    """Mid-grey stored as 16-bit samples (32768 of 65535): must not come out white."""
    image = Image.new("I;16", (32, 32), 32768)
    return encoded(image, "PNG")


def palette_png_with_transparency() -> bytes:
    """Green square on a fully transparent palette background (index 0 is transparent)."""
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, *GREEN] + [0] * (254 * 3))
    image.paste(1, (8, 8, 24, 24))
    return encoded(image, "PNG", transparency=0)


def translucent_rgba_png() -> bytes:
    image = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    image.paste((0, 0, 255, 255), (0, 0, 10, 20))
    return encoded(image, "PNG")


def grey_alpha_png() -> bytes:
    return encoded(Image.new("LA", (16, 16), (0, 0)), "PNG")  # black but fully transparent


def animated_gif() -> bytes:
    """Two frames, red then blue: only the first is taken."""
    frames = [Image.new("RGB", (24, 24), RED), Image.new("RGB", (24, 24), BLUE)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def webp_photo() -> bytes:
    return encoded(noisy_image((120, 80), seed=7), "WEBP", quality=80)


def wide_screenshot() -> bytes:
    """2000×1000 flat-colour graphic: downscaled to 896×448, kept lossless."""
    image = Image.new("RGB", (2000, 1000), (240, 240, 240))
    image.paste(BLUE, (0, 0, 1000, 1000))
    return encoded(image, "PNG")


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]



def build_gallery(folder: Path) -> dict[str, Path]:
    """Write every oddity into `folder` under a realistic file name; returns name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    noisy_jpeg = encoded(noisy_image((256, 256), seed=3), "JPEG", quality=90)
    noisy_png = encoded(noisy_image((128, 128), seed=4), "PNG")
    files = {
        "sideways.jpg": sideways_photo(),
        "print-shop.jpg": cmyk_jpeg(),
        "scan-16bit.png": sixteen_bit_png(),
        "icon-palette.png": palette_png_with_transparency(),
        "translucent.png": translucent_rgba_png(),
        "grey-alpha.png": grey_alpha_png(),
        "party.gif": animated_gif(),
        "holiday.webp": webp_photo(),
        "screenshot.png": wide_screenshot(),
        "complete.jpg": noisy_jpeg,
        "half-downloaded.jpg": truncated(noisy_jpeg),
        "half-downloaded.png": truncated(noisy_png),
        "notes.png": b"Shopping list:\n- eggs\n- flour\n",
        "photo.png": png_header_claiming(30000, 30000),
        "big-scan.png": png_header_claiming(8000, 8000),  # 64 MP: past Hearth's limit, under Pillow's
        "empty.jpg": b"",
    }
    paths = {}
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


@pytest.fixture
def image_gallery(tmp_path: Path) -> dict[str, Path]:
    return build_gallery(tmp_path / "gallery")
