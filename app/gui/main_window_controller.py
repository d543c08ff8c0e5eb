"""Builds the window and connects it to the store, the engine service and the controllers.
Each controller gets the few objects it uses, not this one."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QMessageBox

from app import paths
from app.gui.answer_controller import AnswerController, Question
from app.gui.answer_runner import AnswerRunner
from app.gui.assistant_answers import ChatKnowledge
from app.gui.assistant_model import AssistantModel
from app.gui.assistants_controller import AssistantsController
from app.gui.knowledge_controller import KnowledgeController
from app.gui.chat_transfer_controller import ChatTransferController
from app.gui.server_controller import ServerController
from app.gui.conversations_controller import ConversationsController
from app.gui.document_controller import DocumentController
from app.gui.sources_controller import SourcesController
from app.gui.engine_service import EngineService
from app.gui.image_controller import ImageController
from app.gui.model_picker import ModelPicker
from app.gui.operations import Tickets, run_in_background
from app.gui.responsiveness import freeze_what_is_built, keep_the_window_responsive
from app.gui.transcript_controller import TranscriptController
from app.gui.window_state import WindowState
from app.settings import CONVERSATION_KEYS, SETTINGS, Settings, conversation_declarations
from app.gui.context_meter_controller import ContextMeterController
from engine.chat import PromptPlanner, SamplingDefaults, sampling_for
from engine.chat.answer import think_for, tokens_to_keep, tool_names_for
from engine.chat.documents_in_prompt import split_documents, typed_words
from ui.context_meter import ContextMeter
from engine.store import Store
from engine.store.assistants import assistant_names, conversation_assistant
from engine.tools.registry import TOOL_NAMES, ToolSettings
from ui.drop_target import DropTarget
from ui.image_viewer import show_image
from ui.main_window import MainWindow
from ui.queued_messages import QueuedMessages
from ui.server_widgets import ServerKeyDialog, ServerRequestsPanel
from ui.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from app.gui.library_controller import LibraryController


class HearthController:
    def __init__(self, window: MainWindow | None = None) -> None:
        self.settings = Settings()
        self.window = window or MainWindow()
        self.store, self.recovery = Store.open_or_recover(paths.database_path())
        self._purge_deleted_chats()
        self.engine = EngineService(paths.logs_dir())
        w = self.window
        self.models = ModelPicker(w, self.settings, self.engine)
        self.transcript = TranscriptController(self.store, w.messages, w.composer, paths.attachments_dir(),
                                               answering=lambda: self.answers.streaming)
        self.conversations = ConversationsController(self.store, self.transcript,
                                                     lambda: self.settings.get("chat/system_prompt"))
        self.images = ImageController(w.composer, w)
        self.sources = SourcesController(self.store, w)
        self.documents = DocumentController(self.store, w.composer, self.images.tray, w,
                                            folder=paths.data_dir() / "chat documents", n_ctx=self._n_ctx,
                                            conversation=lambda: self.transcript.current_id,
                                            new_conversation=self.conversations.new_conversation,
                                            show_document=self.sources.show_text)
        self.transfers = ChatTransferController(self.store, paths.attachments_dir(), w,
                                                open_chat=lambda: self.transcript.current_id)
        self.server = ServerController(self.settings, self.engine, w)
        self.planner = PromptPlanner(self.store, paths.attachments_dir())
        self.runner = AnswerRunner(self.store, self.planner)
        self.knowledge = ChatKnowledge(self.store)
        self.answers = AnswerController(self.store, self.engine, self.transcript, w.composer, self.runner,
                                        sampling_defaults=self._sampling_defaults,
                                        new_conversation=self.conversations.new_conversation,
                                        write_images=self.images.write, tool_settings=self._tool_settings,
                                        knowledge=self.knowledge,
                                        prepare_model=AssistantModel(self.models, self.engine).prepare)
        self.knowledge_index = KnowledgeController(w, self.knowledge)
        w.knowledge_requested.connect(self.knowledge_index.open_dialog)
        self.assistants = AssistantsController(
            self.store, w, self.conversations, defaults=self._assistant_defaults,
            collections=lambda: [c.name for c in self.knowledge_index.collections()])
        self.assistants.assistants_changed.connect(self.refresh_conversations)
        self.meter = ContextMeterController(
            ContextMeter(), lambda: self.documents.draft(w.composer.edit.toPlainText()), self.engine, self.planner,
            conversation=lambda: self.transcript.current_id, images=lambda: len(self.images.pending),
            answer_tokens=self._answer_tokens, documents=self._answers_from_documents, parent=w)
        w.composer.add_meter(self.meter.meter)
        w.composer.edit.textChanged.connect(self.meter.refresh)
        self.transcript.current_changed.connect(self.meter.refresh)
        self.answers.answer_finished.connect(self.meter.refresh)
        self.answers.answer_failed.connect(self.meter.refresh)
        self.engine.state_changed.connect(self.meter.refresh)
        self.images.tray.changed.connect(self.meter.refresh)
        self.queued = QueuedMessages()
        w.messages.set_footer(self.queued)
        self.queued.edit_requested.connect(self._edit_queued)
        self.queued.remove_requested.connect(self.answers.take_queued)
        self.queued.send_now_requested.connect(self.answers.send_queued_now)
        self.answers.queue_changed.connect(self._show_queue)
        self.answers.streaming_changed.connect(lambda _: self._show_queue())
        self._deleted: int | None = None
        self._search_tickets = Tickets()
        self._mcp_hub = None  # the MCP servers of Settings → Tools, started in the background
        self._search_pool = QThreadPool(w)  # its own thread: never queued behind a model load or a scan
        self._search_pool.setMaxThreadCount(1)
        self.window_state = WindowState(self.settings, w)
        self.window_state.restore()
        self.images.problem.connect(w.composer.show_notice)
        self.images.model_files_dropped.connect(lambda files: self.models.add_file(files[0]))
        self.images.document_files_dropped.connect(self.documents.add_files)
        self.documents.problem.connect(w.composer.show_notice)
        self.documents.status.connect(lambda text: w.statusBar().showMessage(text, 15000))
        self.answers.conversations_changed.connect(self.documents.retitle)  # before the list shows the title
        self.transcript.source_clicked.connect(self.sources.show_source)
        self.transcript.document_clicked.connect(self.sources.show_sent_document)
        self.transcript.documents_to_edit.connect(self.documents.restore)
        self.answers.answer_finished.connect(self.transcript.show_sources)
        self.answers.sources_retrieved.connect(self.transcript.show_sources)
        self.drop_target = DropTarget(w)
        self.drop_target.watch(w)
        self.drop_target.watch(w.composer.edit)
        self.drop_target.watch(w.composer.edit.viewport())
        self.drop_target.watch(w.messages.viewport())
        self.drop_target.files_dropped.connect(self.images.add_files)
        self.drop_target.image_dropped.connect(self.images.add_qimage)
        self.speech = self._make_speech()
        self.voice = self._make_voice()
        self.speech.watch_voice(self.voice)
        w.messages.image_clicked.connect(lambda path: show_image(path, Path(path).name, w))
        w.composer.send_requested.connect(self._send)
        w.composer.stop_requested.connect(self.answers.stop)
        w.composer.stop_requested.connect(self.documents.stop)
        w.conversations.new_requested.connect(self.conversations.new_conversation)
        w.conversations.conversation_selected.connect(self.transcript.open)
        w.conversations.search_hit_selected.connect(lambda cid, mid: self.transcript.open(cid, show_message=mid))
        w.conversations.rename_requested.connect(self.conversations.rename)
        w.conversations.delete_requested.connect(self._delete)
        w.conversations.settings_requested.connect(self.edit_conversation_settings)
        w.conversations.search_changed.connect(self._search)
        w.undo_delete_requested.connect(self._undo_delete)
        w.settings_requested.connect(self.edit_settings)
        w.conversation_settings_requested.connect(self.edit_conversation_settings)
        w.regenerate_last_requested.connect(self.answers.regenerate_last)
        w.other_answer_requested.connect(self.transcript.step_last_version)
        for source in (self.conversations, self.answers):
            source.conversations_changed.connect(self.refresh_conversations)
        self.transcript.current_changed.connect(w.conversations.select)
        self.transcript.current_changed.connect(lambda _: self._show_queue())
        for source in (self.transcript, self.answers, self.transfers):
            source.status.connect(lambda text: w.statusBar().showMessage(text, 15000))
        self.transfers.chats_imported.connect(self.refresh_conversations)
        self.server.state_changed.connect(w.server_indicator.show_state)
        self.server.key_created.connect(self._show_server_key)
        self.server.problem.connect(lambda why: QMessageBox.warning(w, "The server could not start", why))
        self.server.requests_changed.connect(self._refresh_server_panel)
        w.server_indicator.clicked.connect(self._show_server_panel)
        self._server_panel = None
        self.engine.state_changed.connect(self._engine_state)
        self.engine.model_failed.connect(lambda msg: w.set_engine_status(f"Model failed: {msg}", error=True))
        self.engine.engine_died.connect(self._engine_died)
        self.engine.gpu_fell_back.connect(lambda note: (w.statusBar().showMessage(note, 30000),
                                                        w.set_engine_status(f"{w.engine_label.text()} — {note}")))
        self._last_death = ""
        self._client_frozen = False
        # Made in start(), once the window is on screen: the library brings huggingface_hub and
        # gguf (with numpy), ~0.4 s of imports the first paint need not wait for.
        self.library: LibraryController | None = None

    # -- start and stop --------------------------------------------------------
    def start(self) -> None:
        from app.gui.library_controller import LibraryController

        if self.library is None:
            self.library = LibraryController(self.window, self.settings, self.models, self.engine)
        self.refresh_conversations()
        conversations = self.store.list_conversations()
        if conversations:
            self.transcript.open(conversations[0].id)
        self.models.refresh()
        self.models.load_engine()
        self._start_mcp_servers()
        self.voice.preload()
        self.speech.start()
        self.server.apply_settings()
        if self.recovery is not None:
            QTimer.singleShot(0, lambda: QMessageBox.warning(self.window, "Chat history was damaged",
                                                             self.recovery.message))
        self.window.composer.edit.setFocus()
        keep_the_window_responsive()

    def shutdown(self) -> None:
        self.window_state.save()
        if self.library is not None:
            self.library.shutdown()
        self.voice.cancel()
        self.knowledge_index.shutdown()
        self.speech.shutdown()
        self.server.shutdown()
        self.answers.shutdown(engine_stopped=self.engine.shutdown)
        if self._mcp_hub is not None:
            self._mcp_hub.close()
        self.store.close()

    # -- engine ------------------------------------------------------------------
    def _engine_state(self, state: str) -> None:
        label = self.engine.plan.label if self.engine.plan else ""
        if state == "loading":
            if self._last_death:
                self.window.set_engine_status(f"{self._last_death} Loading {label} again…", error=True)
            else:
                self.window.set_engine_status(f"Loading {label}…")
        elif state == "ready":
            if self._last_death:
                # Whichever came last (the death report or the broken-off answer's message, which
                # arrive from different threads in either order), the news now is that it is back.
                self.window.statusBar().showMessage(f"{self._last_death} It is running again.", 10000)
            self._last_death = ""
            endpoint = self.engine.endpoint
            self.window.set_engine_status(f"Ready: {endpoint.label if endpoint else label}")
            if not self._client_frozen:  # once: later restarts bring nothing new to freeze
                self._client_frozen = True
                freeze_what_is_built()

    def _engine_died(self, report: str) -> None:
        self._last_death = report.replace(" Restarting it…", "")
        self.window.set_engine_status(report, error=True)
        self.window.statusBar().showMessage(report, 20000)

    # -- conversations -------------------------------------------------------------
    def refresh_conversations(self) -> None:
        conversations = self.store.list_conversations()
        self.window.conversations.set_conversations(conversations, self.transcript.current_id,
                                                    assistant_names(self.store, [c.id for c in conversations]))

    def _make_voice(self):
        """Push-to-talk: the button in the composer and F9 while the window has focus."""
        from app.gui.voice_controller import VoiceController
        from engine.speech import Transcriber
        from ui.push_to_talk import PushToTalkButton, PushToTalkKeyFilter

        s = self.settings
        model = s.get("voice/model") or None
        voice = VoiceController(Transcriber(model, language=s.get("voice/language") or None),
                                send_immediately=s.get("voice/send_immediately"),
                                language=s.get("voice/language") or None)
        if s.get("voice/device"):
            voice.recorder.set_device_id(s.get("voice/device"))
        button = PushToTalkButton()
        self.push_to_talk = button
        self.window.composer.add_tool_widget(button)
        self._key_filter = PushToTalkKeyFilter(self.window)
        from PySide6.QtWidgets import QApplication

        QApplication.instance().installEventFilter(self._key_filter)
        for source in (button, self._key_filter):
            source.hold_started.connect(self.speech.stop)  # barge-in: quiet before the microphone opens
            source.hold_started.connect(voice.press)
            source.hold_ended.connect(voice.release)
        voice.state_changed.connect(button.set_state)
        voice.level_changed.connect(button.set_level)
        voice.elapsed_changed.connect(button.set_elapsed)
        voice.transcript_ready.connect(self.window.composer.insert_text)
        voice.send_requested.connect(self._send_transcript)
        voice.voice_failed.connect(self.window.composer.show_notice)
        reason = voice.unavailable_reason()
        if reason:
            button.set_unavailable(reason)
        return voice

    def _send_transcript(self, text: str) -> None:
        self.window.composer.insert_text(text)
        self._send(self.window.composer.edit.toPlainText())

    def _make_speech(self):
        """Answers read aloud: the Speak switch, Read aloud buttons, Settings → Voice's Test."""
        from app.gui.speech_setup import SpeechSetup

        return SpeechSetup(self.window, self.settings, self.store, self.transcript, self.answers, self.runner)

    def _send(self, text: str) -> None:
        self.speech.stop()  # a new message: the answer being read is over
        composer = self.window.composer
        if self.images.busy:
            composer.show_notice("Still preparing an image — send again in a moment.")
            return
        if self.documents.busy:
            composer.show_notice(self.documents.busy_note())
            return
        if self.images.pending and (reason := self.models.vision_problem()):
            composer.show_notice(reason)
            return
        self.documents.prepare(Question(None, text, list(self.images.pending.values())), self._ask)

    def _ask(self, question: Question) -> None:
        """The question (its documents in it) goes, or waits behind the answer under way."""
        composer = self.window.composer
        if self.answers.ask(question):
            composer.take_text()
            composer.show_notice("")
            self.images.clear()
            self.documents.clear()
            self.transcript.give_back_draft()

    def _n_ctx(self) -> int:
        plan = self.engine.plan
        return plan.n_ctx if plan is not None else int(self.settings.get("engine/n_ctx"))

    def _show_queue(self) -> None:
        questions = [(typed_words(q.text), len(q.images)) for q in self.answers.queued_here()]
        self.queued.set_questions(questions, answering=self.answers.streaming)

    def _edit_queued(self, index: int) -> None:
        """A queued question goes back to the composer (after what is there) with its images."""
        question = self.answers.take_queued(index)
        if question is None:
            return
        composer = self.window.composer
        typed = composer.edit.toPlainText()
        words, documents = split_documents(question.text)
        composer.set_text(f"{typed}\n{words}" if typed.strip() else words)
        self.images.restore(question.images)
        self.documents.restore([d.path for d in documents])

    def _start_mcp_servers(self) -> None:
        config = self.settings.get("tools/mcp_config").strip()
        if not config:
            return

        def start():
            from engine.tools.mcp_servers import McpHub, load_mcp_config

            return McpHub(load_mcp_config(Path(config).expanduser())).start()

        def started(hub) -> None:
            self._mcp_hub = hub
            for name, why in hub.unavailable.items():
                self.window.statusBar().showMessage(f"The MCP server {name} is unavailable: {why}", 20000)

        run_in_background(start, on_success=started, on_failure=lambda exc: self.window.statusBar().showMessage(
            f"The MCP servers in {config} could not be started: {exc}", 20000))

    def _tool_settings(self, conversation) -> ToolSettings:
        """The tools an answer in `conversation` may use: the chat's own choice, or the default."""
        s = self.settings
        chosen = (conversation.settings.get("tools/enabled") if conversation else None) or s.get("tools/enabled")
        folders = tuple(Path(f).expanduser() for f in s.get("tools/folders").split(";") if f.strip())
        scratch = paths.data_dir() / "scratch" / str(conversation.id) if conversation else None
        return ToolSettings(enabled=tuple(n.strip() for n in chosen.split(",") if n.strip() in TOOL_NAMES),
                            folders=folders, python_seconds=float(s.get("tools/python_seconds")),
                            python_memory_mb=int(s.get("tools/python_memory_mb")),
                            max_rounds=int(s.get("tools/max_rounds")), scratch_dir=scratch,
                            extra_tools=tuple(self._mcp_hub.tools()) if self._mcp_hub is not None else ())

    def _answer_tokens(self, conversation_id: int | None) -> int:
        """The room the next answer (and its thought) will be given: what the meter reserves."""
        conversation = self.store.get_conversation(conversation_id) if conversation_id is not None else None
        defaults = self._sampling_defaults()
        endpoint = self.engine.endpoint
        assistant = conversation_assistant(self.store, conversation_id) if conversation is not None else None
        max_tokens = sampling_for(conversation, defaults, assistant=assistant).max_tokens
        return tokens_to_keep(max_tokens, think_for(conversation, defaults, assistant), endpoint) if endpoint else max_tokens

    def _sampling_defaults(self) -> SamplingDefaults:
        s = self.settings
        return SamplingDefaults(float(s.get("chat/temperature")), float(s.get("chat/top_p")), int(s.get("chat/max_tokens")),
                                str(s.get("chat/think")))

    def _assistant_defaults(self) -> dict[str, str]:
        """How "Default" reads in the assistant editor: the values an assistant would fall back to."""
        d = self._sampling_defaults()
        return {"temperature": f"{d.temperature:g}", "top_p": f"{d.top_p:g}", "max_tokens": str(d.max_tokens),
                "think": d.think.capitalize()}

    def _delete(self, conversation_id: int) -> None:
        conversation = self.store.get_conversation(conversation_id)
        self.conversations.delete(conversation_id)
        self._deleted = conversation_id
        title = conversation.title if conversation else "Chat"
        self.window.show_undo(True, f"Deleted “{title}”.")
        QTimer.singleShot(15000, self.window, lambda: self.window.show_undo(False))

    def _undo_delete(self) -> None:
        if self._deleted is not None:
            self.conversations.undo_delete(self._deleted)
            self._deleted = None
        self.window.show_undo(False)

    def _search(self, query: str) -> None:
        """In the background: a long history must not freeze typing; older results are dropped."""
        ticket = self._search_tickets.next()
        if not query.strip():
            self.window.conversations.set_search_results([])
            return
        run_in_background(lambda: self.store.search(query), ticket=ticket, tickets=self._search_tickets,
                          pool=self._search_pool,
                          on_success=self.window.conversations.set_search_results,
                          on_failure=lambda exc: self.window.statusBar().showMessage(f"Search failed: {exc}", 10000))

    # -- settings ------------------------------------------------------------------
    def edit_settings(self) -> None:
        editable = [s for s in SETTINGS if s.key != "model/path"]
        values = self.settings.values()
        dialog = SettingsDialog(editable, values, "Settings", self.window,
                                secret_note=self.settings.keys.note(), options=self.speech.dialog_options(values),
                                row_buttons={**self.speech.row_buttons, "server/api_key": "New key…"})
        self.speech.connect_test_button(dialog)
        dialog.button("server/api_key").clicked.connect(
            lambda: dialog.set_text("server/api_key", self.server.regenerate_key()))
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        before = self.settings.values()
        for key, value in dialog.result_values().items():
            self.settings.set(key, value)
        self.meter.refresh()
        self.voice.send_immediately = self.settings.get("voice/send_immediately")
        self.speech.settings_changed()
        if self.settings.get("server/all_interfaces") and not before["server/all_interfaces"] and self.settings.get("server/enabled"):
            QMessageBox.warning(self.window, "Serving all networks",
                                "Other computers on your networks can now reach Hearth's server. Anyone who has "
                                "the key can use your model; turn this off unless you need it.")
        self.server.apply_settings()
        engine_keys = [k for k in before if k.startswith(("engine/", "remote/"))]
        if any(before[k] != self.settings.get(k) for k in engine_keys):
            self.models.refresh()
            self.models.load_engine()

    def edit_conversation_settings(self, conversation_id: int | None = None) -> None:
        """The open chat's settings (menu), or the one right-clicked in the list."""
        conversation_id = conversation_id if conversation_id is not None else self.transcript.current_id
        conversation = self.store.get_conversation(conversation_id) if conversation_id is not None else None
        if conversation is None:
            return
        decl = conversation_declarations()
        inherited = self._inherited_settings(conversation.id)
        values = {k: conversation.settings.get(k, inherited[k]) for k in CONVERSATION_KEYS}
        values["chat/system_prompt"] = conversation.system_prompt
        dialog = SettingsDialog(decl, values, f"Settings for “{conversation.title}”", self.window)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        result = dialog.result_values()
        prompt = result.pop("chat/system_prompt")
        # Only what differs from the assistant's (or the defaults) becomes the chat's own: OK on an
        # untouched dialog must not pin today's values over the assistant's later edits.
        own = {k: v for k, v in conversation.settings.items() if k not in CONVERSATION_KEYS}
        own.update({k: v for k, v in result.items() if v != inherited[k]})
        self.store.update_conversation(conversation.id, system_prompt=prompt, settings=own)
        self.meter.refresh()

    def _purge_deleted_chats(self) -> None:
        """Chats deleted in an earlier run are past Undo: they go for good, with the documents
        indexed for them (their passages, vectors and kept copies)."""
        deleted = self.store.deleted_conversation_ids()
        self.store.purge_deleted()
        if deleted:
            from engine.knowledge.attached import forget_chats
            from engine.knowledge.index_store import KnowledgeStore

            forget_chats(KnowledgeStore(self.store), deleted, paths.data_dir() / "chat documents")

    def _answers_from_documents(self, conversation_id: int | None) -> bool:
        """Whether the chat's questions retrieve passages (its assistant's collections or its own
        indexed documents): the context meter keeps room for them."""
        if conversation_id is None:
            return False
        return bool(self.knowledge.names_for(conversation_id, conversation_assistant(self.store, conversation_id)))

    def _inherited_settings(self, conversation_id: int) -> dict:
        """What the chat answers with when it sets nothing itself: its assistant's, else the
        defaults (the engine's own precedence, asked without the chat's overrides)."""
        assistant = conversation_assistant(self.store, conversation_id)
        defaults = self._sampling_defaults()
        sampling = sampling_for(None, defaults, assistant=assistant)
        default_tools = [n.strip() for n in str(self.settings.get("tools/enabled")).split(",") if n.strip()]
        return {"chat/temperature": sampling.temperature, "chat/top_p": sampling.top_p,
                "chat/max_tokens": sampling.max_tokens, "chat/think": think_for(None, defaults, assistant).level.value,
                "tools/enabled": ",".join(tool_names_for(None, assistant, default_tools))}

    # -- the local server for other apps ---------------------------------------------
    def _show_server_key(self, key: str, url: str) -> None:
        self.server_key_dialog = ServerKeyDialog(key, url, self.window)  # kept: tests and the user read it
        self.server_key_dialog.open()

    def _show_server_panel(self) -> None:
        if self._server_panel is None:
            self._server_panel = ServerRequestsPanel(self.window)
        self._refresh_server_panel()
        self._server_panel.show()
        self._server_panel.raise_()

    def _refresh_server_panel(self) -> None:
        if self._server_panel is not None:
            self._server_panel.show_requests(*self.server.request_rows())
