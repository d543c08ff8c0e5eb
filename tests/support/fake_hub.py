"""A local stand-in for huggingface.co that answers the requests huggingface_hub really makes.

Two servers, like the real thing: the *hub* (API + `/resolve/`) and a *CDN* on another port.
`HEAD|GET /{repo}/resolve/{rev}/{file}` answers 302 to the CDN with `X-Linked-Etag` (the
sha256), `X-Linked-Size` and `X-Repo-Commit`, so huggingface_hub treats the CDN as a foreign
origin exactly as it does on the internet. The CDN serves bytes with `Range` support.

Fault knobs (`hub.faults`) let tests break the network the way real networks break: drop the
connection after N bytes (once or every time), serve bytes that do not match the advertised
sha256, throttle. Gated repos, unknown repos/files and bad tokens answer with the hub's own
status codes and `X-Error-Code` headers.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_API_MODEL = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<rev>[^/]+))?$")
_CDN_BLOB = re.compile(r"^/blobs/(?P<sha>[0-9a-f]{64})$")
_BAD_CREDENTIALS = "Invalid credentials in Authorization header"
_FLIP = bytes(b ^ 0x5A for b in range(256))


@dataclass
class Faults:
    """What the network does wrong. Tests flip these between (or during) downloads."""

    drop_after: int | None = None  # close the CDN connection after this many body bytes
    drop_every_time: bool = False  # ... on every response, not only the next one
    corrupt: bool = False  # serve bytes that do not match the advertised sha256
    throttle_bps: int | None = None  # CDN bytes per second
    hub_down: bool = False  # the hub API/resolve answers 503


@dataclass
class HubFile:
    name: str
    path: Path
    size: int
    sha256: str
    advertised_size: int | None = None  # lie about the size (e.g. larger than the disk)

    @property
    def listed_size(self) -> int:
        return self.advertised_size if self.advertised_size is not None else self.size


@dataclass
class HubRepo:
    repo_id: str
    commit: str
    files: dict[str, HubFile] = field(default_factory=dict)
    gated: bool = False
    downloads: int = 0
    likes: int = 0
    last_modified: str = "2025-01-15T10:00:00.000Z"
    tags: list[str] = field(default_factory=lambda: ["gguf"])


class FakeHub:
    """`with FakeHub() as hub:` → `hub.endpoint` for `HubClient(endpoint=...)`."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.faults = Faults()
        self.valid_tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []  # (server, "METHOD path") for assertions
        self.cdn_ranges: list[str | None] = []  # Range header of each CDN GET
        self._blobs: dict[str, HubFile] = {}
        self._dropped_once = False
        self._lock = threading.Lock()
        self._tmp = Path(tempfile.mkdtemp(prefix="fake-hub-"))
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "hub"))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, "cdn"))
        for server in (self._hub, self._cdn):
            server.daemon_threads = True
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self._hub, self._cdn)]

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "FakeHub":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    # -- content ---------------------------------------------------------------------------
    def add_repo(self, repo_id: str, *, gated: bool = False, downloads: int = 0, likes: int = 0,
                 last_modified: str | None = None, tags: list[str] | None = None) -> HubRepo:
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        repo = HubRepo(repo_id, commit, gated=gated, downloads=downloads, likes=likes)
        if last_modified:
            repo.last_modified = last_modified
        if tags is not None:
            repo.tags = tags
        self.repos[repo_id] = repo
        return repo

    def add_file(self, repo_id: str, name: str, content: bytes | Path, *,
                 advertised_size: int | None = None) -> HubFile:
        """Serve `content` (bytes, or a file on disk that is used in place) as `name`."""
        repo = self.repos.get(repo_id) or self.add_repo(repo_id)
        if isinstance(content, (bytes, bytearray)):
            path = self._tmp / hashlib.sha256(content).hexdigest()
            path.write_bytes(content)
            sha, size = path.name, len(content)
        else:
            path = Path(content)
            digest = hashlib.sha256()
            with path.open("rb") as f:
                while block := f.read(8 << 20):
                    digest.update(block)
            sha, size = digest.hexdigest(), path.stat().st_size
        hub_file = HubFile(name, path, size, sha, advertised_size)
        repo.files[name] = hub_file
        self._blobs[sha] = hub_file
        return hub_file

    def cdn_url(self, repo_id: str, name: str) -> str:
        return f"{self.cdn_endpoint}/blobs/{self.repos[repo_id].files[name].sha256}"

    # -- request handling (called from server threads) ---------------------------------------
    def _should_drop(self) -> int | None:
        with self._lock:
            if self.faults.drop_after is None:
                return None
            if self.faults.drop_every_time:
                return self.faults.drop_after
            if self._dropped_once:
                return None
            self._dropped_once = True
            return self.faults.drop_after

    def reset_faults(self) -> None:
        with self._lock:
            self.faults = Faults()
            self._dropped_once = False


def _iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _make_handler(hub: FakeHub, role: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        # -- small helpers ---------------------------------------------------------------
        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str | None, message: str) -> None:
            headers = {"X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._send(status, json.dumps({"error": message}).encode(), headers)

        def _token(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            return auth[7:] if auth.startswith("Bearer ") else None

        def _auth_ok(self) -> bool:
            """A token that the hub does not know is refused outright, as huggingface.co does."""
            token = self._token()
            if token is not None and token not in hub.valid_tokens:
                self._error(401, None, _BAD_CREDENTIALS)
                return False
            return True

        # -- verbs -----------------------------------------------------------------------
        def do_HEAD(self) -> None:
            self._dispatch()

        def do_GET(self) -> None:
            self._dispatch()

        def _dispatch(self) -> None:
            hub.requests.append((role, f"{self.command} {self.path}"))
            try:
                if role == "cdn":
                    self._cdn()
                else:
                    self._hub()
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _hub(self) -> None:
            if hub.faults.hub_down:
                self._error(503, None, "Service Unavailable")
                return
            if not self._auth_ok():
                return
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            if path == "/api/models":
                self._search(query)
            elif m := _API_MODEL.match(path):
                self._model_info(m["repo"], query)
            elif m := _RESOLVE.match(path):
                self._resolve(m["repo"], m["rev"], m["file"])
            else:
                self._error(404, None, "Not Found")

        def _search(self, query: dict[str, list[str]]) -> None:
            text = (query.get("search") or [""])[0].lower()
            filters = query.get("filter") or []
            limit = int((query.get("limit") or ["1000"])[0])
            found = [r for r in hub.repos.values()
                     if text in r.repo_id.lower() and all(f in r.tags for f in filters)]
            found.sort(key=lambda r: r.downloads, reverse=True)
            body = [{
                "_id": r.commit[:24], "id": r.repo_id, "modelId": r.repo_id, "likes": r.likes,
                "downloads": r.downloads, "lastModified": r.last_modified, "tags": r.tags,
                "gated": "auto" if r.gated else False, "private": False, "library_name": "gguf",
            } for r in found[:limit]]
            self._send(200, json.dumps(body).encode())

        def _model_info(self, repo_id: str, query: dict[str, list[str]]) -> None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return
            blobs = (query.get("blobs") or ["false"])[0].lower() == "true"
            siblings = []
            for f in repo.files.values():
                entry: dict[str, object] = {"rfilename": f.name}
                if blobs:
                    entry.update(size=f.listed_size, blobId=hashlib.sha1(f.sha256.encode()).hexdigest(),
                                 lfs={"sha256": f.sha256, "size": f.listed_size, "pointerSize": 134})
                siblings.append(entry)
            body = {
                "_id": repo.commit[:24], "id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.commit,
                "author": repo.repo_id.split("/")[0], "lastModified": repo.last_modified,
                "private": False, "gated": "auto" if repo.gated else False, "disabled": False,
                "downloads": repo.downloads, "likes": repo.likes, "tags": repo.tags,
                "library_name": "gguf", "siblings": siblings, "createdAt": repo.last_modified,
            }
            self._send(200, json.dumps(body).encode())

        def _resolve(self, repo_id: str, rev: str, name: str) -> None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return
            if rev not in ("main", repo.commit):
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return
            if repo.gated and self._token() is None:
                self._error(401, "GatedRepo",
                            "Access to model is restricted. You must have access to it and be authenticated.")
                return
            hub_file = repo.files.get(name)
            if hub_file is None:
                self._error(404, "EntryNotFound", "Entry not found")
                return
            self._send(302, b"", {
                "Location": f"{hub.cdn_endpoint}/blobs/{hub_file.sha256}?expires={int(time.time()) + 3600}",
                "X-Linked-Etag": f'"{hub_file.sha256}"',
                "X-Linked-Size": str(hub_file.listed_size),
                "X-Repo-Commit": repo.commit,
                "ETag": f'W/"{hub_file.sha256[:20]}"',
            }, content_type="text/plain; charset=utf-8")

        def _cdn(self) -> None:
            m = _CDN_BLOB.match(urlsplit(self.path).path)
            hub_file = hub._blobs.get(m["sha"]) if m else None
            if hub_file is None:
                self._error(404, None, "NoSuchKey")
                return
            size = hub_file.size
            start, end = 0, size - 1
            range_header = self.headers.get("Range")
            if self.command == "GET":
                hub.cdn_ranges.append(range_header)
            status = 200
            if range_header:
                rm = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
                if not rm or int(rm[1]) >= size:
                    self._send(416, b"", {"Content-Range": f"bytes */{size}"})
                    return
                start = int(rm[1])
                end = min(int(rm[2]), size - 1) if rm[2] else size - 1
                status = 206
            count = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(count))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"cdn-{hub_file.sha256[:16]}"')  # not the sha256, like the real CDN
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.flush()
            self._send_body(hub_file.path, start, count)

        def _send_body(self, path: Path, start: int, count: int) -> None:
            faults = hub.faults
            drop_after = hub._should_drop()
            if drop_after is None and not faults.corrupt and not faults.throttle_bps:
                with path.open("rb") as f:
                    self.connection.sendfile(f, start, count)
                return
            limit = count if drop_after is None else min(count, drop_after)
            sent = 0
            block = 64 * 1024 if not faults.throttle_bps else max(1024, min(64 * 1024, faults.throttle_bps // 20))
            began = time.monotonic()
            with path.open("rb") as f:
                f.seek(start)
                while sent < limit:
                    data = f.read(min(block, limit - sent))
                    if not data:
                        break
                    if faults.corrupt:
                        data = data.translate(_FLIP)
                    self.wfile.write(data)
                    sent += len(data)
                    if faults.throttle_bps:
                        ahead = sent / faults.throttle_bps - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
            if drop_after is not None and sent < count:
                self.close_connection = True
                self.wfile.flush()
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    return Handler


def make_gguf_bytes(size: int, seed: int = 0) -> bytes:
    """Bytes that start like a GGUF file; the rest is random (content doesn't matter to downloads)."""
    import random

    rng = random.Random(seed)
    return b"GGUF" + rng.randbytes(max(0, size - 4))


def serve_main(argv: list[str]) -> None:
    """`python -m tests.support.fake_hub [--throttle BPS] FILE...`: serve files from another process
    (benchmarks keep the server off the measured process's cores and GIL). Prints one JSON line
    with the endpoint and each file's CDN URL; stops when its stdin closes."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="fake_hub")
    parser.add_argument("--repo", default="local/test-GGUF")
    parser.add_argument("--throttle", type=int, default=None, help="CDN bytes per second")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    with FakeHub() as fake:
        fake.faults.throttle_bps = args.throttle
        for path in args.files:
            fake.add_file(args.repo, path.name, path)
        print(json.dumps({"endpoint": fake.endpoint, "repo": args.repo,
                          "cdn_urls": {p.name: fake.cdn_url(args.repo, p.name) for p in args.files}}), flush=True)
        try:
            while sys.stdin.read(1):
                pass
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    import sys

    serve_main(sys.argv[1:])


def isolate_hf_token(monkeypatch, tmp_path: Path) -> Path:  # noqa: ANN001 - pytest's MonkeyPatch
    """Keep a developer's own saved Hugging Face token out of tests (huggingface_hub fixes the
    token path at import, before conftest points HF_HOME elsewhere)."""
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "hf-token"
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(path))
    return path


def downloader(hub: "FakeHub", models: Path, **kw):
    """Hearth's real Downloader pointed at this hub, with test-sized back-off and no disk margin."""
    from engine.models.download import Downloader
    from engine.models.hub import HubClient

    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("free_space_margin", 0)
    return Downloader(models, HubClient(endpoint=hub.endpoint), **kw)


def library_files(models: Path) -> list[str]:
    """What the library scanner would see: everything except the hidden .partial folder."""
    return sorted(str(p.relative_to(models)) for p in models.rglob("*")
                  if p.is_file() and ".partial" not in p.relative_to(models).parts)
