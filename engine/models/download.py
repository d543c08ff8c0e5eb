"""Model downloads that never stall, always resume and always verify.

huggingface_hub's own `hf_hub_download` deletes its temporary file when a call fails and
checks only the byte count. Hearth keeps its own partial file plus a JSON sidecar in
`models_dir/.partial/`, so a download resumes with a `Range` request within a call, across
calls and across app restarts; it hashes bytes as they land (on a helper thread, so hashing
overlaps the network) and compares with the LFS sha256 the hub lists. Only a verified file is
moved, atomically, into `models_dir/<owner>__<repo>/<file>`: nothing partial is ever visible
to the library, which ignores `.partial`.

URLs, metadata and the HTTP client (with its redirect handling) are huggingface_hub's; the
streaming loop is Hearth's own because it must pause, cancel, back off and hash.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx2
from huggingface_hub import constants
from huggingface_hub.utils import get_session, hf_raise_for_status

from engine.cancel import Cancel
from engine.models.hub import HubClient, HubError, OfflineError, ResolvedFile, ServerError, hub_errors
from engine.models.records import human_size

try:  # POSIX: stop two Hearths (or the app and the CLI) writing the same partial file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PARTIAL_DIR = ".partial"
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_RETRY_STATUS = {403, 408, 429, 500, 502, 503, 504}  # 403: an expired signed CDN URL; re-resolve


# -- errors and stops --------------------------------------------------------------------
class DownloadError(HubError):
    """A download failed; the message says what happened to the bytes so far."""


class NetworkError(DownloadError):
    pass


class ChecksumError(DownloadError):
    pass


class DiskFullError(DownloadError):
    def __init__(self, message: str, *, needed: int | None = None, free: int | None = None,
                 partial_kept: bool = False) -> None:
        super().__init__(message)
        self.needed, self.free, self.partial_kept = needed, free, partial_kept


class DownloadStopped(Exception):
    """The user stopped the download (not an error)."""


class DownloadPaused(DownloadStopped):
    """Stopped; the partial file is kept and the next `download` resumes it."""


class DownloadCancelled(DownloadStopped):
    """Stopped; the partial file was deleted."""


@dataclass(frozen=True)
class DownloadProgress:
    repo_id: str
    filename: str
    done: int
    total: int
    speed_bps: float  # smoothed
    eta_s: float | None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


# -- the partial file --------------------------------------------------------------------
class _Flusher:
    """Pushes the partial file to disk as it grows, so the final fsync before the rename is short."""

    EVERY = 8 * 1024 * 1024  # ~10 ms of disk here; the final fsync then waits ~7 ms, not ~40

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pending = 0
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="hearth-flush")
        self._thread.start()

    def wrote(self, n: int) -> None:
        self._pending += n
        if self._pending >= self.EVERY:
            self._pending = 0
            self._wake.set()

    def _run(self) -> None:
        sync = getattr(os, "fdatasync", os.fsync)
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopped:
                return
            try:
                fd = os.open(self._path, os.O_RDONLY)
                try:
                    sync(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass  # best effort: the final fsync is the one that counts

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._thread.join()


class _Hasher:
    """sha256 of the partial file, fed on a helper thread (hashlib releases the GIL)."""

    _END = object()
    BATCH = 1 << 20

    def __init__(self, prefix: Path | None = None, prefix_len: int = 0) -> None:
        self._digest = hashlib.sha256()
        self._batch: list[bytes] = []
        self._batched = 0
        self._queue: queue.Queue[object] = queue.Queue(maxsize=32)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(prefix, prefix_len), daemon=True,
                                        name="hearth-sha256")
        self._thread.start()

    def _run(self, prefix: Path | None, prefix_len: int) -> None:
        try:
            if prefix is not None and prefix_len:
                with prefix.open("rb") as f:
                    left = prefix_len
                    while left:
                        block = f.read(min(8 << 20, left))
                        if not block:
                            raise OSError(f"{prefix} is shorter than expected")
                        self._digest.update(block)
                        left -= len(block)
            while (batch := self._queue.get()) is not self._END:
                for chunk in batch:  # type: ignore[attr-defined]
                    self._digest.update(chunk)
        except BaseException as e:  # noqa: BLE001 - reported by hexdigest()
            self._error = e
            while self._queue.get() is not self._END:
                pass

    def feed(self, chunk: bytes) -> None:
        """Chunks travel in ~1 MiB batches: one thread hand-off per batch, not per 64 KiB read."""
        self._batch.append(chunk)
        self._batched += len(chunk)
        if self._batched >= self.BATCH:
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0

    def hexdigest(self) -> str:
        if self._batch:
            self._queue.put(self._batch)
            self._batch, self._batched = [], 0
        self._queue.put(self._END)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._digest.hexdigest()

    def abandon(self) -> None:
        self._queue.put(self._END)


@dataclass
class _Sidecar:
    repo_id: str
    filename: str
    size: int
    sha256: str | None
    etag: str | None
    commit: str

    def matches(self, r: ResolvedFile) -> bool:
        if self.size != r.size:
            return False
        if self.sha256 and r.sha256:
            return self.sha256 == r.sha256
        return self.etag == r.etag and self.commit == r.commit


class _Speed:
    """Bytes/second, smoothed so the ETA doesn't jump about."""

    def __init__(self, done: int) -> None:
        self._t, self._done, self.bps = time.monotonic(), done, 0.0

    def sample(self, done: int) -> None:
        now = time.monotonic()
        dt = now - self._t
        if dt <= 0:
            return
        inst = (done - self._done) / dt
        self.bps = inst if self.bps == 0 else 0.3 * inst + 0.7 * self.bps
        self._t, self._done = now, done

    def restart(self, done: int) -> None:
        self._t, self._done = time.monotonic(), done


class _Transient(Exception):
    """Worth another try after a pause: the network or the CDN hiccuped."""


# -- the downloader ----------------------------------------------------------------------
class Downloader:
    def __init__(self, models_dir: Path, client: HubClient, *, max_attempts: int = 6,
                 backoff_s: float = 1.0, backoff_max_s: float = 30.0,
                 free_space_margin: int = 64 * 1024 * 1024, progress_interval_s: float = 0.1) -> None:
        self.models_dir = Path(models_dir)
        self.client = client
        self.max_attempts = max_attempts
        self.backoff_s, self.backoff_max_s = backoff_s, backoff_max_s
        self.free_space_margin = free_space_margin
        self.progress_interval_s = progress_interval_s

    # where things live
    def target_path(self, repo_id: str, filename: str) -> Path:
        owner, name = repo_id.split("/", 1)
        return self.models_dir / f"{owner}__{name}" / _safe_relative(filename)

    def partial_path(self, repo_id: str, filename: str) -> Path:
        owner, name = repo_id.split("/", 1)
        flat = str(_safe_relative(filename)).replace(os.sep, "--")
        return self.models_dir / PARTIAL_DIR / f"{owner}__{name}--{flat}.part"

    def partial_size(self, repo_id: str, filename: str) -> int:
        """Bytes already downloaded (0 if none): lets the UI say "Resume (1.2 of 4.1 GB)"."""
        try:
            return self.partial_path(repo_id, filename).stat().st_size
        except FileNotFoundError:
            return 0

    def discard_partial(self, repo_id: str, filename: str) -> None:
        part = self.partial_path(repo_id, filename)
        for p in (part, _sidecar_path(part)):
            p.unlink(missing_ok=True)

    # the work
    def download_with_projector(self, repo_id: str, filename: str, mmproj: str, *,
                                progress: Callable[[DownloadProgress], None] | None = None,
                                cancel: Cancel | None = None, pause: Cancel | None = None,
                                ) -> tuple[Path, Path]:
        """A vision model is two files; both must arrive (each verified) before it is usable."""
        model = self.download(repo_id, filename, progress=progress, cancel=cancel, pause=pause)
        projector = self.download(repo_id, mmproj, progress=progress, cancel=cancel, pause=pause)
        return model, projector

    def download(self, repo_id: str, filename: str, *,
                 progress: Callable[[DownloadProgress], None] | None = None,
                 cancel: Cancel | None = None, pause: Cancel | None = None) -> Path:
        target = self.target_path(repo_id, filename)
        if target.is_file():
            return target  # only verified files are ever placed there
        part = self.partial_path(repo_id, filename)
        part.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(part, filename):
            resolved = self.client.resolve(repo_id, filename)
            done = self._prepare_partial(part, resolved)
            self._check_free_space(resolved, done)
            job = _Job(self, resolved, part, done, progress, cancel, pause)
            try:
                job.run()
            except DownloadCancelled:
                self.discard_partial(repo_id, filename)
                raise
            actual = job.hasher_digest()
            if resolved.sha256 and actual != resolved.sha256:
                self.discard_partial(repo_id, filename)
                raise ChecksumError(
                    f"{filename} arrived damaged: its checksum does not match the one Hugging Face lists, "
                    "so Hearth deleted it. Try the download again."
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            _fsync(part)
            os.replace(part, target)
            _sidecar_path(part).unlink(missing_ok=True)
            return target

    # helpers
    def _prepare_partial(self, part: Path, resolved: ResolvedFile) -> int:
        """Keep a partial file only if it is for these very bytes; (re)write the sidecar."""
        sidecar = _sidecar_path(part)
        existing = _read_sidecar(sidecar)
        done = part.stat().st_size if part.exists() else 0
        if existing is None or not existing.matches(resolved) or done > resolved.size:
            part.unlink(missing_ok=True)
            done = 0
        record = _Sidecar(resolved.repo_id, resolved.filename, resolved.size, resolved.sha256,
                          resolved.etag, resolved.commit)
        try:
            tmp = sidecar.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")
            os.replace(tmp, sidecar)
        except OSError as e:
            if e.errno in _DISK_FULL_ERRNOS:
                raise DiskFullError(f"The disk holding {self.models_dir} is full; free some space and try again.",
                                    partial_kept=done > 0) from e
            raise
        if not part.exists():
            part.touch()
        return done

    def _check_free_space(self, resolved: ResolvedFile, done: int) -> None:
        free = shutil.disk_usage(self.models_dir).free
        needed = resolved.size - done + self.free_space_margin
        if needed > free:
            raise DiskFullError(
                f"Not enough disk space for {resolved.filename}: it needs {human_size(resolved.size - done)} more "
                f"(plus {human_size(self.free_space_margin)} to spare) but only {human_size(free)} is free "
                f"in {self.models_dir}.",
                needed=needed, free=free, partial_kept=done > 0,
            )

    def _backoff(self, failures: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * 2 ** (failures - 1))


class _Job:
    """One `download` call's streaming loop: retries, stops, progress, hashing."""

    def __init__(self, owner: Downloader, resolved: ResolvedFile, part: Path, done: int,
                 progress: Callable[[DownloadProgress], None] | None,
                 cancel: Cancel | None, pause: Cancel | None) -> None:
        self.d, self.resolved, self.part, self.done = owner, resolved, part, done
        self.progress, self.cancel, self.pause = progress, cancel, pause
        self.hasher = _Hasher(part, done)
        self.flusher = _Flusher(part)
        self.speed = _Speed(done)
        self._last_report = 0.0

    def hasher_digest(self) -> str:
        return self.hasher.hexdigest()

    def run(self) -> None:
        failures = 0
        resolved = self.resolved
        try:
            self._report(force=True)
            while self.done < resolved.size or self.done == 0 == resolved.size:
                self._check_stop()
                before = self.done
                try:
                    if failures:
                        resolved = self._re_resolve()
                    self._stream(resolved)
                    if self.done == resolved.size:
                        break
                    raise _Transient("the connection ended early")
                except _Transient as e:
                    failures = 1 if self.done > before else failures + 1
                    if failures >= self.d.max_attempts:
                        raise NetworkError(
                            f"Lost the connection while downloading {resolved.filename} "
                            f"({human_size(self.done)} of {human_size(resolved.size)}). "
                            "Hearth keeps what it has and will resume where it left off when you try again."
                        ) from e
                    self._sleep(self.d._backoff(failures))
                    self.speed.restart(self.done)
            self._report(force=True)
        except BaseException:
            self.hasher.abandon()
            raise
        finally:
            self.flusher.stop()

    def _re_resolve(self) -> ResolvedFile:
        try:
            fresh = self.d.client.resolve(self.resolved.repo_id, self.resolved.filename)
        except (OfflineError, ServerError) as e:
            raise _Transient(str(e)) from e
        if fresh.size != self.resolved.size or (fresh.sha256 and fresh.sha256 != self.resolved.sha256):
            raise DownloadError(f"{self.resolved.filename} changed on Hugging Face during the download; "
                                "start it again.")
        return fresh

    def _stream(self, resolved: ResolvedFile) -> None:
        headers = {"Accept-Encoding": "identity", **self.d.client.auth_headers_for(resolved.location)}
        if self.done:
            headers["Range"] = f"bytes={self.done}-"
        timeout = httpx2.Timeout(constants.HF_HUB_DOWNLOAD_TIMEOUT, connect=constants.HF_HUB_ETAG_TIMEOUT)
        try:
            with get_session().stream("GET", resolved.location, headers=headers, timeout=timeout) as r:
                if r.status_code == 416 and self.done == resolved.size:
                    return
                if r.status_code in _RETRY_STATUS:
                    raise _Transient(f"HTTP {r.status_code}")
                if r.status_code >= 400:
                    r.read()
                    with hub_errors(resolved.repo_id, resolved.filename):
                        hf_raise_for_status(r)
                if self.done and r.status_code == 200:  # the server ignored Range: start over
                    self._restart_from_zero()
                with self.part.open("r+b", buffering=0) as f:
                    f.seek(self.done)
                    self._receive(r, f, resolved.size)
        except httpx2.TransportError as e:
            raise _Transient(type(e).__name__) from e

    def _receive(self, r: httpx2.Response, f, size: int) -> None:  # noqa: ANN001
        cancel, pause = self.cancel, self.pause
        for chunk in r.iter_raw():
            if (cancel is not None and cancel.cancelled) or (pause is not None and pause.cancelled):
                self._check_stop()
            if self.done + len(chunk) > size:
                chunk = chunk[: size - self.done]  # never grow past the advertised size
            self._write(f, chunk)
            self.hasher.feed(chunk)
            self.flusher.wrote(len(chunk))
            self.done += len(chunk)
            if self.progress is not None:
                self._report()
            if self.done >= size:
                return

    def _write(self, f, chunk: bytes) -> None:  # noqa: ANN001
        view = memoryview(chunk)
        written = 0
        try:
            while written < len(view):
                written += f.write(view[written:])
        except OSError as e:
            f.truncate(self.done)  # keep only whole, hashed chunks: the partial stays resumable
            if e.errno in _DISK_FULL_ERRNOS:
                raise DiskFullError(
                    f"The disk filled up while downloading {self.resolved.filename}. The "
                    f"{human_size(self.done)} already downloaded are kept (in {self.part.parent}); "
                    "free some space and download again to resume, or cancel to delete them.",
                    partial_kept=True,
                ) from e
            raise DownloadError(f"Couldn't write {self.part}: {e.strerror}. The download was paused.") from e

    def _restart_from_zero(self) -> None:
        self.hasher.abandon()
        self.hasher = _Hasher()
        os.truncate(self.part, 0)
        self.done = 0
        self.speed.restart(0)

    def _check_stop(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise DownloadCancelled(f"Download of {self.resolved.filename} cancelled.")
        if self.pause is not None and self.pause.cancelled:
            raise DownloadPaused(
                f"Download of {self.resolved.filename} paused at {human_size(self.done)} "
                f"of {human_size(self.resolved.size)}."
            )

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._check_stop()
            time.sleep(min(0.1, left))
        self._check_stop()

    def _report(self, force: bool = False) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_report < self.d.progress_interval_s:
            return
        self._last_report = now
        self.speed.sample(self.done)
        left = self.resolved.size - self.done
        eta = left / self.speed.bps if self.speed.bps > 0 else None
        self.progress(DownloadProgress(self.resolved.repo_id, self.resolved.filename, self.done,
                                       self.resolved.size, self.speed.bps, eta))


# -- small file helpers ------------------------------------------------------------------
def _safe_relative(filename: str) -> Path:
    """A repo file name as a relative path that cannot escape the models folder."""
    parts = [p for p in filename.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts or filename.startswith("/"):
        raise DownloadError(f"Refusing the file name {filename!r}: it points outside the models folder.")
    return Path(*parts)


def _sidecar_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _read_sidecar(path: Path) -> _Sidecar | None:
    try:
        return _Sidecar(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _exclusive:
    """A lock file beside the partial: a second downloader of the same file is told so."""

    def __init__(self, part: Path, filename: str) -> None:
        self.path = part.with_name(part.name + ".lock")
        self.filename = filename
        self.fd: int | None = None

    def __enter__(self) -> None:
        if fcntl is None:
            return
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self.fd)
            self.fd = None
            raise DownloadError(f"{self.filename} is already being downloaded.") from e

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # while still holding it; nobody waits on it (LOCK_NB)
            os.close(self.fd)
