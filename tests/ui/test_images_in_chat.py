"""A user drops, pastes and picks images, sees thumbnails, and asks a vision model about them."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage

from app import paths
from app.gui.main_window_controller import HearthController
from app.settings import Settings
from tests.support.drag_and_drop import drop_files
from tests.support.tiny_vision import tiny_vision_model  # noqa: F401 - fixture


def photo(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    path = folder / name
    Image.new("RGB", (64, 48), colour).save(path)
    return path


@pytest.fixture
def hearth_with(qtbot):
    made = []

    def make(model: Path | None = None) -> HearthController:
        Settings().set("chat/max_tokens", 8)
        Settings().set("chat/temperature", 0.0)
        Settings().set("engine/n_ctx", 1024)
        if model:
            Settings().set("model/path", str(model))
        hearth = HearthController()
        qtbot.addWidget(hearth.window)
        hearth.start()
        made.append(hearth)
        return hearth

    yield make
    for hearth in made:
        hearth.shutdown()


def test_drop_paste_and_send_images_to_a_vision_model(qtbot, hearth_with, tiny_vision_model, tmp_path):
    hearth = hearth_with(tiny_vision_model.model_path)
    composer = hearth.window.composer
    drop_files(composer.edit, [photo(tmp_path, "red.png", (220, 20, 20)), photo(tmp_path, "blue.jpg", (20, 20, 220))])
    QGuiApplication.clipboard().setImage(QImage(str(photo(tmp_path, "green.png", (20, 200, 20)))))
    composer.edit.setFocus()
    composer.edit.paste()
    qtbot.waitUntil(lambda: len(hearth.images.pending) == 3, timeout=10000)
    assert len(hearth.images.tray.keys()) == 3 and not hearth.images.tray.isHidden()
    # Remove one thumbnail again.
    removed = hearth.images.tray.keys()[0]
    hearth.images.tray.remove(removed)
    assert len(hearth.images.pending) == 2 and removed not in hearth.images.pending

    qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
    qtbot.keyClicks(composer.edit, "What colours are these?")
    with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000) as finished:
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    answer = hearth.store.get_message(finished.args[0])
    assert answer.state == "complete" and answer.completion_tokens > 0
    user = hearth.store.messages(hearth.transcript.current_id)[0]
    stored = hearth.store.attachments(user.id)
    assert len(stored) == 2
    for attachment in stored:
        assert (paths.attachments_dir() / attachment.path).is_file()
    assert hearth.images.pending == {} and hearth.images.tray.isHidden()
    # The transcript shows the images as thumbnails that open full size.
    from ui.message_widget import ClickableThumb

    thumbs = hearth.window.messages.widgets()[0].findChildren(ClickableThumb)
    assert len(thumbs) == 2 and all(not t.pixmap().isNull() for t in thumbs)


def test_images_for_a_model_without_vision_get_a_clear_message_and_nothing_is_lost(qtbot, hearth_with, tmp_path):
    hearth = hearth_with()
    composer = hearth.window.composer
    drop_files(composer.edit, [photo(tmp_path, "cat.png", (120, 90, 60))])
    qtbot.waitUntil(lambda: len(hearth.images.pending) == 1, timeout=10000)
    qtbot.keyClicks(composer.edit, "What is in this picture?")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert "cannot see images" in composer.notice.text() and "vision model" in composer.notice.text()
    assert composer.edit.toPlainText() == "What is in this picture?"
    assert len(hearth.images.pending) == 1
    assert hearth.store.list_conversations() == []


def test_a_broken_image_is_named_and_the_typed_text_stays(qtbot, hearth_with, tmp_path):
    hearth = hearth_with()
    composer = hearth.window.composer
    qtbot.keyClicks(composer.edit, "Look at this")
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not an image")
    drop_files(composer.edit, [fake])
    qtbot.waitUntil(lambda: "holiday.png" in composer.notice.text(), timeout=10000)
    assert composer.edit.toPlainText() == "Look at this"
    assert hearth.images.pending == {}
