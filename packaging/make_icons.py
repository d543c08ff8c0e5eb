"""Render Hearth's SVG icon into the files each platform wants: PNGs (Linux, the window), .ico
(Windows) and .icns (macOS).

Qt's own SVG renderer draws the PNGs — the same renderer that shows the SVG in the running
app — and Pillow packs them into .ico and .icns, so no platform tool (iconutil, ImageMagick)
is needed and the files come out the same on every machine.

    .venv/bin/python packaging/make_icons.py [--svg assets/hearth.svg] [--out assets/icons]
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # 256 is the largest a Windows .ico holds
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


class IconError(Exception):
    """The SVG could not be read or rendered; the message says which file and why."""


def render_png(svg: Path, size: int) -> bytes:
    """One square PNG of the SVG at `size` pixels, transparent around the artwork."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise IconError(f"{svg} is not an SVG that Qt can draw.")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def write_icons(svg: Path, out_dir: Path) -> list[Path]:
    """Write hearth-<size>.png for every size, hearth.ico and hearth.icns; return their paths."""
    from PIL import Image

    if not svg.is_file():
        raise IconError(f"{svg} does not exist.")
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[int, Image.Image] = {}
    written: list[Path] = []
    for size in PNG_SIZES:
        png = render_png(svg, size)
        path = out_dir / f"hearth-{size}.png"
        path.write_bytes(png)
        written.append(path)
        images[size] = Image.open(io.BytesIO(png)).convert("RGBA")

    ico = out_dir / "hearth.ico"
    largest_ico = images[max(ICO_SIZES)]
    largest_ico.save(ico, format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                     append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)])
    written.append(ico)

    icns = out_dir / "hearth.icns"
    retina = Image.open(io.BytesIO(render_png(svg, 1024))).convert("RGBA")  # 512@2x, drawn, not scaled up
    retina.save(icns, format="ICNS", append_images=[images[s] for s in ICNS_SIZES])
    written.append(icns)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render Hearth's icon into PNG, ICO and ICNS files.")
    parser.add_argument("--svg", type=Path, default=ROOT / "assets" / "hearth.svg")
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "icons")
    args = parser.parse_args(argv)
    try:
        paths = write_icons(args.svg, args.out)
    except (IconError, OSError) as exc:
        print(f"make_icons: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}  {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
