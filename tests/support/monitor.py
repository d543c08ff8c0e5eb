"""What the test speaker "heard": the null sink's monitor recorded with `parec`, every 5 ms chunk
stamped with the moment it arrived, so a test can say when Hearth's voice went quiet.

`parec --latency-msec=10` also asks PulseAudio for a 10 ms sink latency, so what plays is in the
recording ~10 ms later; the stamps are arrival times, so a measured delay is never shorter than
the real one.
"""
from __future__ import annotations

import subprocess
import threading
import time

import numpy as np

from tests.support.pulse import SINK, PulseServer

RATE = 16_000
CHUNK_BYTES = 160           # 80 samples: 5 ms
LOUD_RMS = 0.02             # espeak-ng speech runs ~0.05-0.3; the null sink's silence is exactly 0


class MonitorRecording:
    def __init__(self, pulse: PulseServer) -> None:
        self._pulse = pulse
        self._chunks: list[tuple[float, bytes]] = []
        self._process: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MonitorRecording:
        self._process = subprocess.Popen(
            ["parec", "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1", "--latency-msec=10",
             "-d", f"{SINK}.monitor"], stdout=subprocess.PIPE, env=self._pulse.env())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._chunks and time.monotonic() < deadline:  # the monitor delivers silence too
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        while chunk := self._process.stdout.read(CHUNK_BYTES):
            self._chunks.append((time.monotonic(), chunk))

    # -- what was heard ----------------------------------------------------------------
    def levels(self, since: float = 0.0, until: float = float("inf")) -> list[tuple[float, float]]:
        """(arrival time, RMS) of each chunk that arrived between `since` and `until`."""
        out = []
        for stamp, chunk in list(self._chunks):
            if since <= stamp <= until:
                x = np.frombuffer(chunk, dtype="<i2").astype(np.float64) / 32768.0
                out.append((stamp, float(np.sqrt(np.mean(x * x))) if x.size else 0.0))
        return out

    def loud_now(self, window_s: float = 0.03) -> bool:
        """Speech in the last `window_s` (every chunk of it above the threshold)."""
        recent = self.levels(time.monotonic() - window_s)
        return len(recent) >= 3 and all(rms > LOUD_RMS for _t, rms in recent)

    def last_loud(self, since: float, until: float) -> float | None:
        loud = [stamp for stamp, rms in self.levels(since, until) if rms > LOUD_RMS]
        return loud[-1] if loud else None

    def samples(self, since: float = 0.0) -> np.ndarray:
        """The recording (from `since`) as 16 kHz mono float32, ready for Whisper."""
        data = b"".join(chunk for stamp, chunk in list(self._chunks) if stamp >= since)
        return (np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.float32) / 32768.0)
