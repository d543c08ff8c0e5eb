"""Connects the Assistants window and its editor to the assistants in the history, and keeps the
window's "New chat with" menu and the chat list's assistant names in step.

Deleting hides an assistant (its chats answer as plain chats) and offers Undo in the window;
deleted assistants are purged for good at the next start, as deleted chats are. The editor stays
open until the engine has accepted its values: a taken name or a value out of range is shown
in it, and nothing typed is lost.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.conversations_controller import ConversationsController
from app.gui.model_picker import REMOTE
from engine.store import Store, StoreError
from engine.store.assistants import (create_assistant, delete_assistant, duplicate_assistant, export_assistant,
                                     get_assistant, import_assistant, list_assistants, purge_deleted_assistants,
                                     restore_assistant, update_assistant)
from engine.tools.registry import TOOL_NAMES
from ui.assistants_dialog import AssistantEditor, AssistantsDialog


class AssistantsController(QObject):
    assistants_changed = Signal()   # made, renamed, deleted or restored: chat list names, menus

    def __init__(self, store: Store, window, conversations: ConversationsController, *,
                 collections: Callable[[], list[str]], defaults: Callable[[], dict[str, str]]) -> None:
        """`collections()`: the knowledge collections an assistant may answer from; `defaults()`:
        how each default reads in the editor ({"temperature": "0.7", …})."""
        super().__init__(window)
        self.store = store
        self.window = window
        self.conversations = conversations
        self._collections = collections
        self._defaults = defaults
        self._dialog: AssistantsDialog | None = None
        self.editor: AssistantEditor | None = None
        self._deleted: int | None = None   # the assistant Undo brings back
        purge_deleted_assistants(store)    # deleted in an earlier run: past Undo now
        window.assistants_requested.connect(self.open_dialog)
        window.new_chat_with_requested.connect(self.new_chat)
        self.assistants_changed.connect(self._refresh_menu)
        self._refresh_menu()

    @property
    def dialog(self) -> AssistantsDialog:
        if self._dialog is None:
            d = self._dialog = AssistantsDialog(self.window)
            d.new_requested.connect(lambda: self.edit(None))
            d.edit_requested.connect(self.edit)
            d.duplicate_requested.connect(self.duplicate)
            d.delete_requested.connect(self.delete)
            d.undo_requested.connect(self.undo_delete)
            d.chat_requested.connect(self.new_chat)
            d.import_requested.connect(self.import_file)
            d.export_requested.connect(self.export)
        return self._dialog

    def open_dialog(self) -> None:
        self.refresh()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def refresh(self, select: int | None = None) -> None:
        self.dialog.set_assistants(list_assistants(self.store), select)

    # -- the editor ----------------------------------------------------------------------
    def edit(self, assistant_id: int | None) -> AssistantEditor | None:
        """Open the editor for an assistant, or for a new one (None)."""
        assistant = get_assistant(self.store, assistant_id) if assistant_id is not None else None
        if assistant_id is not None and assistant is None:
            self.dialog.show_message("That assistant no longer exists.", error=True)
            self.refresh()
            return None
        if self.editor is not None:
            self.editor.close()
        try:
            collections = self._collections()
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            collections = []
        title = f"Edit {assistant.name}" if assistant else "New assistant"
        editor = self.editor = AssistantEditor(title, assistant, models=self._models(), tool_names=TOOL_NAMES,
                                               collections=collections, defaults=self._defaults(),
                                               parent=self.dialog if self.dialog.isVisible() else self.window)
        editor.submitted.connect(lambda values: self._save(editor, values))
        editor.open()
        return editor

    def _save(self, editor: AssistantEditor, values: dict) -> None:
        try:
            if editor.assistant_id is None:
                saved = create_assistant(self.store, **values)
            else:
                saved = update_assistant(self.store, editor.assistant_id, **values)
        except StoreError as exc:
            editor.show_error(str(exc))
            return
        editor.accept()
        if self.editor is editor:
            self.editor = None
        self.refresh(select=saved.id)
        self.dialog.show_message(f"Saved {saved.name}.")
        self.assistants_changed.emit()

    # -- the list's other verbs ------------------------------------------------------------
    def duplicate(self, assistant_id: int) -> None:
        try:
            copy = duplicate_assistant(self.store, assistant_id)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        self.refresh(select=copy.id)
        self.dialog.show_message(f"Made {copy.name}.")
        self.assistants_changed.emit()

    def delete(self, assistant_id: int) -> None:
        assistant = get_assistant(self.store, assistant_id)
        if assistant is None:
            return
        try:
            delete_assistant(self.store, assistant_id)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        self._deleted = assistant_id
        self.refresh()
        self.dialog.show_undo(f"Deleted {assistant.name}. Its chats answer as plain chats unless you undo.")
        self.assistants_changed.emit()

    def undo_delete(self) -> None:
        if self._deleted is None:
            return
        assistant_id, self._deleted = self._deleted, None
        try:
            restored = restore_assistant(self.store, assistant_id)
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        self.refresh(select=restored.id)
        self.dialog.show_message(f"{restored.name} is back.")
        self.assistants_changed.emit()

    def import_file(self, path: str) -> None:
        """A bad file is one line saying what is wrong with it; nothing is saved then."""
        try:
            imported = import_assistant(self.store, Path(path))
        except StoreError as exc:   # AssistantFileError included
            self.dialog.show_message(str(exc), error=True)
            return
        self.refresh(select=imported.id)
        self.dialog.show_message(f"Imported {imported.name}.")
        self.assistants_changed.emit()

    def export(self, assistant_id: int, path: str) -> None:
        try:
            written = export_assistant(self.store, assistant_id, Path(path))
        except StoreError as exc:
            self.dialog.show_message(str(exc), error=True)
            return
        self.dialog.show_message(f"Exported to {written}.")

    def new_chat(self, assistant_id: int) -> int | None:
        """A new chat answering as the assistant, open and ready for typing."""
        try:
            conversation_id = self.conversations.new_conversation(assistant_id)
        except StoreError as exc:
            self.window.statusBar().showMessage(str(exc), 10000)
            return None
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.close()
        self.window.composer.edit.setFocus()
        return conversation_id

    # -- internals -------------------------------------------------------------------------
    def _refresh_menu(self) -> None:
        self.window.set_assistants([(a.id, a.name) for a in list_assistants(self.store)])

    def _models(self) -> list[tuple[str, str]]:
        """The models the toolbar's picker offers (the library's, or a remote server's), as (label, model)."""
        picker = self.window.model_picker
        found: list[tuple[str, str]] = []
        for index in range(picker.count()):
            value = str(picker.itemData(index) or "")
            model = value[len(REMOTE):] if value.startswith(REMOTE) else value
            if model:
                found.append((picker.itemText(index), model))
        return found
