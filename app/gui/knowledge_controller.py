"""Connects the Knowledge window to the knowledge engine: collections made, files and folders
added, indexing in the background with progress and Cancel, paths removed, collections deleted.

One index runs at a time, on a thread of its own (a long index must not hold a thread a search
or a model scan needs). The engine commits every file with its chunks and vectors, so Cancel, a
quit or a crash keeps what was done and the next Add or Update carries on from there. Progress
reaches the window at most about ten times a second, and always when the kind of news changes
(the first file indexed, an unreadable one, the end).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.gui.assistant_answers import ChatKnowledge, is_private
from app.gui.operations import run_in_background
from engine.cancel import Cancel, Cancelled
from engine.knowledge.records import Collection, IndexProgress
from engine.store import StoreError
from ui.knowledge_dialog import KnowledgeDialog

PROGRESS_EVERY_S = 0.1
COUNTS_EVERY_S = 1.0


def _default_embedder():
    from engine.knowledge.retrieval import default_embedder

    return default_embedder()


class KnowledgeController(QObject):
    index_progressed = Signal(object)     # IndexProgress
    index_ended = Signal(str, str)        # collection, 'finished' | 'cancelled' | 'failed'
    collections_changed = Signal()        # made, deleted, or its files changed (assistants list them)

    def __init__(self, window, knowledge: ChatKnowledge, *, embedder: Callable[[], object] = _default_embedder) -> None:
        super().__init__(window)
        self.window = window
        self._chat_knowledge = knowledge
        self._embedder = embedder
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._dialog: KnowledgeDialog | None = None
        self._cancel: Cancel | None = None
        self._closed = False
        self._counts_shown = 0.0
        self.indexing: str | None = None   # the collection being indexed

    @property
    def knowledge(self):
        return self._chat_knowledge.knowledge

    @property
    def dialog(self) -> KnowledgeDialog:
        """Built when first wanted: the window opens without it."""
        if self._dialog is None:
            d = self._dialog = KnowledgeDialog(self.window)
            d.new_requested.connect(self.new_collection)
            d.add_requested.connect(self.add_paths)
            d.update_requested.connect(self.update)
            d.remove_path_requested.connect(self.remove_path)
            d.delete_requested.connect(self.delete)
            d.cancel_requested.connect(self.cancel)
            d.collection_selected.connect(self._show_details)
            d.set_busy(self.indexing is not None)
        return self._dialog

    def open_dialog(self) -> None:
        self.refresh()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def collections(self) -> list[Collection]:
        """The user's collections (a chat's private one belongs to that chat, not here)."""
        return [c for c in self.knowledge.collections() if not is_private(c.name)]

    def refresh(self, select: str | None = None) -> None:
        try:
            self.dialog.set_collections(self.collections(), select)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)

    # -- what the user asked for ---------------------------------------------------------
    def new_collection(self, name: str) -> bool:
        name = " ".join(name.split())
        if not name:
            return False
        if is_private(name) or "," in name:
            self.dialog.show_message(f"A collection's name cannot contain a comma or start with "
                                     f"\"chat:\" ({name}).", error=True)
            return False
        if self.knowledge.collection_id(name) is not None:
            self.dialog.show_message(f"There is already a collection named {name}.", error=True)
            self.dialog.select(name)
            return False
        from engine.knowledge.minilm import MiniLmEmbedder

        try:
            self.knowledge.create_collection(name, MiniLmEmbedder.name, MiniLmEmbedder.dimension)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return False
        self.refresh(select=name)
        self.dialog.show_message(f"Made the collection {name}. Add files or a folder to it.")
        self.collections_changed.emit()
        return True

    def add_paths(self, name: str, paths: Sequence[str]) -> None:
        """Add files and folders to `name`, then index: what is already indexed and unchanged is skipped."""
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            self.dialog.show_message(f"No such file or folder: {missing[0]}", error=True)
            return
        if self._refuse_while_indexing():
            return
        try:
            collection_id = self.knowledge.require(name)
            self.knowledge.add_roots(collection_id, [str(Path(p).resolve()) for p in paths])
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        self._show_details(name)
        self.index(name)

    def update(self, name: str) -> None:
        if not self._refuse_while_indexing():
            self.index(name)

    def index(self, name: str) -> None:
        """Bring `name` up to date in the background; progress and the end come back as signals."""
        if self._refuse_while_indexing():
            return
        knowledge, embedder = self.knowledge, self._embedder
        cancel = self._cancel = Cancel()
        self.indexing = name
        self.dialog.set_busy(True)
        self.dialog.show_progress(name, 0, 0, 0, None)
        self.dialog.show_message("Reading the embedding model…")

        def work(report):
            """On the index's own thread: report the first of each kind of news, then at most ten a second."""
            from engine.knowledge.indexer import index_collection

            last: IndexProgress | None = None
            sent_at, sent_kind = 0.0, ""
            for progress in index_collection(knowledge, name, embedder(), cancel=cancel):
                now = time.monotonic()
                if progress.outcome != sent_kind or progress.outcome == "failed" or now - sent_at >= PROGRESS_EVERY_S:
                    report(progress)
                    sent_at, sent_kind = now, progress.outcome
                last = progress
            return last

        run_in_background(work, on_progress=lambda p: self._progressed(name, p),
                          on_success=lambda last: self._ended(name, "finished", last),
                          on_failure=lambda exc: self._ended(name, "cancelled" if isinstance(exc, Cancelled)
                                                             else "failed", exc),
                          pool=self._pool)

    def cancel(self) -> None:
        """Stop the index after the file in hand; every file already saved stays."""
        if self._cancel is not None:
            self._cancel.cancel()
            self.dialog.show_message("Stopping after the file in hand…")

    def remove_path(self, name: str, path: str) -> None:
        """Forget one path added to `name` and the files only it brought in (found in the background:
        a big folder takes a while to walk)."""
        if self._refuse_while_indexing():
            return
        knowledge = self.knowledge

        def work():
            from engine.knowledge.documents import find_files

            collection_id = knowledge.require(name)
            roots = knowledge.roots(collection_id)
            still_wanted = set(find_files([root for root in roots if root != path]))
            knowledge.remove_root(collection_id, path, [p for p in knowledge.known_sources(collection_id)
                                                        if p not in still_wanted])

        def done(_result) -> None:
            if self._closed:
                return
            self.refresh(select=name)
            self.dialog.show_message(f"Removed {path} from {name}.")
            self.collections_changed.emit()

        run_in_background(work, on_success=done, on_failure=lambda exc: None if self._closed else
                          self.dialog.show_message(f"Could not remove {path}: {exc}", error=True), pool=self._pool)

    def delete(self, name: str) -> None:
        if self._refuse_while_indexing():
            return
        try:
            collection_id = self.knowledge.collection_id(name)
            if collection_id is not None:
                self.knowledge.delete_collection(collection_id)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        self.refresh()
        self.dialog.show_message(f"Deleted the collection {name}. Your files are where they were; assistants "
                                 "that used it answer without it.")
        self.collections_changed.emit()

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Stop an index (what is saved stays, and the next Add or Update resumes) and wait for it:
        the history closes next."""
        self._closed = True
        if self._cancel is not None:
            self._cancel.cancel()
        self._pool.waitForDone(int(wait_s * 1000))

    # -- what comes back -----------------------------------------------------------------
    def _progressed(self, name: str, progress: IndexProgress) -> None:
        if self._closed:
            return
        self.index_progressed.emit(progress)
        if progress.outcome == "started":
            self.dialog.show_message("")
        self.dialog.show_progress(name, progress.done, progress.total, progress.chunks, progress.path)
        if time.monotonic() - self._counts_shown >= COUNTS_EVERY_S:  # the table's counts grow as files are saved
            self._counts_shown = time.monotonic()
            self.refresh()

    def _ended(self, name: str, outcome: str, result) -> None:  # noqa: ANN001
        self._cancel, self.indexing = None, None
        if self._closed:
            return
        self.dialog.set_busy(False)
        self.refresh(select=name)
        if outcome == "finished":
            last: IndexProgress | None = result
            found = next((c for c in self.collections() if c.name == name), None)
            files = found.files if found else (last.done if last else 0)
            unreadable = f"; {found.failed} could not be read (listed below)" if found and found.failed else ""
            self.dialog.show_message(f"{name} is up to date: {files:,} files, {found.chunks if found else 0:,} "
                                     f"chunks{unreadable}.")
        elif outcome == "cancelled":
            self.dialog.show_message(f"Stopped indexing {name}. What was indexed is kept; Update carries on "
                                     "from there.")
        else:
            self.dialog.show_message(f"Indexing {name} failed: {result}", error=True)
        self.collections_changed.emit()
        self.index_ended.emit(name, outcome)

    def _show_details(self, name: str) -> None:
        try:
            collection_id = self.knowledge.collection_id(name)
            if collection_id is None:
                self.dialog.show_details([], [])
                return
            failed = [s for s in self.knowledge.sources(collection_id) if s.state == "failed"]
            self.dialog.show_details(self.knowledge.roots(collection_id), failed)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)

    def _refuse_while_indexing(self) -> bool:
        if self.indexing is None:
            return False
        self.dialog.show_message(f"{self.indexing} is being indexed: wait for it, or Cancel it first.", error=True)
        return True
