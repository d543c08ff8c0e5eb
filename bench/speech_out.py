"""Speech output bench: Hearth's synthesis against espeak-ng called directly (same sentences,
same voice and rate, alternating in the same run), and how soon a sentence that the streaming
splitter has just completed becomes audio.

    .venv/bin/python bench/speech_out.py [--rounds 21]

Needs espeak-ng on PATH (the direct side). The last line is one JSON object; goal:
synthesis_ratio <= 1.05 (real-time factor through Hearth ÷ the program run by hand).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time

from _common import median  # also puts the repository on sys.path

VOICE, RATE = "en-us", 175


def direct_espeak(sentence: str) -> float:
    """espeak-ng by hand, the way a shell user would: seconds of audio made."""
    out = subprocess.run(["espeak-ng", "--stdout", "-v", VOICE, "-s", str(RATE), sentence],
                         capture_output=True, check=True).stdout
    return (len(out) - 44) / 2 / 22_050


def real_time_factor(say, sentences: list[str]) -> float:
    started, audio_s = time.perf_counter(), 0.0
    for sentence in sentences:
        audio_s += say(sentence)
    return (time.perf_counter() - started) / audio_s


def sentence_to_audio_s(synthesizer, answer: str) -> tuple[list[float], float]:
    """Stream `answer` in token-sized deltas; for each sentence the splitter completes, the
    seconds until its audio is ready. Also the slowest single feed() of the splitter."""
    from engine.speech.spoken_text import SentenceStream

    stream, waits, slowest_feed = SentenceStream(), [], 0.0
    deltas = re.findall(r"\s*\S{1,4}|\s+", answer)
    for delta in [*deltas, None]:
        t0 = time.perf_counter()
        sentences = stream.feed(delta) if delta is not None else stream.flush()
        ready = time.perf_counter()
        slowest_feed = max(slowest_feed, ready - t0)
        for sentence in sentences:
            start = time.perf_counter()
            audio = synthesizer.synthesize(sentence, VOICE, RATE)
            assert audio.samples.size > 0
            waits.append(time.perf_counter() - start)
    return waits, slowest_feed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()

    from engine.speech.synthesis import SpeechSynthesizer
    from tests.support.speech import LONG_SENTENCE, SENTENCES

    sentences = [*SENTENCES, LONG_SENTENCE]
    program, library = SpeechSynthesizer("program"), SpeechSynthesizer("library")
    sides = {
        "direct": direct_espeak,
        "hearth": lambda s: program.synthesize(s, VOICE, RATE).duration_s,
        "library": lambda s: library.synthesize(s, VOICE, RATE).duration_s,
    }
    for say in sides.values():  # warm-up: page cache, the library worker's start
        real_time_factor(say, sentences[:1])
    rtf: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, say in sides.items():
            rtf[name].append(real_time_factor(say, sentences))
    answer = ("Sure! Here is the plan for tomorrow. " + " ".join(SENTENCES)
              + "\n\n```sh\necho done\n```\n\nThat is all. Have a good day!")
    waits_program, feed_program = sentence_to_audio_s(program, answer)
    waits_library, _ = sentence_to_audio_s(library, answer)
    library.close()
    hearth_rtf, direct_rtf = median(rtf["hearth"]), median(rtf["direct"])
    for name, values in rtf.items():
        print(f"{name:8} rtf {[round(v, 4) for v in values]}", file=sys.stderr)
    print(json.dumps({
        "synthesis_ratio": round(hearth_rtf / direct_rtf, 3),
        "hearth_rtf": round(hearth_rtf, 4),
        "direct_espeak_rtf": round(direct_rtf, 4),
        "library_worker_rtf": round(median(rtf["library"]), 4),
        "library_ratio": round(median(rtf["library"]) / direct_rtf, 3),
        "sentence_to_audio_ms_median": round(median(waits_program) * 1000, 1),
        "sentence_to_audio_ms_max": round(max(waits_program) * 1000, 1),
        "library_sentence_to_audio_ms_median": round(median(waits_library) * 1000, 1),
        "library_sentence_to_audio_ms_max": round(max(waits_library) * 1000, 1),
        "splitter_slowest_feed_ms": round(feed_program * 1000, 3),
        "sentences_streamed": len(waits_program),
        "engine": program.engine,
        "rounds": args.rounds,
    }))


if __name__ == "__main__":
    main()
