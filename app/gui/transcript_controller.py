"""The transcript: which chat is on screen, its pages of messages, the question being edited,
and the answer's versions. It never runs an answer (app/gui/answer_controller.py does)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.chat.documents_in_prompt import DocumentInMessage, split_documents
from engine.store import Store, StoreError
from engine.store.answer_sources import sources_for
from ui.document_chip import DocumentChips
from ui.message_list import MessageList
from ui.message_widget import MessageWidget
from ui.sources_list import SourcesList

PAGE = 24  # messages built when a chat opens; scrolling to the top brings the next page


def footer_for(message, thinking=None) -> str:
    """The answer's figures; a thought's tokens and time apart from the answer's own."""
    if message.role != "assistant" or not message.completion_tokens:
        return ""
    thought = thinking.tokens if thinking is not None and thinking.tokens else 0
    parts = [f"{max(message.completion_tokens - thought, 0)} tokens"]
    if thought:
        took = f" in {thinking.seconds:.0f} s" if thinking.seconds is not None else ""
        parts.append(f"thought {thought} tokens{took}")
    if message.tokens_per_second:
        parts.append(f"{message.tokens_per_second:.1f} tok/s")
    if message.prompt_ms:
        parts.append(f"first token {message.prompt_ms:.0f} ms")
    if message.model:
        parts.append(message.model)
    return " · ".join(parts)


class TranscriptController(QObject):
    current_changed = Signal(int)   # conversation id
    status = Signal(str)            # a line for the status bar
    left_chat = Signal()            # the chat on screen is about to change
    source_clicked = Signal(object)       # an answer's AnswerSource: show its passage
    document_clicked = Signal(int, object)  # conversation id, DocumentInMessage: show what was sent
    documents_to_edit = Signal(list)      # paths of the documents an edited question carried

    def __init__(self, store: Store, view: MessageList, composer, attachments_dir: Path,
                 answering: Callable[[], bool]) -> None:
        """`answering()` says whether an answer is under way: versions and edits wait for it."""
        super().__init__()
        self.store = store
        self.view = view
        self.composer = composer
        self._attachments_dir = attachments_dir
        self._answering = answering
        self.current_id: int | None = None
        self._editing: int | None = None   # the user message whose words wait in the composer
        self._draft_before_edit = ""
        self._first_kept: int | None = None
        self.view.version_requested.connect(self.show_version)
        self.view.context_note_clicked.connect(self.show_first_kept)
        self.view.edit_requested.connect(self.edit)
        self.view.load_earlier_requested.connect(self.load_earlier)
        self.composer.cancel_edit_requested.connect(self.cancel_edit)

    # -- showing a chat ------------------------------------------------------------
    def open(self, conversation_id: int, *, show_message: int | None = None) -> None:
        if conversation_id != self.current_id:
            self.left_chat.emit()
        self.cancel_edit()
        self.current_id = conversation_id
        self.view.clear()
        total = self.store.count_messages(conversation_id)
        limit = PAGE
        if show_message is not None:
            newer = [m for m in self.store.messages(conversation_id) if m.id >= show_message]
            limit = max(PAGE, len(newer) + 2)
        messages = self.store.messages(conversation_id, limit=limit)
        attachments = self.store.attachments_for([m.id for m in messages])
        steps, thoughts = self._steps(messages), self._thoughts(messages)
        for message in messages:
            self.view.append_message(self.widget(message, attachments.get(message.id, []), steps.get(message.id, ()),
                                                 thoughts.get(message.id)))
        self._show_sources(messages)
        if messages and messages[-1].role == "assistant":
            self.show_version_count(messages[-1].id)
        self.view.set_has_earlier(total > len(messages))
        self.view.set_context_note("")
        self.view.scroll_to_bottom()
        if show_message is not None and (widget := self.view.widget_for(show_message)):
            self.view.ensureWidgetVisible(widget)
        self.current_changed.emit(conversation_id)

    def close_chat(self) -> None:
        """The chat on screen is gone (deleted)."""
        self.left_chat.emit()
        self.cancel_edit()
        self.current_id = None
        self.view.clear()

    def load_earlier(self) -> None:
        if self.current_id is None or self.view.oldest_id() is None:
            return
        older = self.store.messages(self.current_id, limit=PAGE, before_id=self.view.oldest_id())
        attachments = self.store.attachments_for([m.id for m in older])
        steps, thoughts = self._steps(older), self._thoughts(older)
        self.view.prepend_messages([self.widget(m, attachments.get(m.id, []), steps.get(m.id, ()), thoughts.get(m.id))
                                    for m in older])
        self._show_sources(older)
        remaining = self.store.count_messages(self.current_id) - len(self.view.message_ids())
        self.view.set_has_earlier(remaining > 0)

    def widget(self, message, attachments=(), tool_steps=(), thinking=None) -> MessageWidget:
        images = [str(self._attachments_dir / a.path) for a in attachments]
        words, documents = split_documents(message.content) if message.role == "user" else (message.content, [])
        widget = MessageWidget(message.id, message.role, words, state=message.state,
                               footer=footer_for(message, thinking), error=message.error, image_paths=images)
        if documents:
            self._show_documents(widget, message.conversation_id, documents)
        if thinking is not None:
            widget.set_thinking(thinking.text, thinking.seconds, thinking.tokens)
        for step in tool_steps:
            widget.show_tool_step(step)
        return widget

    # -- the documents behind a question and an answer -------------------------------
    def show_sources(self, message_id: int) -> None:
        """An answer's sources are saved (retrieved, or the answer ended): list them under it."""
        if (widget := self.view.widget_for(message_id)) is None:
            return
        try:
            sources = sources_for(self.store, [message_id]).get(message_id)
        except StoreError as exc:
            self.status.emit(str(exc))
            return
        if sources:
            self._add_sources_list(widget, sources)

    def _show_sources(self, messages) -> None:
        answers = [m.id for m in messages if m.role == "assistant"]
        if not answers:
            return
        try:
            found = sources_for(self.store, answers)
        except StoreError as exc:
            self.status.emit(str(exc))
            return
        for message_id, sources in found.items():
            if widget := self.view.widget_for(message_id):
                self._add_sources_list(widget, sources)

    def _add_sources_list(self, widget: MessageWidget, sources) -> None:
        listing = SourcesList(sources)
        listing.source_clicked.connect(self.source_clicked.emit)
        widget.add_below(listing, "answerSources")

    def _show_documents(self, widget: MessageWidget, conversation_id: int, documents: list[DocumentInMessage]) -> None:
        chips = DocumentChips([(d.name, _chars(d.chars) if d.whole else "indexed for this chat",
                                f"{d.path}\n" + ("Sent whole with the message" if d.whole else
                                                 "Too long to send whole: indexed, and passages come with each question"))
                               for d in documents])
        chips.activated.connect(lambda index: self.document_clicked.emit(conversation_id, documents[index]))
        widget.add_below(chips, "messageDocuments")

    def _thoughts(self, messages) -> dict:
        return self.store.thinking_for([m.id for m in messages if m.role == "assistant"])

    def _steps(self, messages) -> dict:
        return self.store.tool_steps_for([m.id for m in messages if m.role == "assistant"])

    def append(self, message, attachments=()) -> MessageWidget:
        return self.view.append_message(self.widget(message, attachments))

    def show_context_note(self, dropped: int, n_ctx: int, first_kept_id: int | None = None) -> None:
        self._first_kept = first_kept_id if dropped else None
        if dropped:
            self.view.set_context_note(
                f"This chat is longer than the model's context ({n_ctx} tokens): the model no longer sees "
                f"the first {dropped} message{'s' if dropped != 1 else ''}. The system prompt is kept."
                + (" Click to see where it begins." if first_kept_id is not None else ""))
        else:
            self.view.set_context_note("")

    def show_first_kept(self) -> None:
        """The banner was clicked: scroll to the oldest message still in the prompt."""
        first = self._first_kept
        if first is None or self.current_id is None:
            return
        if self.view.widget_for(first) is None:  # not loaded yet: load down to it
            note = self.view.context_note.text()
            self.open(self.current_id, show_message=first)
            self._first_kept = first
            self.view.set_context_note(note)
        if widget := self.view.widget_for(first):
            self.view.ensureWidgetVisible(widget, 0, 0)

    # -- versions ------------------------------------------------------------------
    def show_version(self, message_id: int, number: int) -> None:
        """Put another of the answer's versions on show; the next question follows from it."""
        if self._answering():
            return
        try:
            message = self.store.show_answer_version(message_id, number)
        except StoreError as exc:
            self.status.emit(str(exc))
            return
        if widget := self.view.widget_for(message_id):
            thinking = self.store.thinking_for([message_id]).get(message_id)
            widget.show_version(message.content, message.state, footer_for(message, thinking), message.error)
        self.show_version_count(message_id)

    def show_version_count(self, answer_id: int) -> None:
        if widget := self.view.widget_for(answer_id):
            try:
                widget.set_versions(*self.store.answer_versions(answer_id))
            except StoreError:
                widget.set_versions(1, 1)

    def step_last_version(self, step: int) -> None:
        widgets = self.view.widgets()
        if widgets and widgets[-1].role == "assistant":
            widgets[-1].step_version(step)  # its version_requested reaches show_version

    # -- editing -------------------------------------------------------------------
    @property
    def editing(self) -> int | None:
        return self._editing

    def edit(self, message_id: int) -> None:
        """Put the last user message back in the composer. Nothing is deleted yet: sending the
        new words replaces the message and what came after it (its images stay); Esc, Cancel or
        opening another chat leaves the turn as it was and gives back what the composer held."""
        message = self.store.get_message(message_id)
        if self._answering() or message is None or message.role != "user":
            return
        if self._editing is None:
            self._draft_before_edit = self.composer.edit.toPlainText()
        else:
            self._mark_editing(self._editing, False)
        self._editing = message_id
        self._mark_editing(message_id, True)
        self.composer.set_editing(True)
        words, documents = split_documents(message.content)
        self.composer.set_text(words)
        if documents:  # they go again with the new words, read again from their files
            self.documents_to_edit.emit([d.path for d in documents])

    def edit_sent(self) -> None:
        """The edited words are saved: the old turn leaves the screen (the new one follows)."""
        editing, self._editing = self._editing, None
        self.composer.set_editing(False)
        if editing is not None:
            self.view.remove_from(editing)

    def cancel_edit(self) -> None:
        if self._editing is None:
            return
        self._mark_editing(self._editing, False)
        self._editing = None
        self.composer.set_editing(False)
        self.composer.set_text(self._draft_before_edit)
        self._draft_before_edit = ""

    def give_back_draft(self) -> None:
        """After an edited question is sent: what the composer held before the edit returns."""
        draft, self._draft_before_edit = self._draft_before_edit, ""
        if draft and self._editing is None and not self.composer.edit.toPlainText():
            self.composer.set_text(draft)

    def _mark_editing(self, message_id: int, editing: bool) -> None:
        if widget := self.view.widget_for(message_id):
            widget.set_editing(editing)


def _chars(count: int) -> str:
    return f"{count:,} characters"
