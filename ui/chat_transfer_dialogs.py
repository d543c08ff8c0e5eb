"""The file dialogs and the problem message of Export and Import (Chat menu, chat list menu).

Plain functions so a test can put its own in their place: the controller
(app/gui/chat_transfer_controller.py) asks them for a path and never opens a dialog itself.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

JSON_FILTER = "Hearth JSON, keeps everything (*.json)"
MARKDOWN_FILTER = "Markdown to read (*.md)"
IMPORT_FILTER = "Chat exports: Hearth JSON, ChatGPT conversations.json or its zip (*.json *.zip);;All files (*)"


def choose_export_file(parent: QWidget | None, suggested: Path, several: bool) -> tuple[Path, str] | None:
    """(the path typed, "json" or "md" from the filter picked), or None when cancelled.
    Several chats as markdown make a folder with one file per chat: the caption says so."""
    caption = "Export chats" if several else "Export chat"
    if several:
        caption += " (markdown: a folder with one file per chat)"
    path, chosen = QFileDialog.getSaveFileName(parent, caption, str(suggested), f"{JSON_FILTER};;{MARKDOWN_FILTER}")
    if not path:
        return None
    return Path(path), "md" if chosen == MARKDOWN_FILTER else "json"


def choose_import_file(parent: QWidget | None) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Import chats", str(Path.home()), IMPORT_FILTER)
    return Path(path) if path else None


def show_problem(parent: QWidget | None, title: str, text: str) -> None:
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # file names and messages are not markup
    box.exec()
