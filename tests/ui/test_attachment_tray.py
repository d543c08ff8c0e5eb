"""A user attaches pictures, changes their mind about one, sends the rest, and looks closer."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea

from ui.attachment_tray import THUMBNAIL_SIDE, AttachmentTray
from ui.image_viewer import ImageViewer, load_pixmap, show_image


def png_bytes(size: tuple[int, int], colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def tray(qtbot):
    widget = AttachmentTray()
    qtbot.addWidget(widget)
    return widget


def test_the_tray_is_hidden_until_an_image_is_attached(tray):
    assert tray.isHidden()
    tray.add_image("a", png_bytes((40, 30)), "cat.png")
    assert not tray.isHidden()
    assert tray.keys() == ["a"]


def test_thumbnails_come_from_bytes_paths_or_pixmaps_in_added_order(tray, tmp_path):
    path = tmp_path / "dog.png"
    path.write_bytes(png_bytes((300, 100)))
    tray.add_image("bytes", png_bytes((20, 20)), "Pasted image")
    tray.add_image("path", path, "dog.png")
    tray.add_image("pixmap", load_pixmap(png_bytes((10, 50))), "tall.png")
    assert tray.keys() == ["bytes", "path", "pixmap"]
    icon_size = tray.thumbnail("path").picture.icon().actualSize(tray.thumbnail("path").picture.iconSize())
    assert icon_size.width() == THUMBNAIL_SIDE  # 300×100 shrunk to fit, aspect kept
    assert icon_size.height() == pytest.approx(THUMBNAIL_SIDE / 3, abs=1)


def test_adding_the_same_image_twice_shows_it_once(tray):
    tray.add_image("same", png_bytes((20, 20)), "one.png")
    tray.add_image("same", png_bytes((20, 20)), "one again.png")
    assert tray.keys() == ["same"]
    assert tray.label("same") == "one.png"


def test_the_remove_button_takes_one_image_off_and_says_which(tray, qtbot):
    tray.add_image("a", png_bytes((20, 20)), "a.png")
    tray.add_image("b", png_bytes((20, 20)), "b.png")
    remove = tray.thumbnail("a").remove_button
    from PySide6.QtGui import QTextDocumentFragment

    shown = QTextDocumentFragment.fromHtml(remove.toolTip()).toPlainText().replace("\xa0", " ")
    assert shown == "Remove a.png"
    with qtbot.waitSignal(tray.removed) as signal:
        qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    assert signal.args == ["a"]
    assert tray.keys() == ["b"]
    assert not tray.isHidden()


def test_removing_the_last_image_hides_the_tray(tray, qtbot):
    tray.add_image("a", png_bytes((20, 20)), "a.png")
    with qtbot.waitSignal(tray.removed):
        tray.remove("a")
    assert tray.keys() == []
    assert tray.isHidden()
    tray.remove("not there")  # harmless


def test_clear_after_sending_empties_quietly(tray, qtbot):
    for key in "abc":
        tray.add_image(key, png_bytes((20, 20)), f"{key}.png")
    with qtbot.assertNotEmitted(tray.removed):
        tray.clear()
    assert tray.keys() == []
    assert tray.isHidden()


def test_an_unreadable_image_still_gets_a_removable_placeholder(tray, qtbot):
    thumbnail = tray.add_image("junk", b"not an image", "junk.png")
    assert thumbnail.picture.text() == "?"
    with qtbot.waitSignal(tray.removed):
        qtbot.mouseClick(thumbnail.remove_button, Qt.MouseButton.LeftButton)


def test_clicking_a_thumbnail_asks_to_see_it_bigger(tray, qtbot):
    tray.add_image("a", png_bytes((20, 20)), "a.png")
    with qtbot.waitSignal(tray.activated) as signal:
        qtbot.mouseClick(tray.thumbnail("a").picture, Qt.MouseButton.LeftButton)
    assert signal.args == ["a"]


def test_the_viewer_shows_a_small_image_at_full_size(qtbot):
    viewer = ImageViewer(png_bytes((120, 80)), "receipt.png")
    qtbot.addWidget(viewer)
    viewer.show()
    qtbot.waitExposed(viewer)
    assert viewer.windowTitle() == "receipt.png"
    assert viewer.image_label.pixmap().size().toTuple() == (120, 80)
    assert viewer.scroll_area.horizontalScrollBar().maximum() == 0
    assert viewer.scroll_area.verticalScrollBar().maximum() == 0


def test_the_viewer_scrolls_an_image_bigger_than_the_screen(qtbot):
    viewer = show_image(png_bytes((4000, 3000)), "panorama.png")
    qtbot.addWidget(viewer)
    qtbot.waitExposed(viewer)
    available = viewer.screen().availableGeometry()
    assert viewer.width() <= available.width() and viewer.height() <= available.height()
    assert viewer.image_label.pixmap().size().toTuple() == (4000, 3000)  # not shrunk
    assert isinstance(viewer.scroll_area, QScrollArea)
    assert viewer.scroll_area.horizontalScrollBar().maximum() > 0
    assert viewer.scroll_area.verticalScrollBar().maximum() > 0


def test_the_viewer_opens_an_image_file(qtbot, tmp_path):
    path = tmp_path / "diagram.png"
    path.write_bytes(png_bytes((64, 64)))
    viewer = ImageViewer(path, "diagram.png")
    qtbot.addWidget(viewer)
    assert viewer.pixmap().size().toTuple() == (64, 64)


def test_the_viewer_says_when_it_cannot_show_an_image(qtbot, tmp_path):
    viewer = ImageViewer(tmp_path / "missing.png", "missing.png")
    qtbot.addWidget(viewer)
    assert viewer.image_label.text() == "missing.png cannot be shown."
