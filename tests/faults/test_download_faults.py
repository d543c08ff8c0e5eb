"""Downloads when things go wrong: bad bytes, dead networks, killed apps, full disks."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from engine.models.download import ChecksumError, DiskFullError, Downloader, NetworkError
from engine.models.hub import HubClient, OfflineError
from tests.support.fake_hub import FakeHub, make_gguf_bytes, downloader, library_files

ROOT = Path(__file__).resolve().parents[2]
REPO = "bartowski/Tiny-GGUF"
MODEL = "Tiny-Q4_K_M.gguf"
SIZE = 2_000_000


@pytest.fixture
def hub():
    with FakeHub() as fake:
        fake.add_file(REPO, MODEL, make_gguf_bytes(SIZE, seed=3))
        yield fake


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"




def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_damaged_bytes_are_rejected_removed_and_explained(hub, models):
    hub.faults.corrupt = True
    d = downloader(hub, models)
    with pytest.raises(ChecksumError, match="checksum does not match.*deleted it"):
        d.download(REPO, MODEL)
    assert library_files(models) == []
    assert d.partial_size(REPO, MODEL) == 0

    hub.reset_faults()  # a second try gets good bytes
    assert sha256_of(d.download(REPO, MODEL)) == hub.repos[REPO].files[MODEL].sha256


def test_a_dead_network_gives_up_politely_and_the_next_try_resumes(hub, models):
    hub.faults.drop_after = 800_000  # first response dies at 800 kB...
    d = downloader(hub, models, max_attempts=3)
    calls = 0
    real_stream = hub._should_drop

    def then_nothing_at_all() -> int | None:  # ...then every reconnect dies before a byte
        nonlocal calls
        calls += 1
        return 800_000 if calls == 1 else 0

    hub._should_drop = then_nothing_at_all
    with pytest.raises(NetworkError, match="will resume where it left off"):
        d.download(REPO, MODEL)
    assert d.partial_size(REPO, MODEL) == 800_000
    assert library_files(models) == []

    hub._should_drop = real_stream  # the network is back (a new call, like a new app session)
    hub.reset_faults()
    path = downloader(hub, models).download(REPO, MODEL)
    assert hub.cdn_ranges[-1] == "bytes=800000-"
    assert sha256_of(path) == hub.repos[REPO].files[MODEL].sha256


def test_the_hub_going_away_mid_download_is_retried(hub, models):
    hub.faults.drop_after = 500_000
    d = downloader(hub, models, progress_interval_s=0)

    def progress(p):  # the connection drops, and the hub answers 503 for a moment after
        if p.done >= 500_000 and not hub.faults.hub_down and p.done < SIZE:
            hub.faults.hub_down = True
            threading.Timer(0.05, lambda: setattr(hub.faults, "hub_down", False)).start()

    path = d.download(REPO, MODEL, progress=progress)
    assert path.stat().st_size == SIZE
    assert ("hub", "GET /api/models/bartowski/Tiny-GGUF?blobs=true") in hub.requests
    assert hub.cdn_ranges == [None, "bytes=500000-"]
    assert hub.requests.count(("hub", "GET /api/models/bartowski/Tiny-GGUF?blobs=true")) > 2  # retried through the 503s


def test_an_app_killed_mid_download_resumes_after_restart(hub, models):
    hub.faults.throttle_bps = 2_000_000  # ~1 s for the file: time to kill it
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from engine.models.download import Downloader
        from engine.models.hub import HubClient
        Downloader(Path({str(models)!r}), HubClient(endpoint={hub.endpoint!r}), free_space_margin=0).download(
            {REPO!r}, {MODEL!r})
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    d = downloader(hub, models)
    try:
        deadline = time.monotonic() + 60
        while d.partial_size(REPO, MODEL) < 400_000 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    kept = d.partial_size(REPO, MODEL)
    assert 400_000 <= kept < SIZE
    assert library_files(models) == []

    hub.reset_faults()
    path = d.download(REPO, MODEL)  # the restarted app
    assert hub.cdn_ranges[-1] == f"bytes={kept}-"
    assert sha256_of(path) == hub.repos[REPO].files[MODEL].sha256


def test_not_enough_free_space_is_refused_up_front_with_numbers(hub, models):
    hub.add_file(REPO, "Huge-Q8_0.gguf", make_gguf_bytes(1000), advertised_size=10**17)  # 100 PB
    d = downloader(hub, models)
    with pytest.raises(DiskFullError, match=r"Not enough disk space for Huge-Q8_0.gguf: it needs 100000\.0 TB") as e:
        d.download(REPO, "Huge-Q8_0.gguf")
    assert e.value.needed > e.value.free
    assert hub.cdn_ranges == []
    assert library_files(models) == []


def test_disk_filling_up_mid_write_keeps_a_resumable_partial_and_shows_nothing(hub, models):
    # A child process whose files may not grow past 1 MB: writes fail with EFBIG, like a full disk.
    script = textwrap.dedent(f"""
        import json, resource, signal, sys; sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from engine.models.download import Downloader, DiskFullError
        from engine.models.hub import HubClient
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, resource.RLIM_INFINITY))
        try:
            Downloader(Path({str(models)!r}), HubClient(endpoint={hub.endpoint!r}), free_space_margin=0).download(
                {REPO!r}, {MODEL!r})
        except DiskFullError as e:
            print(json.dumps({{"error": str(e), "kept": e.partial_kept}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert "disk filled up" in report["error"] and "kept" in report["error"]
    assert report["kept"] is True
    assert library_files(models) == []

    d = downloader(hub, models)
    kept = d.partial_size(REPO, MODEL)
    assert 0 < kept <= 1_000_000
    path = d.download(REPO, MODEL)  # space freed: resume and verify
    assert hub.cdn_ranges[-1] == f"bytes={kept}-"
    assert sha256_of(path) == hub.repos[REPO].files[MODEL].sha256


def test_no_network_at_all_says_offline(models):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = Downloader(models, HubClient(endpoint=f"http://127.0.0.1:{port}"), free_space_margin=0)
    with pytest.raises(OfflineError, match="Can't reach Hugging Face"):
        d.download(REPO, MODEL)
    assert library_files(models) == []


def test_two_downloads_of_the_same_file_do_not_trample_each_other(hub, models):
    hub.faults.throttle_bps = 2_000_000
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from engine.models.download import Downloader
        from engine.models.hub import HubClient
        Downloader(Path({str(models)!r}), HubClient(endpoint={hub.endpoint!r}), free_space_margin=0).download(
            {REPO!r}, {MODEL!r})
    """)
    child = subprocess.Popen([sys.executable, "-c", script])
    d = downloader(hub, models)
    try:
        while d.partial_size(REPO, MODEL) == 0 and child.poll() is None:
            time.sleep(0.02)
        from engine.models.download import DownloadError

        with pytest.raises(DownloadError, match="already being downloaded"):
            d.download(REPO, MODEL)
    finally:
        child.wait(timeout=60)
    assert child.returncode == 0
    assert sha256_of(d.target_path(REPO, MODEL)) == hub.repos[REPO].files[MODEL].sha256
    assert os.listdir(models / ".partial") == []
