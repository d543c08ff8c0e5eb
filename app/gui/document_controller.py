"""Documents the user attaches to a message (PDF, Word, text, Markdown, code, HTML): dropped,
pasted or picked; read off the GUI thread when attached (a file Hearth cannot read says so at once
beside the composer, and nothing else is lost); shown as chips beside the image thumbnails.

On Send, the documents that fit a share of the model's window go into the message whole,
delimited as data (engine/chat/documents_in_prompt.py). A longer one is kept in Hearth's folder
and indexed into the chat's own collection, `chat:<id>`, before the question goes: the message
waits in the composer (read-only, Esc stops) with a notice, and the answer then retrieves
passages from it, as from any collection. The stored message names it, so its chip comes back
whenever the chat is opened again."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QToolButton

from app.gui.operations import run_in_background
from engine.cancel import Cancel, Cancelled
from engine.chat.documents_in_prompt import (DocumentInMessage, fits_whole, split_documents, whole_budget,
                                             with_documents)
from engine.chat.titles import title_from
from engine.knowledge.attached import ReadDocument, chat_collection, index_for_chat, keep_copy, read_attached
from engine.knowledge.documents import DOCUMENT_SUFFIXES
from engine.knowledge.extract import ExtractionError, human_size
from engine.store import Store

DOCUMENT_FILTER = ("Documents (" + " ".join(f"*{s}" for s in sorted(DOCUMENT_SUFFIXES)) + ");;All files (*)")
KEY_PREFIX = "doc:"
UNTITLED_BY_DOCUMENT = "[Document attached by the user"   # a title made from a message with no words


class DocumentController(QObject):
    problem = Signal(str)   # a line for the composer's notice, naming the file
    status = Signal(str)    # a line for the status bar (indexing)

    def __init__(self, store: Store, composer, tray, window, *, folder: Path, n_ctx: Callable[[], int],
                 conversation: Callable[[], int | None], new_conversation: Callable[[], int],
                 show_document: Callable[[str, str, str], None]) -> None:
        """`folder` keeps copies of indexed documents; `n_ctx()` is the model's window;
        `show_document(text, path, note)` opens a document's text for reading."""
        super().__init__()
        self.store = store
        self.composer = composer
        self.tray = tray
        self.window = window
        self._folder = folder
        self._n_ctx = n_ctx
        self._conversation = conversation
        self._new_conversation = new_conversation
        self._show_document = show_document
        self.pending: dict[str, ReadDocument] = {}   # by key, in the order attached
        self._reading = 0
        self._indexing: Cancel | None = None
        self._knowledge = None
        self.attach_button = QToolButton(text="Document…")
        self.attach_button.setObjectName("attachDocumentButton")
        self.attach_button.setToolTip("Attach documents: PDF, Word, text, Markdown, code, HTML (you can also "
                                      "drop or paste them)")
        self.attach_button.clicked.connect(self.pick)
        composer.add_tool_widget(self.attach_button)
        composer.allow_empty_send_when(lambda: bool(self.pending))
        tray.removed.connect(lambda key: self.pending.pop(key, None))
        tray.activated.connect(self._open)

    @property
    def busy(self) -> bool:
        return self._reading > 0 or self._indexing is not None

    def busy_note(self) -> str:
        if self._indexing is not None:
            return "Still indexing your document for this chat — your message goes when it is ready (Esc stops)."
        return "Still reading a document — send again in a moment."

    # -- attaching -------------------------------------------------------------------
    def pick(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.window, "Attach documents", str(Path.home()), DOCUMENT_FILTER)
        self.add_files(files)

    def add_files(self, files: list[str]) -> None:
        for file in files:
            self._read(file)

    def _read(self, file: str) -> None:
        self._reading += 1
        name = Path(file).name

        def done(document: ReadDocument) -> None:
            self._reading -= 1
            key = KEY_PREFIX + document.sha256
            if key in self.pending:
                return
            self.pending[key] = document
            self.tray.add_document(key, document.name, _size(document),
                                   f"{document.path}\nClick to read the text Hearth found in it")

        def failed(exc: BaseException) -> None:
            self._reading -= 1
            reason = exc.reason if isinstance(exc, ExtractionError) else str(exc)
            self.problem.emit(f"Cannot attach {name}: {reason}.")

        run_in_background(lambda: read_attached(file), on_success=done, on_failure=failed)

    def _open(self, key: str) -> None:
        if document := self.pending.get(key):
            self._show_document(document.text, document.path, "The text Hearth read from this file; it goes with "
                                                              "your next message.")

    def restore(self, paths: list[str]) -> None:
        """An edited question's documents come back to the tray (read again: the file may have changed)."""
        self.add_files(paths)

    def clear(self) -> None:
        for key in list(self.pending):
            self.tray.remove(key)
        self.pending.clear()

    def retitle(self) -> None:
        """A chat named after a first message of documents alone is named after the documents."""
        conversation_id = self._conversation()
        conversation = self.store.get_conversation(conversation_id) if conversation_id is not None else None
        if conversation is None or not conversation.title.startswith(UNTITLED_BY_DOCUMENT):
            return
        question = next((m for m in self.store.messages(conversation_id) if m.role == "user"), None)
        documents = split_documents(question.content)[1] if question is not None else []
        if documents:
            self.store.rename_conversation(conversation_id, title_from(", ".join(d.name for d in documents)))

    def stop(self) -> None:
        """Esc while a document is being indexed: stop; the message stays in the composer."""
        if self._indexing is not None:
            self._indexing.cancel()

    # -- sending ---------------------------------------------------------------------
    def draft(self, typed: str) -> str:
        """The message as it would go now, for the context meter (documents too long to go whole
        are only named in it)."""
        return with_documents(typed, self._placed()) if self.pending else typed

    def prepare(self, question, then: Callable[[object], None]) -> None:
        """Put the documents into `question` (app.gui.answer_controller.Question) and hand it to
        `then`: at once when all go whole, after indexing the others into the chat's collection."""
        if not self.pending:
            then(question)
            return
        documents = self._placed()
        longer = [d for d, placed in zip(self.pending.values(), documents) if not placed.whole]
        typed = question.text
        if not longer:
            question.text = with_documents(typed, documents)
            then(question)
            return
        if question.conversation_id is None:
            question.conversation_id = self._conversation() or self._new_conversation()

        def indexed() -> None:
            question.text = with_documents(typed, documents)
            then(question)

        self._index(question.conversation_id, longer, indexed)

    def _placed(self) -> list[DocumentInMessage]:
        documents = list(self.pending.values())
        whole = fits_whole([d.text for d in documents], whole_budget(self._n_ctx()))
        return [DocumentInMessage(d.path, d.text if fits else None, len(d.text)) for d, fits in zip(documents, whole)]

    def _index(self, conversation_id: int, documents: list[ReadDocument], then: Callable[[], None]) -> None:
        cancel = self._indexing = Cancel()
        names = ", ".join(d.name for d in documents)
        self.composer.edit.setReadOnly(True)
        self.composer.show_notice(f"Indexing {names} for this chat: it is too long to send whole, so the answer "
                                  "will use the passages that fit your question. Your message goes when it is ready "
                                  "(Esc stops).")
        self._mark(documents, "indexing…")
        self.status.emit(f"Indexing {names} for this chat…")
        knowledge, folder = self._knowledge_store(), self._folder

        def work(report) -> dict[str, str]:
            from engine.knowledge.retrieval import default_embedder

            kept = {str(keep_copy(folder, d)): d.name for d in documents}
            for progress in index_for_chat(knowledge, conversation_id, [Path(p) for p in kept], default_embedder(),
                                           cancel):
                report(progress)
            collection = knowledge.require(chat_collection(conversation_id))
            return {kept[s.path]: s.reason or "unknown reason" for s in knowledge.sources(collection)
                    if s.path in kept and s.state != "indexed"}

        def progressed(progress) -> None:
            if progress.chunks:
                self.status.emit(f"Indexing {names} for this chat: {progress.chunks} passages…")

        def done(failed: dict[str, str]) -> None:
            self._finish()
            if failed:
                self._mark(documents, "")
                self.problem.emit(" ".join(f"Cannot index {name}: {why}." for name, why in failed.items())
                                  + " Your message is still here.")
                return
            self._mark(documents, "indexed")
            self.status.emit(f"Indexed {names} for this chat.")
            then()

        def failed(exc: BaseException) -> None:
            self._finish()
            self._mark(documents, "")
            stopped = isinstance(exc, Cancelled)
            self.problem.emit(f"Stopped indexing {names}. Your message is still here." if stopped else
                              f"Cannot index {names}: {getattr(exc, 'reason', exc)}. Your message is still here.")
            self.status.emit("")

        run_in_background(work, on_progress=progressed, on_success=done, on_failure=failed)

    def _finish(self) -> None:
        self._indexing = None
        self.composer.edit.setReadOnly(False)
        self.composer.show_notice("")

    def _mark(self, documents: list[ReadDocument], detail: str) -> None:
        """A chip's detail: what is happening to it, or ('') its size again."""
        for document in documents:
            key = KEY_PREFIX + document.sha256
            if key in self.tray.keys():
                self.tray.thumbnail(key).set_detail(detail or _size(document))

    def _knowledge_store(self):
        if self._knowledge is None:
            from engine.knowledge.index_store import KnowledgeStore

            self._knowledge = KnowledgeStore(self.store)
        return self._knowledge


def _size(document: ReadDocument) -> str:
    """What the chip says about a document: its text's length (and its file's size, for PDF and Word)."""
    characters = f"{len(document.text):,} characters"
    return f"{human_size(document.size)} · {characters}" if document.kind in ("pdf", "docx") else characters
