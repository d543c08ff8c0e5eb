"""Runs the real app offscreen and starts a long answer; prints progress lines for a test
that kills this process (SIGKILL) mid-answer."""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def main() -> None:
    app = QApplication([])
    from app.gui.main_window_controller import HearthController
    from app.settings import Settings

    Settings().set("chat/max_tokens", 2000)
    Settings().set("engine/n_ctx", 4096)
    hearth = HearthController()
    hearth.window.show()
    hearth.start()
    state = {"sent": False, "chars": 0}

    def tick() -> None:
        if not state["sent"] and hearth.engine.ready:
            hearth.answers.send("Write a very long story about a lighthouse keeper and the sea, in many chapters.")
            state["sent"] = True
            print(f"SENT {hearth.transcript.current_id}", flush=True)
        widgets = hearth.window.messages.widgets()
        if state["sent"] and widgets:
            chars = len(widgets[-1].text())
            if chars != state["chars"]:
                state["chars"] = chars
                print(f"STREAMING {widgets[-1].message_id} {chars} {time.monotonic():.3f}", flush=True)

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(20)
    app.exec()


if __name__ == "__main__":
    main()
