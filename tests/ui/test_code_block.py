"""An answer's code: its own block with the language, colours, a Copy button that copies exactly
the code, and no empty band under it unless a line is too wide to fit."""
from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication

from ui.message_widget import MessageWidget

ANSWER = "Use slicing:\n```python\ndef reverse(s):\n    return s[::-1]\n```\nThat is all."


def shown(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def colours_of_first_line(block) -> set[str]:
    layout = block.editor.document().firstBlock().layout()
    return {r.format.foreground().color().name() for r in layout.formats()}


def test_a_code_block_is_coloured_and_copies_exactly_its_code(qtbot):
    answer = shown(qtbot, MessageWidget(1, "assistant", ANSWER))
    [block] = answer.code_blocks()
    assert block.language == "python"
    assert block.code() == "def reverse(s):\n    return s[::-1]"
    assert QColor("#c678dd").name() in colours_of_first_line(block), "'def' should be coloured as a keyword"

    QGuiApplication.clipboard().clear()
    block.copy_button.click()
    assert QGuiApplication.clipboard().text() == "def reverse(s):\n    return s[::-1]"
    assert block.copy_button.text() == "Copied"


def test_a_short_block_has_no_room_kept_for_a_scroll_bar_and_a_wide_one_does(qtbot):
    short = shown(qtbot, MessageWidget(1, "assistant", ANSWER)).code_blocks()[0]
    wide_code = "x = " + "1 + " * 200 + "1"
    wide = shown(qtbot, MessageWidget(2, "assistant", f"```python\n{wide_code}\nprint(x)\n```")).code_blocks()[0]
    qtbot.waitUntil(lambda: wide.editor.horizontalScrollBar().maximum() > 0, timeout=2000)

    line = short.editor.fontMetrics().lineSpacing()
    bar = wide.editor.horizontalScrollBar().sizeHint().height()
    assert short.editor.height() < 2 * line + bar, "an empty band under a block that needs no scrolling"
    assert wide.editor.height() >= 2 * line + bar, "the scroll bar would cover the last line"


def test_a_streaming_block_grows_in_place(qtbot):
    answer = shown(qtbot, MessageWidget(1, "assistant", "```python\ndef f():", state="streaming"))
    [block] = answer.code_blocks()
    before = block.editor.height()
    for piece in ["\n    a = 1", "\n    b = 2", "\n    return a + b"]:
        answer.append(piece)
        answer.flush()
    assert answer.code_blocks() == [block], "the block was rebuilt instead of extended"
    assert block.code() == "def f():\n    a = 1\n    b = 2\n    return a + b"
    assert block.editor.height() > before
