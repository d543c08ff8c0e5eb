"""Every setting Hearth has, declared once with its type, default, bounds and a description
(after llama-cpp-python's server/settings.py). The settings dialog is generated from this list,
and values persist with QSettings in Hearth's data folder.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from app import paths
from app.secret_keys import SecretKeys


@dataclass(frozen=True)
class Setting:
    key: str
    kind: type
    default: Any
    label: str
    description: str
    minimum: float | None = None
    maximum: float | None = None
    group: str = "General"
    secret: bool = False
    at_minimum: str | None = None  # what the minimum means, shown in its place ("Automatic")
    choices: tuple[str, ...] = ()  # the only values a text setting may take (shown as a list)

    def clamp(self, value: Any) -> Any:
        try:
            if self.kind is bool:
                if isinstance(value, str):
                    value = value.lower() in ("1", "true", "yes", "on")
                return bool(value)
            value = self.kind(value)
        except (TypeError, ValueError):
            return self.default
        if self.choices and value not in self.choices:
            return self.default
        if self.minimum is not None and value < self.minimum:
            value = self.kind(self.minimum)
        if self.maximum is not None and value > self.maximum:
            value = self.kind(self.maximum)
        return value


SETTINGS: tuple[Setting, ...] = (
    # Model and engine
    Setting("model/path", str, "", "Model file", "The GGUF model to chat with; empty means the bundled starter model.", group="Engine"),
    Setting("engine/n_ctx", int, 4096, "Context size", "Tokens the model can see at once; older turns leave the prompt beyond it.", 512, 131072, group="Engine"),
    Setting("engine/n_threads", int, 0, "CPU threads", "Threads for generation; 0 picks the number of physical cores.", 0, 256, group="Engine",
            at_minimum="Automatic (one per core)"),
    Setting("engine/n_gpu_layers", int, -1, "GPU layers", "Layers offloaded to the GPU; -1 = all when a GPU backend is present, 0 = CPU only.", -1, 1000, group="Engine",
            at_minimum="All layers"),
    Setting("remote/enabled", bool, False, "Use a remote server", "Chat through an OpenAI-compatible server (vLLM, llama.cpp server, Ollama, LM Studio) instead of the local engine.", group="Remote"),
    Setting("remote/base_url", str, "http://127.0.0.1:11434/v1", "Server URL", "Base URL of the OpenAI-compatible API, ending in /v1.", group="Remote"),
    Setting("remote/api_key", str, "", "API key", "Key sent to the remote server (may be empty).", group="Remote", secret=True),
    Setting("remote/model", str, "", "Remote model", "Model name on the remote server; empty picks the first it lists.", group="Remote"),
    # Defaults for new conversations
    Setting("chat/system_prompt", str, "You are Hearth, a helpful assistant running privately on this computer.", "System prompt", "Instructions given to the model at the start of each new conversation.", group="Chat"),
    Setting("chat/temperature", float, 0.7, "Temperature", "Randomness of answers; 0 is deterministic.", 0.0, 2.0, group="Chat"),
    Setting("chat/top_p", float, 0.95, "Top-p", "Nucleus sampling: only the most likely tokens whose probabilities add up to this are considered.", 0.05, 1.0, group="Chat"),
    Setting("chat/max_tokens", int, 1024, "Max answer tokens", "The longest answer, in tokens.", 16, 32768, group="Chat"),
    Setting("chat/think", str, "long", "Thinking", "How long a reasoning model may think before it answers: off, short (512 tokens), long (4096) or unlimited. When the budget runs out, Hearth closes the thought and the model answers from it.",
            group="Chat", choices=("off", "short", "long", "unlimited")),
    # Tools
    Setting("tools/enabled", str, "calculator", "Tools", "Tools the model may call, separated by commas: calculator, python, files, fetch. Every call is shown and needs your approval.", group="Tools"),
    Setting("tools/folders", str, "", "Shared folders", "Folders the files tool may list and read, separated by ';'. Nothing else on this computer is visible to it.", group="Tools"),
    Setting("tools/mcp_config", str, "", "MCP servers", "An mcp.json (as LM Studio and Claude use) whose servers' tools join Hearth's; each call still asks you. Empty: none.", group="Tools"),
    Setting("tools/max_rounds", int, 6, "Tool rounds", "How many times one answer may call tools before it must answer.", 1, 50, group="Tools"),
    Setting("tools/python_seconds", int, 10, "Python time limit", "Seconds a Python run may take before it is stopped.", 1, 600, group="Tools"),
    Setting("tools/python_memory_mb", int, 256, "Python memory limit", "Megabytes of memory a Python run may use.", 32, 4096, group="Tools"),
    # Local server for other apps
    Setting("server/enabled", bool, False, "Serve other apps", "Answer OpenAI-compatible requests from your other apps (editor plugins, scripts) with the loaded model. Every request needs the server's key.", group="Server"),
    Setting("server/port", int, 4891, "Port", "The port the server listens on.", 1, 65535, group="Server"),
    Setting("server/all_interfaces", bool, False, "Listen on all network interfaces", "Let other computers on your network reach the server. Off: only apps on this computer can.", group="Server"),
    Setting("server/api_key", str, "", "API key", "The key apps must send. Hearth makes one when the server is first turned on and shows it once; New key makes another, and the old one stops working.", group="Server", secret=True),
    Setting("server/log_contents", bool, False, "Log request contents", "Keep the messages of recent requests in the request panel. Off: only time, client, model and tokens.", group="Server"),
    # Voice
    Setting("voice/send_immediately", bool, False, "Send transcript at once", "Send what you said without a chance to edit it first.", group="Voice"),
    Setting("voice/device", str, "", "Microphone", "Input device id; empty uses the system default.", group="Voice"),
    Setting("voice/model", str, "", "Speech model", "A faster-whisper model folder; empty uses the bundled tiny.en.", group="Voice"),
    Setting("voice/language", str, "", "Speech language", "Two-letter language code; empty detects it.", group="Voice"),
    Setting("voice/speak_answers", bool, False, "Speak answers", "Read each answer aloud as it is written, starting with its first sentence. Each chat can turn it on or off (the Speak button).", group="Voice"),
    Setting("voice/speech_voice", str, "en-us", "Voice", "The voice that reads answers aloud.", group="Voice"),
    Setting("voice/speech_rate", int, 175, "Speaking rate", "Words a minute.", 80, 450, group="Voice"),
    Setting("voice/speech_volume", int, 100, "Speech volume", "Percent of the voice's normal loudness.", 0, 200, group="Voice"),
    Setting("voice/code_blocks", str, "describe", "Code blocks", "Say \"code block, N lines\" for each code block in an answer, or skip them.", group="Voice",
            choices=("describe", "skip")),
    Setting("voice/output_device", str, "", "Speaker", "Output device id; empty uses the system default.", group="Voice"),
)

BY_KEY = {s.key: s for s in SETTINGS}
CONVERSATION_KEYS = ("chat/temperature", "chat/top_p", "chat/max_tokens", "chat/think", "tools/enabled")


def conversation_declarations() -> list[Setting]:
    """What a chat's own settings dialog shows: its system prompt and overrides, on one page."""
    return [replace(BY_KEY[key], group="This chat") for key in ("chat/system_prompt", *CONVERSATION_KEYS)]


class Settings:
    """Typed access to persisted settings; unknown keys are a programming error."""

    def __init__(self, path: str | None = None) -> None:
        ini = Path(path) if path else paths.data_dir() / "settings.ini"
        self._qs = QSettings(str(ini), QSettings.Format.IniFormat)
        self.keys = SecretKeys(ini.parent)  # secret settings live here, never in settings.ini
        self._move_secrets_out_of_ini()

    def get(self, key: str) -> Any:
        setting = BY_KEY[key]
        value = (self.keys.get(key) or setting.default) if setting.secret else self._qs.value(key, setting.default)
        return setting.clamp(value)

    def set(self, key: str, value: Any) -> None:
        if BY_KEY[key].secret:
            self.keys.set(key, BY_KEY[key].clamp(value))
            return
        self._qs.setValue(key, BY_KEY[key].clamp(value))
        self._qs.sync()

    def _move_secrets_out_of_ini(self) -> None:
        """A key an older Hearth wrote to settings.ini moves to the key store, then leaves the ini."""
        for setting in SETTINGS:
            if setting.secret and self._qs.contains(setting.key):
                value = str(self._qs.value(setting.key) or "")
                if value:
                    self.keys.set(setting.key, value)
                self._qs.remove(setting.key)
                self._qs.sync()

    def values(self) -> dict[str, Any]:
        return {s.key: self.get(s.key) for s in SETTINGS}

    def get_list(self, key: str) -> list[str]:
        value = self._qs.value(key, [])
        if isinstance(value, str):
            return [value] if value else []
        return list(value or [])

    def set_list(self, key: str, values: list[str]) -> None:
        self._qs.setValue(key, values)
        self._qs.sync()

    def state(self, key: str) -> Any:
        """Remembered state that is not a setting (window geometry, the unsent draft)."""
        return self._qs.value(key)

    def set_state(self, key: str, value: Any) -> None:
        self._qs.setValue(key, value)
        self._qs.sync()
