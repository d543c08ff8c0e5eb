"""Speech out through QtMultimedia: a queue of 16-bit mono PCM clips played on one QAudioSink.

Push mode: a 10 ms timer hands the sink what it has room for, clip after clip, so sentence two
follows sentence one without a gap or a new stream. `stop()` silences at once (the buffers are
dropped, not drained) — barge-in depends on it. The device is chosen by id ("" = the system
default). Anything that goes wrong becomes one `failed(message)`, never a hang: a device that
disappears (the list of outputs changes, or the sink reports an error) or one that stops taking
samples for `STALL_S` while there is sound to play.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QIODevice, QObject, QTimer, Signal
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSink, QMediaDevices, QtAudio

PUMP_MS = 10
BUFFER_US = 100_000      # what the sink holds ahead: also the most a stop could lag without reset()
STALL_S = 2.0            # queued sound but no sample played for this long: the device is gone
IDLE_CLOSE_MS = 5000     # an idle stream keeps the device awake: closed after this much quiet
NO_SPEAKER = "No speaker found. Connect one, or check your system's sound settings."
SPEAKER_NOT_CONNECTED = "The chosen speaker is not connected. Pick another in Settings → Voice."
SPEAKER_GONE = "The speaker was disconnected while Hearth was speaking."
SPEAKER_BROKE = "The speaker stopped playing. Was it unplugged?"
SPEAKER_REFUSED = "Could not open the speaker. Check that no other app holds it."


def device_id(device: QAudioDevice) -> str:
    return bytes(device.id().data()).decode("utf-8", "replace")


def output_devices() -> list[tuple[str, str]]:
    """(description, id) of every output the system knows about now."""
    return [(d.description(), device_id(d)) for d in QMediaDevices.audioOutputs()]


def find_output(wanted: str) -> QAudioDevice | None:
    """The output with id `wanted`, the system default for "", or None."""
    outputs = QMediaDevices.audioOutputs()
    if not wanted:
        default = QMediaDevices.defaultAudioOutput()
        return default if not default.isNull() else (outputs[0] if outputs else None)
    return next((d for d in outputs if device_id(d) == wanted), None)


def pcm_format(sample_rate: int) -> QAudioFormat:
    fmt = QAudioFormat()
    fmt.setSampleRate(sample_rate)
    fmt.setChannelCount(1)
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    return fmt


def convert_pcm(pcm: bytes, sample_rate: int, fmt: QAudioFormat) -> bytes:
    """16-bit mono PCM → the device's own format, for outputs that take nothing else."""
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float32) / 32768.0
    if fmt.sampleRate() != sample_rate and x.size:
        n_out = int(round(x.size * fmt.sampleRate() / sample_rate))
        x = np.interp(np.arange(n_out) * (sample_rate / fmt.sampleRate()), np.arange(x.size), x).astype(np.float32)
    x = np.repeat(x, max(1, fmt.channelCount()))
    kind = fmt.sampleFormat()
    if kind == QAudioFormat.SampleFormat.Float:
        return x.astype("<f4").tobytes()
    if kind == QAudioFormat.SampleFormat.Int32:
        return (np.clip(x, -1, 1) * 2147483647).astype("<i4").tobytes()
    if kind == QAudioFormat.SampleFormat.UInt8:
        return (np.clip(x, -1, 1) * 127 + 128).astype("u1").tobytes()
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


@dataclass
class _Clip:
    data: bytes           # already in the sink's format
    fmt_key: tuple        # (rate, channels, sample format): a clip in another format needs a new sink
    fmt: QAudioFormat
    tag: object
    announced: bool = False


class AudioOutput(QObject):
    """Plays queued clips in order; `playing_changed(True)` when sound starts, `(False)` once the
    last queued sample has been heard (or `stop()`)."""

    playing_changed = Signal(bool)
    clip_started = Signal(object)   # the tag given to play(): its first samples went to the device
    failed = Signal(str)
    devices_changed = Signal()

    def __init__(self, device_id: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._wanted = device_id
        self._device: QAudioDevice | None = None
        self._sink: QAudioSink | None = None
        self._io: QIODevice | None = None
        self._fmt_key: tuple | None = None
        self._clips: deque[_Clip] = deque()
        self._offset = 0                 # bytes of the first clip already written
        self._playing = False
        self._last_progress = 0.0
        self._last_processed = -1
        self._pump = QTimer(self, interval=PUMP_MS)
        self._pump.timeout.connect(self._feed)
        self._idle = QTimer(self, singleShot=True, interval=IDLE_CLOSE_MS)
        self._idle.timeout.connect(lambda: None if self._clips else self._close())
        self._media = QMediaDevices(self)
        self._media.audioOutputsChanged.connect(self._on_outputs_changed)

    # -- devices -----------------------------------------------------------------
    def set_device_id(self, device_id: str) -> None:
        """Use another output from the next clip on (the current stream is closed)."""
        if device_id != self._wanted:
            self._wanted = device_id
            self._close()

    def unavailable_reason(self) -> str | None:
        """Why nothing can be played now (for a disabled control's tooltip), or None."""
        if not QMediaDevices.audioOutputs():
            return NO_SPEAKER
        if find_output(self._wanted) is None:
            return SPEAKER_NOT_CONNECTED
        return None

    # -- playing -----------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    def play(self, pcm: bytes, sample_rate: int, tag: object = None) -> bool:
        """Queue a clip of 16-bit mono PCM; False (and `failed`) if there is no device."""
        if self._device is None or self._sink is None:
            reason = self.unavailable_reason()
            if reason:
                self.failed.emit(reason)
                return False
            self._device = find_output(self._wanted)
        assert self._device is not None
        fmt = pcm_format(sample_rate)
        if not self._device.isFormatSupported(fmt):
            fmt = self._device.preferredFormat()
            pcm = convert_pcm(pcm, sample_rate, fmt)
        key = (fmt.sampleRate(), fmt.channelCount(), fmt.sampleFormat())
        if pcm:
            self._clips.append(_Clip(pcm, key, fmt, tag))
        self._idle.stop()
        if not self._pump.isActive():
            self._last_progress = time.monotonic()
            self._pump.start()
            self._feed()
        return True

    def stop(self) -> None:
        """Silence now: queued clips and the sink's buffer are dropped."""
        self._clips.clear()
        self._offset = 0
        self._pump.stop()
        if self._sink is not None:
            self._sink.reset()   # drop what the device holds (stop() alone may drain it)
        self._close()
        self._set_playing(False)

    # -- internals ---------------------------------------------------------------
    def _open(self, clip: _Clip) -> bool:
        self._close()
        device = find_output(self._wanted)
        if device is None:
            self._fail(SPEAKER_GONE if self._device is not None else (self.unavailable_reason() or NO_SPEAKER))
            return False
        self._device = device
        sink = QAudioSink(device, clip.fmt, self)
        sink.setBufferSize(max(clip.fmt.bytesForDuration(BUFFER_US), 1024))
        io = sink.start()
        if io is None or sink.error() != QtAudio.Error.NoError:
            sink.deleteLater()
            self._fail(SPEAKER_REFUSED)
            return False
        self._sink, self._io, self._fmt_key = sink, io, clip.fmt_key
        self._last_processed = -1
        self._last_progress = time.monotonic()
        return True

    def _close(self) -> None:
        sink, self._sink, self._io, self._fmt_key = self._sink, None, None, None
        if sink is not None:
            sink.stop()
            sink.deleteLater()

    def _feed(self) -> None:
        """Every PUMP_MS: hand the sink what it has room for; notice the end and a stall."""
        while self._clips:
            clip = self._clips[0]
            if self._sink is None or self._fmt_key != clip.fmt_key:
                if self._sink is not None and self._sink.state() == QtAudio.State.ActiveState:
                    break  # let the clip in the old format finish first
                if not self._open(clip):
                    return
            assert self._sink is not None and self._io is not None
            if not clip.announced:
                clip.announced = True
                self._set_playing(True)
                self.clip_started.emit(clip.tag)
            room = self._sink.bytesFree()
            if room <= 0:
                break
            written = self._io.write(clip.data[self._offset:self._offset + room])
            if written <= 0:
                break
            self._offset += written
            if self._offset < len(clip.data):
                break
            self._clips.popleft()
            self._offset = 0
        if not self._check_sink():
            return
        if not self._clips and (self._sink is None or self._sink.state() != QtAudio.State.ActiveState):
            self._pump.stop()
            self._set_playing(False)
            self._idle.start()

    def _check_sink(self) -> bool:
        sink = self._sink
        if sink is None:
            return True
        if sink.error() not in (QtAudio.Error.NoError, QtAudio.Error.UnderrunError):
            self._fail(SPEAKER_BROKE)
            return False
        processed = sink.processedUSecs()
        now = time.monotonic()
        if processed != self._last_processed:
            self._last_processed, self._last_progress = processed, now
        elif sink.state() == QtAudio.State.ActiveState and now - self._last_progress > STALL_S:
            self._fail(SPEAKER_BROKE)
            return False
        return True

    def _fail(self, message: str) -> None:
        self._clips.clear()
        self._offset = 0
        self._pump.stop()
        self._close()
        self._device = None
        self._set_playing(False)
        self.failed.emit(message)

    def _set_playing(self, playing: bool) -> None:
        if playing != self._playing:
            self._playing = playing
            self.playing_changed.emit(playing)

    def _on_outputs_changed(self) -> None:
        self.devices_changed.emit()
        if self._sink is None or self._device is None:
            self._device = None
            return
        current = device_id(self._device)
        if not any(device_id(d) == current for d in QMediaDevices.audioOutputs()):
            self._fail(SPEAKER_GONE)
