"""A shared engine host on the starter model, for tests that only read from it."""
from __future__ import annotations

import pytest

from engine.llm.host import EngineHost, HostConfig


@pytest.fixture(scope="session")
def shared_host(starter_model, tmp_path_factory):
    host = EngineHost(HostConfig(starter_model, n_ctx=2048, n_threads=2, seed=7),
                      log_dir=tmp_path_factory.mktemp("engine-log"))
    host.start()
    yield host
    host.stop()
