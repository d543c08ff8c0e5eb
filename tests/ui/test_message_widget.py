"""A message's frame holds only what it has to say: no blank footer line, an error always shows,
and markdown is spaced like prose."""
from __future__ import annotations

from ui.message_widget import MessageWidget


def test_a_question_has_no_empty_line_under_it(qtbot):
    question = MessageWidget(1, "user", "How deep should I plant tulip bulbs?")
    qtbot.addWidget(question)
    question.show()
    answer = MessageWidget(2, "assistant", "About 20 cm.", footer="5 tokens · 40 tok/s")
    qtbot.addWidget(answer)
    answer.show()

    assert question._footer.isHidden()
    assert not answer._footer.isHidden() and answer._footer.text() == "5 tokens · 40 tok/s"


def test_an_error_shows_even_where_the_footer_was_empty(qtbot):
    answer = MessageWidget(3, "assistant", "Part of an ans", state="streaming")
    qtbot.addWidget(answer)
    answer.show()
    answer.set_footer("")
    answer.set_state("error", "The engine stopped (exit code -9).")

    assert not answer._footer.isHidden() and "exit code -9" in answer._footer.text()


def test_a_table_keeps_its_rows_tight_and_a_list_is_set_off_from_the_next_paragraph(qtbot):
    from PySide6.QtGui import QTextCursor, QTextDocument

    from ui.safe_text import PARAGRAPH_GAP, render_markdown

    document = QTextDocument()
    render_markdown(document, "Intro.\n\n- one\n- two\n\nAfter the list.\n\n| Name | Value |\n|---|---|\n| a | 1 |\n\nEnd.")
    blocks, block = {}, document.firstBlock()
    while block.isValid():
        blocks[block.text()] = block
        block = block.next()
    cursor = QTextCursor(blocks["Name"])
    assert cursor.currentTable().format().cellPadding() >= 4
    assert all(blocks[cell].blockFormat().bottomMargin() < PARAGRAPH_GAP for cell in ("Name", "Value", "a")), \
        "cells with paragraph gaps make every row twice as tall"
    assert blocks["one"].blockFormat().bottomMargin() < PARAGRAPH_GAP, "list items stay together"
    assert blocks["two"].blockFormat().bottomMargin() >= PARAGRAPH_GAP, "the paragraph after a list touched it"
    assert blocks["Intro."].blockFormat().bottomMargin() >= PARAGRAPH_GAP
