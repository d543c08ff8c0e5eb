"""A private PulseAudio server for tests: a null sink to play speech into, a virtual
microphone that hears it, and nothing of the host's real sound devices.

Started once per test process (the first test that needs it) and stopped at exit.
`PULSE_SERVER` points this process — and so QtMultimedia and `paplay` — at it; it must be
set before QtMultimedia first talks to PulseAudio, which is why tests call `ensure_pulse()`
from a fixture before creating any Recorder.

Root note: pulseaudio refuses root's default per-user set-up, so it runs with `-n` (no
default.pa), an explicit `-F` script, anonymous auth on its own socket, and a private HOME.
"""
from __future__ import annotations

import pytest

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SINK = "hearth_sink"
MIC = "hearth_mic"


class PulseUnavailable(RuntimeError):
    pass


@dataclass
class PulseServer:
    folder: Path
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"unix:{self.folder / 'native'}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PULSE_SERVER": self.address}

    def pactl(self, *args: str) -> str:
        done = subprocess.run(["pactl", *args], env=self.env(), capture_output=True, text=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def play(self, wav: Path) -> subprocess.Popen:
        """Start playing `wav` into the null sink (the virtual microphone hears it)."""
        return subprocess.Popen(["paplay", "-d", SINK, str(wav)], env=self.env(), stderr=subprocess.PIPE)

    def add_microphone(self) -> None:
        """(Re)create the virtual microphone and make it the default input."""
        if MIC not in self.pactl("list", "short", "sources"):
            self.pactl("load-module", "module-virtual-source", f"source_name={MIC}", f"master={SINK}.monitor")
        self.pactl("set-default-source", MIC)

    def remove_microphone(self) -> None:
        """Unplug the virtual microphone (the null sink's monitor stays, under another name)."""
        self._unload("module-virtual-source", f"source_name={MIC}")

    def unplug_everything(self) -> None:
        """Take away the microphone and the sink behind it: nothing left to record from."""
        self.remove_microphone()
        self._unload("module-null-sink", f"sink_name={SINK}")

    def plug_back(self) -> None:
        if SINK not in self.pactl("list", "short", "sinks"):
            self.pactl("load-module", "module-null-sink", f"sink_name={SINK}", "rate=16000", "channels=1")
            self.pactl("set-default-sink", SINK)
        self.add_microphone()

    def _unload(self, module: str, marker: str) -> None:
        for line in self.pactl("list", "short", "modules").splitlines():
            fields = line.split("\t")
            if len(fields) >= 3 and fields[1] == module and marker in fields[2]:
                self.pactl("unload-module", fields[0])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: PulseServer | None = None
_failure: str | None = None


def _start() -> PulseServer:
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
    if missing:
        raise PulseUnavailable(f"{', '.join(missing)} not installed (scripts/bootstrap.sh test installs pulseaudio, pulseaudio-utils)")
    folder = Path(tempfile.mkdtemp(prefix="hearth-pulse-"))
    script = folder / "hearth.pa"
    script.write_text(
        f"load-module module-native-protocol-unix auth-anonymous=1 socket={folder / 'native'}\n"
        f"load-module module-null-sink sink_name={SINK} rate=16000 channels=1\n"
        f"load-module module-virtual-source source_name={MIC} master={SINK}.monitor\n"
        f"set-default-sink {SINK}\n"
        f"set-default-source {MIC}\n"
    )
    env = {**os.environ, "HOME": str(folder), "XDG_RUNTIME_DIR": str(folder), "PULSE_RUNTIME_PATH": str(folder / "runtime"),
           "XDG_CONFIG_HOME": str(folder / "config"), "XDG_STATE_HOME": str(folder / "state")}
    env.pop("PULSE_SERVER", None)
    log = (folder / "pulseaudio.log").open("w")
    process = subprocess.Popen(
        ["pulseaudio", "-n", "-F", str(script), "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
         "--use-pid-file=no", "--log-target=stderr"],
        env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
    )
    server = PulseServer(folder, process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            server.pactl("info")
            return server
        except (RuntimeError, subprocess.TimeoutExpired):
            time.sleep(0.1)
    tail = (folder / "pulseaudio.log").read_text(errors="replace")[-800:]
    server.stop()
    raise PulseUnavailable(f"pulseaudio did not start: {tail.strip() or 'no output'}")


def ensure_pulse() -> PulseServer:
    """The test session's PulseAudio server; raises PulseUnavailable (with why) if it can't run."""
    global _server, _failure
    if _server is None and _failure is None:
        try:
            _server = _start()
        except PulseUnavailable as exc:
            _failure = str(exc)
        else:
            os.environ["PULSE_SERVER"] = _server.address
            atexit.register(_server.stop)
    if _server is None:
        raise PulseUnavailable(_failure or "pulseaudio unavailable")
    return _server


@pytest.fixture(scope="module")
def pulse():
    """The session's PulseAudio server, or a skip that names the problem."""
    try:
        return ensure_pulse()
    except PulseUnavailable as exc:
        pytest.skip(f"PROBLEM: no PulseAudio for the microphone tests: {exc}")
