"""Hugging Face search, file listing and tokens, with errors a user can act on.

Every request goes through huggingface_hub with an explicit `endpoint`, so a test hub (or a
mirror) is a constructor argument rather than an environment variable read at import time.
"""
from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, constants, get_hf_file_metadata, get_token, hf_hub_url
from huggingface_hub import errors as hf_errors

from engine.models.records import RepoFile, RepoSummary

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_HUB_HOSTS = ("huggingface.co", "hf.co", "www.huggingface.co")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# -- errors ------------------------------------------------------------------------------
class HubError(Exception):
    """A Hugging Face problem, worded for the person in front of the app."""


class GatedRepoError(HubError):
    def __init__(self, repo_id: str) -> None:
        super().__init__(
            f"{repo_id}: this model requires accepting its licence on huggingface.co and a token — "
            "paste it in Settings."
        )
        self.repo_id = repo_id


class RepoNotFound(HubError):
    def __init__(self, repo_id: str) -> None:
        super().__init__(f"No model called {repo_id} on Hugging Face (check the spelling; private models need a token).")
        self.repo_id = repo_id


class FileNotFound(HubError):
    def __init__(self, repo_id: str, filename: str) -> None:
        super().__init__(f"{repo_id} has no file called {filename}.")
        self.repo_id, self.filename = repo_id, filename


class OfflineError(HubError):
    def __init__(self, detail: str = "") -> None:
        super().__init__("Can't reach Hugging Face — check your internet connection and try again."
                         + (f" ({detail})" if detail else ""))


class AuthError(HubError):
    def __init__(self) -> None:
        super().__init__("Hugging Face refused the saved token — paste a valid one in Settings (or remove it).")


class ServerError(HubError):
    """The hub is overloaded or down for a moment (5xx, 429): worth retrying later."""


class InvalidRepoRef(HubError):
    def __init__(self, text: str) -> None:
        super().__init__(f"'{text}' is not a Hugging Face model: use owner/name or a huggingface.co link.")


# -- data --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedFile:
    """Where the bytes of one file are right now, and what they must hash to."""

    repo_id: str
    filename: str
    commit: str
    url: str  # the hub's /resolve/ URL pinned to `commit`
    location: str  # where the bytes are (a CDN URL for LFS files)
    size: int
    sha256: str | None
    etag: str | None


# -- references --------------------------------------------------------------------------
def parse_repo_ref(text: str) -> tuple[str, str | None]:
    """`owner/repo`, or a huggingface.co link to the repo or to one file (blob or resolve)."""
    raw = text.strip()
    ref = raw
    for prefix in ("https://", "http://"):
        if ref.lower().startswith(prefix):
            ref = ref[len(prefix):]
            host, _, ref = ref.partition("/")
            if host.lower() not in _HUB_HOSTS:
                raise InvalidRepoRef(raw)
            break
    else:
        for host in _HUB_HOSTS:
            if ref.lower().startswith(host + "/"):
                ref = ref[len(host) + 1:]
                break
    ref = ref.split("?", 1)[0].split("#", 1)[0].strip("/")
    parts = ref.split("/")
    if len(parts) < 2:
        raise InvalidRepoRef(raw)
    repo_id = f"{parts[0]}/{parts[1]}"
    if not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise InvalidRepoRef(raw)
    rest = parts[2:]
    if not rest or (rest[0] == "tree" and len(rest) <= 2):
        return repo_id, None
    if rest[0] in ("blob", "resolve") and len(rest) >= 3:
        from urllib.parse import unquote

        filename = unquote("/".join(rest[2:]))
        if not filename or ".." in filename.split("/"):
            raise InvalidRepoRef(raw)
        return repo_id, filename
    raise InvalidRepoRef(raw)


def pick_default_file(files: list[RepoFile]) -> RepoFile | None:
    """The catalog's choice when the user names no file: a Q4_K_M if there is one, else the smallest."""
    models = [f for f in files if not f.is_mmproj]
    if not models:
        return None
    q4 = [f for f in models if "q4_k_m" in f.name.lower()]
    pool = q4 or models
    return min(pool, key=lambda f: (f.size if f.size is not None else float("inf"), f.name))


def pick_projector(files: list[RepoFile]) -> RepoFile | None:
    """A vision repo's projector: prefer F16 (what llama.cpp's own docs use), else the smallest."""
    projectors = [f for f in files if f.is_mmproj]
    if not projectors:
        return None
    f16 = [f for f in projectors if "f16" in f.name.lower()]
    return min(f16 or projectors, key=lambda f: (f.size if f.size is not None else float("inf"), f.name))


# -- tokens ------------------------------------------------------------------------------
def save_token(token: str) -> None:
    """Store the token where huggingface_hub looks for it (no network check, unlike `login`)."""
    path = Path(constants.HF_TOKEN_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    token = token.strip()
    if not token:
        path.unlink(missing_ok=True)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token)


def current_token() -> str | None:
    return get_token()


# -- client ------------------------------------------------------------------------------
class HubClient:
    """Talks to the hub at `endpoint` (default: huggingface_hub's configured endpoint)."""

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self._token = token
        self._api = HfApi(endpoint=self.endpoint, token=token)

    @property
    def token(self) -> str | None:
        """The explicit token, else the saved one (read each time: the user may paste one)."""
        return self._token or current_token()

    def search(self, query: str, limit: int = 30) -> list[RepoSummary]:
        self._fail_fast_when_offline()
        with hub_errors():
            models = self._api.list_models(
                search=query or None, filter="gguf", sort="downloads", limit=limit,
                expand=["downloads", "likes", "lastModified", "gated"], token=self.token,
            )
            return [
                RepoSummary(m.id, m.downloads or 0, m.likes or 0, m.last_modified, bool(m.gated))
                for m in models
            ]

    def _fail_fast_when_offline(self) -> None:
        """huggingface_hub retries a search five times over ~25 s; with no network at all (the
        hub's name does not resolve) the person searching is told at once instead."""
        if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
            return  # the proxy resolves names, not this machine
        url = httpx2.URL(self.endpoint)
        try:
            socket.getaddrinfo(url.host, url.port or (443 if url.scheme == "https" else 80),
                               type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise OfflineError(f"{url.host} cannot be found") from e

    def list_gguf_files(self, repo_id: str) -> list[RepoFile]:
        return [f for f in self.list_files(repo_id) if f.name.lower().endswith(".gguf")]

    def list_files(self, repo_id: str, revision: str | None = None) -> list[RepoFile]:
        return self._files_and_commit(repo_id, revision)[0]

    def _files_and_commit(self, repo_id: str, revision: str | None = None) -> tuple[list[RepoFile], str | None]:
        with hub_errors(repo_id):
            info = self._api.model_info(repo_id, revision=revision, files_metadata=True, token=self.token)
        files = []
        for s in info.siblings or []:
            lfs = s.lfs
            files.append(RepoFile(s.rfilename, (lfs.size if lfs else None) or s.size, lfs.sha256 if lfs else None))
        return files, info.sha

    def resolve(self, repo_id: str, filename: str) -> ResolvedFile:
        """Size and sha256 from the repo listing, location from a HEAD on `/resolve/`."""
        files, commit = self._files_and_commit(repo_id)
        listed = next((f for f in files if f.name == filename), None)
        if listed is None:
            raise FileNotFound(repo_id, filename)
        revision = commit or constants.DEFAULT_REVISION
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=self.endpoint)
        with hub_errors(repo_id, filename):
            meta = get_hf_file_metadata(url, token=self.token, endpoint=self.endpoint)
        sha256 = listed.sha256
        if sha256 is None and meta.etag and _SHA256.match(meta.etag):
            sha256 = meta.etag  # an LFS file's linked etag is its sha256
        size = listed.size if listed.size is not None else meta.size
        if size is None:
            raise HubError(f"Hugging Face did not say how big {filename} is; try again later.")
        return ResolvedFile(repo_id, filename, meta.commit_hash or revision, url, meta.location,
                            size, sha256, meta.etag)

    def auth_headers_for(self, url: str) -> dict[str, str]:
        """The token goes to the hub only, never to the CDN it redirects to."""
        token = self.token
        if not token or not _same_origin(url, self.endpoint):
            return {}
        return {"Authorization": f"Bearer {token}"}


def _same_origin(a: str, b: str) -> bool:
    ua, ub = httpx2.URL(a), httpx2.URL(b)
    return (ua.scheme, ua.host, ua.port) == (ub.scheme, ub.host, ub.port)


@contextmanager
def hub_errors(repo_id: str | None = None, filename: str | None = None) -> Iterator[None]:
    """Turn huggingface_hub/httpx exceptions into `HubError`s with a user-facing message."""
    try:
        yield
    except HubError:
        raise
    except hf_errors.GatedRepoError as e:
        raise GatedRepoError(repo_id or "This model") from e
    except hf_errors.RepositoryNotFoundError as e:
        raise RepoNotFound(repo_id or "?") from e
    except hf_errors.RevisionNotFoundError as e:
        raise RepoNotFound(repo_id or "?") from e
    except (hf_errors.RemoteEntryNotFoundError, hf_errors.EntryNotFoundError) as e:
        raise FileNotFound(repo_id or "?", filename or "?") from e
    except hf_errors.OfflineModeIsEnabled as e:
        raise OfflineError("offline mode is on: HF_HUB_OFFLINE") from e
    except hf_errors.HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        if status == 401:
            raise AuthError() from e
        if status == 403:
            raise GatedRepoError(repo_id or "This model") from e
        if status is not None and (status >= 500 or status == 429):
            raise ServerError(f"Hugging Face is busy or down right now ({status}); try again in a minute.") from e
        raise HubError(f"Hugging Face answered with an error ({status}); try again later.") from e
    except (httpx2.ConnectError, httpx2.ConnectTimeout) as e:
        raise OfflineError() from e
    except httpx2.TransportError as e:
        raise OfflineError(type(e).__name__) from e

