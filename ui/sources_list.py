"""Under an answer that used the user's documents: "Sources", then one line per passage it was
given — [1] file name · page or heading — by the numbers the answer cites. Clicking a line asks
for the passage in its document (`source_clicked`); nothing is opened or fetched from here.
Names, headings and passages come from documents: untrusted, shown as plain text only."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QToolButton, QVBoxLayout, QWidget

from engine.store.records import AnswerSource
from ui.document_chip import button_text
from ui.safe_text import plain_tooltip

LIST_STYLE = """
SourcesList { border-top: 1px solid #e4ded4; }
QLabel#sourcesTitle { color: #8a8580; font-size: 11px; font-weight: bold; }
QToolButton#sourceLink { border: none; color: #2f5d8a; text-align: left; padding: 0; }
QToolButton#sourceLink:hover { text-decoration: underline; }
"""
TOOLTIP_PASSAGE_CHARS = 280


def source_line(source: AnswerSource) -> str:
    """"[1] report.pdf · page 3" (the place left out when the file has none)."""
    name = PurePath(source.path).name or source.path
    where = " ".join(source.location.split())
    return f"[{source.number}] {name}" + (f" · {where}" if where else "")


def source_tooltip(source: AnswerSource) -> str:
    passage = " ".join(source.passage.split())
    if len(passage) > TOOLTIP_PASSAGE_CHARS:
        passage = passage[:TOOLTIP_PASSAGE_CHARS - 1].rstrip() + "…"
    return plain_tooltip(f"{source.path}\n\n{passage}\n\nClick to see the passage in its document.")


class SourcesList(QFrame):
    """A compact list of an answer's sources; `source_clicked(AnswerSource)`."""

    source_clicked = Signal(object)

    def __init__(self, sources: Sequence[AnswerSource], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sourcesList")
        self.setStyleSheet(LIST_STYLE)
        self.sources = list(sources)
        title = QLabel("Sources")
        title.setObjectName("sourcesTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(1)
        layout.addWidget(title)
        self.links: list[QToolButton] = []
        for source in self.sources:
            link = QToolButton()
            link.setObjectName("sourceLink")
            link.setText(button_text(source_line(source)))
            link.setAccessibleName(source_line(source))
            link.setToolTip(source_tooltip(source))
            link.setCursor(Qt.CursorShape.PointingHandCursor)
            link.setAutoRaise(True)
            link.clicked.connect(lambda _=False, s=source: self.source_clicked.emit(s))
            layout.addWidget(link)
            self.links.append(link)

    def lines(self) -> list[str]:
        return [source_line(s) for s in self.sources]
