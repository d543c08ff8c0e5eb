"""A chat's own settings dialog starts from what the chat really answers with (its assistant's
values, else the defaults), and OK keeps only what the user changed: an untouched dialog never
pins today's values over the assistant's later edits."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDoubleSpinBox

from engine.store.assistants import create_assistant, start_conversation, update_assistant
from tests.support.app import running_hearth


def accept_dialog(change=None) -> None:  # noqa: ANN001
    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, act)
            return
        if change is not None:
            change(dialog)
        dialog.accept()

    QTimer.singleShot(0, act)


def test_the_chat_settings_show_the_assistants_values_and_keep_only_changes(qtbot):
    with running_hearth(qtbot, {"chat/temperature": 0.7}) as hearth:
        writer = create_assistant(hearth.store, "Writer", temperature=0.3, max_tokens=200)
        chat = start_conversation(hearth.store, writer.id, title="Draft")
        shown = {}

        def look(dialog) -> None:  # noqa: ANN001
            shown["temperature"] = dialog.findChild(QDoubleSpinBox, "chat_temperature").value()

        accept_dialog(look)
        hearth.edit_conversation_settings(chat.id)
        assert shown["temperature"] == 0.3  # the assistant's, not the default 0.7
        assert not {k for k in hearth.store.get_conversation(chat.id).settings if k.startswith("chat/")}

        update_assistant(hearth.store, writer.id, temperature=0.5)  # the assistant changes later: the chat follows

        def warmer(dialog) -> None:  # noqa: ANN001
            dialog.findChild(QDoubleSpinBox, "chat_temperature").setValue(1.1)

        accept_dialog(warmer)
        hearth.edit_conversation_settings(chat.id)
        assert hearth.store.get_conversation(chat.id).settings == {"chat/temperature": 1.1}
