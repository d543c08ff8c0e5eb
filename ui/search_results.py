"""How one search hit looks in the left pane: the chat's title in bold on one line, then who said
it and the matching words in bold inside a one-paragraph snippet.

Drawn from a QTextDocument filled through a cursor, never from HTML: a snippet is a user's or a
model's text, and markup in it stays text.
"""
from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, QPointF, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QFont, QFontMetrics, QPalette, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from engine.store.records import SNIPPET_CLOSE, SNIPPET_OPEN

HIT_TITLE_ROLE = Qt.ItemDataRole.UserRole + 2
HIT_SPEAKER_ROLE = Qt.ItemDataRole.UserRole + 3
HIT_RUNS_ROLE = Qt.ItemDataRole.UserRole + 4
PADDING = 6
SPEAKERS = {"user": "You", "assistant": "Hearth", "system": "System prompt"}

# SQLite's snippet keeps the message's markdown and line breaks, which in a narrow result list
# read as stray fences and broken lines: they are dropped and folded.
_MARKUP = re.compile(r"`{3,}|\*\*|`")
_SPACE = re.compile(r"\s+")
_MARK = re.compile(f"({re.escape(SNIPPET_OPEN)}.*?{re.escape(SNIPPET_CLOSE)})", re.DOTALL)


def speaker(role: str) -> str:
    return SPEAKERS.get(role, role)


def snippet_runs(snippet: str) -> list[tuple[str, bool]]:
    """(text, matched) runs of a search snippet, made readable in one line: markdown fences, bold
    and code ticks dropped, every run of white space one space, the matched words flagged."""
    runs: list[tuple[str, bool]] = []
    for part in _MARK.split(snippet):
        matched = part.startswith(SNIPPET_OPEN) and part.endswith(SNIPPET_CLOSE)
        text = _SPACE.sub(" ", _MARKUP.sub("", part.strip(SNIPPET_OPEN + SNIPPET_CLOSE) if matched else part))
        if not text:
            continue
        if runs and runs[-1][1] == matched:
            runs[-1] = (runs[-1][0] + text, matched)
        else:
            runs.append((text, matched))
    if runs:
        runs[0] = (runs[0][0].lstrip(), runs[0][1])
        runs[-1] = (runs[-1][0].rstrip(), runs[-1][1])
    return [run for run in runs if run[0]]


class SearchHitDelegate(QStyledItemDelegate):
    """Items without hit data (the "No messages match." line) are drawn as plain items."""

    def _document(self, option: QStyleOptionViewItem, index: QModelIndex) -> QTextDocument | None:
        runs = index.data(HIT_RUNS_ROLE)
        if runs is None:
            return None
        width = max(40, self._width(option) - 2 * PADDING)
        document = QTextDocument()
        document.setDocumentMargin(0)
        document.setDefaultFont(option.font)
        document.setTextWidth(width)
        cursor = QTextCursor(document)
        bold = QTextCharFormat()
        bold.setFontWeight(QFont.Weight.Bold)
        plain = QTextCharFormat()
        muted = QTextCharFormat()
        if not option.state & QStyle.StateFlag.State_Selected:  # grey on the selection's blue is unreadable
            muted.setForeground(option.palette.color(QPalette.ColorRole.PlaceholderText))
        title_font = QFont(option.font)
        title_font.setBold(True)
        title = QFontMetrics(title_font).elidedText(index.data(HIT_TITLE_ROLE) or "Untitled",
                                                    Qt.TextElideMode.ElideRight, int(width))
        cursor.insertText(title, bold)
        cursor.insertBlock()
        cursor.insertText(f"{index.data(HIT_SPEAKER_ROLE)}: ", muted)
        for text, matched in runs:
            cursor.insertText(text, bold if matched else plain)
        return document

    @staticmethod
    def _width(option: QStyleOptionViewItem) -> int:
        """The list's width: a size hint's option does not say how wide the row will be."""
        viewport = getattr(option.widget, "viewport", None)
        return viewport().width() if viewport is not None else option.rect.width()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        view_option = QStyleOptionViewItem(option)
        self.initStyleOption(view_option, index)
        document = self._document(view_option, index)
        if document is None:
            return super().sizeHint(option, index)
        return QSize(self._width(view_option), int(document.size().height()) + 2 * PADDING)

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: ANN001
        view_option = QStyleOptionViewItem(option)
        self.initStyleOption(view_option, index)
        document = self._document(view_option, index)
        if document is None:
            super().paint(painter, option, index)
            return
        view_option.text = ""
        widget = view_option.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, view_option, painter, widget)
        context = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(view_option.state & QStyle.StateFlag.State_Selected)
        context.palette.setColor(QPalette.ColorRole.Text, view_option.palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        painter.save()
        painter.translate(QPointF(view_option.rect.left() + PADDING, view_option.rect.top() + PADDING))
        document.documentLayout().draw(painter, context)
        painter.restore()
