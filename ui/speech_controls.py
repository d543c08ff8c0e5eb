"""The window's speech controls: the per-chat "Speak answers" switch and the status bar's note of
where a spoken conversation stands (Listening / Thinking / Speaking).

Widgets only: the switch is a checkable QAction (for the Chat menu) shown as a button beside the
microphone; what it does is decided in app/gui.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QLabel, QToolButton, QWidget

SPEAK_ANSWERS_TIP = "Speak answers in this chat: each answer is read aloud as it is written (Esc stops)"
PHASES = {"listening": "Listening…", "thinking": "Thinking…", "speaking": "Speaking…"}


def speak_answers_action(parent: QWidget) -> QAction:
    action = QAction("Speak answers", parent, checkable=True)
    action.setIconText("Speak")
    action.setToolTip(SPEAK_ANSWERS_TIP)
    icon = QIcon.fromTheme("audio-volume-high")
    if not icon.isNull():
        action.setIcon(icon)
    return action


class SpeakAnswersButton(QToolButton):
    """The switch beside the microphone; pressed in while answers are spoken."""

    def __init__(self, action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speakAnswers")
        self.setAccessibleName("Speak answers")
        self.setDefaultAction(action)


def set_speech_unavailable(action: QAction, reason: str | None) -> None:
    """No speech engine or speaker: the switch is off, disabled, and its tooltip says why."""
    action.setEnabled(reason is None)
    action.setToolTip(reason or SPEAK_ANSWERS_TIP)


class VoicePhaseLabel(QLabel):
    """"Listening…", "Thinking…" or "Speaking…" in the status bar; hidden otherwise."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voicePhase")
        self.phase = "idle"
        self.setVisible(False)

    def set_phase(self, phase: str) -> None:
        self.phase = phase
        self.setText(PHASES.get(phase, ""))
        self.setVisible(phase in PHASES)
