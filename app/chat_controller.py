"""Wires the chat: composer → store → generation worker → transcript. The only place (with the
other app/ controllers) where widgets and the engine meet."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.generation import GenerationThread, GenerationWorker
from app.settings import Settings
from engine.llm.client import Sampling, StreamFinished
from engine.llm.context import PER_MESSAGE_OVERHEAD, estimate_tokens, message_texts, plan_prompt
from engine.store import Store, StoreError
from ui.message_list import MessageList
from ui.message_widget import MessageWidget

PAGE = 24  # messages built when a chat opens; scrolling to the top brings the next page
TOKEN_CACHE_SIZE = 5000  # texts whose token counts are kept between sends


def footer_for(message) -> str:
    if message.role != "assistant" or not message.completion_tokens:
        return ""
    parts = [f"{message.completion_tokens} tokens"]
    if message.tokens_per_second:
        parts.append(f"{message.tokens_per_second:.1f} tok/s")
    if message.prompt_ms:
        parts.append(f"first token {message.prompt_ms:.0f} ms")
    if message.model:
        parts.append(message.model)
    return " · ".join(parts)


def _data_uri(attachment) -> str:
    import base64

    from app import paths

    data = (paths.attachments_dir() / attachment.path).read_bytes()
    return f"data:{attachment.mime};base64,{base64.b64encode(data).decode('ascii')}"


def title_from(text: str, limit: int = 48) -> str:
    """A new chat's title from its first message: one line, cut at a word, marked when cut."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut).rstrip(" ,.;:-") + "…"


class ChatController(QObject):
    conversations_changed = Signal()
    current_changed = Signal(int)          # conversation id
    status = Signal(str)                   # a line for the status bar
    streaming_changed = Signal(bool)
    answer_progressed = Signal(int, str)   # message id, new text
    answer_finished = Signal(int)          # message id
    answer_failed = Signal(int, str)

    def __init__(self, store: Store, settings: Settings, engine, view: MessageList, composer) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.engine = engine
        self.view = view
        self.composer = composer
        self.current_id: int | None = None
        self._thread: GenerationThread | None = None
        self._pending: tuple[int, int] | None = None   # (conversation, assistant message) waiting for the model
        self._token_cache: dict[str, int] = {}
        self._prompt_start: dict[int, int] = {}   # where each chat's prompt begins (see context.py)
        self._retiring: set[GenerationThread] = set()   # kept alive until their QThread ends
        self._editing: int | None = None   # the user message whose words wait in the composer
        self._draft_before_edit = ""
        self.view.regenerate_requested.connect(self.regenerate)
        self.view.version_requested.connect(self.show_version)
        self.view.edit_requested.connect(self.edit)
        self.view.load_earlier_requested.connect(self.load_earlier)
        self.composer.cancel_edit_requested.connect(self.cancel_edit)
        self.engine.state_changed.connect(self._engine_state)

    # -- conversations -----------------------------------------------------------
    def new_conversation(self) -> int:
        """An untouched "New chat" is reused, wherever it sits in the list, and comes back to the
        top: pressing Ctrl+N twice, or leaving an empty chat for an older one and then asking for
        a new one, gives one empty chat, not a pile."""
        untouched = next((c for c in self.store.list_conversations()
                          if c.title == "New chat" and self.store.count_messages(c.id) == 0), None)
        if untouched is not None:
            self.store.touch_conversation(untouched.id)
            self.conversations_changed.emit()
            self.open(untouched.id)
            return untouched.id
        conversation = self.store.create_conversation(system_prompt=self.settings.get("chat/system_prompt"))
        self.conversations_changed.emit()
        self.open(conversation.id)
        return conversation.id

    def open(self, conversation_id: int, *, show_message: int | None = None) -> None:
        if self.streaming and conversation_id != self.current_id:
            self.stop()
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
        for message in messages:
            self.view.append_message(self._widget(message, attachments.get(message.id, [])))
        if messages and messages[-1].role == "assistant":
            self._show_version_count(messages[-1].id)
        self.view.set_has_earlier(total > len(messages))
        self.view.set_context_note("")
        self.view.scroll_to_bottom()
        if show_message is not None and (widget := self.view.widget_for(show_message)):
            self.view.ensureWidgetVisible(widget)
        self.current_changed.emit(conversation_id)

    def load_earlier(self) -> None:
        if self.current_id is None or self.view.oldest_id() is None:
            return
        older = self.store.messages(self.current_id, limit=PAGE, before_id=self.view.oldest_id())
        attachments = self.store.attachments_for([m.id for m in older])
        self.view.prepend_messages([self._widget(m, attachments.get(m.id, [])) for m in older])
        remaining = self.store.count_messages(self.current_id) - len(self.view.message_ids())
        self.view.set_has_earlier(remaining > 0)

    def rename(self, conversation_id: int, title: str) -> None:
        self.store.rename_conversation(conversation_id, title)
        self.conversations_changed.emit()

    def delete(self, conversation_id: int) -> None:
        if conversation_id == self.current_id:
            self.stop()
            self.cancel_edit()
            self.current_id = None
            self.view.clear()
        self.store.delete_conversation(conversation_id)
        self.conversations_changed.emit()

    def undo_delete(self, conversation_id: int) -> None:
        self.store.restore_conversation(conversation_id)
        self.conversations_changed.emit()
        self.open(conversation_id)

    def _widget(self, message, attachments=()) -> MessageWidget:
        from app import paths

        images = [str(paths.attachments_dir() / a.path) for a in attachments]
        widget = MessageWidget(message.id, message.role, message.content, state=message.state,
                               footer=footer_for(message), error=message.error, image_paths=images)
        return widget

    # -- sending -------------------------------------------------------------------
    @property
    def streaming(self) -> bool:
        return self._thread is not None or self._pending is not None

    def send(self, text: str, attachments: list | None = None) -> int | None:
        """Store the user's message and start the answer. Returns the user message id."""
        if self.streaming:
            return None
        if self.current_id is None:
            self.new_conversation()
        conversation = self.store.get_conversation(self.current_id)
        editing, rewritten = self._editing, False
        named_after_it = False  # the chat's title was made from the question being edited
        try:
            if editing is not None:
                old = self.store.get_message(editing)
                named_after_it = bool(old and conversation and conversation.title == title_from(old.content))
                message = self.store.rewrite_message(editing, text)
                rewritten, self._editing = True, None
                self.composer.set_editing(False)
                self.view.remove_from(editing)
            else:
                message = self.store.add_message(self.current_id, "user", text)
            for attachment in attachments or []:
                self.store.add_attachment(message.id, **attachment)
        except StoreError as exc:
            if rewritten:  # the new words are saved but an image is not: show what the store holds
                self.open(self.current_id)
            self.status.emit(str(exc))
            self.composer.show_notice(str(exc))
            return None
        if conversation and (named_after_it or conversation.title in ("New chat", "")) and text.strip():
            self.store.rename_conversation(self.current_id, title_from(text))
        self.conversations_changed.emit()
        self.view.append_message(self._widget(message, self.store.attachments(message.id)))
        self._start_answer()
        return message.id

    def regenerate(self, message_id: int) -> None:
        """A new answer in place of the last one, which is kept: ‹ › bring it back."""
        message = self.store.get_message(message_id)
        if self.streaming or message is None or message.role != "assistant":
            return
        try:
            self.store.set_aside_answer(message_id)
        except StoreError as exc:
            self.status.emit(str(exc))
            return
        self.view.remove_from(message_id)
        self._start_answer()

    def show_version(self, message_id: int, number: int) -> None:
        """Put another of the answer's versions on show; the next question follows from it."""
        if self.streaming:
            return
        try:
            message = self.store.show_answer_version(message_id, number)
        except StoreError as exc:
            self.status.emit(str(exc))
            return
        if widget := self.view.widget_for(message_id):
            widget.show_version(message.content, message.state, footer_for(message), message.error)
        self._show_version_count(message_id)

    def _show_version_count(self, answer_id: int) -> None:
        if widget := self.view.widget_for(answer_id):
            try:
                widget.set_versions(*self.store.answer_versions(answer_id))
            except StoreError:
                widget.set_versions(1, 1)

    def edit(self, message_id: int) -> None:
        """Put the last user message back in the composer. Nothing is deleted yet: sending the
        new words replaces the message and what came after it (its images stay); Esc, Cancel or
        opening another chat leaves the turn as it was and gives back what the composer held."""
        message = self.store.get_message(message_id)
        if self.streaming or message is None or message.role != "user":
            return
        if self._editing is None:
            self._draft_before_edit = self.composer.edit.toPlainText()
        else:
            self._mark_editing(self._editing, False)
        self._editing = message_id
        self._mark_editing(message_id, True)
        self.composer.set_editing(True)
        self.composer.set_text(message.content)

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

    def stop(self) -> None:
        """Esc: stop the answer, or, with none under way, give up an edit."""
        if not self.streaming:
            self.cancel_edit()
            return
        if self._pending is not None:
            _, message_id = self._pending
            self._pending = None
            self.store.update_message(message_id, state="interrupted", error="Stopped before the model was ready.")
            if widget := self.view.widget_for(message_id):
                widget.set_state("interrupted", "Stopped before the model was ready.")
            self._set_streaming(False)
        if self._thread is not None:
            self._thread.stop()

    def _start_answer(self) -> None:
        conversation_id = self.current_id
        assistant = self.store.add_message(conversation_id, "assistant", "", state="streaming")
        widget = self._widget(assistant)
        self.view.append_message(widget)
        self._show_version_count(assistant.id)
        self.view.scroll_to_bottom()
        self._set_streaming(True)
        if self.engine.ready:
            self._launch(conversation_id, assistant.id)
        else:
            self._pending = (conversation_id, assistant.id)
            note = "Your message will be sent as soon as the model is ready."
            if self.engine.state == "failed":
                note = f"The model is not available: {self.engine.last_error} Your message is kept."
            self.composer.show_notice(note)

    def _engine_state(self, state: str) -> None:
        if state == "ready":
            self.composer.show_notice("")
            if self._pending is not None:
                conversation_id, message_id = self._pending
                self._pending = None
                self._launch(conversation_id, message_id)
        elif state == "failed" and self._pending is not None:
            self.composer.show_notice(f"The model is not available: {self.engine.last_error} Your message is kept.")

    def _history(self, conversation_id: int, exclude: int) -> list[dict]:
        messages = self.store.messages(conversation_id)
        plan = self.engine.plan
        sees = plan is not None and (plan.local is None or plan.local.mmproj_path is not None)
        attachments = self.store.attachments_for([m.id for m in messages]) if sees else {}
        history = []
        for message in messages:
            if message.id == exclude or message.role == "system":
                continue
            if message.role == "assistant" and message.state == "error" and not message.content:
                continue
            content = message.content
            if attachments.get(message.id):
                content = [{"type": "text", "text": message.content}] + [
                    {"type": "image_url", "image_url": {"url": _data_uri(a)}} for a in attachments[message.id]]
            history.append({"role": message.role, "content": content, "_id": message.id})
        return history

    def _prefetch_counts(self, system_prompt: str, history: list[dict], n_ctx: int) -> None:
        """Count every text the plan may need in one request, not one request each (a long chat
        took seconds). Older messages than n_ctx / PER_MESSAGE_OVERHEAD can never fit."""
        client = self.engine.client
        if client is None or self.engine.host is None:
            return
        texts = [system_prompt] if system_prompt else []
        for message in history[-(n_ctx // PER_MESSAGE_OVERHEAD + 1):]:
            texts.extend(message_texts(message))
        missing = [text for text in dict.fromkeys(texts) if text not in self._token_cache]
        if not missing:
            return
        counts = client.count_tokens_many(missing)
        if counts is not None:  # otherwise _count asks one at a time
            self._remember_counts(dict(zip(missing, counts)))

    def _count(self, text: str) -> int:
        cached = self._token_cache.get(text)
        if cached is not None:
            return cached
        client = self.engine.client
        exact = client.count_tokens(text) if client is not None and self.engine.host is not None else None
        value = exact if exact is not None else estimate_tokens(text)
        self._remember_counts({text: value})
        return value

    def _remember_counts(self, counts: dict[str, int]) -> None:
        if len(self._token_cache) + len(counts) > TOKEN_CACHE_SIZE:
            self._token_cache.clear()
        self._token_cache.update(counts)

    def sampling_for(self, conversation_id: int) -> Sampling:
        conversation = self.store.get_conversation(conversation_id)
        overrides = conversation.settings if conversation else {}

        def value(key: str):
            return overrides.get(key, self.settings.get(key))

        return Sampling(temperature=float(value("chat/temperature")), top_p=float(value("chat/top_p")),
                        max_tokens=int(value("chat/max_tokens")))

    def _launch(self, conversation_id: int, message_id: int) -> None:
        client = self.engine.client
        conversation = self.store.get_conversation(conversation_id)
        sampling = self.sampling_for(conversation_id)
        n_ctx = self.engine.plan.local.n_ctx if self.engine.plan and self.engine.plan.local else 32768
        max_tokens = min(sampling.max_tokens, max(64, n_ctx // 2))
        sampling = Sampling(sampling.temperature, sampling.top_p, max_tokens, sampling.seed)
        system_prompt = conversation.system_prompt if conversation else ""

        def build_prompt():
            history = self._history(conversation_id, message_id)
            self._prefetch_counts(system_prompt, history, n_ctx)
            plan = plan_prompt(system_prompt, history, n_ctx=n_ctx, max_tokens=max_tokens, count=self._count,
                               keep_from=self._prompt_start.get(conversation_id, 0))
            self._prompt_start[conversation_id] = plan.dropped
            return [{k: v for k, v in m.items() if k != "_id"} for m in plan.messages], plan.dropped

        self._n_ctx = n_ctx
        worker = GenerationWorker(self.store, client, message_id, build_prompt, sampling, self.engine.plan.label)
        worker.planned.connect(self._on_planned)
        thread = GenerationThread(worker)
        worker.delta.connect(self._on_delta)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        thread.finished.connect(lambda: self._retire(thread))
        self._thread = thread
        self._retiring.add(thread)
        thread.start()

    def _retire(self, thread: GenerationThread) -> None:
        """`finished` is emitted from the ending thread: wait for it to be truly over before the
        last reference goes (destroying a running QThread aborts the process)."""
        thread.wait()
        self._retiring.discard(thread)

    def _on_planned(self, message_id: int, dropped: int) -> None:
        message = self.store.get_message(message_id)
        if message is None or message.conversation_id != self.current_id:
            return
        if dropped:
            self.view.set_context_note(
                f"This chat is longer than the model's context ({self._n_ctx} tokens): the model no longer sees "
                f"the first {dropped} message{'s' if dropped != 1 else ''}. The system prompt is kept.")
        else:
            self.view.set_context_note("")

    def _answer_over(self, message_id: int) -> None:
        """The worker has reported its last word: the user may send again at once."""
        if self._thread is not None and self._thread.worker.message_id == message_id:
            self._thread = None
            self._set_streaming(False)

    def _on_delta(self, message_id: int, text: str) -> None:
        if widget := self.view.widget_for(message_id):
            widget.append(text)
        self.answer_progressed.emit(message_id, text)

    def _on_finished(self, message_id: int, event: StreamFinished) -> None:
        self._answer_over(message_id)
        message = self.store.get_message(message_id)
        if widget := self.view.widget_for(message_id):
            if message:
                widget.set_state(message.state)  # leaving "streaming" renders the whole answer
                widget.set_footer(footer_for(message))
            else:
                widget.flush()
        if event.tokens_per_second:
            self.status.emit(f"{event.completion_tokens} tokens at {event.tokens_per_second:.1f} tok/s")
        self.answer_finished.emit(message_id)

    def _on_failed(self, message_id: int, message: str, state: str) -> None:
        self._answer_over(message_id)
        if widget := self.view.widget_for(message_id):
            widget.set_state(state, message)  # leaving "streaming" renders what was written
        self.status.emit(message)
        self.answer_failed.emit(message_id, message)

    def _set_streaming(self, streaming: bool) -> None:
        self.composer.set_streaming(streaming)
        self.view.set_busy(streaming)
        self.streaming_changed.emit(streaming)

    def shutdown(self, engine_stopped=None) -> None:
        """Stop the answer; `engine_stopped()` (stopping the engine host) unblocks a worker still
        waiting for its first token, which closing the stream cannot reach."""
        if self._thread is not None:
            self._thread.stop()
        if engine_stopped is not None:
            engine_stopped()
        for thread in list(self._retiring):
            if not thread.wait(10000):
                thread.terminate()
                thread.wait()
