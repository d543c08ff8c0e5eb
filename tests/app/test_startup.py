"""The window comes first: nothing slow stands between launching Hearth and seeing it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMainWindow

from app.gui.start import when_first_painted

ROOT = Path(__file__).resolve().parents[2]


def test_building_the_window_does_not_import_the_slow_libraries():
    """openai (~0.8 s of type modules), huggingface_hub and gguf load after the first paint."""
    code = ("import sys, app.gui.main_window_controller as m, app.gui; "
            "print(sorted(n for n in ('openai', 'huggingface_hub', 'gguf', 'faster_whisper') if n in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_start_up_work_waits_for_the_first_paint(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    events: list[str] = []

    class Watch(QObject):
        def eventFilter(self, _obj, event) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                events.append("paint")
            return False

    watch = Watch()
    window.installEventFilter(watch)
    when_first_painted(window, lambda: events.append("start"))
    window.show()
    qtbot.waitUntil(lambda: "start" in events)
    assert events[0] == "paint" and events.count("start") == 1
