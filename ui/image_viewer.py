"""An image at full size in its own window, opened from a thumbnail.

The window fits the screen; an image bigger than that scrolls instead of being shrunk,
so text in a screenshot stays readable.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QScrollArea, QVBoxLayout, QWidget

ImageSource = QPixmap | bytes | bytearray | str | Path

SCREEN_SHARE = 0.9
"""The viewer never opens larger than this share of the screen's available area."""


def load_pixmap(source: ImageSource) -> QPixmap:
    """A QPixmap from a pixmap, encoded bytes, or a file path; null when Qt cannot read it."""
    if isinstance(source, QPixmap):
        return source
    pixmap = QPixmap()
    if isinstance(source, (bytes, bytearray)):
        pixmap.loadFromData(bytes(source))
    else:
        pixmap.load(str(source))
    return pixmap


class ImageViewer(QDialog):
    """Shows one image at 100 %, scrolling when it is bigger than the screen allows."""

    def __init__(self, image: ImageSource, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title or "Image")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._pixmap = load_pixmap(image)

        self.image_label = QLabel(self)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if self._pixmap.isNull():
            self.image_label.setText(f"{title or 'This image'} cannot be shown.")
        else:
            self.image_label.setPixmap(self._pixmap)
        self.image_label.setAccessibleName(title or "Image")

        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidget(self.image_label)
        self.scroll_area.setWidgetResizable(True)  # centred when smaller, scrolls when bigger
        self.scroll_area.setAlignment(Qt.AlignmentFlag.AlignCenter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)
        self.resize(self._fitting_size())

    def pixmap(self) -> QPixmap:
        return self._pixmap

    def _fitting_size(self) -> QSize:
        wanted = self._pixmap.size() if not self._pixmap.isNull() else QSize(320, 120)
        frame = 2 * self.scroll_area.frameWidth() + 2
        wanted = QSize(wanted.width() + frame, wanted.height() + frame)
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return wanted
        room = screen.availableGeometry().size()
        limit = QSize(int(room.width() * SCREEN_SHARE), int(room.height() * SCREEN_SHARE))
        return wanted.boundedTo(limit).expandedTo(QSize(200, 120))


def show_image(image: ImageSource, title: str = "", parent: QWidget | None = None) -> ImageViewer:
    """Open a viewer without blocking the chat (it closes and frees itself)."""
    viewer = ImageViewer(image, title, parent)
    viewer.show()
    return viewer
