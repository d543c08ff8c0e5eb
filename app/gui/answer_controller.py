"""Questions in, answers out: saves the question, starts the answer when the model is ready
(engine/chat through the AnswerRunner), shows it growing, and keeps questions asked while an
answer streams in a queue that is sent when that answer ends (Stop leaves them queued)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from app.gui.answer_runner import AnswerRunner
from app.gui.assistant_answers import ChatKnowledge, answer_setup
from app.gui.engine_service import EngineService
from app.gui.tool_approvals import ToolApprovals
from app.gui.transcript_controller import TranscriptController, footer_for
from engine.chat import AnswerFailed, AnswerFinished, AnswerPlanned, SamplingDefaults, begin_answer
from engine.chat.events import SourcesRetrieved, ToolStepChanged
from engine.chat.titles import is_untitled, title_from
from engine.store import Store, StoreError
from engine.store.assistants import conversation_assistant
from engine.store.records import Assistant, Conversation
from engine.tools.approval import ToolRequest
from engine.tools.registry import ToolRegistry, ToolSettings

NOT_READY = "Your message will be sent as soon as the model is ready."


@dataclass
class Question:
    """A question on its way: its words and the images that go with it (not yet written)."""
    conversation_id: int | None
    text: str
    images: list = field(default_factory=list)   # engine.vision PreparedImage


class AnswerController(QObject):
    streaming_changed = Signal(bool)
    answer_progressed = Signal(int, str)   # message id, new text
    answer_finished = Signal(int)          # message id
    answer_failed = Signal(int, str)
    status = Signal(str)
    conversations_changed = Signal()
    queue_changed = Signal()
    sources_retrieved = Signal(int)        # answer id: its sources are saved (engine.store.answer_sources)

    def __init__(self, store: Store, engine: EngineService, transcript: TranscriptController, composer,
                 runner: AnswerRunner, *, sampling_defaults: Callable[[], SamplingDefaults],
                 new_conversation: Callable[[], int], write_images: Callable[[list], list[dict]],
                 tool_settings: Callable[[Conversation | None], ToolSettings],
                 knowledge: ChatKnowledge | None = None,
                 prepare_model: Callable[[Assistant | None], str] | None = None) -> None:
        """`knowledge` finds the collections a chat answers from; `prepare_model(assistant)` starts
        loading the model a chat's assistant wants and returns a line for the user ('' if none)."""
        super().__init__()
        self.store = store
        self.engine = engine
        self.transcript = transcript
        self.composer = composer
        self.runner = runner
        self._sampling_defaults = sampling_defaults
        self._new_conversation = new_conversation
        self._write_images = write_images
        self._tool_settings = tool_settings
        self._knowledge = knowledge
        self._prepare_model = prepare_model
        self.approvals = ToolApprovals(self)
        self.approvals.approval_needed.connect(self._approval_needed)
        transcript.view.tool_decided.connect(self.approvals.answer)
        transcript.view.tool_decided.connect(lambda *_: composer.edit.setFocus())  # back to writing
        self._pending: int | None = None      # an answer row waiting for the model
        self._stopped = False                  # the user pressed Stop: the queue waits
        self._closed = False
        self.queue: list[Question] = []
        runner.planned.connect(self._on_planned)
        runner.delta.connect(self._on_delta)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        runner.tool_step.connect(self._on_tool_step)
        runner.thought.connect(self._on_thought)
        runner.retracted.connect(self._on_retracted)
        runner.sources.connect(self._on_sources)
        engine.state_changed.connect(self._engine_state)
        transcript.view.regenerate_requested.connect(self.regenerate)
        transcript.left_chat.connect(self._left_chat)

    @property
    def streaming(self) -> bool:
        return self.runner.running or self._pending is not None

    # -- asking --------------------------------------------------------------------
    def ask(self, question: Question) -> bool:
        """Send now, or queue behind the answer under way. False: nothing was taken (say why)."""
        if question.conversation_id is None:
            question.conversation_id = self.transcript.current_id
        if self.streaming:
            if self.transcript.editing is not None:
                return False
            self.queue.append(question)
            self.queue_changed.emit()
            return True
        try:
            attachments = self._write_images(question.images) if question.images else []
        except Exception as exc:  # noqa: BLE001 - ImageIntakeError: disk full, unwritable
            self.composer.show_notice(str(exc))
            return False
        return self.send(question.text, attachments, conversation_id=question.conversation_id) is not None

    def send(self, text: str, attachments: list | None = None, *, conversation_id: int | None = None) -> int | None:
        """Store the user's message and start the answer. Returns the user message id."""
        if self.streaming:
            return None
        if conversation_id is None:
            conversation_id = self.transcript.current_id
        if conversation_id is None:
            conversation_id = self._new_conversation()
        if conversation_id != self.transcript.current_id:
            self.transcript.open(conversation_id)
        conversation = self.store.get_conversation(conversation_id)
        editing, rewritten = self.transcript.editing, False
        named_after_it = False  # the chat's title was made from the question being edited
        try:
            if editing is not None:
                old = self.store.get_message(editing)
                named_after_it = bool(old and conversation and conversation.title == title_from(old.content))
                message = self.store.rewrite_message(editing, text)
                rewritten = True
                self.transcript.edit_sent()
            else:
                message = self.store.add_message(conversation_id, "user", text)
            for attachment in attachments or []:
                self.store.add_attachment(message.id, **attachment)
        except StoreError as exc:
            if rewritten:  # the new words are saved but an image is not: show what the store holds
                self.transcript.open(conversation_id)
            self.status.emit(str(exc))
            self.composer.show_notice(str(exc))
            return None
        if conversation and (named_after_it or is_untitled(conversation.title)) and text.strip():
            self.store.rename_conversation(conversation_id, title_from(text))
        self.conversations_changed.emit()
        self.transcript.append(message, self.store.attachments(message.id))
        self._start_answer(conversation_id)
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
        self.transcript.view.remove_from(message_id)
        self._start_answer(message.conversation_id)

    def regenerate_last(self) -> None:
        ids = self.transcript.view.message_ids()
        if ids:
            self.regenerate(ids[-1])

    # -- the queue -----------------------------------------------------------------
    def queued_here(self) -> list[Question]:
        return [q for q in self.queue if q.conversation_id == self.transcript.current_id]

    def take_queued(self, index: int) -> Question | None:
        """Remove the `index`-th question queued in the chat on screen (to edit or drop it)."""
        here = self.queued_here()
        if not 0 <= index < len(here):
            return None
        self.queue.remove(here[index])
        self.queue_changed.emit()
        return here[index]

    def send_queued_now(self, index: int) -> None:
        if self.streaming:
            return
        question = self.take_queued(index)
        if question is not None:
            self._stopped = False
            self._ask_or_requeue(question)

    def _send_next_queued(self) -> None:
        if self._stopped or self.streaming or not self.queue:
            return
        question = self.queue.pop(0)
        self.queue_changed.emit()
        self._ask_or_requeue(question)

    def _ask_or_requeue(self, question: Question) -> None:
        if not self.ask(question):
            self.queue.insert(0, question)
            self.queue_changed.emit()

    # -- stopping ------------------------------------------------------------------
    def stop(self) -> None:
        """Esc: stop the answer, or, with none under way, give up an edit. Queued questions stay."""
        if not self.streaming:
            self.transcript.cancel_edit()
            return
        if self.approvals.deny_all():  # Esc on a tool call waiting for you: no, and the answer goes on
            return
        self._stopped = True
        if self._pending is not None:
            message_id, self._pending = self._pending, None
            self.store.update_message(message_id, state="interrupted", error="Stopped before the model was ready.")
            if widget := self.transcript.view.widget_for(message_id):
                widget.set_state("interrupted", "Stopped before the model was ready.")
            self._set_streaming(False)
        self.runner.stop()

    def _left_chat(self) -> None:
        """The transcript shows another chat: an answer for this one stops, its words kept."""
        if self.streaming:
            self.stop()
            self.runner.abandon()
        self.queue_changed.emit()

    def shutdown(self, engine_stopped=None) -> None:
        """Stop the answer; `engine_stopped()` (stopping the engine host) unblocks an answer still
        waiting for its first token, which closing the stream cannot reach."""
        self._closed = True  # a tool call's question may still be on its way
        self.runner.close()
        self.approvals.deny_all()
        if engine_stopped is not None:
            engine_stopped()
        self.runner.wait(10000)

    # -- the answer ----------------------------------------------------------------
    def _start_answer(self, conversation_id: int) -> None:
        self._stopped = False
        assistant = begin_answer(self.store, conversation_id)
        self.transcript.append(assistant)
        self.transcript.show_version_count(assistant.id)
        self.transcript.view.scroll_to_bottom()
        self._set_streaming(True)
        model_note = self._model_for(conversation_id)
        if self.engine.ready:
            self._launch(assistant.id)
            if model_note:
                self.status.emit(model_note)
        else:
            self._pending = assistant.id
            note = model_note or NOT_READY
            if self.engine.state == "failed":
                note = f"The model is not available: {self.engine.last_error} Your message is kept."
            self.composer.show_notice(note)

    def _engine_state(self, state: str) -> None:
        if state == "ready":
            self.composer.show_notice("")
            if self._pending is not None:
                message_id, self._pending = self._pending, None
                self._launch(message_id)
        elif state == "failed" and self._pending is not None:
            self.composer.show_notice(f"The model is not available: {self.engine.last_error} Your message is kept.")

    def _model_for(self, conversation_id: int) -> str:
        """The chat's assistant may want another model: its load starts now, and the answer waits."""
        if self._prepare_model is None:
            return ""
        try:
            return self._prepare_model(conversation_assistant(self.store, conversation_id))
        except StoreError as exc:
            return str(exc)

    def _launch(self, message_id: int) -> None:
        message = self.store.get_message(message_id)
        conversation = self.store.get_conversation(message.conversation_id) if message else None
        setup = answer_setup(self.store, conversation, self._sampling_defaults(), self._tool_settings(conversation),
                             self._knowledge)
        tools = setup.tools
        self.runner.start(self.engine.endpoint, message_id, setup.sampling,
                          tools=lambda: ToolRegistry.build(tools) if tools.enabled or tools.extra_tools else None,
                          approver=self.approvals, max_rounds=tools.max_rounds, think=setup.think,
                          knowledge=self._knowledge.retriever(setup.knowledge) if self._knowledge else None)

    def _on_sources(self, event: SourcesRetrieved) -> None:
        """The passages are saved with the answer: the transcript may list them; a collection that
        could not be searched is said in the status bar."""
        if event.notes:
            self.status.emit(" ".join(event.notes))
        self.sources_retrieved.emit(event.message_id)

    def _on_thought(self, message_id: int, text: str) -> None:
        if widget := self.transcript.view.widget_for(message_id):
            widget.append_thinking(text)

    def _on_retracted(self, message_id: int, text: str) -> None:
        if widget := self.transcript.view.widget_for(message_id):
            widget.retract(text)

    def _on_tool_step(self, event: ToolStepChanged) -> None:
        if widget := self.transcript.view.widget_for(event.message_id):
            widget.show_tool_step(event.step)

    def _approval_needed(self, request: ToolRequest) -> None:
        """A call waits for the user: its card asks (the chat may be another one by now: then Stop
        already denied it)."""
        if self._closed:
            self.approvals.answer(request.step_id, "denied")
            return
        widget = self.transcript.view.widget_for(request.message_id)
        if widget is None:
            self.approvals.answer(request.step_id, "denied")
            return
        steps = self.store.tool_steps_for([request.message_id])[request.message_id]
        step = next((s for s in steps if s.id == request.step_id), None)
        if step is None:
            self.approvals.answer(request.step_id, "denied")
            return
        card = widget.show_tool_step(step, waiting=True)
        self.transcript.view.ensureWidgetVisible(card)
        self.status.emit(f"The model wants to use {step.name}: allow or deny it in the chat (Esc denies).")

    def _on_planned(self, event: AnswerPlanned) -> None:
        message = self.store.get_message(event.message_id)
        if message is not None and message.conversation_id == self.transcript.current_id:
            self.transcript.show_context_note(event.dropped, event.n_ctx, event.first_kept_id)

    def _on_delta(self, message_id: int, text: str) -> None:
        if widget := self.transcript.view.widget_for(message_id):
            widget.append(text)
        self.answer_progressed.emit(message_id, text)

    def _on_finished(self, event: AnswerFinished) -> None:
        self._answer_over()
        message = self.store.get_message(event.message_id)
        if widget := self.transcript.view.widget_for(event.message_id):
            if message:
                widget.set_state(message.state)  # leaving "streaming" renders the whole answer
                thinking = self.store.thinking_for([message.id]).get(message.id)
                if thinking is not None:
                    widget.set_thinking(thinking.text, thinking.seconds, thinking.tokens)
                widget.set_footer(footer_for(message, thinking))
            else:
                widget.flush()
        stats = event.stats
        if stats.tokens_per_second:
            self.status.emit(f"{stats.completion_tokens} tokens at {stats.tokens_per_second:.1f} tok/s")
        self.answer_finished.emit(event.message_id)
        if event.state == "complete":
            self._send_next_queued()

    def _on_failed(self, event: AnswerFailed) -> None:
        self._answer_over()
        if widget := self.transcript.view.widget_for(event.message_id):
            widget.set_state(event.state, event.message)  # leaving "streaming" renders what was written
        self.status.emit(event.message)
        self.answer_failed.emit(event.message_id, event.message)
        self._send_next_queued()

    def _answer_over(self) -> None:
        """The runner has reported its last word: the user may send again at once."""
        if not self.runner.running and self._pending is None:
            self._set_streaming(False)

    def _set_streaming(self, streaming: bool) -> None:
        self.composer.set_streaming(streaming)
        self.transcript.view.set_busy(streaming)
        self.streaming_changed.emit(streaming)
