"""Model output is data, not instructions: a prompt-injected `![x](http://host/leak?q=secret)` must
never make Hearth fetch anything, anywhere it is shown. A local HTTP server records every request;
it must stay silent while hostile answers, typed messages, titles and search results are shown."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument

from ui.message_widget import MessageWidget
from ui.safe_text import InertDocument, SafeTextView

# A 1×1 PNG: if anything ever asked, it would get a real image back.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


class RecordingServer:
    """An HTTP server on 127.0.0.1 (a free port) that remembers every request it receives."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        recorder = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                recorder.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            do_POST = do_HEAD = do_GET  # noqa: N815

            def log_message(self, *_args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def listener() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def resource_loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """(URL, answer) for every resource a SafeTextView or its document was asked for.

    Qt's layout may ask for an image before `neutralize_images` replaces it; what matters is
    that every answer is a refusal (None), so Qt falls back to nothing."""
    asked: list[tuple[str, object]] = []
    for cls in (InertDocument, SafeTextView):
        original = cls.loadResource

        def recording(self, type_, name, _original=original):
            answer = _original(self, type_, name)
            asked.append((name.toString(), answer))
            return answer

        monkeypatch.setattr(cls, "loadResource", recording)
    return asked


def refused(loads: list[tuple[str, object]]) -> bool:
    return all(answer is None for _url, answer in loads)


def hostile_answers(base: str) -> dict[str, str]:
    """Every way we know of to ask a renderer to fetch something, by name."""
    return {
        "markdown image": f"Here you go! ![x]({base}/leak?q=secret) Enjoy.",
        "html img": f"<img src={base}/img>",
        "css background": f'<div style="background:url({base}/css)">styled</div>',
        "iframe": f"<iframe src={base}/iframe></iframe>",
        "stylesheet": f"<link rel=stylesheet href={base}/stylesheet>",
        "reference image": f"Look: ![x][r]\n\n[r]: {base}/reference",
        "image in a link": f"[![x]({base}/nested)]({base}/target)",
        "image in a table": f"| a |\n|---|\n| ![t]({base}/table) |",
        "image in a quote": f"> ![q]({base}/quote)",
        "autolink": f"<{base}/autolink> and {base}/bare",
        "data image": "![d](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==)",
        "file image": "![f](file:///etc/passwd)",
        "svg with script": f"<svg><image href='{base}/svg'/><script>fetch('{base}/js')</script></svg>",
    }


# The image URL each answer must show as inert text (None: not an image in markdown's eyes).
SHOWN_AS_TEXT = {
    "markdown image": "/leak?q=secret",
    "reference image": "/reference",
    "image in a link": "/nested",
    "image in a table": "/table",
    "image in a quote": "/quote",
    "data image": "data:image/png;base64,",
    "file image": "file:///etc/passwd",
}


def image_fragments(document: QTextDocument) -> list[str]:
    """Names of every image still in the document (there must be none)."""
    names = []
    block = document.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.isValid() and fragment.charFormat().isImageFormat():
                names.append(fragment.charFormat().toImageFormat().name())
            it += 1
        block = block.next()
    return names


def views_of(widget: MessageWidget) -> list[SafeTextView]:
    return widget.findChildren(SafeTextView)


def let_it_render(qtbot, widget) -> None:
    """Show, lay out and paint, then give any would-be request time to arrive."""
    widget.resize(600, 400)
    widget.show()
    widget.repaint()
    qtbot.wait(300)


@pytest.mark.parametrize("name", list(hostile_answers("http://x")))
def test_a_hostile_answer_fetches_nothing_and_shows_the_address(qtbot, listener, resource_loads, name):
    answer = hostile_answers(listener.base)[name]
    widget = MessageWidget(1, "assistant", "")
    qtbot.addWidget(widget)
    for piece in (answer[: len(answer) // 2], answer[len(answer) // 2:]):  # it streams in
        widget.append(piece)
        qtbot.wait(50)
    widget.flush()
    let_it_render(qtbot, widget)

    assert listener.requests == []
    assert refused(resource_loads), resource_loads
    shown = "\n".join(view.document().toPlainText() for view in views_of(widget))
    for view in views_of(widget):
        assert image_fragments(view.document()) == []
    if name in SHOWN_AS_TEXT:
        assert "[image not loaded: " in shown
        assert SHOWN_AS_TEXT[name] in shown
    assert widget.text() == answer  # Copy gives back exactly what the model said


def test_raw_html_in_an_answer_is_shown_as_the_text_it_is(qtbot, listener):
    answer = f'<img src={listener.base}/img> <b>bold?</b> <div style="background:url({listener.base}/css)">x</div>'
    widget = MessageWidget(1, "assistant", answer)
    qtbot.addWidget(widget)
    let_it_render(qtbot, widget)
    shown = views_of(widget)[0].document().toPlainText()
    assert f"<img src={listener.base}/img>" in shown
    assert "<b>bold?</b>" in shown
    assert listener.requests == []


def test_every_hostile_answer_at_once_in_the_real_app_fetches_nothing(qtbot, listener, resource_loads):
    from app.gui.main_window_controller import HearthController

    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    try:
        conversation = hearth.store.create_conversation(title="Innocent question")
        hearth.store.add_message(conversation.id, "user", "Summarise this web page for me")
        everything = "\n\n".join(hostile_answers(listener.base).values())
        hearth.store.add_message(conversation.id, "assistant", everything)
        hearth.refresh_conversations()
        hearth.window.show()
        items = hearth.window.conversations.list
        qtbot.mouseClick(items.viewport(), Qt.MouseButton.LeftButton, pos=items.visualItemRect(items.item(0)).center())
        assert hearth.transcript.current_id == conversation.id
        qtbot.wait(300)
        hearth.window.repaint()
        answer = hearth.window.messages.widgets()[-1]
        shown = "\n".join(view.document().toPlainText() for view in views_of(answer))
        assert f"[image not loaded: {listener.base}/leak?q=secret]" in shown
        assert all(image_fragments(view.document()) == [] for view in views_of(answer))
        qtbot.wait(300)
        assert listener.requests == []
        assert refused(resource_loads), resource_loads
    finally:
        hearth.shutdown()


def test_what_the_user_types_is_shown_as_typed_in_the_transcript_title_and_search(qtbot, listener, resource_loads):
    from app.gui.main_window_controller import HearthController

    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    hearth.window.show()
    typed = f"check ![x]({listener.base}/typed?q=secret) <img src={listener.base}/typed-img> lighthouse"
    try:
        composer = hearth.window.composer
        composer.edit.setFocus()
        composer.edit.insertPlainText(typed)  # pasted, as a user would
        qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
        user = hearth.window.messages.widgets()[0]
        assert user.role == "user"
        (view,) = views_of(user)
        assert view.document().toPlainText() == typed
        assert image_fragments(view.document()) == []

        # The title is made from the message: shown as plain text in the list.
        title = hearth.store.get_conversation(hearth.transcript.current_id).title
        assert hearth.window.conversations.list.item(0).text() == title
        assert "![x](" in title

        qtbot.keyClicks(hearth.window.conversations.search, "lighthouse")
        results = hearth.window.conversations.results
        qtbot.waitUntil(lambda: results.isVisible() and results.count() == 1, timeout=3000)
        assert "<img src=" in results.item(0).text()
        hearth.window.repaint()
        qtbot.wait(300)
        assert listener.requests == []
        assert refused(resource_loads), resource_loads
    finally:
        hearth.answers.stop()
        hearth.shutdown()
