"""Whether the chat on screen speaks its answers: its own choice (kept in the conversation's
settings, so it survives a restart), or the default from Settings → Voice.

A choice made before any chat exists (a fresh start, an empty window) is given to the chat the
first message creates.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from engine.store import Store, StoreError

KEY = "voice/speak_answers"


class SpeakAnswersChoice(QObject):
    changed = Signal(bool)   # the chat on screen now does (or does not) speak its answers
    status = Signal(str)

    def __init__(self, action: QAction, store: Store, default: Callable[[], bool],
                 current_chat: Callable[[], int | None]) -> None:
        super().__init__(action)
        self._action = action
        self._store = store
        self._default = default
        self._current_chat = current_chat
        self._unsaved: bool | None = None   # chosen while no chat was open
        action.toggled.connect(self._chosen)

    @property
    def on(self) -> bool:
        return self._action.isChecked() and self._action.isEnabled()

    def show_chat(self, conversation_id: int | None = None) -> None:
        """The chat on screen changed (or the default did): show its choice."""
        conversation = self._store.get_conversation(conversation_id) if conversation_id is not None else None
        if conversation is not None and self._unsaved is not None and KEY not in conversation.settings:
            self._save(conversation.id, conversation.settings, self._unsaved)
            conversation = self._store.get_conversation(conversation.id)
        self._unsaved = None
        value = conversation.settings.get(KEY, self._default()) if conversation else self._default()
        self._action.blockSignals(True)
        self._action.setChecked(bool(value))
        self._action.blockSignals(False)
        self.changed.emit(self.on)

    def _chosen(self, on: bool) -> None:
        conversation_id = self._current_chat()
        conversation = self._store.get_conversation(conversation_id) if conversation_id is not None else None
        if conversation is None:
            self._unsaved = on
        else:
            self._save(conversation.id, conversation.settings, on)
        self.changed.emit(self.on)

    def _save(self, conversation_id: int, settings: dict, on: bool) -> None:
        try:
            self._store.update_conversation(conversation_id, settings={**settings, KEY: on})
        except StoreError as exc:
            self.status.emit(str(exc))
