"""Starts the desktop app: the window appears first, everything slow happens after."""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app import paths


def run_gui(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.ORG_NAME)
    app.setApplicationDisplayName("Hearth")
    from app.gui.main_window_controller import HearthController
    from ui.style import apply_style

    apply_style(app)
    controller = HearthController()
    controller.window.show()
    when_first_painted(controller.window, controller.start)
    app.aboutToQuit.connect(controller.shutdown)
    # Let Python see SIGTERM/SIGINT while Qt's loop runs: quit cleanly, stop the engine host.
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    return app.exec()


class _FirstPaint(QObject):
    """Runs `then` once, right after the window's first paint (or after `fallback_ms` if the
    window is never painted, e.g. started minimised): a zero timer would run before it."""

    def __init__(self, window: QWidget, then: Callable[[], None], fallback_ms: int = 1000) -> None:
        super().__init__(window)
        self._then: Callable[[], None] | None = then
        window.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint and self._then is not None:
            QTimer.singleShot(0, self._run)  # after this paint has reached the screen
        return False

    def _run(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            self.parent().removeEventFilter(self)
            then()


def when_first_painted(window: QWidget, then: Callable[[], None]) -> None:
    _FirstPaint(window, then)
