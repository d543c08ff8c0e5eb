"""Microphone capture for push-to-talk: QtMultimedia's QAudioSource, 16 kHz mono float32 out.

Press → `start()`, release → `stop()`. After `stop()` the source keeps listening for
`tail_ms` more so the last syllable, still in flight, is not cut off; then `finished`
carries everything recorded. Anything that goes wrong (no microphone, permission refused,
device unplugged mid-sentence) becomes one `failed(message)` — never an exception.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QIODevice, QObject, QTimer, Signal
from PySide6.QtMultimedia import QAudioDevice, QAudioFormat, QAudioSource, QMediaDevices, QtAudio

SAMPLE_RATE = 16_000
TAIL_MS = 250
WATCHDOG_MS = 200
METER_EVERY = SAMPLE_RATE // 20
# A live input delivers continuously, silence included. Unplugged, PulseAudio may just stop
# sending while Qt still reports ActiveState/NoError — so silence from the stream itself is
# how a vanished device shows. Starting can take ~1-2 s on some servers.
STALL_S = 1.5
START_S = 6.0
MAX_SECONDS = 300.0  # a held key left on a desk should not fill memory
LEVEL_FLOOR_DB = -60.0

NO_MICROPHONE = "No microphone found. Connect one, or check your system's sound settings."
MICROPHONE_GONE = "The microphone was disconnected while recording."
MICROPHONE_REFUSED = (
    "Could not open the microphone. Check that Hearth may use it "
    "(system privacy settings) and that no other app holds it."
)
MICROPHONE_BROKE = "The microphone stopped delivering sound. Was it unplugged?"
MICROPHONE_SILENT = "The microphone did not start. Check your system's sound settings."


def device_id(device: QAudioDevice) -> str:
    return bytes(device.id().data()).decode("utf-8", "replace")


def available_devices() -> list[QAudioDevice]:
    """Audio inputs the system knows about now."""
    return list(QMediaDevices.audioInputs())


def has_input_device() -> bool:
    return bool(QMediaDevices.audioInputs())


def find_device(wanted: str | bytes | None) -> QAudioDevice | None:
    """The input with id `wanted`, the system default for None, or None if there is none."""
    if wanted is None or wanted == "":
        default = QMediaDevices.defaultAudioInput()
        if not default.isNull():
            return default
        inputs = QMediaDevices.audioInputs()
        return inputs[0] if inputs else None
    key = wanted.decode("utf-8", "replace") if isinstance(wanted, bytes) else wanted
    for device in QMediaDevices.audioInputs():
        if device_id(device) == key:
            return device
    return None


def whisper_format() -> QAudioFormat:
    fmt = QAudioFormat()
    fmt.setSampleRate(SAMPLE_RATE)
    fmt.setChannelCount(1)
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    return fmt


_DTYPES = {
    QAudioFormat.SampleFormat.Int16: ("<i2", 32768.0, 0.0),
    QAudioFormat.SampleFormat.Int32: ("<i4", 2147483648.0, 0.0),
    QAudioFormat.SampleFormat.Float: ("<f4", 1.0, 0.0),
    QAudioFormat.SampleFormat.UInt8: ("u1", 128.0, 128.0),
}


def frame_bytes(sample_format: QAudioFormat.SampleFormat, channels: int) -> int:
    return np.dtype(_DTYPES[sample_format][0]).itemsize * max(1, channels)


def pcm_to_float(data: bytes, sample_format: QAudioFormat.SampleFormat, channels: int) -> np.ndarray:
    """Raw interleaved PCM → mono float32 in [-1, 1]; a trailing partial frame is ignored."""
    if sample_format not in _DTYPES:
        raise ValueError(f"unsupported sample format {sample_format}")
    dtype, scale, offset = _DTYPES[sample_format]
    channels = max(1, channels)
    usable = len(data) - len(data) % frame_bytes(sample_format, channels)
    x = (np.frombuffer(data[:usable], dtype=dtype).astype(np.float64) - offset) / scale
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0).astype(np.float32)


def resample(samples: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling: enough for speech going into Whisper's 16 kHz."""
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    n_out = int(round(samples.size * to_rate / from_rate))
    positions = np.arange(n_out, dtype=np.float64) * (from_rate / to_rate)
    return np.interp(positions, np.arange(samples.size), samples).astype(np.float32)


def level_of(samples: np.ndarray) -> float:
    """Chunk loudness on a dB scale mapped to 0..1 (what a meter should show)."""
    if samples.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 0.0:
        return 0.0
    db = 20.0 * np.log10(rms)
    return float(min(1.0, max(0.0, (db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB)))


class Recorder(QObject):
    """Records one utterance at a time from the chosen input device."""

    started = Signal()  # the first sound arrived: the microphone is live
    level_changed = Signal(float)
    elapsed_changed = Signal(float)
    finished = Signal(object)  # np.ndarray, float32, 16 kHz mono
    failed = Signal(str)

    def __init__(self, device_id: str | bytes | None = None, parent: QObject | None = None, *, tail_ms: int = TAIL_MS) -> None:
        super().__init__(parent)
        self._device_id = device_id
        self._tail_ms = tail_ms
        self._source: QAudioSource | None = None
        self._io: QIODevice | None = None
        self._device: QAudioDevice | None = None
        self._format = whisper_format()
        self._chunks: list[np.ndarray] = []
        self._unreported: list[np.ndarray] = []
        self._partial = b""
        self._samples = 0
        self._stopping = False
        self._heard = False
        self._tail = QTimer(self, singleShot=True)
        self._tail.timeout.connect(self._finish)
        # Polled, not `stateChanged`: PySide 6.12 cannot convert the queued QAudio::State
        # argument ("Cannot call meta function ... cannot be converted").
        self._watchdog = QTimer(self, interval=WATCHDOG_MS)
        self._watchdog.timeout.connect(self._check_source)
        self._media = QMediaDevices(self)
        self._media.audioInputsChanged.connect(self._on_inputs_changed)

    # --- devices ---------------------------------------------------------------
    @staticmethod
    def available_devices() -> list[QAudioDevice]:
        return available_devices()

    @staticmethod
    def has_input_device() -> bool:
        return has_input_device()

    def set_device_id(self, device_id: str | bytes | None) -> None:
        """Use another input from the next recording on."""
        self._device_id = device_id

    def unavailable_reason(self) -> str | None:
        """Why recording cannot start now (for a disabled button's tooltip), or None."""
        if not has_input_device():
            return NO_MICROPHONE
        if find_device(self._device_id) is None:
            return f"The chosen microphone is not connected. {NO_MICROPHONE}"
        return None

    @property
    def recording(self) -> bool:
        return self._source is not None

    # --- recording ---------------------------------------------------------------
    def start(self) -> bool:
        """Start listening; on failure emit `failed` and return False."""
        if self._source is not None:
            if self._stopping:  # pressed again during the tail: keep the same take going
                self._tail.stop()
                self._stopping = False
            return True
        reason = self.unavailable_reason()
        if reason:
            self.failed.emit(reason)
            return False
        device = find_device(self._device_id)
        assert device is not None
        fmt = whisper_format()
        if not device.isFormatSupported(fmt):
            fmt = device.preferredFormat()  # resampled to 16 kHz mono as it arrives
        self._device, self._format = device, fmt
        self._chunks, self._samples, self._stopping, self._heard = [], 0, False, False
        self._unreported = []
        self._partial = b""
        self._last_sound = time.monotonic()
        source = QAudioSource(device, fmt, self)
        source.setBufferSize(max(fmt.bytesForDuration(100_000), 1024))
        self._source = source
        self._io = source.start()
        if self._io is None or source.error() != QtAudio.Error.NoError:
            self._abort(MICROPHONE_REFUSED)
            return False
        self._io.readyRead.connect(self._read)
        self._watchdog.start()
        return True

    def stop(self) -> None:
        """Released: keep the tail, then emit `finished`."""
        if self._source is None or self._stopping:
            return
        self._stopping = True
        self._tail.start(self._tail_ms)

    def cancel(self) -> None:
        """Drop the take: nothing is emitted."""
        self._tail.stop()
        self._close()

    def _read(self) -> None:
        if self._io is None:
            return
        data = self._partial + bytes(self._io.readAll().data())
        fmt = self._format
        whole = len(data) - len(data) % frame_bytes(fmt.sampleFormat(), fmt.channelCount())
        data, self._partial = data[:whole], data[whole:]
        if not data:
            return
        samples = resample(pcm_to_float(data, fmt.sampleFormat(), fmt.channelCount()), fmt.sampleRate())
        self._chunks.append(samples)
        self._samples += samples.size
        self._last_sound = time.monotonic()
        if not self._heard:
            self._heard = True
            self.started.emit()
        self._unreported.append(samples)
        if sum(c.size for c in self._unreported) >= METER_EVERY:  # a meter needs ~20 updates/s
            self.level_changed.emit(level_of(np.concatenate(self._unreported)))
            self._unreported = []
            self.elapsed_changed.emit(self._samples / SAMPLE_RATE)
        seconds = self._samples / SAMPLE_RATE
        if seconds >= MAX_SECONDS and not self._stopping:
            self._finish()

    def _finish(self) -> None:
        if self._source is None:
            return
        self._read()
        audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
        self._close()
        self.level_changed.emit(0.0)
        self.finished.emit(audio)

    def _close(self) -> None:
        self._watchdog.stop()
        source, self._source, self._io = self._source, None, None
        self._stopping = False
        self._chunks = []
        if source is not None:
            source.stop()
            source.deleteLater()

    def _abort(self, message: str) -> None:
        self._tail.stop()
        self._close()
        self.level_changed.emit(0.0)
        self.failed.emit(message)

    def _check_source(self) -> None:
        source = self._source
        if source is None:
            return
        error = source.error()
        if error == QtAudio.Error.NoError:
            quiet = time.monotonic() - self._last_sound
            if self._heard and quiet > STALL_S:
                self._abort(MICROPHONE_BROKE)
            elif not self._heard and quiet > START_S:
                self._abort(MICROPHONE_SILENT)
            return
        self._abort(MICROPHONE_REFUSED if error == QtAudio.Error.OpenError else MICROPHONE_BROKE)

    def _on_inputs_changed(self) -> None:
        if self._source is None or self._device is None:
            return
        current = device_id(self._device)
        if not any(device_id(d) == current for d in QMediaDevices.audioInputs()):
            self._abort(MICROPHONE_GONE)
