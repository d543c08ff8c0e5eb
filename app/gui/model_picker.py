"""Which model answers: the picker in the toolbar, the settings behind it, and (re)loading the
engine when they change. With a remote server in use the picker lists the server's models."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.gui.engine_service import EngineService
from app.settings import Settings
from engine.llm.endpoint import EndpointPlan, ModelNotUsable, local_plan
from engine.models.starter import starter_llm_path

REMOTE = "remote:"  # picker entries for a remote server's models: "remote:<model id>"


class ModelPicker(QObject):
    def __init__(self, window, settings: Settings, engine: EngineService) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.engine = engine
        self._rescan: Callable[[], None] | None = None
        self._remote_models: list[str] = []
        engine.remote_models_listed.connect(self._remote_listed)
        window.model_chosen.connect(self.choose)
        window.add_model_requested.connect(self.add_file)

    def use_library(self, rescan: Callable[[], None]) -> None:
        """The model library scans every folder; the picker asks it to rescan when models change."""
        self._rescan = rescan

    # -- what is chosen ------------------------------------------------------------
    @property
    def remote(self) -> bool:
        return bool(self.settings.get("remote/enabled"))

    def model_path(self) -> Path | None:
        chosen = self.settings.get("model/path")
        if chosen and Path(chosen).is_file():
            return Path(chosen)
        return starter_llm_path()

    def endpoint_plan(self, model: str = "") -> EndpointPlan | None:
        """The picked model's plan, or `model`'s (an assistant's: a GGUF path, or a remote server's
        model name) with the same engine settings. None when there is no model at all; raises
        ModelNotUsable for a file that is not one."""
        s = self.settings
        if self.remote:
            return EndpointPlan(remote_url=s.get("remote/base_url"), remote_key=s.get("remote/api_key"),
                                remote_model=model or s.get("remote/model"))
        model = Path(model).expanduser() if model else self.model_path()
        if model is None:
            return None
        return local_plan(model, n_ctx=s.get("engine/n_ctx"), n_threads=s.get("engine/n_threads") or None,
                          n_gpu_layers=s.get("engine/n_gpu_layers"))

    def load_engine(self) -> None:
        try:
            plan = self.endpoint_plan()
        except ModelNotUsable as exc:
            self.window.set_engine_status(f"Model failed: {exc}", error=True)
            return
        if plan is None:
            self.window.set_engine_status("No model: add a GGUF file (Chat → Add model file…)", error=True)
            return
        self.engine.load(plan)

    # -- the picker ----------------------------------------------------------------
    def refresh(self) -> None:
        if self.remote:
            self._show_remote()
        elif self._rescan is not None:
            self._rescan()  # it calls show_local_models with what it finds
        else:
            self.show_local_models(self._basic_entries())

    def show_local_models(self, entries: list[tuple[str, str]]) -> None:
        if not self.remote:
            self.window.set_models(entries, str(self.model_path() or ""))

    def _basic_entries(self) -> list[tuple[str, str]]:
        entries: list[tuple[str, str]] = []
        starter = starter_llm_path()
        if starter:
            entries.append((f"{starter.stem} (bundled)", str(starter)))
        for extra in self.settings.get_list("model/user_files"):
            if Path(extra).is_file() and extra not in [p for _, p in entries]:
                entries.append((Path(extra).name, extra))
        return entries

    def _remote_listed(self, names: list[str]) -> None:
        self._remote_models = list(names)
        if self.remote:
            self._show_remote()

    def _show_remote(self) -> None:
        chosen = self.settings.get("remote/model")
        endpoint = self.engine.endpoint
        current = chosen or (endpoint.client.model if endpoint is not None and endpoint.plan.local is None else "")
        names = list(self._remote_models)
        if current and current not in names:
            names.insert(0, current)
        server = self.settings.get("remote/base_url")
        if not names:
            names = [""]
        self.window.set_models([(f"{name or 'default model'} — {server}", REMOTE + name) for name in names],
                               REMOTE + current)

    def choose(self, path: str) -> None:
        if path.startswith(REMOTE):
            name = path[len(REMOTE):]
            if name != self.settings.get("remote/model"):
                self.settings.set("remote/model", name)
                self.load_engine()
            return
        if not path or path == str(self.model_path()):
            return
        self.settings.set("model/path", path)
        self.refresh()
        self.load_engine()

    def add_file(self, path: str | None = None) -> None:
        if not path:
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
        self.choose(path)

    def vision_problem(self) -> str:
        """Why the current model cannot take images ('' when it can)."""
        plan = self.engine.plan
        if plan is None:
            try:
                plan = self.endpoint_plan()
            except ModelNotUsable:
                return ""
        if plan is None or plan.sees_images:
            return ""  # a remote server decides for itself
        return (f"{Path(plan.local.model_path).name} cannot see images. Pick a vision model — for example "
                "SmolVLM, Qwen2.5-VL 3B or Gemma 3 4B from the model library — or remove the images. "
                "Your message and images are kept.")
