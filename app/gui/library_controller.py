"""Connects the model library window to the library scanner, the catalog, the Hugging Face
client and the downloader, and keeps the main window's model picker in step.

All engine work runs through `run_in_background`; results for a search, file listing or scan
the user has since replaced are dropped (Tickets). A download reports at most ten times a
second; pausing keeps its partial file and the next start resumes from it, in this run or
after a restart (partials are listed from the downloader's sidecars at start).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence

from app import paths
from app.gui.operations import Tickets, run_in_background
from engine.cancel import Cancel
from engine.models.catalog import fit, load_catalog
from engine.models.download import Downloader, DownloadCancelled, DownloadPaused, DownloadProgress
from engine.models.hardware import Hardware, detect_hardware
from engine.models.hub import (AuthError, GatedRepoError, HubClient, HubError, InvalidRepoRef, RepoNotFound,
                               parse_repo_ref, pick_projector, save_token)
from engine.models.library import ModelLibrary
from engine.models.model_choice import describe_gpu, download_key, pending_downloads, picker_entries
from engine.models.records import LibraryEntry, RepoSummary
from app.gui.engine_service import EngineService
from app.gui.model_picker import ModelPicker
from ui.model_library_dialog import ModelLibraryDialog

UI_UPDATES_PER_SECOND = 10
GPU_LAYERS_SETTLE_MS = 800  # the spin box changes per click; reload the model once the user stops
FIND_PROJECTOR = None  # a resumed download whose projector choice is unknown: look it up


@dataclass
class _Download:
    repo_id: str
    filename: str  # "" = every file of the repo (a speech model)
    mmproj: str | None  # "" = none; None = find it in the repo
    cancel: Cancel = field(default_factory=Cancel)
    pause: Cancel = field(default_factory=Cancel)
    finished: threading.Event = field(default_factory=threading.Event)
    last_ui: float = 0.0
    total: int | None = None

    @property
    def title(self) -> str:
        return f"{self.repo_id} — {self.filename}" if self.filename else f"{self.repo_id} (whole model folder)"


class LibraryController(QObject):
    def __init__(self, window, settings, models: ModelPicker, engine: EngineService,
                 hub_endpoint: str | None = None, *, hardware: Hardware | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.models = models
        self.engine = engine
        self.models_dir = paths.models_dir()
        self.use_hub(hub_endpoint)
        self.library = ModelLibrary(self.models_dir)
        self.entries: list[LibraryEntry] = []
        self.dialog = ModelLibraryDialog(window)
        self._hardware = hardware
        self._scan_tickets, self._search_tickets, self._files_tickets = Tickets(), Tickets(), Tickets()
        self._known: dict[str, _Download] = {}  # every row in Downloads, by key
        self._running: dict[str, _Download] = {}
        self._waiting_for_token: set[str] = set()
        self._gpu_timer = QTimer(self)
        self._gpu_timer.setSingleShot(True)
        self._closed = False
        self._gpu_timer.setInterval(GPU_LAYERS_SETTLE_MS)
        self._gpu_timer.timeout.connect(self._apply_gpu_layers)

        d = self.dialog
        d.use_model.connect(self.use_model)
        d.download_requested.connect(self.download)
        d.pause.connect(self.pause)
        d.resume.connect(self.resume)
        d.cancel.connect(self.cancel)
        d.search_requested.connect(self.search)
        d.repo_selected.connect(self.list_repo)
        d.token_entered.connect(self.save_token)
        d.add_file_requested.connect(lambda: self.models.add_file())
        d.gpu_layers_changed.connect(self._gpu_layers_changed)
        d.show_folder_requested.connect(self._show_folder)
        d.set_gpu("Checking what llama.cpp can run on…", self.settings.get("engine/n_gpu_layers"))

        self._attach()
        self._show_pending()
        self._load_catalog()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- wiring ------------------------------------------------------------------------------------
    def _attach(self) -> None:
        """Add "Model library…" (Ctrl+L) to the Chat menu and fill the model picker from the scans."""
        self.open_action = QAction("Model library…", self.window)
        self.open_action.setShortcut(QKeySequence("Ctrl+L"))
        self.open_action.triggered.connect(self.open_dialog)
        self.window.add_chat_menu_action(self.open_action)
        self.models.use_library(self.refresh)

    def use_hub(self, endpoint: str | None) -> None:
        """Talk to the hub at `endpoint` (a mirror, or a test hub); None: huggingface_hub's default."""
        self.client = HubClient(endpoint=endpoint)
        self.downloader = Downloader(self.models_dir, self.client)

    def open_dialog(self) -> None:
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.refresh()

    def _run(self, work, **callbacks) -> None:
        """run_in_background whose callbacks are dropped once the window is gone."""
        for name in ("on_success", "on_failure", "on_progress"):
            callback = callbacks.get(name)
            if callback is not None:
                callbacks[name] = (lambda cb: lambda *args: None if self._closed else cb(*args))(callback)
        run_in_background(work, **callbacks)

    def shutdown(self, wait_s: float = 5.0) -> None:
        """Pause every running download (its partial stays, to resume next time) and wait for it."""
        self._closed = True
        self._gpu_timer.stop()
        jobs = list(self._running.values())
        for job in jobs:
            job.pause.cancel()
        deadline = time.monotonic() + wait_s
        for job in jobs:
            job.finished.wait(max(0.0, deadline - time.monotonic()))

    # -- the library -------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rescan in the background; fills the Installed tab and the main window's picker."""
        ticket = self._scan_tickets.next()
        self.library.extra_files = [Path(p) for p in self.settings.get_list("model/user_files")]
        self._run(self.library.scan, on_success=self._scanned, on_failure=self._scan_failed,
                          ticket=ticket, tickets=self._scan_tickets)

    def _scanned(self, entries: list[LibraryEntry]) -> None:
        self.entries = entries
        current = str(self.models.model_path() or "")
        self.models.show_local_models(picker_entries(entries))
        self.dialog.set_installed(entries, current)

    def _scan_failed(self, exc: BaseException) -> None:
        self.dialog.set_status(f"Couldn't look for models: {exc}", error=True)

    def use_model(self, path: str) -> None:
        if not path:
            return
        if Path(path).is_dir():  # a speech model is a folder
            self.settings.set("voice/model", path)
            self.dialog.set_status(f"Speech input now uses {Path(path).name}.")
            return
        self.dialog.set_status(f"Loading {Path(path).name}…")
        self.models.choose(path)  # saves the choice, refills the picker (through refresh) and reloads

    def _show_folder(self, folder: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(folder or str(self.models_dir)))

    # -- catalog and GPU ---------------------------------------------------------------------------
    def _load_catalog(self) -> None:
        known = self._hardware

        def work():
            from engine.models.gpu import gpu_backends

            hardware = known or detect_hardware()
            return [(entry, fit(entry, hardware)) for entry in load_catalog()], gpu_backends()

        def done(result) -> None:
            rows, support = result
            self.dialog.set_catalog(rows)
            self.dialog.set_gpu(describe_gpu(support), self.settings.get("engine/n_gpu_layers"))

        self._run(work, on_success=done,
                          on_failure=lambda exc: self.dialog.set_status(f"The catalog is unavailable: {exc}", True))

    def _gpu_layers_changed(self, layers: int) -> None:
        self.settings.set("engine/n_gpu_layers", layers)
        self._gpu_timer.start()

    def _apply_gpu_layers(self) -> None:
        """Reload the local model if the layers it runs with would change."""
        plan = self.engine.plan
        try:
            wanted = self.models.endpoint_plan()
        except ValueError:  # the model file is no longer usable: the picker says so on load
            return
        if plan is None or plan.local is None or wanted is None or wanted.local is None:
            return
        if wanted.local.n_gpu_layers != plan.local.n_gpu_layers:
            self.dialog.set_status("Reloading the model with the new GPU layers…")
            self.models.load_engine()

    # -- Hugging Face search ---------------------------------------------------------------------
    def search(self, text: str) -> None:
        """A search, or straight to a repo's files for a pasted link or owner/name."""
        text = text.strip()
        ticket = self._search_tickets.next()
        self._files_tickets.invalidate()
        self.dialog.set_search_busy(f"Searching Hugging Face for “{text}”…")
        client = self.client

        def work():
            try:
                repo_id, filename = parse_repo_ref(text)
            except InvalidRepoRef:
                repo_id, filename = None, None
            if repo_id is not None:
                try:
                    return "repo", repo_id, client.list_gguf_files(repo_id), filename
                except RepoNotFound:
                    if "://" in text or filename:
                        raise
            return "search", client.search(text)

        self._run(work, on_success=self._searched,
                          on_failure=lambda exc: self.dialog.set_search_error(_message(exc)),
                          ticket=ticket, tickets=self._search_tickets)

    def _searched(self, result: tuple) -> None:
        if result[0] == "search":
            self.dialog.set_search_results(result[1])
            return
        _, repo_id, files, filename = result
        self.dialog.set_search_results([RepoSummary(repo_id, 0, 0, None, False)])
        self._show_files(repo_id, files, filename)

    def list_repo(self, repo_id: str) -> None:
        ticket = self._files_tickets.next()
        client = self.client
        self._run(lambda: client.list_gguf_files(repo_id),
                          on_success=lambda files: self._show_files(repo_id, files, None),
                          on_failure=lambda exc: self.dialog.set_repo_error(repo_id, _message(exc)),
                          ticket=ticket, tickets=self._files_tickets)

    def _show_files(self, repo_id: str, files: list, preselect: str | None) -> None:
        projector = pick_projector(files)
        self.dialog.set_repo_files(repo_id, files, projector.name if projector else "", preselect)

    # -- downloads ---------------------------------------------------------------------------------
    def _show_pending(self) -> None:
        """Downloads an earlier run left unfinished appear paused, ready to resume."""
        for pending in pending_downloads(self.models_dir):
            if pending.key in self._known:
                continue
            job = _Download(pending.repo_id, pending.filename, FIND_PROJECTOR, total=pending.total)
            self._known[pending.key] = job
            self.dialog.add_download(pending.key, job.title, show=False)
            self.dialog.download_paused(pending.key, pending.done, pending.total)

    def download(self, repo_id: str, filename: str, mmproj: str = "") -> str:
        """Start (or resume) a download; returns its key."""
        key = download_key(repo_id, filename)
        if key in self._running:
            self.dialog.tabs.setCurrentWidget(self.dialog.downloads_tab)
            return key
        known = self._known.get(key)
        if not mmproj and known is not None and known.mmproj is FIND_PROJECTOR:
            mmproj = FIND_PROJECTOR  # left over from an earlier run: which projector it wanted is unknown
        self._start(key, _Download(repo_id, filename, mmproj))
        return key

    def resume(self, key: str) -> None:
        job = self._known.get(key)
        if job is not None and key not in self._running:
            self._start(key, _Download(job.repo_id, job.filename, job.mmproj, total=job.total))

    def pause(self, key: str) -> None:
        job = self._running.get(key)
        if job is not None:
            job.pause.cancel()
            self.dialog.download_pausing(key)

    def cancel(self, key: str) -> None:
        job = self._running.get(key)
        if job is not None:
            job.cancel.cancel()  # the downloader deletes the partial file
            return
        job = self._known.pop(key, None)
        self._waiting_for_token.discard(key)
        self.dialog.remove_download(key)
        if job is not None and job.filename:
            downloader = self.downloader
            mmproj = job.mmproj

            def discard() -> None:
                downloader.discard_partial(job.repo_id, job.filename)
                if mmproj:
                    downloader.discard_partial(job.repo_id, mmproj)

            self._run(discard)

    def save_token(self, token: str) -> None:
        """Store the token where huggingface_hub looks, then retry what was waiting for it."""
        waiting = sorted(self._waiting_for_token)
        self._waiting_for_token.clear()

        def retry(_result: object) -> None:
            self.dialog.set_status("Hugging Face token saved.")
            for key in waiting:
                self.resume(key)

        self._run(lambda: save_token(token), on_success=retry,
                          on_failure=lambda exc: self.dialog.set_status(f"Couldn't save the token: {exc}", True))

    def _start(self, key: str, job: _Download) -> None:
        self._known[key] = job
        self._running[key] = job
        self._waiting_for_token.discard(key)
        self.dialog.add_download(key, job.title)
        downloader, client = self.downloader, self.client

        def work(report) -> str:
            try:
                if not job.filename:
                    return str(_download_repo(downloader, client, job, report))
                mmproj = job.mmproj
                if mmproj is None and "mmproj" not in job.filename.lower():
                    projector = pick_projector(client.list_gguf_files(job.repo_id))
                    mmproj = projector.name if projector else ""
                if mmproj:
                    model, _ = downloader.download_with_projector(job.repo_id, job.filename, mmproj, progress=report,
                                                                  cancel=job.cancel, pause=job.pause)
                else:
                    model = downloader.download(job.repo_id, job.filename, progress=report, cancel=job.cancel,
                                                pause=job.pause)
                return str(model)
            finally:
                job.finished.set()

        self._run(work, on_progress=lambda p: self._progressed(key, job, p),
                          on_success=lambda path: self._downloaded(key, job, path),
                          on_failure=lambda exc: self._download_failed(key, job, exc))

    def _progressed(self, key: str, job: _Download, progress: DownloadProgress) -> None:
        if self._running.get(key) is not job:
            return
        now = time.monotonic()
        last = progress.done >= progress.total
        if not last and now - job.last_ui < 1.0 / UI_UPDATES_PER_SECOND:
            return
        job.last_ui = now
        job.total = progress.total
        self.dialog.update_download(key, progress.filename, progress.done, progress.total, progress.speed_bps,
                                    progress.eta_s)

    def _downloaded(self, key: str, job: _Download, path: str) -> None:
        self._running.pop(key, None)
        note = (f"Done: saved in {path}. “Use this model” makes it the speech model." if Path(path).is_dir()
                else "")
        self.dialog.download_finished(key, path, note=note)
        self.refresh()

    def _download_failed(self, key: str, job: _Download, exc: BaseException) -> None:
        self._running.pop(key, None)
        if isinstance(exc, DownloadCancelled):
            self._known.pop(key, None)
            self.dialog.remove_download(key)
        elif isinstance(exc, DownloadPaused):
            filename = job.filename or ""
            done = self.downloader.partial_size(job.repo_id, filename) if filename else 0
            self.dialog.download_paused(key, done, job.total)
        elif isinstance(exc, (GatedRepoError, AuthError)):
            self._waiting_for_token.add(key)
            self.dialog.download_failed(key, _token_message(job.repo_id, exc), needs_token=True)
        else:
            self.dialog.download_failed(key, _message(exc))


def _download_repo(downloader: Downloader, client: HubClient, job: _Download, report) -> Path:  # noqa: ANN001
    """A speech model is a folder of files (model.bin, config.json, tokenizer…): fetch them all."""
    files = [f for f in client.list_files(job.repo_id) if not Path(f.name).name.startswith(".")]
    if not files:
        raise HubError(f"{job.repo_id} has no files to download.")
    total = sum(f.size or 0 for f in files)
    before = 0
    for f in files:
        def overall(p: DownloadProgress, before: int = before) -> None:
            done = before + p.done
            eta = (total - done) / p.speed_bps if p.speed_bps > 0 else None
            report(DownloadProgress(job.repo_id, p.filename, done, total, p.speed_bps, eta))

        downloader.download(job.repo_id, f.name, progress=overall, cancel=job.cancel, pause=job.pause)
        before += f.size or 0
    return downloader.target_path(job.repo_id, files[0].name).parent


def _message(exc: BaseException) -> str:
    """Hearth's own errors are worded for people; anything else gets its type named."""
    if isinstance(exc, HubError):
        return str(exc)
    return f"Something went wrong: {type(exc).__name__}: {exc}"


def _token_message(repo_id: str, exc: BaseException) -> str:
    if isinstance(exc, AuthError):
        return "Hugging Face refused the saved token. Paste a valid access token below to try again."
    return (f"{repo_id} is gated: accept its licence on huggingface.co/{repo_id}, then paste an access token "
            "(huggingface.co/settings/tokens) below.")
