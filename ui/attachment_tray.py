"""The strip of images waiting to be sent with the next message, above the composer.

Each thumbnail has a small × to take it off again; clicking the picture asks for a
bigger view. The tray hides itself while empty so it costs no space in plain chats.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from ui.safe_text import plain_tooltip
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QScrollArea, QSizePolicy, QToolButton, QWidget

from ui.document_chip import DocumentChip, remove_button
from ui.image_viewer import ImageSource, load_pixmap

THUMBNAIL_SIDE = 64


class AttachmentThumbnail(QFrame):
    """One attached image: the picture (click to view) and its remove button."""

    remove_clicked = Signal(str)
    activated = Signal(str)

    def __init__(self, key: str, pixmap: QPixmap, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.label = label
        self.setObjectName("attachmentThumbnail")
        self.setFrameShape(QFrame.Shape.StyledPanel)

        self.picture = QToolButton(self)
        self.picture.setAutoRaise(True)
        self.picture.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.picture.setFixedSize(THUMBNAIL_SIDE + 8, THUMBNAIL_SIDE + 8)
        if pixmap.isNull():
            self.picture.setText("?")
        else:
            self.picture.setIcon(QIcon(pixmap.scaled(
                THUMBNAIL_SIDE, THUMBNAIL_SIDE,
                Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation,
            )))
        self.picture.setToolTip(plain_tooltip(label))  # file names are untrusted
        self.picture.setAccessibleName(label)
        self.picture.clicked.connect(lambda: self.activated.emit(self.key))

        self.remove_button = remove_button(label, self)
        self.remove_button.clicked.connect(lambda: self.remove_clicked.emit(self.key))

        layout = QGridLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.picture, 0, 0)
        layout.addWidget(self.remove_button, 0, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)


class AttachmentTray(QScrollArea):
    """Thumbnails keyed by the caller's id (e.g. the image's content hash), in added order."""

    removed = Signal(str)
    """The user took an image off (the × button) or the caller called remove(key)."""
    activated = Signal(str)
    """The user clicked a thumbnail to see it bigger."""
    changed = Signal()
    """Images were added or taken off (the context meter counts them)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentTray")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(THUMBNAIL_SIDE + 8 + 12 + self.horizontalScrollBar().sizeHint().height())

        strip = QWidget(self)
        self._row = QHBoxLayout(strip)
        self._row.setContentsMargins(4, 2, 4, 2)
        self._row.setSpacing(6)
        self._row.addStretch(1)
        self.setWidget(strip)
        self._thumbnails: dict[str, AttachmentThumbnail] = {}
        self.setVisible(False)

    def add_image(self, key: str, image: ImageSource, label: str) -> AttachmentThumbnail:
        """Show an image; adding a key already shown keeps the one there (same content)."""
        if key in self._thumbnails:
            return self._thumbnails[key]
        return self._add(AttachmentThumbnail(key, load_pixmap(image), label, self.widget()))

    def add_document(self, key: str, label: str, detail: str = "", tooltip: str = "") -> DocumentChip:
        """A document beside the thumbnails, as a chip (ui/document_chip.py); same rules as images."""
        if key in self._thumbnails:
            return self._thumbnails[key]
        return self._add(DocumentChip(key, label, detail, tooltip=tooltip, parent=self.widget()))

    def _add(self, thumbnail: AttachmentThumbnail | DocumentChip) -> AttachmentThumbnail | DocumentChip:
        key = thumbnail.key
        thumbnail.remove_clicked.connect(self.remove)
        thumbnail.activated.connect(self.activated)
        self._row.insertWidget(self._row.count() - 1, thumbnail)  # before the stretch
        self._thumbnails[key] = thumbnail
        self.setVisible(True)
        self.changed.emit()
        return thumbnail

    def remove(self, key: str) -> None:
        thumbnail = self._thumbnails.pop(key, None)
        if thumbnail is None:
            return
        self._row.removeWidget(thumbnail)
        thumbnail.hide()
        thumbnail.deleteLater()
        self.setVisible(bool(self._thumbnails))
        self.removed.emit(key)
        self.changed.emit()

    def clear(self) -> None:
        """Empty the tray quietly (after sending): no `removed` per image."""
        for key in list(self._thumbnails):
            thumbnail = self._thumbnails.pop(key)
            self._row.removeWidget(thumbnail)
            thumbnail.hide()
            thumbnail.deleteLater()
        self.setVisible(False)
        self.changed.emit()

    def keys(self) -> list[str]:
        return list(self._thumbnails)

    def label(self, key: str) -> str:
        return self._thumbnails[key].label

    def thumbnail(self, key: str) -> AttachmentThumbnail | DocumentChip:
        return self._thumbnails[key]
