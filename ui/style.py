"""Hearth's look: a calm light theme applied once at start."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication

STYLE = """
QWidget#transcript { background: #fbfaf8; }
QTextBrowser#safeText { background: transparent; }
QFrame#message_user { background: #eef3fb; border-radius: 10px; }
QFrame#message_assistant { background: #ffffff; border: 1px solid #ece8e1; border-radius: 10px; }
QLabel#messageRole { font-weight: bold; color: #5b4636; }
QLabel#messageState { color: #b0541c; font-style: italic; }
QLabel#messageFooter { color: #8a8580; font-size: 11px; }
QLabel#messageFooter[error="true"] { color: #b3261e; }
QLabel#editLabel { color: #5b4636; font-style: italic; }
QLabel#contextLabel { color: #8a8580; font-size: 10px; }
QLabel#contextLabel[warning="true"] { color: #a15c00; font-weight: bold; }
QProgressBar#contextBar { border: none; background: #ece8e1; border-radius: 3px; }
QProgressBar#contextBar::chunk { background: #8fae7e; border-radius: 3px; }
QProgressBar#contextBar[warning="true"]::chunk { background: #e0a030; }
QLabel#contextNote, QLabel#composerNotice { color: #7a5a00; background: #fff6d6; border-radius: 6px; padding: 4px 8px; }
QLabel#emptyNote { color: #9a948d; font-size: 15px; padding: 40px; }
QFrame#codeBlock { background: #282c34; border-radius: 6px; }
QFrame#codeBlock QPlainTextEdit { background: #282c34; color: #abb2bf; }
QLabel#codeLanguage { color: #9da5b4; }
QFrame#codeBlock QToolButton { color: #e6e9ef; background: #3e4451; border: none; border-radius: 4px; padding: 2px 10px; }
QFrame#codeBlock QToolButton:hover { background: #4b5263; }
QLabel#engineStatus[error="true"] { color: #b3261e; }
QLabel#serverStatus { color: #1b6e3a; padding: 0 8px; }
QLabel#serverStatus[error="true"] { color: #b3261e; }
QPushButton#sendButton { font-weight: bold; }
QFrame#queuedMessage { background: #f4f1ec; border: 1px dashed #cfc6b8; border-radius: 8px; }
QLabel#queuedState { color: #8a6d3b; font-style: italic; }
QFrame#toolStep { background: #f6f4fb; border: 1px solid #ddd6ee; border-radius: 8px; }
QFrame#toolStep[state="denied"], QFrame#toolStep[state="failed"], QFrame#toolStep[state="stopped"] { background: #fbf3f1; border-color: #ecd2cc; }
QFrame#thinking { background: #f7f7f4; border-left: 3px solid #d8d2c4; }
QToolButton#thinkingHeader { color: #7a7166; font-style: italic; }
QPlainTextEdit#thinkingText { color: #6b655d; background: transparent; border: none; }
QLabel#toolStepHeader { color: #4a3d6b; font-weight: bold; }
"""


def apply_style(app: QApplication) -> None:
    app.setStyleSheet(STYLE)
    icon = Path(__file__).resolve().parent.parent / "assets" / "hearth.svg"
    if icon.exists():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
