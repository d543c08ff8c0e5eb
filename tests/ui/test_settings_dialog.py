"""The settings form says what special numbers mean instead of showing 0 and -1."""
from __future__ import annotations

from app.settings import SETTINGS
from ui.settings_dialog import SettingsDialog


def test_automatic_threads_and_all_gpu_layers_are_shown_in_words_and_kept(qtbot):
    values = {s.key: s.default for s in SETTINGS}
    dialog = SettingsDialog(SETTINGS, values)
    qtbot.addWidget(dialog)
    threads, layers = dialog.editor("engine/n_threads"), dialog.editor("engine/n_gpu_layers")

    assert threads.text() == "Automatic (one per core)"
    assert layers.text() == "All layers"
    assert dialog.result_values()["engine/n_threads"] == 0
    assert dialog.result_values()["engine/n_gpu_layers"] == -1

    threads.setValue(4)
    layers.setValue(0)
    assert threads.text() == "4" and layers.text() == "0"
    assert dialog.result_values()["engine/n_threads"] == 4


def test_a_chats_own_settings_show_their_fields(qtbot):
    from app.settings import CONVERSATION_KEYS, conversation_declarations

    decl = conversation_declarations()
    dialog = SettingsDialog(decl, {"chat/system_prompt": "Answer like a pirate."}, "Settings for “Pirates”")
    qtbot.addWidget(dialog)
    dialog.show()

    prompt = dialog.editor("chat/system_prompt")
    assert prompt.isVisible() and prompt.toPlainText() == "Answer like a pirate."
    assert all(dialog.editor(k).isVisible() for k in CONVERSATION_KEYS)
