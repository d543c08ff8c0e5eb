"""Documents as small chips: in the composer's tray beside image thumbnails (with × to take one
off) and under a sent message (to open what was sent). File names are untrusted text: buttons
and labels here show them as the characters they are, never as markup."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from ui.safe_text import plain_tooltip

CHIP_STYLE = """
QFrame#documentChip { background: #f4f1ec; border: 1px solid #ddd5c8; border-radius: 12px; }
QLabel#documentBadge { color: #ffffff; background: #8c6f56; border-radius: 4px; padding: 0 4px;
                       font-size: 10px; font-weight: bold; }
QLabel#documentDetail { color: #8a8580; font-size: 11px; }
QToolButton#documentName { border: none; color: #3d3128; }
QToolButton#documentName:hover { text-decoration: underline; }
"""


def badge_for(name: str) -> str:
    """The file's kind in a few letters (PDF, DOCX, MD…), or DOC."""
    suffix = PurePath(name).suffix.lstrip(".").upper()
    return suffix[:4] if suffix and suffix.isalnum() else "DOC"


def button_text(text: str) -> str:
    """Button text is plain, but '&' marks a shortcut key: doubled, it shows as itself."""
    return text.replace("&", "&&")


class DocumentChip(QFrame):
    """One document: its kind, its name (click to read it), a detail (size, "indexing…"), and ×."""

    remove_clicked = Signal(str)
    activated = Signal(str)

    def __init__(self, key: str, label: str, detail: str = "", *, removable: bool = True,
                 tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.label = label
        self.setObjectName("documentChip")
        self.setStyleSheet(CHIP_STYLE)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)  # a chip, not a panel
        badge = QLabel(badge_for(label))
        badge.setObjectName("documentBadge")
        badge.setTextFormat(Qt.TextFormat.PlainText)
        self.name_button = QToolButton()
        self.name_button.setObjectName("documentName")
        self.name_button.setText(button_text(label))
        self.name_button.setAutoRaise(True)
        self.name_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.name_button.setToolTip(plain_tooltip(tooltip or label))
        self.name_button.setAccessibleName(label)
        self.name_button.clicked.connect(lambda: self.activated.emit(self.key))
        self.detail = QLabel()
        self.detail.setObjectName("documentDetail")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 2, 4, 2)
        row.setSpacing(4)
        row.addWidget(badge)
        row.addWidget(self.name_button)
        row.addWidget(self.detail)
        self.remove_button: QToolButton | None = None
        if removable:
            self.remove_button = remove_button(label, self)
            self.remove_button.clicked.connect(lambda: self.remove_clicked.emit(self.key))
            row.addWidget(self.remove_button)
        self.set_detail(detail)

    def set_detail(self, text: str) -> None:
        self.detail.setText(text)
        self.detail.setVisible(bool(text))


class DocumentChips(QWidget):
    """The documents a sent message carries, in a row under its words; `activated(index)`."""

    activated = Signal(int)

    def __init__(self, documents: Sequence[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        """`documents`: (name, detail, tooltip) each."""
        super().__init__(parent)
        self.setObjectName("documentChips")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        self.chips: list[DocumentChip] = []
        for index, (name, detail, tooltip) in enumerate(documents):
            chip = DocumentChip(str(index), name, detail, removable=False, tooltip=tooltip)
            chip.activated.connect(lambda key: self.activated.emit(int(key)))
            row.addWidget(chip)
            self.chips.append(chip)
        row.addStretch(1)


def remove_button(label: str, parent: QWidget | None = None) -> QToolButton:
    """The small × that takes an attachment (image or document) off the message."""
    button = QToolButton(parent)
    button.setObjectName("removeAttachment")
    button.setText("×")
    button.setAutoRaise(True)
    button.setFixedSize(18, 18)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setToolTip(plain_tooltip(f"Remove {label}"))  # file names are untrusted
    button.setAccessibleName(f"Remove {label}")
    return button
