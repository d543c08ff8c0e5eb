"""Export and Import in the window: the Chat menu's "Export chat…", "Export all chats…" and
"Import chats…", and "Export…" on a chat's right-click menu.

The same engine functions as `hearth chats export|import` do the work, off the GUI thread
through app/gui/operations.py. The file dialogs and the problem message are attributes
(`choose_export_file`, `choose_import_file`, `show_problem`) so a test can answer them.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.operations import run_in_background
from engine.store import Store, StoreError
from engine.store.chat_file import ChatFileError
from ui import chat_transfer_dialogs as dialogs
from ui.main_window import MainWindow

MARKDOWN_SUFFIXES = (".md", ".markdown")


class ChatTransferController(QObject):
    status = Signal(str)            # what was done, for the status bar
    chats_imported = Signal()       # new chats are in the store: the list should show them

    def __init__(self, store: Store, attachments_dir: Path, window: MainWindow,
                 open_chat: Callable[[], int | None]) -> None:
        super().__init__(window)
        self.store = store
        self.attachments_dir = attachments_dir
        self.window = window
        self._open_chat = open_chat
        self.busy = False  # one export or import at a time
        self.choose_export_file = dialogs.choose_export_file
        self.choose_import_file = dialogs.choose_import_file
        self.show_problem = dialogs.show_problem
        window.export_open_chat_requested.connect(self.export_open_chat)
        window.export_all_chats_requested.connect(self.export_all)
        window.import_chats_requested.connect(self.import_file)
        window.conversations.export_requested.connect(self.export_chats)

    # -- export ------------------------------------------------------------------
    def export_open_chat(self) -> None:
        chat = self._open_chat()
        if chat is None:
            self.status.emit("Open a chat to export it.")
            return
        self.export_chats([chat])

    def export_all(self) -> None:
        self.export_chats(None)

    def export_chats(self, conversation_ids: list[int] | None) -> None:
        """The given chats (None: all of them) to the file or folder the user picks."""
        if self._still_busy():
            return
        if conversation_ids is None and not self.store.list_conversations():
            self.status.emit("There are no chats to export.")
            return
        several = conversation_ids is None or len(conversation_ids) > 1
        chosen = self.choose_export_file(self.window, self._suggested_path(conversation_ids), several)
        if chosen is None:
            return
        out, kind = target(*chosen, several)

        def work():
            from engine.store.chat_export import write_json_export
            from engine.store.chat_markdown import write_markdown_export

            write = write_markdown_export if kind == "md" else write_json_export
            return write(self.store, self.attachments_dir, out, conversation_ids)

        self._run(work, "Exporting…", "Export failed", lambda report: self.status.emit(report.summary()))

    def _suggested_path(self, conversation_ids: list[int] | None) -> Path:
        """The chat's title (or "Hearth chats"), without an ending: the filter picked adds it."""
        from engine.store.chat_markdown import safe_file_name

        one = conversation_ids[0] if conversation_ids and len(conversation_ids) == 1 else None
        conversation = self.store.get_conversation(one) if one is not None else None
        return Path.home() / (Path(safe_file_name(conversation.title, set())).stem if conversation else "Hearth chats")

    # -- import ------------------------------------------------------------------
    def import_file(self) -> None:
        """A Hearth JSON export or ChatGPT's conversations.json (or zip); a bad file adds nothing."""
        if self._still_busy():
            return
        path = self.choose_import_file(self.window)
        if path is None:
            return

        def work():
            from engine.store.chat_import import import_chats

            return import_chats(self.store, self.attachments_dir, path)

        def done(report) -> None:
            if report.imported:
                self.chats_imported.emit()
            self.status.emit(report.summary())

        self._run(work, "Importing…", "Import failed", done)

    # -- running -----------------------------------------------------------------
    def _still_busy(self) -> bool:
        if self.busy:
            self.status.emit("Still busy with the last export or import; try again when it is done.")
        return self.busy

    def _run(self, work: Callable[[], object], doing: str, problem_title: str, on_done: Callable) -> None:
        self.busy = True
        self.status.emit(doing)

        def succeeded(report) -> None:
            self.busy = False
            on_done(report)

        def failed(error: BaseException) -> None:
            self.busy = False
            expected = isinstance(error, (ChatFileError, StoreError, OSError))
            text = str(error) if expected else f"Something went wrong: {error}"
            self.status.emit(f"{problem_title}: {text}")
            self.show_problem(self.window, problem_title, text)

        run_in_background(work, on_success=succeeded, on_failure=failed)


def target(path: Path, kind: str, several: bool) -> tuple[Path, str]:
    """Where the export goes: the dialog's filter says json or md, and the name is made to match
    (an ending of the other kind is replaced). Several chats as markdown go to a folder."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() in (".json", *MARKDOWN_SUFFIXES) else path
    if kind == "md":
        return (stem if several else stem.with_name(f"{stem.name}.md")), "md"
    return stem.with_name(f"{stem.name}.json"), "json"
