"""Starts the desktop app: the window appears first, everything slow happens after."""
from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app import paths


def run_gui(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName(paths.APP_NAME)
    app.setOrganizationName(paths.ORG_NAME)
    app.setApplicationDisplayName("Hearth")
    from app.main_window_controller import HearthController
    from ui.style import apply_style

    apply_style(app)
    controller = HearthController()
    controller.window.show()
    QTimer.singleShot(0, controller.start)
    app.aboutToQuit.connect(controller.shutdown)
    # Let Python see SIGTERM/SIGINT while Qt's loop runs: quit cleanly, stop the engine host.
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(200)
    return app.exec()
