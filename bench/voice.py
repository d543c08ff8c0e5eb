"""Voice input bench: release-to-text latency, and Hearth's transcription time against
faster-whisper called directly (same model object, same audio, same options).

    .venv/bin/python bench/voice.py [--rounds 5]

Needs espeak-ng. The last line is one JSON object; goal: transcribe_ratio <= 1.05.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def release_to_text(samples, transcriber) -> float:
    """Recorder.finished → VoiceController → background transcribe → transcript_ready."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.voice_controller import VoiceController

    app = QApplication.instance() or QApplication([])
    controller = VoiceController(transcriber)
    loop = QEventLoop()
    got: list[str] = []
    controller.transcript_ready.connect(lambda text: (got.append(text), loop.quit()))
    controller.voice_failed.connect(lambda msg: (got.append("!" + msg), loop.quit()))
    QTimer.singleShot(60_000, loop.quit)
    started = time.perf_counter()
    controller.recorder.finished.emit(samples)
    loop.exec()
    elapsed = time.perf_counter() - started
    if not got or got[0].startswith("!"):
        raise SystemExit(f"release-to-text failed: {got}")
    del app
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from app.gui.recorder import TAIL_MS
    from engine.speech import Transcriber, load_audio_file
    from engine.speech.transcriber import SAMPLE_RATE
    from tests.support.speech import LONG_SENTENCE, say_to_wav, word_error_rate

    tmp = Path(tempfile.mkdtemp(prefix="hearth-bench-voice-"))
    samples = load_audio_file(say_to_wav(LONG_SENTENCE, tmp / "utterance.wav"))
    transcriber = Transcriber()
    t0 = time.perf_counter()
    model = transcriber.load()
    load_s = time.perf_counter() - t0

    def hearth() -> str:
        return transcriber.transcribe(samples).text

    def raw() -> str:
        segments, _info = model.transcribe(samples, beam_size=transcriber.beam_size, vad_filter=True,
                                           condition_on_previous_text=False)
        return " ".join(s.text.strip() for s in segments)

    hearth(), raw()  # warm-up: VAD model, allocator
    hearth_times, raw_times = [], []
    for _ in range(args.rounds):
        for fn, times in ((hearth, hearth_times), (raw, raw_times)):
            start = time.perf_counter()
            text = fn()
            times.append(time.perf_counter() - start)
    hearth_s, raw_s = statistics.median(hearth_times), statistics.median(raw_times)
    hop_s = statistics.median(release_to_text(samples, transcriber) for _ in range(3))
    print(f"utterance {samples.size / SAMPLE_RATE:.2f} s; model load {load_s:.2f} s", file=sys.stderr)
    print(f"hearth {[round(t, 3) for t in hearth_times]}", file=sys.stderr)
    print(f"raw    {[round(t, 3) for t in raw_times]}", file=sys.stderr)
    print(json.dumps({
        "transcribe_ratio": round(hearth_s / raw_s, 3),
        "hearth_s": round(hearth_s, 3),
        "raw_s": round(raw_s, 3),
        "release_to_text_s": round(TAIL_MS / 1000 + hop_s, 3),
        "qt_hop_and_transcribe_s": round(hop_s, 3),
        "recorder_tail_s": TAIL_MS / 1000,
        "utterance_s": round(samples.size / SAMPLE_RATE, 2),
        "wer_hearth": round(word_error_rate(LONG_SENTENCE, hearth()), 3),
        "wer_raw": round(word_error_rate(LONG_SENTENCE, raw()), 3),
        "beam_size": transcriber.beam_size,
        "rounds": args.rounds,
    }))


if __name__ == "__main__":
    main()
