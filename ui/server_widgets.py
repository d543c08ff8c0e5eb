"""What the user sees of the local server: a status-bar indicator, the recent requests, and the
key shown once with a Copy button. Rows come in as plain text from app/; nothing here talks to
the server."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

REQUEST_COLUMNS = ("Time", "Client", "Model", "Tokens", "Seconds", "Outcome")


class ServerIndicator(QLabel):
    """'Serving :4891 · 3 requests' in the status bar; a click opens the request list."""
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("serverStatus")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Hearth is serving other apps on this computer. Click for recent requests.")
        self.setVisible(False)

    def show_state(self, text: str, error: bool = False) -> None:
        self.setText(text)
        self.setProperty("error", error)
        self.style().unpolish(self)
        self.style().polish(self)
        self.setVisible(bool(text))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class ServerRequestsPanel(QDialog):
    """Recent requests, newest first; their messages only when the user turned logging on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Requests from other apps")
        self.resize(760, 360)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.table = QTableWidget(0, len(REQUEST_COLUMNS))
        self.table.setObjectName("serverRequests")
        self.table.setHorizontalHeaderLabels(REQUEST_COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.contents = QLabel()
        self.contents.setTextFormat(Qt.TextFormat.PlainText)  # what an app sent is untrusted text
        self.contents.setWordWrap(True)
        self.contents.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._details: list[str] = []
        self.table.currentCellChanged.connect(lambda row, *_: self._show_details(row))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        for widget in (self.summary, self.table, self.contents, buttons):
            layout.addWidget(widget)

    def show_requests(self, summary: str, rows: list[tuple[str, ...]], details: list[str]) -> None:
        """`rows`: one text per column of REQUEST_COLUMNS; `details`: each row's contents ('' when
        logging is off)."""
        self.summary.setText(summary)
        self._details = details
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c in (3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self._show_details(self.table.currentRow())

    def _show_details(self, row: int) -> None:
        text = self._details[row] if 0 <= row < len(self._details) else ""
        self.contents.setText(text or "Contents are not kept (Settings → Server → Log request contents).")


class ServerKeyDialog(QDialog):
    """The key, shown this once, with a Copy button: Hearth keeps it in the keyring after this."""

    def __init__(self, key: str, url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Your server key")
        explain = QLabel(f"Apps reach Hearth at {url} and must send this key as their API key. "
                         "Copy it now: it is shown only this once. You can make a new one in Settings → Server.")
        explain.setWordWrap(True)
        explain.setTextFormat(Qt.TextFormat.PlainText)
        self.key_field = QLineEdit(key)
        self.key_field.setObjectName("serverKey")
        self.key_field.setReadOnly(True)
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self._copy)
        row = QHBoxLayout()
        row.addWidget(self.key_field, 1)
        row.addWidget(self.copy_button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(520, 150)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.key_field.text())
        self.copy_button.setText("Copied")
