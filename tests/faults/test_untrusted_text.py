"""Text Hearth did not write — file names, pasted text, what the user typed, error details from a
server — is shown as the characters it is: never as HTML, never loading what it names.

Qt labels and tooltips guess "rich text" from a tag anywhere in the first line, and a rich-text
label loads `<img src=…>` from the disk. So the probe used here is a name holding
`<img src=big.png>` with a 240×240 big.png in the working folder: shown as text it is one line
high; rendered as HTML it would be as tall as the picture (and Hearth would have read a file)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel, QMessageBox

from ui.message_widget import MessageWidget
from ui.safe_text import SafeTextView

IMAGE_SIDE = 240
PROBE = "<img src=big.png>"
RTL = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "photo\u202egnp.exe" reads as "photoexe.png"


@pytest.fixture
def big_png_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A picture a rich-text label would find by the relative name big.png."""
    image = QImage(IMAGE_SIDE, IMAGE_SIDE, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    path = tmp_path / "big.png"
    assert image.save(str(path))
    monkeypatch.chdir(tmp_path)
    return path


def shows_as_one_line(label: QLabel) -> bool:
    label.adjustSize()
    return label.sizeHint().height() < IMAGE_SIDE // 2


def tooltip_shows_as_one_line(tooltip: str) -> bool:
    """Qt lays a tooltip out as a QLabel with automatic rich-text detection; so do we."""
    label = QLabel(tooltip)
    try:
        return shows_as_one_line(label)
    finally:
        label.deleteLater()


@pytest.fixture
def message_boxes(monkeypatch: pytest.MonkeyPatch) -> list[QMessageBox]:
    """Every message box Hearth shows (static helpers or exec), instead of showing it."""
    shown: list[QMessageBox] = []

    def exec_(box: QMessageBox) -> int:
        shown.append(box)
        return QMessageBox.StandardButton.Ok

    def static(icon):
        def show(parent, title, text, *_args, **_kwargs):
            return exec_(QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent))
        return staticmethod(show)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QMessageBox, "warning", static(QMessageBox.Icon.Warning))
    monkeypatch.setattr(QMessageBox, "information", static(QMessageBox.Icon.Information))
    monkeypatch.setattr(QMessageBox, "critical", static(QMessageBox.Icon.Critical))
    return shown


def test_html_pasted_into_the_composer_arrives_as_its_plain_text(qtbot):
    from ui.composer import Composer

    composer = Composer()
    qtbot.addWidget(composer)
    mime = QMimeData()
    mime.setHtml('<b>bold</b><img src="http://127.0.0.1:9/leak"><script>alert(1)</script>')
    mime.setText("bold, as the page showed it")
    composer.edit.insertFromMimeData(mime)
    assert composer.edit.toPlainText() == "bold, as the page showed it"


def test_a_typed_message_with_markup_controls_and_newlines_is_shown_exactly_as_typed(qtbot):
    typed = (f"<b>not bold</b> <img src=big.png> ![x](http://127.0.0.1:9/leak)\n# not a heading\n"
             f"```\nnot code\n```\nfile{RTL}gnp.exe\n\n\n  indented  \n&amp; &lt;")
    widget = MessageWidget(1, "user", typed)
    qtbot.addWidget(widget)
    widget.show()
    (view,) = widget.findChildren(SafeTextView)
    assert view.document().toPlainText() == typed
    assert widget.text() == typed


def test_a_model_file_name_with_markup_shows_as_text_in_the_status_bar_and_picker(qtbot, big_png_here, starter_model):
    from app.gui.main_window_controller import HearthController
    from app.settings import Settings

    hostile = big_png_here.parent / f"{PROBE} {RTL}fg.gguf"
    hostile.symlink_to(starter_model)
    Settings().set_list("model/user_files", [str(hostile)])
    Settings().set("model/path", str(hostile))
    Settings().set("engine/n_ctx", 512)
    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    hearth.window.show()
    hearth.start()
    try:
        label = hearth.window.engine_label
        assert PROBE in label.text()
        assert shows_as_one_line(label), f"the engine label rendered {label.text()!r} as HTML"
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
        assert label.text() == f"Ready: {hostile.name}"
        assert shows_as_one_line(label)
        # The picker lists library entries by their GGUF name (this link resolves to the bundled
        # model, so it is listed once, as that); combo box items are plain text by construction.
        assert tooltip_shows_as_one_line(label.toolTip())
    finally:
        hearth.shutdown()


def test_an_error_detail_with_markup_shows_as_text_under_the_message(qtbot, big_png_here):
    detail = f"The model server answered with an error (500): {PROBE}"
    widget = MessageWidget(7, "assistant", "partial", state="error", error=detail)
    qtbot.addWidget(widget)
    widget.show()
    assert widget._footer.text() == detail
    assert shows_as_one_line(widget._footer), "the error under the message was rendered as HTML"


def test_a_notice_naming_a_file_shows_as_text_above_the_composer(qtbot, big_png_here):
    from ui.composer import Composer

    composer = Composer()
    qtbot.addWidget(composer)
    composer.show()
    composer.show_notice(f"The model is not available: The model file /models/{PROBE}.gguf does not exist.")
    assert shows_as_one_line(composer.notice), "the composer notice was rendered as HTML"


def test_an_attachment_name_with_markup_shows_as_text_in_its_tooltip(qtbot, big_png_here):
    from ui.attachment_tray import AttachmentTray

    tray = AttachmentTray()
    qtbot.addWidget(tray)
    tray.show()
    name = f"{PROBE}holiday{RTL}gnp.exe"
    thumbnail = tray.add_image("k1", QImage(str(big_png_here)), name)
    assert tray.label("k1") == name
    assert tooltip_shows_as_one_line(thumbnail.picture.toolTip()), \
        "the attachment's tooltip rendered its file name as HTML"


def test_a_chat_title_with_markup_shows_as_text_in_the_list_and_its_tooltip(qtbot, big_png_here):
    from app.gui.main_window_controller import HearthController

    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    hearth.window.show()
    try:
        title = f"{PROBE} what is this?\nsecond line"
        hearth.store.create_conversation(title=title)
        hearth.refresh_conversations()
        item = hearth.window.conversations.list.item(0)
        assert item.text() == title  # a list item's text is always plain
        assert tooltip_shows_as_one_line(item.toolTip()), \
            "the chat's tooltip rendered its title as HTML"
    finally:
        hearth.shutdown()


def test_a_broken_model_file_with_markup_in_its_name_is_refused_in_plain_words(qtbot, big_png_here, message_boxes):
    from app.gui.main_window_controller import HearthController

    broken = big_png_here.parent / f"{PROBE}.gguf"
    broken.write_bytes(b"not a model at all")
    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    try:
        hearth.models.add_file(str(broken))
        (box,) = message_boxes
        assert broken.name in box.text() and "GGUF" in box.text()
        assert shows_as_one_line(box.findChild(QLabel, "qt_msgbox_label")), "the warning rendered the file name as HTML"
        assert str(broken) not in hearth.settings.get_list("model/user_files")
    finally:
        hearth.shutdown()
