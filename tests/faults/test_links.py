"""Links in model output never open by themselves: a click asks first, showing the real target in full,
and kinds of link a browser should not be handed (javascript:, file:, data:) are refused with a reason.

`QDesktopServices.setUrlHandler` routes http(s) and mailto to a recorder, so nothing reaches a real
browser and we see exactly what Hearth asked the desktop to open."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, QUrl, Qt, Slot
from PySide6.QtGui import QDesktopServices, QTextCursor
from PySide6.QtWidgets import QMessageBox

from ui.main_window import MainWindow
from ui.message_widget import MessageWidget
from ui.safe_text import SafeTextView


class OpenedUrls(QObject):
    """Stands in for the browser: remembers every URL the desktop was asked to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString(QUrl.ComponentFormattingOption.FullyEncoded))


@pytest.fixture
def opened(qapp) -> Iterator[OpenedUrls]:
    recorder = OpenedUrls()
    for scheme in ("http", "https", "mailto", "file", "javascript", "data"):
        QDesktopServices.setUrlHandler(scheme, recorder, "open")
    yield recorder
    for scheme in ("http", "https", "mailto", "file", "javascript", "data"):
        QDesktopServices.unsetUrlHandler(scheme)


class Dialogs:
    """What QMessageBox would have shown, and the button the 'user' presses."""

    def __init__(self, answer: QMessageBox.StandardButton) -> None:
        self.answer = answer
        self.questions: list[tuple[str, str, str]] = []   # title, text, informative text
        self.notices: list[tuple[str, str]] = []          # title, text


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    seen = Dialogs(QMessageBox.StandardButton.Cancel)

    def exec_(box: QMessageBox) -> int:
        seen.questions.append((box.windowTitle(), box.text(), box.informativeText()))
        return seen.answer

    def information(_parent, title, text, *_args, **_kwargs):
        seen.notices.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QMessageBox, "information", staticmethod(information))
    return seen


def click_text(qtbot, view: SafeTextView, needle: str) -> None:
    """Click in the middle of the first occurrence of `needle` in the view."""
    text = view.document().toPlainText()
    index = text.index(needle) + len(needle) // 2
    cursor = QTextCursor(view.document())
    cursor.setPosition(index)
    point = view.cursorRect(cursor).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def answer_with(qtbot, window: MainWindow, markdown: str) -> SafeTextView:
    widget = MessageWidget(1, "assistant", markdown)
    window.messages.append_message(widget)
    window.show()
    qtbot.wait(50)
    return widget.findChildren(SafeTextView)[0]


@pytest.fixture
def window(qtbot) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    return w


def test_clicking_a_link_only_reports_it(qtbot, opened):
    view = SafeTextView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    view.set_markdown("Read [the manual](https://example.com/manual) first.")
    qtbot.wait(50)
    with qtbot.waitSignal(view.link_activated, timeout=2000) as clicked:
        click_text(qtbot, view, "the manual")
    assert clicked.args[0].toString() == "https://example.com/manual"
    qtbot.wait(100)
    assert opened.urls == []
    assert view.source().isEmpty()  # the view did not navigate either
    assert "Read the manual first." in view.document().toPlainText()


def test_cancel_in_the_question_opens_nothing_and_the_question_showed_the_real_target(qtbot, window, opened, dialogs):
    target = "http://bank.example.com@evil.example/login?next=%2Faccount&token=abc"
    view = answer_with(qtbot, window, f"Log in at [https://bank.example.com]({target}).")
    click_text(qtbot, view, "bank.example.com")
    assert len(dialogs.questions) == 1
    title, text, informative = dialogs.questions[0]
    assert "open" in text.lower()
    assert informative == target  # the whole address, not the friendly label
    assert opened.urls == []


def test_open_in_the_question_hands_the_link_to_the_browser(qtbot, window, opened, dialogs):
    dialogs.answer = QMessageBox.StandardButton.Open
    view = answer_with(qtbot, window, "See <https://example.org/a%20page>.")
    click_text(qtbot, view, "example.org")
    assert [q[2] for q in dialogs.questions] == ["https://example.org/a%20page"]
    assert opened.urls == ["https://example.org/a%20page"]


def test_a_look_alike_host_is_shown_in_its_true_spelling(qtbot, window, opened, dialogs):
    view = answer_with(qtbot, window, "[apple](http://\u0430pple.com/)")  # Cyrillic 'а'
    click_text(qtbot, view, "apple")
    informative = dialogs.questions[0][2]
    assert informative.startswith("http://xn--")  # punycode gives the trick away
    assert opened.urls == []


@pytest.mark.parametrize("target", [
    "javascript:alert(document.cookie)",
    "file:///etc/passwd",
    "data:text/html,<script>alert(1)</script>",
    "ftp://example.com/file",
])
def test_links_a_browser_should_not_be_handed_are_refused_with_a_message(qtbot, window, opened, dialogs, target):
    dialogs.answer = QMessageBox.StandardButton.Open  # even a user who would say yes
    window.confirm_open_link(QUrl(target))
    assert dialogs.questions == []
    assert len(dialogs.notices) == 1
    title, text = dialogs.notices[0]
    assert title == "Link not opened"
    assert "does not open links of this kind" in text
    assert opened.urls == []


def test_a_javascript_link_in_an_answer_is_refused_when_clicked(qtbot, window, opened, dialogs):
    view = answer_with(qtbot, window, "[click me](javascript:alert(1))")
    click_text(qtbot, view, "click me")
    assert [title for title, _text in dialogs.notices] == ["Link not opened"]
    assert dialogs.questions == []
    assert opened.urls == []
