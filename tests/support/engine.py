"""A shared engine host on the starter model, for tests that only read from it, and a planner that keeps its prompts."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.chat import PromptPlanner
from engine.llm.host import EngineHost, HostConfig


@pytest.fixture(scope="session")
def shared_host(starter_model, tmp_path_factory):
    host = EngineHost(HostConfig(starter_model, n_ctx=2048, n_threads=2, seed=7),
                      log_dir=tmp_path_factory.mktemp("engine-log"))
    host.start()
    yield host
    host.stop()


class RecordingPlanner(PromptPlanner):
    """The real planner, keeping each prompt it made so a story can look at what the model saw."""

    def __init__(self, store, attachments_dir: Path) -> None:  # noqa: ANN001 - a Store
        super().__init__(store, attachments_dir)
        self.prompts = []

    def plan(self, *args, **kwargs):
        planned = super().plan(*args, **kwargs)
        self.prompts.append(planned)
        return planned
