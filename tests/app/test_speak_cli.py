"""`hearth speak` says a markdown answer the way a person would: written to a WAV file, Hearth's
own `hearth transcribe` hears the words back; played, it reaches the sound server; and every
failure is one line and exit code 2."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.speech.spoken_text import spoken_text
from tests.support.pulse import SINK, PulseUnavailable, ensure_pulse
from tests.support.speech import word_error_rate

ROOT = Path(__file__).resolve().parents[2]

ANSWER = """## Three things to do

1. Please remind me to buy milk and bread tomorrow morning.
2. Turn the **music** down and open the kitchen window.
3. Send a message to my sister saying I will be late.

See [the shopping list](https://example.com/lists/42?share=1) 🛒 for more.
"""


def hearth(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "HEARTH_HOME": str(home), **env}, timeout=120)


@pytest.mark.parametrize("engine", ["program", "library"])
def test_spoken_markdown_is_heard_back_word_for_word(engine, hearth_home, tmp_path, starter_whisper):
    wav = tmp_path / f"answer-{engine}.wav"
    said = hearth("speak", ANSWER, "--out", str(wav), home=hearth_home, HEARTH_ESPEAK=engine)
    assert said.returncode == 0, said.stderr
    with wave.open(str(wav)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 22_050)
        assert 8 < audio.getnframes() / audio.getframerate() < 30

    heard = hearth("transcribe", str(wav), home=hearth_home)
    assert heard.returncode == 0, heard.stderr
    expected = spoken_text(ANSWER)
    assert expected.startswith("Three things to do. Please remind me")
    assert word_error_rate(expected, heard.stdout) <= 0.20, (expected, heard.stdout)
    for never_said in ("hash", "asterisk", "https", "star"):
        assert never_said not in heard.stdout.lower()


def test_voices_are_listed(hearth_home):
    listed = hearth("speak", "--list-voices", home=hearth_home)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[0] == "en-us" and "gmw/en-US" in line for line in listed.stdout.splitlines())


def test_a_voice_rate_and_code_choice_change_what_is_written(hearth_home, tmp_path):
    def seconds(*options: str) -> float:
        out = tmp_path / "said.wav"
        done = hearth("speak", "Here it is:\n```\nprint(1)\n```", "--out", str(out), *options, home=hearth_home)
        assert done.returncode == 0, done.stderr
        with wave.open(str(out)) as audio:
            return audio.getnframes() / audio.getframerate()

    normal = seconds()
    assert seconds("--rate", "350") < 0.7 * normal
    assert seconds("--skip-code") < 0.7 * normal
    assert seconds("--voice", "English (Great Britain)") > 0.5


def test_speech_is_played_through_the_sound_server(hearth_home, tmp_path):
    try:
        pulse = ensure_pulse()
    except PulseUnavailable as exc:
        pytest.skip(f"PROBLEM: no PulseAudio to play into: {exc}")
    recording = tmp_path / "sink.raw"
    recorder = subprocess.Popen(["parecord", "--raw", "--format=s16le", "--rate=16000", "--channels=1",
                                 "-d", f"{SINK}.monitor", str(recording)], env=pulse.env())
    try:
        time.sleep(0.3)
        played = hearth("speak", "Turn the music down and open the kitchen window.", home=hearth_home,
                        PULSE_SERVER=pulse.address)
        time.sleep(0.3)
    finally:
        recorder.terminate()
        recorder.wait(timeout=5)
    assert played.returncode == 0, played.stderr
    samples = np.frombuffer(recording.read_bytes(), dtype="<i2")
    assert np.abs(samples).max() > 3_000, "nothing reached the speakers"


@pytest.mark.parametrize("args, env, message", [
    (["hello", "--voice", "elvish"], {}, "no voice called 'elvish'"),
    (["hello", "--rate", "5"], {}, "80-450 words a minute"),
    ([], {}, "speak needs TEXT"),
    (["🎉 ---"], {}, "nothing to say"),
    (["hello"], {"HEARTH_ESPEAK": "library", "PATH": "/nonexistent"}, "use --out FILE.wav"),
    (["hello"], {"HEARTH_ESPEAK": "program", "PATH": "/nonexistent"}, "espeak-ng program is not installed"),
    (["hello", "--out", "/nonexistent/folder/x.wav"], {}, "could not write"),
], ids=["bad-voice", "bad-rate", "no-text", "nothing-to-say", "no-audio-output", "no-espeak", "unwritable"])
def test_every_failure_is_one_line_and_exit_code_2(args, env, message, hearth_home):
    done = hearth("speak", *args, home=hearth_home, **env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("hearth: "), done.stderr
    assert message in done.stderr
