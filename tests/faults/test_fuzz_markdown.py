"""Whatever a model writes, rendering it raises nothing, leaves no image in the document and fetches
nothing: arbitrary text, and markdown-ish strings built from the pieces attackers use."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.faults.test_exfiltration import RecordingServer, image_fragments
from ui.message_widget import MessageWidget
from ui.safe_text import InertDocument, SafeTextView, render_markdown

EXAMPLES = int(os.environ.get("HEARTH_FUZZ_EXAMPLES", "1000"))
HOST = "HOST"  # replaced by the recording server's address in each example

PIECES = [
    "![", "](", ")", "[", "]", "[r]: ", "<", ">", "<img src=", "<a href=", " style=\"background:url(", "\"",
    f"{HOST}/leak?q=", "http://", "https://", "file:///etc/passwd", "data:image/png;base64,iVBORw0KGgo=",
    "javascript:alert(1)", "\n", "\n\n", "|", "|---|", "```", "~~~", "    ", "> ", "- ", "1. ", "* ", "**",
    "_", "`", "&amp;", "&#x3C;", "# ", "\\", "<!--", "-->", "<svg>", "<iframe src=", "\u202e", "\u0000", "\ufffc",
]

markdownish = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=40).map("".join)
anything = st.text(max_size=400)


class RefusalRecorder(InertDocument):
    """An InertDocument that also writes down what it was asked for and what it answered."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, object]] = []

    def loadResource(self, type_: int, name):  # noqa: N802 - Qt override
        answer = super().loadResource(type_, name)
        self.asked.append((name.toString(), answer))
        return answer


@pytest.fixture(scope="module")
def listener() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture(scope="module")
def view(qapp) -> Iterator[SafeTextView]:
    shown = SafeTextView()
    shown.resize(500, 300)
    shown.show()
    yield shown
    shown.close()
    shown.deleteLater()


def check_rendered(document, listener: RecordingServer) -> None:
    assert image_fragments(document) == []
    if isinstance(document, RefusalRecorder):
        assert all(answer is None for _url, answer in document.asked), document.asked
        document.asked.clear()
        document.size()  # lay out again: with the images gone, nothing is even asked for
        document.documentLayout().documentSize()
        assert document.asked == []
    assert listener.requests == []


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(anything, markdownish))
def test_any_text_renders_without_images_or_fetches(qapp, listener, text):
    document = RefusalRecorder()
    document.setTextWidth(400)
    render_markdown(document, text.replace(HOST, listener.base))
    check_rendered(document, listener)


@settings(max_examples=max(1, EXAMPLES // 4), suppress_health_check=[HealthCheck.too_slow])
@given(text=markdownish)
def test_any_text_in_a_shown_view_renders_without_images_or_fetches(listener, view, text):
    view.set_markdown(text.replace(HOST, listener.base))
    view.viewport().repaint()
    check_rendered(view.document(), listener)


@settings(max_examples=max(1, EXAMPLES // 10), suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=8)), max_size=30))
def test_a_streamed_answer_in_any_pieces_renders_without_images_or_fetches(qapp, listener, chunks):
    widget = MessageWidget(1, "assistant", "")
    try:
        for chunk in chunks:
            widget.append(chunk.replace(HOST, listener.base))
        widget.flush()
        assert widget.text() == "".join(chunks).replace(HOST, listener.base)
        for child in widget.findChildren(SafeTextView):
            check_rendered(child.document(), listener)
    finally:
        widget.deleteLater()
