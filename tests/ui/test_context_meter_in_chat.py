"""The context meter by the composer: while the user types, it shows (counted off the GUI thread by
the engine's tokenizer) how much of the model's window the next request will use, turns amber when
sending would push old turns out and says how many; the banner about turns already out of the
prompt scrolls to the first turn the model still sees."""
from __future__ import annotations

from tests.support.app import running_hearth, send


def reading_after(qtbot, hearth, action) -> object:
    before = hearth.meter.measured
    action()
    qtbot.waitUntil(lambda: hearth.meter.measured > before, timeout=15000)
    return hearth.meter.meter


def test_the_meter_follows_the_draft_and_warns_before_old_turns_leave(qtbot):
    with running_hearth(qtbot, {"engine/n_ctx": 512, "chat/max_tokens": 48}) as hearth:
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
        for n in range(4):
            with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000):
                send(qtbot, hearth, f"Tell me fact number {n} about lighthouses and their keepers.")
        composer = hearth.window.composer
        meter = reading_after(qtbot, hearth, lambda: composer.set_text("Thanks!"))
        small = meter.bar.value()
        assert meter.bar.maximum() == 512 and 0 < small < 512
        assert "Your draft" in meter.toolTip() and "Kept for the answer: 48" in meter.toolTip()
        assert not meter.warning

        long_draft = "Please describe every storm the keeper ever saw, in detail. " * 12
        meter = reading_after(qtbot, hearth, lambda: composer.set_text(long_draft))
        assert meter.warning, "a draft that pushes turns out turns the meter amber"
        assert "pushes" in meter.toolTip() and "−" in meter.label.text()

        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=60000):
            send(qtbot, hearth, "")  # the long draft goes
        note = hearth.window.messages.context_note
        assert note.isVisible() and "no longer sees" in note.text()
        first_kept = hearth.transcript._first_kept
        assert first_kept is not None
        hearth.window.messages.verticalScrollBar().setValue(hearth.window.messages.verticalScrollBar().maximum())
        hearth.window.messages.context_note_clicked.emit()
        widget = hearth.window.messages.widget_for(first_kept)
        top = widget.mapTo(hearth.window.messages.widget(), widget.rect().topLeft()).y()
        assert abs(hearth.window.messages.verticalScrollBar().value() - top) < 40, "scrolled to the first kept turn"
