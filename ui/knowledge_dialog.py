"""The Knowledge window: collections of the user's documents, with their files and chunks, the
paths added to each, the files that could not be read (and why), and an indexing run's progress
with a Cancel button. Widgets only: the knowledge controller (app/) indexes in the background and
hands plain records (engine.knowledge.records) back to show."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QGroupBox, QHBoxLayout,
                               QHeaderView, QInputDialog, QLabel, QListWidget, QListWidgetItem, QMessageBox,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.knowledge.records import Collection, Source
from ui.safe_text import plain_tooltip

COLUMNS = ("Collection", "Files", "Chunks", "Not readable")
NAME_ROLE = Qt.ItemDataRole.UserRole


def _cell(text: str, name: str, *, number: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    item.setData(NAME_ROLE, name)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class KnowledgeDialog(QDialog):
    new_requested = Signal(str)                  # a new collection's name
    add_requested = Signal(str, list)            # collection, files and folders to add and index
    update_requested = Signal(str)               # re-index: changed, new and removed files
    remove_path_requested = Signal(str, str)     # collection, one of the paths added to it
    delete_requested = Signal(str)               # collection (the user has confirmed)
    cancel_requested = Signal()
    collection_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Knowledge")
        self.setObjectName("knowledgeDialog")
        self.resize(820, 560)
        self._busy = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("collectionsTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty_note = QLabel("No collections yet. A collection is a set of files and folders (text, Markdown, "
                                 "code, HTML, PDF, Word) that assistants answer from. Press New collection… to "
                                 "make one.")
        self.empty_note.setObjectName("emptyNote")
        self.empty_note.setWordWrap(True)

        self.new_button = QPushButton("New collection…")
        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.update_button = QPushButton("Update")
        self.update_button.setToolTip("Read changed and new files again and drop removed ones")
        self.delete_button = QPushButton("Delete collection")
        self.new_button.clicked.connect(self._ask_new)
        self.add_files_button.clicked.connect(self._pick_files)
        self.add_folder_button.clicked.connect(self._pick_folder)
        self.update_button.clicked.connect(lambda: self._with_selected(self.update_requested.emit))
        self.delete_button.clicked.connect(lambda: self._with_selected(self._confirm_delete))
        side = QVBoxLayout()
        for button in (self.new_button, self.add_files_button, self.add_folder_button, self.update_button,
                       self.delete_button):
            side.addWidget(button)
        side.addStretch(1)

        self.roots = QListWidget()
        self.roots.setObjectName("collectionPaths")
        self.roots.itemSelectionChanged.connect(self._update_buttons)
        self.remove_path_button = QPushButton("Remove path")
        self.remove_path_button.clicked.connect(self._remove_path)
        roots_box = QGroupBox("Paths added")
        roots_layout = QVBoxLayout(roots_box)
        roots_layout.addWidget(self.roots)
        roots_layout.addWidget(self.remove_path_button, 0, Qt.AlignmentFlag.AlignRight)
        self.failed = QListWidget()
        self.failed.setObjectName("unreadableFiles")
        self.failed.setWordWrap(True)   # the reason is the point: no sideways scrolling to read it
        self.failed.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        failed_box = self.failed_box = QGroupBox("Files not indexed")
        failed_layout = QVBoxLayout(failed_box)
        failed_layout.addWidget(self.failed)
        details = QHBoxLayout()
        details.addWidget(roots_box, 1)
        details.addWidget(failed_box, 1)

        self.progress = QProgressBar()
        self.progress.setObjectName("indexProgress")
        self.progress_label = QLabel()
        self.progress_label.setObjectName("indexProgressLabel")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)   # file names are the user's
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("indexCancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        progress_layout = QVBoxLayout(self.progress_box)
        progress_layout.setContentsMargins(0, 0, 0, 0)
        progress_layout.addLayout(progress_row)
        progress_layout.addWidget(self.progress_label)
        self.progress_box.setVisible(False)

        self.message = QLabel()
        self.message.setObjectName("knowledgeMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(close)

        top = QHBoxLayout()
        listing = QVBoxLayout()
        listing.addWidget(self.table, 1)
        listing.addWidget(self.empty_note)
        top.addLayout(listing, 1)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 3)
        layout.addLayout(details, 2)
        layout.addWidget(self.progress_box)
        layout.addLayout(bottom)
        self._selection_changed()

    # -- what the controller shows ---------------------------------------------------
    def set_collections(self, collections: Sequence[Collection], select: str | None = None) -> None:
        keep = select if select is not None else self.selected_name()
        if keep is None and collections:
            keep = collections[0].name   # something to add to or update straight away
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for collection in collections:
            row = self.table.rowCount()
            self.table.insertRow(row)
            name = collection.name
            for column, (text, number) in enumerate(((name, False), (f"{collection.files:,}", True),
                                                     (f"{collection.chunks:,}", True),
                                                     (f"{collection.failed:,}" if collection.failed else "", True))):
                self.table.setItem(row, column, _cell(text, name, number=number))
            self.table.item(row, 0).setToolTip(plain_tooltip("\n".join(collection.roots) or name))
            if name == keep:
                self.table.selectRow(row)
        self.table.blockSignals(False)
        self.table.setVisible(bool(collections))
        self.empty_note.setVisible(not collections)
        self._selection_changed()

    def selected_name(self) -> str | None:
        items = self.table.selectedItems()
        return str(items[0].data(NAME_ROLE)) if items else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(NAME_ROLE) == name:
                self.table.selectRow(row)
                return

    def show_details(self, roots: Sequence[str], failed: Sequence[Source]) -> None:
        """The selected collection's paths and the files it could not read, with the reason."""
        self.roots.clear()
        for path in roots:
            item = QListWidgetItem(path)
            item.setToolTip(plain_tooltip(path))
            self.roots.addItem(item)
        self.failed.clear()
        for source in failed:
            item = QListWidgetItem(f"{Path(source.path).name} — {source.reason or 'not readable'}")
            item.setToolTip(plain_tooltip(f"{source.path}\n{source.reason or ''}"))
            self.failed.addItem(item)
        self.failed_box.setTitle(f"Files not indexed ({len(failed)})" if failed else "Files not indexed")
        self._update_buttons()

    def show_progress(self, collection: str, done: int, total: int, chunks: int, path: str | None) -> None:
        self.progress_box.setVisible(True)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(f"{done:,} of {total:,} files")
        where = f"\n{path}" if path else ""
        self.progress_label.setText(f"Indexing {collection}: {done:,} of {total:,} files, {chunks:,} chunks"
                                    f"{where}")

    def set_busy(self, busy: bool) -> None:
        """An index runs: its progress and Cancel show; what would change the collections waits."""
        self._busy = busy
        self.progress_box.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        self._update_buttons()

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #b3261e;" if error else "")

    # -- internals -------------------------------------------------------------------
    def _with_selected(self, then) -> None:  # noqa: ANN001
        chosen = self.selected_name()
        if chosen is not None:
            then(chosen)

    def _selection_changed(self) -> None:
        chosen = self.selected_name()
        if chosen is None:
            self.roots.clear()
            self.failed.clear()
        else:
            self.collection_selected.emit(chosen)
        self._update_buttons()

    def _update_buttons(self) -> None:
        chosen = self.selected_name() is not None and not self._busy
        for button in (self.add_files_button, self.add_folder_button, self.update_button, self.delete_button):
            button.setEnabled(chosen)
        self.remove_path_button.setEnabled(chosen and bool(self.roots.selectedItems()))

    def _ask_new(self) -> None:
        name, ok = QInputDialog.getText(self, "New collection", "Name:")
        if ok and name.strip():
            self.new_requested.emit(name.strip())

    def _pick_files(self) -> None:
        chosen = self.selected_name()
        if chosen is None:
            return
        files, _ = QFileDialog.getOpenFileNames(self, f"Add files to {chosen}", str(Path.home()),
                                                "Documents (*.txt *.md *.markdown *.rst *.html *.htm *.pdf *.docx "
                                                "*.py *.js *.ts *.go *.rs *.java *.c *.cpp *.h *.json *.csv);;"
                                                "All files (*)")
        if files:
            self.add_requested.emit(chosen, files)

    def _pick_folder(self) -> None:
        chosen = self.selected_name()
        if chosen is None:
            return
        folder = QFileDialog.getExistingDirectory(self, f"Add a folder to {chosen}", str(Path.home()))
        if folder:
            self.add_requested.emit(chosen, [folder])

    def _remove_path(self) -> None:
        chosen, items = self.selected_name(), self.roots.selectedItems()
        if chosen is not None and items:
            self.remove_path_requested.emit(chosen, items[0].text())

    def _confirm_delete(self, name: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "Delete collection",
                          f"Delete the collection {name}? Its index goes; your files stay where they are.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() == QMessageBox.StandardButton.Yes:
            self.delete_requested.emit(name)
