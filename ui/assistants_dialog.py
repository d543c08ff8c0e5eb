"""The Assistants window and its editor: widgets only.

The list shows each assistant's model, tools and knowledge at a glance; the buttons say what the
user asked for through signals and the assistants controller (app/) does it. The editor does not
close itself on OK: it hands its values over (`submitted`) and stays open, everything typed
kept, until the controller has saved them or shown why not (`show_error`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from engine.store.records import Assistant
from ui.safe_text import plain_tooltip

TOOL_LABELS = {"calculator": "Calculator", "python": "Python (sandboxed)", "files": "Files in shared folders",
               "fetch": "Fetch web pages"}
THINK_CHOICES = (("", "Default"), ("off", "Off"), ("short", "Short (512 tokens)"), ("long", "Long (4096 tokens)"),
                 ("unlimited", "Unlimited"))
COLUMNS = ("Name", "Model", "Tools", "Knowledge")
ID_ROLE = Qt.ItemDataRole.UserRole
FILE_FILTER = "Hearth assistant (*.json);;All files (*)"


def model_label(model: str) -> str:
    return Path(model).name if model.lower().endswith(".gguf") else (model or "Default model")


def tools_label(tools: tuple[str, ...] | None) -> str:
    if tools is None:
        return "Default tools"
    return ", ".join(TOOL_LABELS.get(name, name).split(" (")[0] for name in tools) or "No tools"


def _cell(text: str, assistant_id: int) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    item.setData(ID_ROLE, assistant_id)
    item.setToolTip(plain_tooltip(text))
    return item


class AssistantsDialog(QDialog):
    new_requested = Signal()
    edit_requested = Signal(int)
    duplicate_requested = Signal(int)
    delete_requested = Signal(int)
    undo_requested = Signal()
    chat_requested = Signal(int)            # a new chat with this assistant
    import_requested = Signal(str)          # a file to import
    export_requested = Signal(int, str)     # assistant id, the file to write

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assistants")
        self.setObjectName("assistantsDialog")
        self.resize(760, 420)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("assistantsTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.table.itemDoubleClicked.connect(lambda _item: self._with_selected(self.edit_requested.emit))
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty_note = QLabel("No assistants yet. An assistant answers with your instructions, its own model "
                                 "and tools, and from your documents. Press New… to make one.")
        self.empty_note.setObjectName("emptyNote")
        self.empty_note.setWordWrap(True)

        self.new_button = QPushButton("New…")
        self.edit_button = QPushButton("Edit…")
        self.duplicate_button = QPushButton("Duplicate")
        self.delete_button = QPushButton("Delete")
        self.chat_button = QPushButton("New chat")
        self.chat_button.setToolTip("Start a chat with this assistant")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.new_button.clicked.connect(self.new_requested.emit)
        self.edit_button.clicked.connect(lambda: self._with_selected(self.edit_requested.emit))
        self.duplicate_button.clicked.connect(lambda: self._with_selected(self.duplicate_requested.emit))
        self.delete_button.clicked.connect(lambda: self._with_selected(self.delete_requested.emit))
        self.chat_button.clicked.connect(lambda: self._with_selected(self.chat_requested.emit))
        self.import_button.clicked.connect(self._pick_import)
        self.export_button.clicked.connect(self._pick_export)
        side = QVBoxLayout()
        for button in (self.new_button, self.edit_button, self.duplicate_button, self.delete_button,
                       self.chat_button):
            side.addWidget(button)
        side.addSpacing(12)
        side.addWidget(self.import_button)
        side.addWidget(self.export_button)
        side.addStretch(1)

        self.message = QLabel()
        self.message.setObjectName("assistantsMessage")
        self.message.setTextFormat(Qt.TextFormat.PlainText)   # names and file paths are the user's
        self.message.setWordWrap(True)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setObjectName("assistantsUndo")
        self.undo_button.setVisible(False)
        self.undo_button.clicked.connect(self.undo_requested.emit)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.undo_button)
        bottom.addWidget(close)

        body = QHBoxLayout()
        listing = QVBoxLayout()
        listing.addWidget(self.table, 1)
        listing.addWidget(self.empty_note)
        body.addLayout(listing, 1)
        body.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addLayout(bottom)
        self._selection_changed()

    # -- what the controller shows ---------------------------------------------------
    def set_assistants(self, assistants: Sequence[Assistant], select: int | None = None) -> None:
        """The list, keeping the selection (or selecting `select`)."""
        keep = select if select is not None else self.selected_id()
        self.table.setRowCount(0)
        for assistant in assistants:
            row = self.table.rowCount()
            self.table.insertRow(row)
            knowledge = ", ".join(assistant.knowledge) or "—"
            for column, text in enumerate((assistant.name, model_label(assistant.model),
                                           tools_label(assistant.tools), knowledge)):
                self.table.setItem(row, column, _cell(text, assistant.id))
            if assistant.id == keep:
                self.table.selectRow(row)
        self.table.setVisible(bool(assistants))
        self.empty_note.setVisible(not assistants)
        self._selection_changed()

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(ID_ROLE)) if items else None

    def select(self, assistant_id: int) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(ID_ROLE) == assistant_id:
                self.table.selectRow(row)
                return

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setProperty("error", error)
        self.message.setStyleSheet("color: #b3261e;" if error else "")
        self.undo_button.setVisible(False)

    def show_undo(self, text: str) -> None:
        """A deleted assistant: the message says which, and Undo brings it back."""
        self.show_message(text)
        self.undo_button.setVisible(True)

    # -- internals -------------------------------------------------------------------
    def _with_selected(self, then) -> None:  # noqa: ANN001
        chosen = self.selected_id()
        if chosen is not None:
            then(chosen)

    def _selection_changed(self) -> None:
        chosen = self.selected_id() is not None
        for button in (self.edit_button, self.duplicate_button, self.delete_button, self.chat_button,
                       self.export_button):
            button.setEnabled(chosen)

    def _pick_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import an assistant", str(Path.home()), FILE_FILTER)
        if path:
            self.import_requested.emit(path)

    def _pick_export(self) -> None:
        chosen = self.selected_id()
        if chosen is None:
            return
        name = self.table.item(self.table.currentRow(), 0).text() if self.table.currentRow() >= 0 else "assistant"
        safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in name).strip() or "assistant"
        path, _ = QFileDialog.getSaveFileName(self, "Export the assistant", str(Path.home() / f"{safe}.json"),
                                              FILE_FILTER)
        if path:
            self.export_requested.emit(chosen, path)


class AssistantEditor(QDialog):
    """One assistant's settings; every sampling field and the think level may stay "Default"."""
    submitted = Signal(dict)   # the values, as create_assistant / update_assistant take them

    def __init__(self, title: str, assistant: Assistant | None, *, models: Sequence[tuple[str, str]],
                 tool_names: Sequence[str], collections: Sequence[str], defaults: dict[str, str] | None = None,
                 parent: QWidget | None = None) -> None:
        """`models`: (label, model) pairs from the library; `collections`: knowledge collection
        names; `defaults`: how each default reads, e.g. {"temperature": "0.7"}."""
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("assistantEditor")
        self.resize(560, 640)
        shown = assistant or Assistant(0, "")
        defaults = defaults or {}
        self.assistant_id = assistant.id if assistant else None

        self.name = QLineEdit(shown.name)
        self.name.setObjectName("assistantName")
        self.name.setPlaceholderText("e.g. Contract reviewer")
        self.instructions = QPlainTextEdit(shown.instructions)
        self.instructions.setObjectName("assistantInstructions")
        self.instructions.setPlaceholderText("Standing instructions, given to the model before every chat with "
                                             "this assistant.")
        self.model = QComboBox()
        self.model.setObjectName("assistantModel")
        self.model.addItem("Default model (the one picked in the toolbar)", "")
        for label, value in models:
            self.model.addItem(label, value)
        if shown.model and self.model.findData(shown.model) < 0:
            self.model.addItem(f"{model_label(shown.model)} (not in the library)", shown.model)
        self.model.setCurrentIndex(max(0, self.model.findData(shown.model)))
        self.temperature = self._number(QDoubleSpinBox(), -0.05, 2.0, shown.temperature, defaults.get("temperature"))
        self.top_p = self._number(QDoubleSpinBox(), 0.0, 1.0, shown.top_p, defaults.get("top_p"))
        self.max_tokens = self._number(QSpinBox(), 0, 1_000_000, shown.max_tokens, defaults.get("max_tokens"))
        self.think = QComboBox()
        self.think.setObjectName("assistantThink")
        for value, label in THINK_CHOICES:
            self.think.addItem(f"Default ({defaults['think']})" if not value and defaults.get("think") else label,
                               value)
        self.think.setCurrentIndex(max(0, self.think.findData(shown.think)))

        self.default_tools = QCheckBox("The default tools (Settings → Tools)")
        self.default_tools.setObjectName("assistantDefaultTools")
        self.tool_boxes: dict[str, QCheckBox] = {}
        tools = QWidget()
        tool_grid = QGridLayout(tools)
        tool_grid.setContentsMargins(0, 0, 0, 0)
        tool_grid.addWidget(self.default_tools, 0, 0, 1, 2)
        for index, name in enumerate(tool_names):
            box = self.tool_boxes[name] = QCheckBox(TOOL_LABELS.get(name, name))
            box.setObjectName(f"assistantTool_{name}")
            box.setChecked(shown.tools is not None and name in shown.tools)
            tool_grid.addWidget(box, 1 + index // 2, index % 2)
        self.default_tools.toggled.connect(self._tools_default_toggled)
        self.default_tools.setChecked(shown.tools is None)
        self._tools_default_toggled(shown.tools is None)

        self.knowledge = QListWidget()
        self.knowledge.setObjectName("assistantKnowledge")
        self.knowledge.setMaximumHeight(120)
        for name in [*collections, *[n for n in shown.knowledge if n not in collections]]:
            missing = name not in collections
            item = QListWidgetItem(f"{name} (missing)" if missing else name)
            item.setData(ID_ROLE, name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in shown.knowledge else Qt.CheckState.Unchecked)
            self.knowledge.addItem(item)
        self.no_collections = QLabel("No knowledge collections yet: make one in Chat → Knowledge….")
        self.no_collections.setVisible(self.knowledge.count() == 0)
        self.knowledge.setVisible(self.knowledge.count() > 0)

        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Instructions", self.instructions)
        form.addRow("Model", self.model)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Longest answer (tokens)", self.max_tokens)
        form.addRow("Thinking", self.think)
        form.addRow("Tools", tools)
        knowledge_box = QVBoxLayout()
        knowledge_box.addWidget(self.knowledge)
        knowledge_box.addWidget(self.no_collections)
        form.addRow("Knowledge", knowledge_box)

        self.error = QLabel()
        self.error.setObjectName("assistantError")
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(lambda: self.submitted.emit(self.values()))
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.name.setFocus()

    @property
    def save_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.StandardButton.Save)

    def values(self) -> dict[str, Any]:
        temperature, top_p, max_tokens = self.temperature.value(), self.top_p.value(), self.max_tokens.value()
        tools = None if self.default_tools.isChecked() else tuple(
            name for name, box in self.tool_boxes.items() if box.isChecked())
        knowledge = tuple(self.knowledge.item(row).data(ID_ROLE) for row in range(self.knowledge.count())
                          if self.knowledge.item(row).checkState() == Qt.CheckState.Checked)
        return {"name": self.name.text(), "instructions": self.instructions.toPlainText(),
                "model": self.model.currentData() or "",
                "temperature": None if temperature < 0 else round(temperature, 2),
                "top_p": None if top_p <= 0 else round(top_p, 2),
                "max_tokens": None if max_tokens <= 0 else int(max_tokens),
                "tools": tools, "think": self.think.currentData() or "", "knowledge": knowledge}

    def show_error(self, text: str) -> None:
        """Why the values could not be saved; nothing typed is lost."""
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def _tools_default_toggled(self, default: bool) -> None:
        for box in self.tool_boxes.values():
            box.setEnabled(not default)

    @staticmethod
    def _number(spin, low: float, high: float, value: float | None, default: str | None):  # noqa: ANN001
        """A spin box whose lowest value reads "Default": the assistant leaves it to the defaults."""
        if isinstance(spin, QDoubleSpinBox):
            spin.setDecimals(2)
            spin.setSingleStep(0.05)
        spin.setRange(low, high)
        spin.setSpecialValueText(f"Default ({default})" if default else "Default")
        spin.setValue(value if value is not None else low)
        return spin
