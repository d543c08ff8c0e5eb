"""The espeak-ng library (from the `espeakng-loader` wheel) driven in a child process.

espeak-ng is GPL and Hearth is MIT, so Hearth's own process never loads it: `synthesis.py` runs
this file as a separate program (`python espeak_worker.py`), which loads the library with ctypes
and answers requests until its stdin closes. It imports only the standard library and
`espeakng_loader` (nothing of Hearth), so it starts in a few tens of milliseconds.

Protocol. Requests: one JSON object per line on stdin,
    {"op": "voices"} | {"op": "say", "text": ..., "voice": ..., "rate": wpm, "volume": 0-200}
Replies: frames on stdout, each a kind byte, a 4-byte little-endian length and a payload:
    R ready {"sample_rate", "version"} (once, at start) · A audio (16-bit mono PCM)
    E end of speech · V voices (JSON list) · X error (a message for the user).
"""
from __future__ import annotations

import ctypes
import json
import struct
import sys

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_DONT_EXIT = 0x8000
CHARS_UTF8 = 1
END_PAUSE = 0x1000
PARAM_RATE, PARAM_VOLUME = 1, 2
POS_CHARACTER = 1

SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # priority byte, language, NUL, ... , 0
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


def send(kind: bytes, payload: bytes = b"") -> None:
    out = sys.stdout.buffer
    out.write(kind + struct.pack("<I", len(payload)) + payload)
    out.flush()


def load():
    """Load and initialise the library; return it and its sample rate."""
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [SynthCallback]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(EspeakVoice))
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    lib.espeak_Info.restype = ctypes.c_char_p
    data = espeakng_loader.get_data_path().encode()
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise RuntimeError(f"espeak-ng could not start (its data folder: {data.decode()})")
    return lib, rate


def voices(lib) -> list[dict]:
    found, table, i = [], lib.espeak_ListVoices(None), 0
    while table[i]:
        voice = table[i].contents
        language = ctypes.string_at(voice.languages + 1).decode() if voice.languages else ""
        found.append({"name": voice.name.decode(), "language": language, "identifier": voice.identifier.decode()})
        i += 1
    return found


def say(lib, request: dict) -> None:
    if lib.espeak_SetVoiceByName(request["voice"].encode()) != 0:
        send(b"X", f"espeak-ng has no voice '{request['voice']}'.".encode())
        return
    lib.espeak_SetParameter(PARAM_RATE, int(request["rate"]), 0)
    lib.espeak_SetParameter(PARAM_VOLUME, int(request["volume"]), 0)
    text = request["text"].encode()
    if lib.espeak_Synth(text, len(text) + 1, 0, POS_CHARACTER, 0, CHARS_UTF8 | END_PAUSE, None, None) != 0:
        send(b"X", b"espeak-ng failed to synthesize the text.")
        return
    send(b"E")


def main() -> int:
    try:
        lib, sample_rate = load()
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one message
        send(b"X", f"The bundled espeak-ng library could not be loaded: {exc}".encode())
        return 1

    def on_audio(wav, count, _events) -> int:
        if wav and count > 0:
            send(b"A", ctypes.string_at(wav, count * 2))
        return 0

    callback = SynthCallback(on_audio)  # kept alive for the whole process
    lib.espeak_SetSynthCallback(callback)
    version = (lib.espeak_Info(None) or b"").decode()
    send(b"R", json.dumps({"sample_rate": sample_rate, "version": version}).encode())
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") == "voices":
            send(b"V", json.dumps(voices(lib)).encode())
        else:
            say(lib, request)
    return 0


if __name__ == "__main__":
    sys.exit(main())
