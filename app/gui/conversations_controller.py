"""The chat list's verbs: a new chat, rename, delete with undo. The transcript shows the result."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.gui.transcript_controller import TranscriptController
from engine.chat.titles import UNTITLED
from engine.store import Store
from engine.store.assistants import conversation_assistant, set_conversation_assistant, start_conversation


class ConversationsController(QObject):
    conversations_changed = Signal()

    def __init__(self, store: Store, transcript: TranscriptController, default_system_prompt: Callable[[], str]) -> None:
        super().__init__()
        self.store = store
        self.transcript = transcript
        self._default_system_prompt = default_system_prompt

    def new_conversation(self, assistant_id: int | None = None) -> int:
        """An untouched "New chat" is reused, wherever it sits in the list, and comes back to the
        top: pressing Ctrl+N twice, or leaving an empty chat for an older one and then asking for
        a new one, gives one empty chat, not a pile. With `assistant_id` the chat answers as that
        assistant, whose instructions take the place of the default system prompt."""
        untouched = next((c for c in self.store.list_conversations()
                          if c.title == UNTITLED and self.store.count_messages(c.id) == 0), None)
        if untouched is not None:
            had = conversation_assistant(self.store, untouched.id)
            if (had.id if had else None) != assistant_id:
                set_conversation_assistant(self.store, untouched.id, assistant_id)
                self.store.update_conversation(untouched.id, system_prompt="" if assistant_id is not None
                                               else self._default_system_prompt())
            self.store.touch_conversation(untouched.id)
            self.conversations_changed.emit()
            self.transcript.open(untouched.id)
            return untouched.id
        if assistant_id is not None:
            conversation = start_conversation(self.store, assistant_id)
        else:
            conversation = self.store.create_conversation(system_prompt=self._default_system_prompt())
        self.conversations_changed.emit()
        self.transcript.open(conversation.id)
        return conversation.id

    def rename(self, conversation_id: int, title: str) -> None:
        self.store.rename_conversation(conversation_id, title)
        self.conversations_changed.emit()

    def delete(self, conversation_id: int) -> None:
        if conversation_id == self.transcript.current_id:
            self.transcript.close_chat()
        self.store.delete_conversation(conversation_id)
        self.conversations_changed.emit()

    def undo_delete(self, conversation_id: int) -> None:
        self.store.restore_conversation(conversation_id)
        self.conversations_changed.emit()
        self.transcript.open(conversation_id)
