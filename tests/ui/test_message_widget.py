"""A message's frame holds only what it has to say: no blank footer line, and an error always shows."""
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
