"""Downloading a model: verified, resumable, pausable, cancellable (real huggingface_hub, local hub)."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from engine.cancel import Cancel
from engine.models.download import (
    DownloadCancelled,
    DownloadPaused,
    DownloadProgress,
)
from engine.models.hub import FileNotFound, GatedRepoError, RepoNotFound
from tests.support.fake_hub import FakeHub, make_gguf_bytes, downloader, library_files

REPO = "bartowski/Tiny-GGUF"
MODEL = "Tiny-Q4_K_M.gguf"
PROJECTOR = "mmproj-Tiny-f16.gguf"
SIZE = 2_000_000


@pytest.fixture
def hub():
    with FakeHub() as fake:
        fake.add_file(REPO, MODEL, make_gguf_bytes(SIZE, seed=1))
        fake.add_file(REPO, PROJECTOR, make_gguf_bytes(300_000, seed=2))
        fake.add_repo("meta-llama/Gated-GGUF", gated=True)
        fake.add_file("meta-llama/Gated-GGUF", "g.gguf", make_gguf_bytes(1000))
        yield fake


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"




def test_a_model_arrives_verified_in_its_repo_folder(hub, models):
    seen: list[DownloadProgress] = []
    path = downloader(hub, models, progress_interval_s=0).download(REPO, MODEL, progress=seen.append)

    assert path == models / "bartowski__Tiny-GGUF" / MODEL
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hub.repos[REPO].files[MODEL].sha256
    assert library_files(models) == [f"bartowski__Tiny-GGUF/{MODEL}"]
    assert not list((models / ".partial").glob("*.part*"))
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == SIZE
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].fraction == 1.0 and seen[-1].eta_s == 0
    # the token never travels to the CDN, and the CDN was asked once, from the start
    assert hub.cdn_ranges == [None]


def test_downloading_again_reuses_the_finished_file(hub, models):
    d = downloader(hub, models)
    first = d.download(REPO, MODEL)
    hub.requests.clear()
    assert d.download(REPO, MODEL) == first
    assert hub.requests == []


def test_a_dropped_connection_resumes_where_it_stopped(hub, models):
    hub.faults.drop_after = 700_000
    path = downloader(hub, models).download(REPO, MODEL)
    assert hub.cdn_ranges == [None, "bytes=700000-"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hub.repos[REPO].files[MODEL].sha256


def test_a_flaky_connection_that_drops_every_time_still_finishes(hub, models):
    hub.faults.drop_after = 300_000
    hub.faults.drop_every_time = True
    path = downloader(hub, models).download(REPO, MODEL)
    assert len(hub.cdn_ranges) == 7  # 2 MB in 300 kB bites
    assert path.stat().st_size == SIZE


def test_pause_keeps_the_bytes_and_resume_continues_from_them(hub, models):
    hub.faults.throttle_bps = 4_000_000  # ~0.5 s for the whole file: time to press pause
    pause = Cancel()

    def press_pause_midway(p: DownloadProgress) -> None:
        if p.done >= 500_000:
            pause.cancel()

    d = downloader(hub, models, progress_interval_s=0)
    with pytest.raises(DownloadPaused, match="paused at"):
        d.download(REPO, MODEL, progress=press_pause_midway, pause=pause)
    kept = d.partial_size(REPO, MODEL)
    assert 500_000 <= kept < SIZE
    assert library_files(models) == []  # nothing half-done in the library

    hub.reset_faults()
    path = d.download(REPO, MODEL)
    assert hub.cdn_ranges[-1] == f"bytes={kept}-"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hub.repos[REPO].files[MODEL].sha256
    assert d.partial_size(REPO, MODEL) == 0


def test_cancel_leaves_no_file_anywhere(hub, models):
    hub.faults.throttle_bps = 4_000_000
    cancel = Cancel()

    def press_cancel(p: DownloadProgress) -> None:
        if p.done >= 300_000:
            cancel.cancel()

    d = downloader(hub, models, progress_interval_s=0)
    with pytest.raises(DownloadCancelled):
        d.download(REPO, MODEL, progress=press_cancel, cancel=cancel)
    assert library_files(models) == []
    assert not list((models / ".partial").glob("*.part*"))


def test_cancel_from_another_thread_stops_promptly(hub, models):
    hub.faults.throttle_bps = 1_000_000
    cancel = Cancel()
    started = threading.Event()
    d = downloader(hub, models, progress_interval_s=0)
    threading.Timer(0.3, cancel.cancel).start()
    with pytest.raises(DownloadCancelled):
        d.download(REPO, MODEL, cancel=cancel, progress=lambda p: started.set())
    assert started.is_set()
    assert d.partial_size(REPO, MODEL) == 0


def test_a_vision_model_comes_with_its_projector(hub, models):
    model, projector = downloader(hub, models).download_with_projector(REPO, MODEL, PROJECTOR)
    assert model.parent == projector.parent == models / "bartowski__Tiny-GGUF"
    assert projector.name == PROJECTOR and projector.stat().st_size == 300_000


def test_gated_and_missing_things_fail_before_any_bytes(hub, models):
    d = downloader(hub, models)
    with pytest.raises(GatedRepoError):
        d.download("meta-llama/Gated-GGUF", "g.gguf")
    with pytest.raises(RepoNotFound):
        d.download("nobody/nothing", "x.gguf")
    with pytest.raises(FileNotFound):
        d.download(REPO, "Tiny-Q9.gguf")
    assert hub.cdn_ranges == []
    assert library_files(models) == []


def test_a_partial_for_a_file_that_changed_upstream_is_not_reused(hub, models):
    d = downloader(hub, models)
    hub.faults.throttle_bps = 4_000_000
    pause = Cancel()
    with pytest.raises(DownloadPaused):
        d.download(REPO, MODEL, pause=pause,
                   progress=lambda p: p.done > 200_000 and pause.cancel())
    hub.reset_faults()
    hub.add_file(REPO, MODEL, make_gguf_bytes(SIZE, seed=99))  # the uploader replaced it
    path = d.download(REPO, MODEL)
    assert hub.cdn_ranges[-1] is None  # started over
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hub.repos[REPO].files[MODEL].sha256


# -- the command line: `hearth models pull` -----------------------------------------------
def pull(hub: FakeHub, models: Path, *argv: str) -> tuple[int, str]:
    import argparse
    import io

    from app.cli.pull import add_parser

    parser = argparse.ArgumentParser(prog="hearth models")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["pull", *argv, "--endpoint", hub.endpoint, "--models-dir", str(models)])
    err = io.StringIO()
    code = args.func(args, err=err)
    return code, err.getvalue()


def test_pull_without_a_file_picks_q4_k_m_and_its_projector(hub, models):
    hub.add_file(REPO, "Tiny-Q8_0.gguf", make_gguf_bytes(500_000, seed=5))
    code, err = pull(hub, models, f"https://huggingface.co/{REPO}")
    assert code == 0, err
    assert f"Choosing {MODEL}" in err and f"projector {PROJECTOR}" in err
    assert library_files(models) == [f"bartowski__Tiny-GGUF/{MODEL}", f"bartowski__Tiny-GGUF/{PROJECTOR}"]
    assert "100.0%" in err and "ETA" in err


def test_pull_failures_are_one_clear_line_and_exit_2(hub, models):
    for argv, message in [
        (("nobody/nothing",), "No model called nobody/nothing"),
        ((REPO, "Tiny-Q9.gguf"), "has no file called Tiny-Q9.gguf"),
        (("meta-llama/Gated-GGUF", "g.gguf"), "requires accepting its licence"),
        (("not a repo",), "is not a Hugging Face model"),
    ]:
        code, err = pull(hub, models, *argv)
        assert code == 2
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("hearth: ") and message in lines[0], err
        assert "Traceback" not in err
