"""A settings form generated from the declared settings, grouped in tabs."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QTabWidget, QVBoxLayout,
                               QWidget)


def editor_for(setting, value: Any) -> QWidget:
    if setting.kind is bool:
        widget = QCheckBox()
        widget.setChecked(bool(value))
    elif setting.kind is int:
        widget = QSpinBox()
        widget.setRange(int(setting.minimum if setting.minimum is not None else -2**31),
                        int(setting.maximum if setting.maximum is not None else 2**31 - 1))
        if setting.at_minimum:
            widget.setSpecialValueText(setting.at_minimum)
        widget.setValue(int(value))
    elif setting.kind is float:
        widget = QDoubleSpinBox()
        widget.setDecimals(2)
        widget.setSingleStep(0.05)
        widget.setRange(setting.minimum or 0.0, setting.maximum or 1e9)
        widget.setValue(float(value))
    elif setting.choices:
        widget = QComboBox()
        widget.addItems([choice.capitalize() for choice in setting.choices])
        widget.setCurrentIndex(max(0, list(setting.choices).index(value) if value in setting.choices else 0))
    elif setting.key.endswith("system_prompt"):
        widget = QPlainTextEdit(str(value))
        widget.setFixedHeight(90)
    else:
        widget = QLineEdit(str(value))
        if setting.secret:
            widget.setEchoMode(QLineEdit.EchoMode.Password)
    widget.setToolTip(setting.description)
    widget.setObjectName(setting.key.replace("/", "_"))
    return widget


def value_of(setting, widget: QWidget) -> Any:
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    if isinstance(widget, QPlainTextEdit):
        return widget.toPlainText()
    if isinstance(widget, QComboBox):
        if widget.currentData() is not None:  # a list of (label, value) options
            return widget.currentData()
        return setting.choices[widget.currentIndex()]
    return widget.text()


def options_editor(setting, options: list[tuple[str, Any]], value: Any) -> QComboBox:
    """A list of (label, value) known only when the dialog opens (voices, speakers)."""
    widget = QComboBox()
    for label, option in options:
        widget.addItem(label, option)
    if value not in [option for _label, option in options]:
        widget.addItem(str(value), value)  # keep a value the list no longer offers
    widget.setCurrentIndex(widget.findData(value))
    widget.setToolTip(setting.description)
    widget.setObjectName(setting.key.replace("/", "_"))
    return widget


def _note(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # a file path, never markup
    # No word wrap: a wrapped label in a tab page is given room for more lines than it has; the
    # note brings its own line break before a long path.
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # the path can be copied
    return label


class SettingsDialog(QDialog):
    """Edits `values` (key → value) for the given declared settings; `result_values()` after OK."""

    def __init__(self, settings_decl, values: dict[str, Any], title: str = "Settings", parent=None,
                 secret_note: str = "", options: dict[str, list[tuple[str, Any]]] | None = None,
                 row_buttons: dict[str, str] | None = None) -> None:
        """`secret_note`: where secret values (API keys) are kept, shown under each secret field.
        `options`: key → (label, value) pairs to pick from in place of a typed value.
        `row_buttons`: key → the text of a button beside its field (`button(key)` to connect it)."""
        super().__init__(parent)
        self.setWindowTitle(title)
        self._decl = list(settings_decl)
        self._editors: dict[str, QWidget] = {}
        self._buttons: dict[str, QPushButton] = {}
        pages: dict[str, QWidget] = {}
        for setting in self._decl:
            if setting.group not in pages:
                pages[setting.group] = QWidget()
                QFormLayout(pages[setting.group])
            value = values.get(setting.key, setting.default)
            if options and setting.key in options:
                editor = options_editor(setting, options[setting.key], value)
            else:
                editor = editor_for(setting, value)
            self._editors[setting.key] = editor
            pages[setting.group].layout().addRow(setting.label, self._with_button(setting, editor, row_buttons))
            if setting.secret and secret_note:
                pages[setting.group].layout().addRow("", _note(secret_note, f"{editor.objectName()}_note"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if len(pages) > 1:
            tabs = QTabWidget()
            for group, page in pages.items():
                tabs.addTab(page, group)
            layout.addWidget(tabs)
        else:  # one group needs no tab; a page taken out of a QTabWidget would stay hidden
            layout.addWidget(next(iter(pages.values())))
        layout.addWidget(buttons)

    def editor(self, key: str) -> QWidget:
        return self._editors[key]

    def set_text(self, key: str, text: str) -> None:
        """Put `text` in a text field (a key made while the dialog is open must not be undone by OK)."""
        editor = self._editors[key]
        if isinstance(editor, QLineEdit):
            editor.setText(text)

    def button(self, key: str) -> QPushButton:
        """The button beside `key`'s field (see `row_buttons`)."""
        return self._buttons[key]

    def _with_button(self, setting, editor: QWidget, row_buttons: dict[str, str] | None) -> QWidget:
        if not row_buttons or setting.key not in row_buttons:
            return editor
        button = self._buttons[setting.key] = QPushButton(row_buttons[setting.key])
        button.setObjectName(f"{editor.objectName()}_button")
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(editor, 1)
        line.addWidget(button)
        return row

    def result_values(self) -> dict[str, Any]:
        return {s.key: s.clamp(value_of(s, self._editors[s.key])) for s in self._decl}
