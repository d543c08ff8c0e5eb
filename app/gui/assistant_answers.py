"""What a chat's assistant changes about its answers in the window: sampling, think budget, the
tools it may use (MCP servers' tools too) and the knowledge collections each question retrieves
from. The order of who wins is the engine's (engine/chat/answer.py): the chat's own settings,
then its assistant's, then the user's defaults.

Documents attached in the composer are indexed into a collection private to the chat, named
`chat:<id>`; it joins the assistant's collections whenever it exists, assistant or not.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.chat import SamplingDefaults
from engine.chat.answer import TOOLS_KEY, sampling_for, think_for, tool_names_for
from engine.chat.excerpts import Retriever
from engine.chat.think_budget import ThinkPlan
from engine.llm.client import Sampling
from engine.store import Store
from engine.knowledge.attached import CHAT_PREFIX, chat_collection
from engine.store.assistants import conversation_assistant
from engine.store.records import Assistant, Conversation
from engine.tools.registry import TOOL_NAMES, ToolSettings

if TYPE_CHECKING:
    from engine.knowledge.index_store import KnowledgeStore

def is_private(collection: str) -> bool:
    """A chat's own collection: not offered to assistants nor listed in the Knowledge dialog."""
    return collection.startswith(CHAT_PREFIX)


@dataclass(frozen=True)
class AnswerSetup:
    """Everything an answer in one chat is given, decided on the GUI thread before it starts."""
    assistant: Assistant | None
    sampling: Sampling
    think: ThinkPlan
    tools: ToolSettings
    knowledge: tuple[str, ...]   # collection names to retrieve from; () = none


class ChatKnowledge:
    """The window's one KnowledgeStore, made on first use (numpy waits until someone needs it);
    one instance so its cached vector matrices outlive a single answer."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._knowledge: KnowledgeStore | None = None
        self._making = threading.Lock()  # the context meter asks from its own thread

    @property
    def knowledge(self) -> "KnowledgeStore":
        with self._making:
            if self._knowledge is None:
                from engine.knowledge.index_store import KnowledgeStore

                self._knowledge = KnowledgeStore(self._store)
            return self._knowledge

    def names_for(self, conversation_id: int | None, assistant: Assistant | None) -> tuple[str, ...]:
        """The assistant's collections, then the chat's private one when it exists."""
        names = list(assistant.knowledge) if assistant is not None else []
        if conversation_id is not None:
            private = chat_collection(conversation_id)
            if self.knowledge.collection_id(private) is not None:
                names.append(private)
        return tuple(dict.fromkeys(names))

    def retriever(self, names: tuple[str, ...]) -> Retriever | None:
        if not names:
            return None
        from engine.chat.excerpts import collection_retriever

        return collection_retriever(self.knowledge, names)


def answer_setup(store: Store, conversation: Conversation | None, defaults: SamplingDefaults, tools: ToolSettings,
                 knowledge: ChatKnowledge | None) -> AnswerSetup:
    """`tools` are the chat's own choice or Settings → Tools (the window's tool settings)."""
    assistant = conversation_assistant(store, conversation.id) if conversation is not None else None
    names = knowledge.names_for(conversation.id if conversation else None, assistant) if knowledge else ()
    return AnswerSetup(assistant, sampling_for(conversation, defaults, assistant=assistant),
                       think_for(conversation, defaults, assistant), tools_for(conversation, assistant, tools), names)


def tools_for(conversation: Conversation | None, assistant: Assistant | None, tools: ToolSettings) -> ToolSettings:
    """The window's tool settings narrowed to the tools the assistant may use, MCP tools included;
    a chat that chose its own tools keeps them."""
    chose_itself = bool(conversation is not None and conversation.settings.get(TOOLS_KEY))
    if assistant is None or assistant.tools is None or chose_itself:
        return tools
    names = tool_names_for(conversation, assistant, tools.enabled)
    return replace(tools, enabled=tuple(name for name in names if name in TOOL_NAMES),
                   extra_tools=tuple(tool for tool in tools.extra_tools if tool.spec.name in names))
