"""The `files` tool: the model lists and reads files in the folders the user shared, nothing else.

Paths the model gives are relative and use `/` (a `\\` counts as `/` too):
- "" or "." is the top level: the shared folders, each under a short unique name (its folder's
  own name; "Notes-2", "Notes-3" for a second and third folder of the same name).
- "Notes/sub/file.md" starts with a shared folder's name. With a single shared folder a path
  relative to it ("sub/file.md") works too; a first segment that names the folder wins.
Refused, with a reason that names the path as given: absolute paths, `~`, `..` segments,
drive letters and UNC paths, NUL bytes, anything that resolves (through links) outside the
shared folder it starts in, folders/devices/FIFOs/sockets where a file is expected, files
over the size limit, binary files. A link that stays inside its shared folder is followed.

Confinement is checked on real paths (`os.path.realpath` + `Path.is_relative_to`); the file
is then opened without following a final link and without blocking, and the opened file
descriptor's own path is checked again (Linux /proc, macOS F_GETPATH; elsewhere the inode
must match), so a link swapped in between the check and the open is caught.
"""
from __future__ import annotations

import os
import re
import stat
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.cancel import Cancel, Cancelled
from engine.knowledge.extract import ExtractionError, extract_text, human_size
from engine.tools.base import ToolResult, ToolSpec

NAME = "files"
ACTIONS = ("list", "read")
NO_FOLDERS = ("No folders are shared with Hearth, so there are no files to see. "
              "The user can share a folder in Settings → Tools.")

_MAX_PATH_CHARS = 4096
_READ_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_WINDOWS_DEVICES = frozenset({"con", "prn", "aux", "nul", "conin$", "conout$",
                              *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


class _Refusal(Exception):
    """A refusal on its way to becoming ToolResult(ok=False)."""


@dataclass(frozen=True)
class SharedFolder:
    name: str      # how the model names it: the first segment of a path
    path: Path     # as the user granted it
    real: str      # its real path (links resolved), the boundary everything is checked against


@dataclass(frozen=True)
class _Target:
    given: str              # the path as the model wrote it
    display: str            # canonical form: "<folder name>/<rest>"
    folder: SharedFolder | None   # None: the top level
    real: str = ""


class FilesTool:
    def __init__(self, roots: list[Path], *, max_read_chars: int = 20_000,
                 max_file_bytes: int = 20 * 1024 * 1024, max_entries: int = 200) -> None:
        self.folders = _name_folders(roots)
        self.max_read_chars = max_read_chars
        self.max_file_bytes = max_file_bytes
        self.max_entries = max_entries
        self.spec = ToolSpec(name=NAME, description=self._description(), parameters={
            "type": "object",
            "properties": {
                "path": {"type": "string",
                         "description": 'A path inside a shared folder, starting with the folder\'s '
                                        'name, e.g. "Notes/ideas.md". "" for the list of shared folders.'},
                "action": {"type": "string", "enum": list(ACTIONS),
                           "description": '"list" a folder\'s contents, or "read" a file\'s text.'},
            },
            "required": ["path", "action"],
            "additionalProperties": False,
        })

    def _description(self) -> str:
        names = ", ".join(f'"{folder.name}"' for folder in self.folders) or "none yet"
        return ("List and read files in the folders the user chose to share with you. Only those "
                "folders are visible; nothing else on the computer is. "
                f"Shared folders: {names}. Paths start with a shared folder's name, e.g. "
                '"Notes/ideas.md"; path "" with action "list" shows the shared folders. '
                "Reads plain text, Markdown, source code, PDF and Word (.docx) files; "
                f"text longer than {self.max_read_chars} characters is cut, and says so.")

    # -- the Tool protocol -------------------------------------------------------------------

    def run(self, arguments: dict[str, Any], cancel: Cancel) -> ToolResult:
        started = time.monotonic()
        given = ""
        try:
            if not isinstance(arguments, dict):
                raise _Refusal("The arguments must be an object with \"path\" and \"action\".")
            given = _given_path(arguments.get("path"))
            if not self.folders:
                raise _Refusal(NO_FOLDERS)
            action = arguments.get("action")
            cancel.raise_if_cancelled()
            target = self._resolve(given)
            action = self._action(action, target)
            text, truncated = (self._list(target) if action == "list" else self._read(target, cancel))
            return ToolResult(text, ok=True, elapsed_s=time.monotonic() - started, truncated=truncated)
        except _Refusal as refusal:
            return ToolResult(str(refusal), ok=False, elapsed_s=time.monotonic() - started)
        except Cancelled:
            return ToolResult(f"Stopped before '{given}' was finished: the user cancelled.", ok=False,
                              elapsed_s=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - run() never raises; the result says why
            return ToolResult(f"Could not open '{given}': {_os_reason(exc)}.", ok=False,
                              elapsed_s=time.monotonic() - started)

    # -- paths -------------------------------------------------------------------------------

    def _resolve(self, given: str) -> _Target:
        """Where a model-given path points, or a refusal; never outside a shared folder."""
        if "\x00" in given:
            raise _Refusal(f"Refused '{_shown(given)}': the path contains a NUL byte.")
        if len(given) > _MAX_PATH_CHARS:
            raise _Refusal(f"Refused '{_shown(given)}': the path is too long.")
        path = given.strip()
        hint = f"give a path inside a shared folder, starting with its name (shared: {self._names()})"
        if path.startswith(("/", "\\")):
            raise _Refusal(f"Refused '{given}': absolute and network (UNC) paths are not allowed; {hint}.")
        if path.startswith("~"):
            raise _Refusal(f"Refused '{given}': '~' (a home folder) is outside the shared folders; {hint}.")
        if _DRIVE.match(path):
            raise _Refusal(f"Refused '{given}': drive letters are not allowed; {hint}.")
        segments = [segment for segment in re.split(r"[\\/]+", path) if segment not in ("", ".")]
        if ".." in segments:
            raise _Refusal(f"Refused '{given}': '..' would leave the shared folder; {hint}.")
        if os.name == "nt" and any(":" in s or s.split(".")[0].strip().lower() in _WINDOWS_DEVICES
                                   for s in segments):
            raise _Refusal(f"Refused '{given}': not a file name Hearth will open.")
        if not segments:
            return _Target(given, "", None)

        folder = self._folder_named(segments[0])
        if folder is not None:
            rest = segments[1:]
        elif len(self.folders) == 1:
            folder, rest = self.folders[0], segments
        else:
            raise _Refusal(f"Not found: '{given}'. Paths start with a shared folder's name: "
                           f"{self._names()}.")
        display = "/".join([folder.name, *rest])
        if not os.path.isdir(folder.real):
            raise _Refusal(f"Cannot open '{given}': the shared folder '{folder.name}' no longer exists "
                           "(or is not reachable).")
        real = os.path.realpath(os.path.join(folder.real, *rest))
        if not _inside(real, folder.real):
            raise _Refusal(f"Refused '{given}': it leads through a link to a place outside the "
                           f"shared folder '{folder.name}', and links out are not followed.")
        try:
            os.lstat(real)
        except FileNotFoundError:
            raise _Refusal(f"Not found: '{given}' (no such file or folder in '{folder.name}').") from None
        except OSError as exc:
            raise _Refusal(f"Could not open '{given}': {_os_reason(exc)}.") from None
        return _Target(given, display, folder, real)

    def _folder_named(self, name: str) -> SharedFolder | None:
        for folder in self.folders:
            if folder.name == name:
                return folder
        matches = [folder for folder in self.folders if folder.name.casefold() == name.casefold()]
        return matches[0] if len(matches) == 1 else None

    def _names(self) -> str:
        return ", ".join(f"'{folder.name}'" for folder in self.folders)

    def _action(self, action: Any, target: _Target) -> str:
        if action is None or (isinstance(action, str) and not action.strip()):
            # Small models forget it: list a folder, read a file.
            if target.folder is None:
                return "list"
            return "list" if os.path.isdir(target.real) else "read"
        if not isinstance(action, str) or action.strip().lower() not in ACTIONS:
            raise _Refusal(f"Unknown action {action!r} for '{target.given}': use \"list\" or \"read\".")
        return action.strip().lower()

    # -- list --------------------------------------------------------------------------------

    def _list(self, target: _Target) -> tuple[str, bool]:
        if target.folder is None:
            lines = ["Shared folders (start a path with one of these names):"]
            for folder in self.folders:
                note = "" if os.path.isdir(folder.real) else " (missing: the folder no longer exists)"
                lines.append(f"- {folder.name}/{note}")
            return "\n".join(lines), False

        if not os.path.isdir(target.real):
            if os.path.isfile(target.real):
                raise _Refusal(f"'{target.given}' is a file, not a folder: use action \"read\" to read it.")
            raise _Refusal(f"'{target.given}' is not a folder.")
        if os.scandir in os.supports_fd:
            fd = _open_inside(target.real, target.folder.real, directory=True, given=target.given)
            try:
                with os.scandir(fd) as scan:
                    entries = list(scan)
            finally:
                os.close(fd)
        else:  # Windows cannot open a folder as a file: check the path again, then list it
            if not _inside(os.path.realpath(target.real), target.folder.real):
                raise _Refusal(f"Refused '{target.given}': it changed and now leads outside the shared folder.")
            with os.scandir(target.real) as scan:
                entries = list(scan)

        described = [self._describe(entry, target) for entry in entries]
        described.sort(key=lambda item: (not item[0], item[1].casefold(), item[1]))
        shown = described[: self.max_entries]
        count = len(described)
        header = (f"Folder '{target.display}' ({count} entr{'y' if count == 1 else 'ies'}):" if count
                  else f"Folder '{target.display}' is empty.")
        lines = [header, *(line for _, _, line in shown)]
        more = len(described) - len(shown)
        if more:
            lines.append(f"… and {more} more")
        return "\n".join(lines), more > 0

    def _describe(self, entry: os.DirEntry, target: _Target) -> tuple[bool, str, str]:
        """(is a folder, name, line) for one entry; links are described by where they lead."""
        name = entry.name
        full = os.path.join(target.real, name)
        try:
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                real = os.path.realpath(full)
                assert target.folder is not None
                if not _inside(real, target.folder.real):
                    return False, name, f"- {name} (link to a place outside the shared folder; not accessible)"
                try:
                    info = os.stat(real)
                except OSError:
                    return False, name, f"- {name} (broken link)"
                kind_note = "link to a "
            else:
                kind_note = ""
        except OSError as exc:
            return False, name, f"- {name} ({_os_reason(exc)})"
        modified = _modified(info.st_mtime)
        if stat.S_ISDIR(info.st_mode):
            return True, name, f"- {name}/ ({kind_note}folder, modified {modified})"
        if stat.S_ISREG(info.st_mode):
            return False, name, f"- {name} ({kind_note}file, {human_size(info.st_size)}, modified {modified})"
        return False, name, f"- {name} ({_special_kind(info.st_mode)}; not readable)"

    # -- read --------------------------------------------------------------------------------

    def _read(self, target: _Target, cancel: Cancel) -> tuple[str, bool]:
        if target.folder is None:
            raise _Refusal('Give the path of a file to read, e.g. "Notes/ideas.md"; use action "list" '
                           'with path "" to see the shared folders.')
        info = os.stat(target.real)  # the real path has no links left; this is the file itself
        if stat.S_ISDIR(info.st_mode):
            raise _Refusal(f"'{target.given}' is a folder: use action \"list\" to see what is in it.")
        if not stat.S_ISREG(info.st_mode):
            raise _Refusal(f"Refused '{target.given}': it is a {_special_kind(info.st_mode)}, not a regular file.")
        if info.st_size > self.max_file_bytes:
            raise _Refusal(f"Refused '{target.given}': it is {human_size(info.st_size)}, more than the "
                           f"limit of {human_size(self.max_file_bytes)} for reading a file.")

        fd = _open_inside(target.real, target.folder.real, directory=False, given=target.given)
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                raise _Refusal(f"Refused '{target.given}': it is not a regular file.")
            data = _read_capped(fd, self.max_file_bytes, cancel)
        finally:
            os.close(fd)
        if data is None:
            raise _Refusal(f"Refused '{target.given}': it grew past the limit of "
                           f"{human_size(self.max_file_bytes)} while being read.")

        try:
            extracted = extract_text(target.real, data=data, max_chars=self.max_read_chars, cancel=cancel)
        except ExtractionError as exc:
            raise _Refusal(f"Cannot read '{target.given}': {exc.reason}.") from None

        what = {"text": "text", "markdown": "Markdown", "code": "source code",
                "pdf": "PDF", "docx": "Word document"}.get(extracted.kind, extracted.kind)
        details = [what, human_size(len(data))]
        if extracted.page_count is not None:
            details.append(f"{extracted.page_count} page{'' if extracted.page_count == 1 else 's'}")
        header = f"File '{target.display}' ({', '.join(details)}):\n\n"

        text = extracted.text
        if len(text) <= self.max_read_chars and extracted.complete:
            return header + (text if text.strip() else "(the file is empty)"), False
        shown = text[: self.max_read_chars]
        newline = shown.rfind("\n")
        if newline > self.max_read_chars * 0.9:   # end on a whole line when one is near
            shown = shown[:newline]
        if extracted.pages:
            cut_page = max(1, sum(1 for start, _ in extracted.pages if start < len(shown)))
            where = f"characters of '{target.display}', up to page {cut_page} of {extracted.page_count}"
        else:
            where = f"of {len(text):,} characters of '{target.display}'"
        note = f"\n\n[Truncated: showing the first {len(shown):,} {where}. The rest was not read.]"
        return header + shown + note, True


# -- helpers -----------------------------------------------------------------------------------

def _name_folders(roots: list[Path]) -> list[SharedFolder]:
    folders: list[SharedFolder] = []
    taken: set[str] = set()
    for root in roots:
        path = Path(os.path.expanduser(str(root)))
        real = os.path.realpath(path)
        base = Path(os.path.abspath(path)).name or Path(real).name or "folder"  # the name the user chose
        base = base.replace("/", "_").replace("\\", "_")
        name, n = base, 2
        while name.casefold() in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name.casefold())
        folders.append(SharedFolder(name, path, real))
    return folders


def _given_path(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Refusal(f"The path must be text, not {type(value).__name__}.")
    return value


def _inside(real: str, root_real: str) -> bool:
    return Path(real).is_relative_to(Path(root_real))


def _open_inside(real: str, root_real: str, *, directory: bool, given: str) -> int:
    """Open `real` read-only without following a final link or blocking, then check that what
    was opened is still inside `root_real`. Returns the file descriptor."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    if directory:
        flags |= getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise _Refusal(f"Could not open '{given}': {_os_reason(exc)} (it may have changed "
                       "while being opened).") from None
    try:
        opened = _fd_path(fd)
        if opened is not None:
            inside = _inside(opened, root_real)
        else:  # no way to ask the descriptor: the path must still lead to the same file
            now = os.stat(real)
            mine = os.fstat(fd)
            inside = (_inside(os.path.realpath(real), root_real)
                      and (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino))
        if not inside:
            raise _Refusal(f"Refused '{given}': it changed while being opened and now leads "
                           "outside the shared folder.")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _fd_path(fd: int) -> str | None:
    """The real path of an open descriptor, where the system can tell."""
    if sys.platform.startswith("linux"):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None
        return path.removesuffix(" (deleted)") if path.startswith("/") else None
    if sys.platform == "darwin":
        import fcntl

        try:
            raw = fcntl.fcntl(fd, getattr(fcntl, "F_GETPATH", 50), b"\0" * 1024)
        except OSError:
            return None
        return os.fsdecode(raw.split(b"\0", 1)[0]) or None
    return None


def _read_capped(fd: int, limit: int, cancel: Cancel) -> bytes | None:
    """All of the file, or None when it holds more than `limit` bytes."""
    chunks: list[bytes] = []
    total = 0
    while True:
        cancel.raise_if_cancelled()
        chunk = os.read(fd, min(_READ_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            return None


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISLNK(mode):
        return "link"
    return "special file"


def _modified(timestamp: float) -> str:
    try:
        return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "unknown"


def _os_reason(exc: BaseException) -> str:
    """A reason without the real path in it (the model sees paths only as it gave them)."""
    if isinstance(exc, OSError):
        return (exc.strerror or type(exc).__name__).rstrip(".").lower()
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _shown(given: str) -> str:
    shown = given.replace("\x00", "\\0")
    return shown if len(shown) <= 200 else shown[:200] + "…"
