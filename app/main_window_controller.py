"""Builds the window and connects it to the store, the engine service and the chat controller."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app import paths
from app.chat_controller import ChatController
from app.engine_service import EndpointPlan, EngineService, default_threads
from app.responsiveness import freeze_what_is_built, keep_the_window_responsive
from app.settings import BY_KEY, CONVERSATION_KEYS, SETTINGS, Settings
from app.window_state import WindowState
from engine.llm.host import HostConfig
from engine.models.starter import starter_llm_path
from engine.store import Store
from app.image_controller import ImageController
from ui.drop_target import DropTarget
from ui.image_viewer import show_image
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog

if TYPE_CHECKING:
    from app.library_controller import LibraryController


def gpu_layers(requested: int) -> int:
    """-1 means all layers when llama.cpp has a GPU backend; otherwise the CPU."""
    if requested != -1:
        return requested
    try:
        from engine.llm.gpu import default_gpu_layers, gpu_backends

        return default_gpu_layers(gpu_backends())
    except Exception:  # noqa: BLE001 - detection must never stop the app
        return 0


def vision_parts(model: Path) -> tuple[Path | None, str | None]:
    """The projector beside a vision model and the chat handler for its family."""
    try:
        from engine.llm.vision_format import chat_format_for
        from engine.models.gguf_info import inspect_gguf

        info = inspect_gguf(model)
        if info.mmproj_path:
            return Path(info.mmproj_path), chat_format_for(info, info.mmproj_path)
    except Exception:  # noqa: BLE001 - a model the inspector dislikes still gets its chance in the host
        pass
    return None, None


class HearthController:
    def __init__(self, window: MainWindow | None = None) -> None:
        self.settings = Settings()
        self.window = window or MainWindow()
        self.store, self.recovery = Store.open_or_recover(paths.database_path())
        self.store.purge_deleted()
        self.engine = EngineService(paths.logs_dir())
        self.chat = ChatController(self.store, self.settings, self.engine, self.window.messages, self.window.composer)
        self._deleted: int | None = None
        w = self.window
        self.window_state = WindowState(self.settings, w)
        self.window_state.restore()
        self.images = ImageController(w.composer, w)
        self.images.problem.connect(w.composer.show_notice)
        self.images.model_files_dropped.connect(lambda files: self.add_model_file(files[0]))
        self.drop_target = DropTarget(w)
        self.drop_target.watch(w)
        self.drop_target.watch(w.composer.edit)
        self.drop_target.watch(w.composer.edit.viewport())
        self.drop_target.watch(w.messages.viewport())
        self.drop_target.files_dropped.connect(self.images.add_files)
        self.drop_target.image_dropped.connect(self.images.add_qimage)
        self.voice = self._make_voice()
        w.messages.image_clicked.connect(lambda path: show_image(path, Path(path).name, w))
        w.composer.send_requested.connect(self._send)
        w.composer.stop_requested.connect(self.chat.stop)
        w.conversations.new_requested.connect(self.chat.new_conversation)
        w.conversations.conversation_selected.connect(self.chat.open)
        w.conversations.search_hit_selected.connect(lambda cid, mid: self.chat.open(cid, show_message=mid))
        w.conversations.rename_requested.connect(self.chat.rename)
        w.conversations.delete_requested.connect(self._delete)
        w.conversations.settings_requested.connect(self.edit_conversation_settings)
        w.conversations.search_changed.connect(self._search)
        w.undo_delete_requested.connect(self._undo_delete)
        w.settings_requested.connect(self.edit_settings)
        w.conversation_settings_requested.connect(self.edit_conversation_settings)
        w.add_model_requested.connect(self.add_model_file)
        w.model_chosen.connect(self.choose_model)
        w.regenerate_last_requested.connect(self._regenerate_last)
        w.other_answer_requested.connect(self._show_other_answer)
        self.chat.conversations_changed.connect(self.refresh_conversations)
        self.chat.current_changed.connect(w.conversations.select)
        self.chat.status.connect(lambda text: w.statusBar().showMessage(text, 15000))
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
        from app.library_controller import LibraryController

        if self.library is None:
            self.library = LibraryController(self)
        self.refresh_conversations()
        conversations = self.store.list_conversations()
        if conversations:
            self.chat.open(conversations[0].id)
        self.refresh_models()
        self.load_engine()
        self.voice.preload()
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
        self.chat.shutdown(engine_stopped=self.engine.shutdown)
        self.store.close()

    # -- engine ------------------------------------------------------------------
    def model_path(self) -> Path | None:
        chosen = self.settings.get("model/path")
        if chosen and Path(chosen).is_file():
            return Path(chosen)
        return starter_llm_path()

    def endpoint_plan(self) -> EndpointPlan | None:
        s = self.settings
        if s.get("remote/enabled"):
            return EndpointPlan(remote_url=s.get("remote/base_url"), remote_key=s.get("remote/api_key"),
                                remote_model=s.get("remote/model"))
        model = self.model_path()
        if model is None:
            return None
        threads = s.get("engine/n_threads") or default_threads()
        mmproj, chat_format = vision_parts(model)
        config = HostConfig(model_path=model, mmproj_path=mmproj, chat_format=chat_format,
                            n_ctx=s.get("engine/n_ctx"), n_threads=threads,
                            n_gpu_layers=gpu_layers(s.get("engine/n_gpu_layers")))
        return EndpointPlan(local=config)

    def load_engine(self) -> None:
        plan = self.endpoint_plan()
        if plan is None:
            self.window.set_engine_status("No model: add a GGUF file (Chat → Add model file…)", error=True)
            return
        self.engine.load(plan)

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
            self.window.set_engine_status(f"Ready: {label}")
            if not self._client_frozen:  # once: later restarts bring nothing new to freeze
                self._client_frozen = True
                freeze_what_is_built()

    def _engine_died(self, report: str) -> None:
        self._last_death = report.replace(" Restarting it…", "")
        self.window.set_engine_status(report, error=True)
        self.window.statusBar().showMessage(report, 20000)

    # -- models ------------------------------------------------------------------
    def refresh_models(self) -> None:
        entries: list[tuple[str, str]] = []
        starter = starter_llm_path()
        if starter:
            entries.append((f"{starter.stem} (bundled)", str(starter)))
        for extra in self.settings.get_list("model/user_files"):
            if Path(extra).is_file() and extra not in [p for _, p in entries]:
                entries.append((Path(extra).name, extra))
        current = str(self.model_path() or "")
        self.window.set_models(entries, current)

    def choose_model(self, path: str) -> None:
        if not path or path == str(self.model_path()):
            return
        self.settings.set("model/path", path)
        self.refresh_models()
        self.load_engine()

    def add_model_file(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Add a model", str(Path.home()), "GGUF models (*.gguf)")
            if not path:
                return
        try:
            from engine.models.gguf_info import inspect_gguf

            inspect_gguf(Path(path))
        except Exception as exc:  # noqa: BLE001 - InvalidModelError carries the reason
            box = QMessageBox(QMessageBox.Icon.Warning, "Not a usable model", f"{Path(path).name}: {exc}",
                              QMessageBox.StandardButton.Ok, self.window)
            box.setTextFormat(Qt.TextFormat.PlainText)  # the file name is the user's, not markup
            box.exec()
            return
        files = self.settings.get_list("model/user_files")
        if path not in files:
            self.settings.set_list("model/user_files", files + [path])
        self.choose_model(path)

    # -- conversations -------------------------------------------------------------
    def refresh_conversations(self) -> None:
        self.window.conversations.set_conversations(self.store.list_conversations(), self.chat.current_id)

    def _make_voice(self):
        """Push-to-talk: the button in the composer and F9 while the window has focus."""
        from app.voice_controller import VoiceController
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

    def _send(self, text: str) -> None:
        composer = self.window.composer
        if self.images.busy:
            composer.show_notice("Still preparing an image — send again in a moment.")
            return
        attachments = []
        if self.images.pending:
            reason = self.vision_problem()
            if reason:
                composer.show_notice(reason)
                return
            try:
                attachments = self.images.take_for_sending()
            except Exception as exc:  # noqa: BLE001 - ImageIntakeError: disk full, unwritable
                composer.show_notice(str(exc))
                return
        if self.chat.send(text, attachments) is not None:
            composer.take_text()
            composer.show_notice("")
            self.images.clear()
            self.chat.give_back_draft()

    def vision_problem(self) -> str:
        """Why the current model cannot take images ('' when it can)."""
        plan = self.engine.plan or self.endpoint_plan()
        if plan is None or plan.local is None or plan.local.mmproj_path:
            return ""  # a remote server decides for itself
        return (f"{Path(plan.local.model_path).name} cannot see images. Pick a vision model — for example "
                "SmolVLM, Qwen2.5-VL 3B or Gemma 3 4B from the model library — or remove the images. "
                "Your message and images are kept.")

    def _regenerate_last(self) -> None:
        ids = self.window.messages.message_ids()
        if ids:
            self.chat.regenerate(ids[-1])

    def _show_other_answer(self, step: int) -> None:
        widgets = self.window.messages.widgets()
        if widgets and widgets[-1].role == "assistant":
            widgets[-1].step_version(step)  # its version_requested reaches chat.show_version

    def _delete(self, conversation_id: int) -> None:
        conversation = self.store.get_conversation(conversation_id)
        self.chat.delete(conversation_id)
        self._deleted = conversation_id
        title = conversation.title if conversation else "Chat"
        self.window.show_undo(True, f"Deleted “{title}”.")
        QTimer.singleShot(15000, self.window, lambda: self.window.show_undo(False))

    def _undo_delete(self) -> None:
        if self._deleted is not None:
            self.chat.undo_delete(self._deleted)
            self._deleted = None
        self.window.show_undo(False)

    def _search(self, query: str) -> None:
        hits = self.store.search(query) if query.strip() else []
        self.window.conversations.set_search_results(hits)

    # -- settings ------------------------------------------------------------------
    def edit_settings(self) -> None:
        editable = [s for s in SETTINGS if s.key != "model/path"]
        dialog = SettingsDialog(editable, self.settings.values(), "Settings", self.window)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        before = self.settings.values()
        for key, value in dialog.result_values().items():
            self.settings.set(key, value)
        engine_keys = [k for k in before if k.startswith(("engine/", "remote/"))]
        if any(before[k] != self.settings.get(k) for k in engine_keys):
            self.load_engine()

    def edit_conversation_settings(self, conversation_id: int | None = None) -> None:
        """The open chat's settings (menu), or the one right-clicked in the list."""
        conversation_id = conversation_id if conversation_id is not None else self.chat.current_id
        conversation = self.store.get_conversation(conversation_id) if conversation_id is not None else None
        if conversation is None:
            return
        decl = [BY_KEY["chat/system_prompt"]] + [BY_KEY[k] for k in CONVERSATION_KEYS]
        values = {k: conversation.settings.get(k, self.settings.get(k)) for k in CONVERSATION_KEYS}
        values["chat/system_prompt"] = conversation.system_prompt
        dialog = SettingsDialog(decl, values, f"Settings for “{conversation.title}”", self.window)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        result = dialog.result_values()
        prompt = result.pop("chat/system_prompt")
        self.store.update_conversation(conversation.id, system_prompt=prompt, settings=result)
