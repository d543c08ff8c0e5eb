"""The real app, running offscreen for a test: settings first, then the window, then shutdown."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def running_hearth(qtbot, settings: dict[str, Any] | None = None, *, show: bool = True) -> Iterator[Any]:
    from app.gui.main_window_controller import HearthController
    from app.settings import Settings

    for key, value in (settings or {}).items():
        Settings().set(key, value)
    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    if show:
        hearth.window.show()
    hearth.start()
    try:
        yield hearth
    finally:
        hearth.shutdown()


def send(qtbot, hearth, text: str) -> None:
    """Type into the composer and press Enter, as the user does."""
    from PySide6.QtCore import Qt

    composer = hearth.window.composer
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, text)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)


def last_widget(hearth):
    return hearth.window.messages.widgets()[-1]


def store_chat(title: str, question: str, answer: str) -> None:
    """A chat already in the history of the Hearth about to start (its data folder's database)."""
    from app import paths
    from engine.store import Store

    store = Store(paths.database_path())
    conversation = store.create_conversation(title)
    store.add_message(conversation.id, "user", question)
    store.add_message(conversation.id, "assistant", answer)
    store.close()
