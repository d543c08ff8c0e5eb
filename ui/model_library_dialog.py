"""The model library window: what is installed, what to download, and how downloads are going.

Widgets only. It shows plain engine data (library entries, catalog entries, hub results,
download progress) handed to it, and says what the user asked for through signals; the
library controller (app/) does the work.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFrame, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QProgressBar, QPushButton, QScrollArea,
                               QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout,
                               QWidget)

from engine.models.records import CatalogEntry, LibraryEntry, RepoFile, RepoSummary, human_size

INSTALLED_COLUMNS = ("Name", "Architecture", "Parameters", "Quantization", "Size", "Context", "Capabilities",
                     "Location")
CATALOG_COLUMNS = ("Name", "Kind", "Size", "Capabilities", "Fit", "")
FIT_COLOURS = {"fits": ("#1e6b34", "#dff3e4"), "tight": ("#7a5a00", "#fff1c2"), "won't fit": ("#9b1c1c", "#fde1e1")}
SOURCE_NAMES = {"starter": "Bundled", "hearth": "Hearth", "huggingface": "Hugging Face cache",
                "lmstudio": "LM Studio", "gpt4all": "GPT4All", "ollama": "Ollama", "user": "Added by you"}
GREY = QColor("#9a948d")


def _size(n: float | None) -> str:
    return "?" if n is None else human_size(n)


def _params(n: int) -> str:
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s left"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min left"


def _item(text: str, tooltip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if tooltip:
        item.setToolTip(tooltip)
    return item


def _table(columns: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(False)
    return table


class DownloadRow(QFrame):
    """One download: progress with bytes, speed and time left; pause, resume, cancel; errors."""

    def __init__(self, key: str, title: str, dialog: "ModelLibraryDialog") -> None:
        super().__init__()
        self.key = key
        self.state = "running"
        self.path = ""
        self.setObjectName("downloadRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title)
        self.title.setObjectName("downloadTitle")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)  # per mille: byte counts overflow a 32-bit range
        self.progress.setValue(0)
        self.detail = QLabel("Starting…")
        self.detail.setObjectName("downloadDetail")
        self.error = QLabel()
        self.error.setObjectName("downloadError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()

        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        self.use_button = QPushButton("Use this model")
        self.dismiss_button = QPushButton("Remove from list")
        self.pause_button.clicked.connect(lambda: dialog.pause.emit(key))
        self.resume_button.clicked.connect(lambda: dialog.resume.emit(key))
        self.cancel_button.clicked.connect(lambda: dialog.cancel.emit(key))
        self.use_button.clicked.connect(lambda: dialog.use_model.emit(self.path))
        self.dismiss_button.clicked.connect(lambda: dialog.remove_download(key))

        self.token_box = QWidget()
        token_row = QHBoxLayout(self.token_box)
        token_row.setContentsMargins(0, 0, 0, 0)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("Paste your Hugging Face access token (hf_…)")
        self.token_button = QPushButton("Save token and retry")
        token_row.addWidget(QLabel("Token:"))
        token_row.addWidget(self.token_edit, 1)
        token_row.addWidget(self.token_button)
        self.token_button.clicked.connect(lambda: self._send_token(dialog))
        self.token_edit.returnPressed.connect(lambda: self._send_token(dialog))
        self.token_box.hide()

        buttons = QHBoxLayout()
        buttons.addWidget(self.detail, 1)
        for button in (self.use_button, self.pause_button, self.resume_button, self.cancel_button,
                       self.dismiss_button):
            buttons.addWidget(button)
        column = QVBoxLayout(self)
        column.addWidget(self.title)
        column.addWidget(self.progress)
        column.addLayout(buttons)
        column.addWidget(self.error)
        column.addWidget(self.token_box)
        self.set_state("running")

    def _send_token(self, dialog: "ModelLibraryDialog") -> None:
        token = self.token_edit.text().strip()
        if token:
            dialog.token_entered.emit(token)
            self.token_edit.clear()

    def set_state(self, state: str) -> None:
        """running | pausing | paused | failed | finished"""
        self.state = state
        self.pause_button.setVisible(state == "running")
        self.resume_button.setVisible(state in ("paused", "failed"))
        self.cancel_button.setVisible(state in ("running", "pausing", "paused", "failed"))
        self.use_button.setVisible(state == "finished")
        self.dismiss_button.setVisible(state == "finished")
        if state != "failed":
            self.error.hide()
            self.token_box.hide()

    def show_progress(self, filename: str, done: int, total: int, speed_bps: float, eta_s: float | None) -> None:
        self.progress.setValue(int(1000 * done / total) if total else 1000)
        self.progress.setFormat(f"{filename}: %p%")
        parts = [f"{_size(done)} of {_size(total)}"]
        if done < total:
            parts += [f"{_size(speed_bps)}/s" if speed_bps > 0 else "", _duration(eta_s)]
        self.detail.setText(" · ".join(p for p in parts if p))


class ModelLibraryDialog(QDialog):
    """Installed models, the catalog, Hugging Face search and downloads, plus the GPU setting."""

    use_model = Signal(str)
    download_requested = Signal(str, str, str)  # repo_id, filename ("" = the whole repo), mmproj ("" = none)
    pause = Signal(str)
    resume = Signal(str)
    cancel = Signal(str)
    search_requested = Signal(str)
    repo_selected = Signal(str)
    token_entered = Signal(str)
    add_file_requested = Signal()
    gpu_layers_changed = Signal(int)
    show_folder_requested = Signal(str)  # a folder; "" = Hearth's models folder

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model library")
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.resize(980, 620)
        self.tabs = QTabWidget()
        self.installed_tab = self._build_installed()
        self.catalog_tab = self._build_catalog()
        self.search_tab = self._build_search()
        self.downloads_tab = self._build_downloads()
        self.tabs.addTab(self.installed_tab, "Installed")
        self.tabs.addTab(self.catalog_tab, "Catalog")
        self.tabs.addTab(self.search_tab, "Search Hugging Face")
        self.tabs.addTab(self.downloads_tab, "Downloads")
        self.status = QLabel()
        self.status.setObjectName("libraryStatus")
        self.status.setWordWrap(True)
        column = QVBoxLayout(self)
        column.addWidget(self.tabs, 1)
        column.addWidget(self._build_gpu())
        column.addWidget(self.status)

    # -- Installed -------------------------------------------------------------------------------
    def _build_installed(self) -> QWidget:
        page = QWidget()
        self.installed = _table(INSTALLED_COLUMNS)
        self.installed.setObjectName("installedModels")
        self.installed.itemSelectionChanged.connect(self._installed_selection)
        self.installed.cellDoubleClicked.connect(lambda row, _col: self._use_row(row))
        self.use_button = QPushButton("Use this model")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(lambda: self._use_row(self.installed.currentRow()))
        self.add_file_button = QPushButton("Add file…")
        self.add_file_button.clicked.connect(self.add_file_requested.emit)
        self.show_folder_button = QPushButton("Show folder")
        self.show_folder_button.clicked.connect(self._show_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addStretch(1)
        buttons.addWidget(self.add_file_button)
        buttons.addWidget(self.show_folder_button)
        column = QVBoxLayout(page)
        column.addWidget(self.installed, 1)
        column.addLayout(buttons)
        return page

    def set_installed(self, entries: Sequence[LibraryEntry], current: str) -> None:
        """Every model found, usable or not; the one in use is bold and selected."""
        table = self.installed
        selected = self.selected_installed_path()
        table.setRowCount(0)
        table.clearSpans()
        table.setRowCount(len(entries))
        keep_row = -1
        for row, entry in enumerate(entries):
            path = str(entry.path)
            location = f"{SOURCE_NAMES.get(entry.source, entry.source)} · {entry.path.parent}"
            name = _item(entry.display_name, path)
            name.setData(Qt.ItemDataRole.UserRole, path)
            name.setData(Qt.ItemDataRole.UserRole + 1, entry.usable)
            table.setItem(row, 0, name)
            info = entry.info
            if info is None or not entry.usable:
                reason = f"Can't be used: {entry.error or 'unknown problem'}"
                table.setItem(row, 1, _item(reason, reason))
                table.setSpan(row, 1, 1, len(INSTALLED_COLUMNS) - 2)
                table.setItem(row, len(INSTALLED_COLUMNS) - 1, _item(location, path))
                for col in range(table.columnCount()):
                    cell = table.item(row, col)
                    if cell is not None:
                        cell.setForeground(QBrush(GREY))
                        cell.setToolTip(reason)
            else:
                capabilities = [c for c, on in (("vision", info.has_vision), ("tools", info.supports_tools),
                                                ("reasoning", info.supports_reasoning)) if on]
                cells = (info.architecture, _params(info.parameter_count), info.quantization, _size(info.file_size),
                         f"{info.context_length:,}" if info.context_length else "?", ", ".join(capabilities) or "—",
                         location)
                for col, text in enumerate(cells, start=1):
                    table.setItem(row, col, _item(text, path if col == len(cells) else ""))
            if path == current:
                for col in range(table.columnCount()):
                    cell = table.item(row, col)
                    if cell is not None:
                        font = QFont(cell.font())
                        font.setBold(True)
                        cell.setFont(font)
                name.setText(f"✓ {entry.display_name}")
            if path == (selected or current):
                keep_row = row
        table.resizeColumnsToContents()
        if keep_row >= 0:
            table.selectRow(keep_row)
        self._installed_selection()

    def installed_paths(self) -> list[str]:
        return [self.installed.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.installed.rowCount())]

    def select_installed(self, path: str) -> bool:
        for row, candidate in enumerate(self.installed_paths()):
            if candidate == path:
                self.installed.selectRow(row)
                return True
        return False

    def selected_installed_path(self) -> str | None:
        row = self.installed.currentRow()
        item = self.installed.item(row, 0) if row >= 0 else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _installed_selection(self) -> None:
        row = self.installed.currentRow()
        item = self.installed.item(row, 0) if row >= 0 else None
        self.use_button.setEnabled(bool(item is not None and item.data(Qt.ItemDataRole.UserRole + 1)))

    def _use_row(self, row: int) -> None:
        item = self.installed.item(row, 0) if row >= 0 else None
        if item is not None and item.data(Qt.ItemDataRole.UserRole + 1):
            self.use_model.emit(item.data(Qt.ItemDataRole.UserRole))

    def _show_folder(self) -> None:
        path = self.selected_installed_path()
        self.show_folder_requested.emit(str(Path(path).parent) if path else "")

    # -- Catalog ---------------------------------------------------------------------------------
    def _build_catalog(self) -> QWidget:
        page = QWidget()
        self.catalog = _table(CATALOG_COLUMNS)
        self.catalog.setObjectName("catalog")
        self.catalog_buttons: dict[str, QPushButton] = {}
        self.catalog_fits: dict[str, QLabel] = {}
        note = QLabel("Hand-picked models. The badge says whether each will run well on this computer.")
        note.setWordWrap(True)
        column = QVBoxLayout(page)
        column.addWidget(note)
        column.addWidget(self.catalog, 1)
        return page

    def set_catalog(self, rows: Sequence[tuple[CatalogEntry, str]]) -> None:
        """(entry, fit) pairs, fit being "fits", "tight" or "won't fit"."""
        table = self.catalog
        table.setRowCount(0)
        table.setRowCount(len(rows))
        self.catalog_buttons.clear()
        self.catalog_fits.clear()
        for row, (entry, fit) in enumerate(rows):
            kind = "Speech (Whisper)" if entry.kind == "speech" else ("Chat + vision" if entry.has_vision else "Chat")
            size = _size(entry.total_size)
            if entry.has_vision:
                size += " (with projector)"
            table.setItem(row, 0, _item(entry.name, entry.summary))
            table.setItem(row, 1, _item(kind))
            table.setItem(row, 2, _item(size))
            table.setItem(row, 3, _item(", ".join(entry.capabilities)))
            badge = QLabel(fit)
            badge.setObjectName("fitBadge")
            badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
            fg, bg = FIT_COLOURS.get(fit, ("#444", "#eee"))
            badge.setStyleSheet(f"color: {fg}; background: {bg}; border-radius: 8px; padding: 1px 8px; "
                                "font-weight: bold; margin: 2px;")
            badge.setToolTip({"fits": "Runs comfortably here.",
                              "tight": "Will run, but uses most of the memory.",
                              "won't fit": "Needs more memory than this computer has."}.get(fit, ""))
            table.setCellWidget(row, 4, badge)
            button = QPushButton("Download")
            button.setToolTip(f"{entry.repo_id}/{entry.file or ''}".rstrip("/"))
            button.clicked.connect(lambda _=False, e=entry: self.download_requested.emit(
                e.repo_id, e.file or "", e.mmproj_file or ""))
            table.setCellWidget(row, 5, button)
            self.catalog_buttons[entry.id] = button
            self.catalog_fits[entry.id] = badge
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    # -- Search ----------------------------------------------------------------------------------
    def _build_search(self) -> QWidget:
        page = QWidget()
        self.search_box = QLineEdit()
        self.search_box.setObjectName("hubSearch")
        self.search_box.setPlaceholderText("Search GGUF models, or paste a Hugging Face link or owner/name")
        self.search_button = QPushButton("Search")
        self.search_box.returnPressed.connect(self._search)
        self.search_button.clicked.connect(self._search)
        top = QHBoxLayout()
        top.addWidget(self.search_box, 1)
        top.addWidget(self.search_button)

        self.results = QListWidget()
        self.results.setObjectName("hubResults")
        self.results.itemClicked.connect(self._repo_clicked)
        self.results.itemActivated.connect(self._repo_clicked)
        self.files = _table(("File", "Size"))
        self.files.setObjectName("repoFiles")
        self.files.itemSelectionChanged.connect(self._file_selection)
        self.files.cellDoubleClicked.connect(lambda _r, _c: self._download_selected_file())
        self.files_title = QLabel("Pick a model on the left to see its files.")
        self.files_title.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.download_button.setEnabled(False)
        self.download_button.clicked.connect(self._download_selected_file)
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.setContentsMargins(0, 0, 0, 0)
        right_column.addWidget(self.files_title)
        right_column.addWidget(self.files, 1)
        right_column.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignRight)
        splitter = QSplitter()
        splitter.addWidget(self.results)
        splitter.addWidget(right)
        splitter.setSizes([380, 560])
        self.search_status = QLabel()
        self.search_status.setObjectName("searchStatus")
        self.search_status.setWordWrap(True)
        column = QVBoxLayout(page)
        column.addLayout(top)
        column.addWidget(self.search_status)
        column.addWidget(splitter, 1)
        self._repo_id = ""
        self._projector = ""
        return page

    def _search(self) -> None:
        text = self.search_box.text().strip()
        if text:
            self.search_requested.emit(text)

    def set_search_busy(self, text: str) -> None:
        self.search_status.setStyleSheet("")
        self.search_status.setText(text)

    def set_search_error(self, message: str) -> None:
        self.search_status.setStyleSheet("color: #b3261e;")
        self.search_status.setText(message)

    def set_search_results(self, results: Sequence[RepoSummary]) -> None:
        self.results.clear()
        for summary in results:
            details = [f"↓ {summary.downloads:,}", f"♥ {summary.likes:,}"]
            if summary.gated:
                details.append("🔒 needs a token")
            item = QListWidgetItem(f"{summary.repo_id}\n    {'   '.join(details)}")
            item.setData(Qt.ItemDataRole.UserRole, summary.repo_id)
            self.results.addItem(item)
        self.set_search_busy(f"{len(results)} models found." if results else "No GGUF models match.")

    def result_ids(self) -> list[str]:
        return [self.results.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.results.count())]

    def _repo_clicked(self, item: QListWidgetItem) -> None:
        repo_id = item.data(Qt.ItemDataRole.UserRole)
        if repo_id and repo_id != self._repo_id:
            self.files.setRowCount(0)
            self.files_title.setText(f"Listing the files of {repo_id}…")
            self.download_button.setEnabled(False)
            self.repo_selected.emit(repo_id)

    def set_repo_files(self, repo_id: str, files: Sequence[RepoFile], projector: str = "",
                       preselect: str | None = None) -> None:
        """GGUF files of a repo; `projector` is the vision projector downloaded with any model file."""
        self._repo_id, self._projector = repo_id, projector
        table = self.files
        table.setRowCount(0)
        table.setRowCount(len(files))
        select = -1
        for row, f in enumerate(files):
            name = _item(f.name)
            name.setData(Qt.ItemDataRole.UserRole, f.name)
            table.setItem(row, 0, name)
            table.setItem(row, 1, _item(_size(f.size)))
            if f.name == preselect:
                select = row
        table.resizeColumnsToContents()
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        title = f"{repo_id}: {len(files)} GGUF files." if files else f"{repo_id} has no GGUF files."
        if projector:
            title += f" A vision model: {projector} is downloaded along with the model file."
        self.files_title.setText(title)
        for i in range(self.results.count()):
            if self.results.item(i).data(Qt.ItemDataRole.UserRole) == repo_id:
                self.results.setCurrentRow(i)
        if select >= 0:
            table.selectRow(select)
        self._file_selection()

    def set_repo_error(self, repo_id: str, message: str) -> None:
        self._repo_id = ""
        self.files.setRowCount(0)
        self.files_title.setText(message)

    def file_names(self) -> list[str]:
        return [self.files.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.files.rowCount())]

    def select_file(self, name: str) -> bool:
        for row, candidate in enumerate(self.file_names()):
            if candidate == name:
                self.files.selectRow(row)
                return True
        return False

    def _selected_file(self) -> str | None:
        row = self.files.currentRow()
        item = self.files.item(row, 0) if row >= 0 else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _file_selection(self) -> None:
        self.download_button.setEnabled(bool(self._repo_id and self._selected_file()))

    def _download_selected_file(self) -> None:
        name = self._selected_file()
        if not (self._repo_id and name):
            return
        is_projector = "mmproj" in name.lower()
        self.download_requested.emit(self._repo_id, name, "" if is_projector else self._projector)

    # -- Downloads -------------------------------------------------------------------------------
    def _build_downloads(self) -> QWidget:
        page = QWidget()
        self.download_rows: dict[str, DownloadRow] = {}
        self._rows_box = QWidget()
        self._rows = QVBoxLayout(self._rows_box)
        self.no_downloads = QLabel("Nothing is downloading. Pick a model in the Catalog or search Hugging Face.")
        self.no_downloads.setObjectName("emptyNote")
        self._rows.addWidget(self.no_downloads)
        self._rows.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._rows_box)
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(scroll)
        return page

    def add_download(self, key: str, title: str, *, show: bool = True) -> DownloadRow:
        row = self.download_rows.get(key)
        if row is None:
            row = DownloadRow(key, title, self)
            self.download_rows[key] = row
            self._rows.insertWidget(self._rows.count() - 1, row)
        row.set_state("running")
        row.detail.setText("Starting…")
        self.no_downloads.setVisible(False)
        if show:
            self.tabs.setCurrentWidget(self.downloads_tab)
        return row

    def update_download(self, key: str, filename: str, done: int, total: int, speed_bps: float,
                        eta_s: float | None) -> None:
        row = self.download_rows.get(key)
        if row is not None and row.state in ("running", "pausing"):
            row.show_progress(filename, done, total, speed_bps, eta_s)

    def download_pausing(self, key: str) -> None:
        row = self.download_rows.get(key)
        if row is not None:
            row.set_state("pausing")
            row.detail.setText("Pausing…")

    def download_paused(self, key: str, done: int, total: int | None) -> None:
        row = self.download_rows.get(key)
        if row is None:
            return
        row.set_state("paused")
        if total:
            row.progress.setValue(int(1000 * done / total))
            row.detail.setText(f"Paused at {_size(done)} of {_size(total)}. Resume continues from there.")
        else:
            row.detail.setText("Paused. Resume continues where it stopped.")

    def download_failed(self, key: str, message: str, *, needs_token: bool = False) -> None:
        row = self.download_rows.get(key)
        if row is None:
            return
        row.set_state("failed")
        row.resume_button.setText("Retry")
        row.detail.setText("Failed.")
        row.error.setText(message)
        row.error.show()
        row.token_box.setVisible(needs_token)
        if needs_token:
            row.token_edit.setFocus()

    def download_finished(self, key: str, path: str, *, note: str = "") -> None:
        row = self.download_rows.get(key)
        if row is None:
            return
        row.path = path
        row.set_state("finished")
        row.progress.setValue(1000)
        row.detail.setText(note or f"Done: {Path(path).name} is in your library.")

    def remove_download(self, key: str) -> None:
        row = self.download_rows.pop(key, None)
        if row is not None:
            row.hide()
            row.deleteLater()
        self.no_downloads.setVisible(not self.download_rows)

    # -- GPU -------------------------------------------------------------------------------------
    def _build_gpu(self) -> QWidget:
        box = QGroupBox("GPU")
        self.gpu_label = QLabel("Checking what llama.cpp can run on…")
        self.gpu_label.setObjectName("gpuBackends")
        self.gpu_label.setWordWrap(True)
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setObjectName("gpuLayers")
        self.gpu_layers.setRange(-1, 1000)
        self.gpu_layers.setSpecialValueText("All layers")
        self.gpu_layers.setToolTip("Layers of the model to run on the GPU: All, a number, or 0 for CPU only. "
                                   "The model reloads when this changes.")
        self.gpu_layers.valueChanged.connect(self.gpu_layers_changed.emit)
        row = QHBoxLayout(box)
        row.addWidget(self.gpu_label, 1)
        row.addWidget(QLabel("GPU layers:"))
        row.addWidget(self.gpu_layers)
        return box

    def set_gpu(self, description: str, layers: int) -> None:
        self.gpu_label.setText(description)
        self.gpu_layers.blockSignals(True)
        self.gpu_layers.setValue(layers)
        self.gpu_layers.blockSignals(False)

    # -- status ----------------------------------------------------------------------------------
    def set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b3261e;" if error else "")
        self.status.setText(text)
