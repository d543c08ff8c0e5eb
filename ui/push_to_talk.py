"""The push-to-talk control: hold the mic button (or F9) to speak, let go to transcribe.

Widgets only: it says what the user did (`hold_started`, `hold_ended`) and shows what it is
told (`set_state`, `set_level`, `set_elapsed`, `set_unavailable`).

Key choice: F9. Ctrl+Space is taken by input methods (IBus/Fcitx switch) on many desktops,
and a plain key is easier to hold while speaking; F9 types nothing into the composer.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

PUSH_TO_TALK_KEY = Qt.Key.Key_F9
IDLE_TOOLTIP = "Hold to talk (or hold F9), release to transcribe"


class _HoldButton(QToolButton):
    """Reports press and release itself: QAbstractButton emits no `released` when the
    pointer slides off before letting go, which would leave the microphone on."""

    held = Signal()
    let_go = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.holding = False

    def _begin(self) -> None:
        if not self.holding and self.isEnabled():
            self.holding = True
            self.setDown(True)
            self.held.emit()

    def end(self) -> None:
        if self.holding:
            self.holding = False
            self.setDown(False)
            self.let_go.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin()
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.end()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._begin()
            event.accept()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.end()
            event.accept()
        else:
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self.end()
        super().focusOutEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.EnabledChange and not self.isEnabled():
            self.end()
        super().changeEvent(event)


class PushToTalkButton(QWidget):
    """Mic button + level meter + elapsed time, or a 'Transcribing…' note."""

    hold_started = Signal()
    hold_ended = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = _HoldButton(self)
        self.button.setObjectName("pushToTalk")
        self.button.setAccessibleName("Push to talk")
        icon = QIcon.fromTheme("audio-input-microphone")
        if icon.isNull():
            self.button.setText("Talk")  # many systems' fonts lack the microphone emoji
        else:
            self.button.setIcon(icon)
        self.button.setToolTip(IDLE_TOOLTIP)
        self.meter = QProgressBar(self)
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setFixedWidth(60)
        self.meter.setMaximumHeight(8)
        self.meter.setAccessibleName("Microphone level")
        self.elapsed = QLabel("0:00", self)
        self.status = QLabel("Transcribing…", self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.button, self.meter, self.elapsed, self.status):
            layout.addWidget(w)
        self.button.held.connect(self.hold_started)
        self.button.let_go.connect(self.hold_ended)
        self._reason: str | None = None
        self.set_state("idle")

    @property
    def state(self) -> str:
        return self._state

    def set_state(self, state: str) -> None:
        """'idle' | 'recording' | 'transcribing'."""
        self._state = state
        recording = state == "recording"
        self.meter.setVisible(recording)
        self.elapsed.setVisible(recording)
        self.status.setVisible(state == "transcribing")
        if not recording:
            self.meter.setValue(0)
            self.elapsed.setText("0:00")

    def set_level(self, level: float) -> None:
        self.meter.setValue(round(max(0.0, min(1.0, level)) * 100))

    def set_elapsed(self, seconds: float) -> None:
        whole = int(seconds)
        self.elapsed.setText(f"{whole // 60}:{whole % 60:02d}")

    def set_unavailable(self, reason: str) -> None:
        """Disable push-to-talk and say why in the tooltip (e.g. no microphone)."""
        self._reason = reason
        self.button.setEnabled(False)
        self.button.setToolTip(reason)
        self.set_state("idle")

    def set_available(self) -> None:
        self._reason = None
        self.button.setEnabled(True)
        self.button.setToolTip(IDLE_TOOLTIP)

    @property
    def unavailable_reason(self) -> str | None:
        return self._reason


class PushToTalkKeyFilter(QObject):
    """Turns holding F9 (by default) anywhere in `window` into hold_started/hold_ended.

    Install on the QApplication (`app.installEventFilter(f)`) so the key works whichever
    child has focus; auto-repeat is ignored, and losing focus mid-hold ends the hold.
    """

    hold_started = Signal()
    hold_ended = Signal()

    def __init__(self, window: QWidget, key: Qt.Key = PUSH_TO_TALK_KEY, parent: QObject | None = None) -> None:
        super().__init__(parent or window)
        self._window = window
        self._key = key
        self.enabled = True
        self.holding = False

    def _ours(self, watched: QObject) -> bool:
        return isinstance(watched, QWidget) and watched.window() is self._window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and self._ours(watched):
            if event.key() != self._key or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                return False
            if event.isAutoRepeat():
                return True
            if kind == QEvent.Type.KeyPress and not self.holding and self.enabled:
                self.holding = True
                self.hold_started.emit()
            elif kind == QEvent.Type.KeyRelease and self.holding:
                self.release()
            return True
        if kind == QEvent.Type.WindowDeactivate and watched is self._window:
            self.release()
        return False

    def release(self) -> None:
        if self.holding:
            self.holding = False
            self.hold_ended.emit()
