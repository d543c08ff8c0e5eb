"""A fenced code block: language label, Copy button, syntax colours from Pygments."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QSizePolicy, QToolButton, QVBoxLayout
from pygments.lexers import get_lexer_by_name, guess_lexer
from pygments.token import Token
from pygments.util import ClassNotFound

_COLOURS = {
    Token.Keyword: "#c678dd", Token.Name.Function: "#61afef", Token.Name.Class: "#e5c07b",
    Token.Name.Builtin: "#56b6c2", Token.String: "#98c379", Token.Number: "#d19a66",
    Token.Comment: "#7f848e", Token.Operator: "#56b6c2", Token.Name.Decorator: "#e5c07b",
}


@lru_cache(maxsize=64)
def _named_lexer(name: str):
    """Looking a lexer up by name scans Pygments' registry (~0.3 ms); lexers are reusable."""
    return get_lexer_by_name(name, stripnl=False, ensurenl=False)


def _lexer_for(language: str, code: str):
    try:
        return _named_lexer(language or "text")
    except ClassNotFound:
        try:
            return guess_lexer(code) if len(code) > 40 and not language else _named_lexer("text")
        except ClassNotFound:
            return _named_lexer("text")


class PygmentsHighlighter(QSyntaxHighlighter):
    """Per-line highlighting: cheap enough to run as tokens stream in."""

    def __init__(self, document, language: str) -> None:
        super().__init__(document)
        self._lexer = _lexer_for(language, document.toPlainText())
        self._formats: dict = {}

    def _format(self, token) -> QTextCharFormat | None:
        while token is not Token and token not in _COLOURS:
            token = token.parent
        if token is Token:
            return None
        if token not in self._formats:
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(_COLOURS[token]))
            self._formats[token] = fmt
        return self._formats[token]

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt override
        position = 0
        for token, value in self._lexer.get_tokens(text):
            fmt = self._format(token)
            if fmt is not None:
                self.setFormat(position, len(value), fmt)
            position += len(value)


class CodeBlock(QFrame):
    copied = Signal(str)

    def __init__(self, code: str, language: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.language = language
        header = QHBoxLayout()
        header.setContentsMargins(8, 2, 2, 0)
        self._label = QLabel(language or "code")
        self._label.setObjectName("codeLanguage")
        self.copy_button = QToolButton(text="Copy")
        self.copy_button.setToolTip("Copy this code to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        header.addWidget(self._label)
        header.addStretch(1)
        header.addWidget(self.copy_button)
        self.editor = QPlainTextEdit()
        self.editor.setReadOnly(True)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.editor.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.editor)
        self._highlighter = PygmentsHighlighter(self.editor.document(), language)
        # Room for the horizontal scroll bar only while a line is wider than the block: a signal,
        # not a resizeEvent override (a Python call on every layout pass while answers stream).
        self.editor.horizontalScrollBar().rangeChanged.connect(self._fit_height)
        self.set_code(code)

    def code(self) -> str:
        return self.editor.toPlainText()

    def set_code(self, code: str) -> None:
        if code == self.editor.toPlainText():
            return
        old = self.editor.toPlainText()
        if code.startswith(old) and old:
            cursor = self.editor.textCursor()
            cursor.movePosition(cursor.MoveOperation.End)
            cursor.insertText(code[len(old):])
        else:
            self.editor.setPlainText(code)
        self._fit_height()

    def _fit_height(self, *_range) -> None:
        lines = max(1, self.editor.blockCount())
        bar = self.editor.horizontalScrollBar()
        scrollbar = bar.sizeHint().height() if bar.maximum() > 0 else 0
        self.editor.setFixedHeight(lines * self.editor.fontMetrics().lineSpacing() + 12 + scrollbar)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code())
        self.copy_button.setText("Copied")
        self.copied.emit(self.code())
