"""A settings form generated from the declared settings, grouped in tabs."""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLineEdit,
                               QPlainTextEdit, QSpinBox, QTabWidget, QVBoxLayout, QWidget)


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
        return setting.choices[widget.currentIndex()]
    return widget.text()


class SettingsDialog(QDialog):
    """Edits `values` (key → value) for the given declared settings; `result_values()` after OK."""

    def __init__(self, settings_decl, values: dict[str, Any], title: str = "Settings", parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._decl = list(settings_decl)
        self._editors: dict[str, QWidget] = {}
        pages: dict[str, QWidget] = {}
        for setting in self._decl:
            if setting.group not in pages:
                pages[setting.group] = QWidget()
                QFormLayout(pages[setting.group])
            editor = editor_for(setting, values.get(setting.key, setting.default))
            self._editors[setting.key] = editor
            pages[setting.group].layout().addRow(setting.label, editor)
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

    def result_values(self) -> dict[str, Any]:
        return {s.key: s.clamp(value_of(s, self._editors[s.key])) for s in self._decl}
