"""Where an answer's claims came from, on request: a source clicked under an answer opens its
passage highlighted in its document (ui/passage_viewer.py); a document chip under a question, or
in the composer, opens the text that was sent. Documents are read off the GUI thread (a PDF can
take a moment); a later click wins over an earlier one still being read."""
from __future__ import annotations

from pathlib import PurePath

from PySide6.QtCore import QObject

from app.gui.operations import Tickets, run_in_background
from engine.chat.documents_in_prompt import DocumentInMessage
from engine.store import Store
from engine.store.records import AnswerSource
from ui.passage_viewer import PassageViewer


class SourcesController(QObject):
    def __init__(self, store: Store, window) -> None:
        super().__init__()
        self.store = store
        self.window = window
        self.viewer: PassageViewer | None = None   # the one on screen (tests read it)
        self._tickets = Tickets()
        self._knowledge = None

    def show_source(self, source: AnswerSource) -> None:
        from engine.knowledge.source_text import source_document

        knowledge = self._knowledge_store()
        ticket = self._tickets.next()
        run_in_background(lambda: source_document(knowledge, source), ticket=ticket, tickets=self._tickets,
                          on_success=lambda found: self._show(found.text, source.path, (found.start, found.end),
                                                              source.location, found.note, f"[{source.number}]"),
                          on_failure=lambda exc: self.window.statusBar().showMessage(
                              f"The source could not be shown: {exc}", 15000))

    def show_sent_document(self, conversation_id: int, document: DocumentInMessage) -> None:
        """A document a question carried: its text as sent, or, for one indexed, the chat's copy."""
        if document.whole:
            self.show_text(document.text or "", document.path, "Sent whole with the message.")
            return
        from engine.knowledge.attached import indexed_text

        knowledge = self._knowledge_store()
        ticket = self._tickets.next()

        def shown(found: tuple[str, str] | None) -> None:
            if found is None:
                self.show_text("", document.path, "This document is not in the chat's knowledge any more.")
            else:
                self.show_text(found[1], found[0], "Too long to send whole: indexed for this chat, so each "
                                                   "question brings the passages that answer it.")

        run_in_background(lambda: indexed_text(knowledge, conversation_id, document.name), ticket=ticket,
                          tickets=self._tickets, on_success=shown,
                          on_failure=lambda exc: self.window.statusBar().showMessage(
                              f"The document could not be shown: {exc}", 15000))

    def show_text(self, text: str, path: str, note: str = "") -> None:
        self._tickets.invalidate()
        self._show(text, path, None, "", note, "")

    def _show(self, text: str, path: str, span: tuple[int, int] | None, place: str, note: str, number: str) -> None:
        if self.viewer is not None:
            self.viewer.close()   # one passage at a time: the new click replaces it
        viewer = self.viewer = PassageViewer(text, path, span=span, place=place, note=note, parent=self.window,
                                             title=" ".join(part for part in (number, PurePath(path).name) if part))
        viewer.finished.connect(lambda *_: self._closed(viewer))
        viewer.show()

    def _closed(self, viewer: PassageViewer) -> None:
        if self.viewer is viewer:
            self.viewer = None

    def _knowledge_store(self):
        if self._knowledge is None:
            from engine.knowledge.index_store import KnowledgeStore

            self._knowledge = KnowledgeStore(self.store)
        return self._knowledge
