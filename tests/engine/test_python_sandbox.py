"""The model's `python` tool runs its code in a WebAssembly CPython: what the code prints and its
last value come back, and every way out of the sandbox (host files, sockets, processes, endless
loops, huge allocations, paths that climb out of the scratch folder) ends with a clear result —
each story checks that the effect itself never happened."""
from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.cancel import Cancel
from engine.tools.python_sandbox import (MEMORY_LIMIT, STOPPED, TIME_LIMIT, PythonTool, SandboxLimits,
                                         SandboxRun, SandboxRuntime, run_python)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SandboxRuntime:
    """One compiled module for the whole file, cached in pytest's cache folder between sessions
    (the first compile takes seconds; loading the cached one takes milliseconds)."""
    cache = getattr(request.config, "cache", None)
    folder = Path(cache.mkdir("hearth-wasm")) if cache is not None else tmp_path_factory.mktemp("hearth-wasm")
    runtime = SandboxRuntime(cache_dir=folder)
    runtime.compiled_path()
    return runtime


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


def run(runtime: SandboxRuntime, code: str, scratch: Path, **kwargs) -> SandboxRun:
    limits = kwargs.pop("limits", SandboxLimits(seconds=20))
    return run_python(code, scratch=scratch, limits=limits, runtime=runtime, **kwargs)


def everything(result: SandboxRun) -> str:
    return "\n".join([result.stdout, result.stderr, result.value or "", result.error or ""])


# --- what the code says comes back -------------------------------------------------------------

def test_prints_and_the_last_expression_come_back(runtime, scratch) -> None:
    result = run(runtime, "print('hello from the sandbox')\nx = 6 * 7\nx", scratch)
    assert result.error is None, everything(result)
    assert result.stdout == "hello from the sandbox\n"
    assert result.value == "42"
    assert not result.truncated

    nothing = run(runtime, "y = [1, 2]\nprint(len(y))", scratch)
    assert nothing.stdout == "2\n" and nothing.value is None and nothing.error is None


def test_an_exception_comes_back_as_its_traceback_and_its_last_line(runtime, scratch) -> None:
    result = run(runtime, "a = 1\nb = 0\nprint('before')\na / b", scratch)
    assert result.error == "ZeroDivisionError: division by zero"
    assert result.stdout == "before\n"
    assert "Traceback" in result.stderr and "a / b" in result.stderr
    assert "_hearth_main" not in result.stderr  # the driver's own frames are not the model's business

    syntax = run(runtime, "def broken(:\n    pass", scratch)
    assert syntax.error is not None and syntax.error.startswith("SyntaxError")


def test_endless_recursion_is_an_error_not_a_crash(runtime, scratch) -> None:
    result = run(runtime, "def f(n):\n    return f(n + 1)\nf(0)", scratch)
    assert result.error is not None
    assert "Recursion" in result.error or "stack overflow" in result.error
    assert run(runtime, "sum(range(10))", scratch).value == "45"   # and the next run is fine


# --- host files ---------------------------------------------------------------------------------

def test_host_files_and_the_home_folder_are_out_of_reach(runtime, scratch, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a9c", encoding="utf-8")
    home = Path.home()
    home_names = sorted(p.name for p in home.iterdir() if len(p.name) > 3)[:20] if home.is_dir() else []
    passwd_first = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0] if Path("/etc/passwd").exists() else None

    for path in ["/etc/passwd", str(secret), str(home), "../secret.txt", "/scratch/../secret.txt",
                 "/scratch/../../etc/passwd", "/../etc/passwd"]:
        result = run(runtime, f"import os\np = {path!r}\n"
                              "print(os.listdir(p) if os.path.isdir(p) else open(p).read())", scratch)
        assert result.error is not None, (path, everything(result))
        assert "TOP-SECRET" not in everything(result)
        if passwd_first:
            assert passwd_first not in everything(result)
        for name in home_names:
            assert name not in result.stdout

    # No symlink can be made inside (one pointing out would be followed by the host's own tools).
    for target in [str(secret), "../secret.txt", "..", "sub"]:
        linked = run(runtime, f"import os\nos.makedirs('sub', exist_ok=True)\nos.symlink({target!r}, 'link')\n"
                              "open('link').read()", scratch)
        assert linked.error is not None and "TOP-SECRET" not in everything(linked)
    assert not [p for p in scratch.rglob("*") if p.is_symlink()]


# --- network and processes -----------------------------------------------------------------------

def test_a_socket_never_reaches_a_listening_server(runtime, scratch) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    try:
        attempts = [f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=3)",
                    f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/', timeout=3).read()",
                    "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', %d))" % port]
        for code in attempts:
            result = run(runtime, code, scratch)
            assert result.error is not None, (code, everything(result))
        listener.settimeout(1.0)
        with pytest.raises(socket.timeout):
            connection, _ = listener.accept()
            connection.close()
    finally:
        listener.close()


@pytest.mark.parametrize("code", [
    "import os\nos.system('touch {marker}')",
    "import subprocess\nsubprocess.run(['touch', '{marker}'])",
    "import os\nos.execv('/bin/touch', ['touch', '{marker}'])",
    "import os\nos.posix_spawn('/bin/touch', ['touch', '{marker}'], {{}})",
    "import os\nwhile True:\n    os.fork()\n    open('{marker}', 'w')",
])
def test_no_process_can_be_started(runtime, scratch, tmp_path, code) -> None:
    marker = tmp_path / "spawned"
    result = run(runtime, code.format(marker=marker), scratch)
    assert result.error is not None, everything(result)
    assert not marker.exists()


# --- time -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["while True:\n    pass", "import time\ntime.sleep(3600)",
                                  "x = 0\nwhile True:\n    x += 1\n    print(x)"])
def test_code_that_never_ends_stops_at_the_time_limit(runtime, scratch, code) -> None:
    result = run(runtime, code, scratch, limits=SandboxLimits(seconds=2))
    assert result.error == TIME_LIMIT


def test_a_stopped_run_leaves_nothing_behind_at_exit(runtime) -> None:
    """A guest stopped by its deadline is freed at once (wasmtime-py's trap keeps its store in a
    reference cycle; left for the interpreter's exit, wasmtime tears it down on a Rust thread
    after Python is gone and panics)."""
    import subprocess

    script = ("import sys, tempfile\nfrom pathlib import Path\n"
              "from engine.tools.python_sandbox import SandboxLimits, SandboxRuntime, run_python\n"
              f"rt = SandboxRuntime(cache_dir=Path({str(runtime.cache_dir)!r}))\n"
              "for code in ('while True: pass', 'import time\\ntime.sleep(60)'):\n"
              "    r = run_python(code, scratch=Path(tempfile.mkdtemp()), limits=SandboxLimits(seconds=1), runtime=rt)\n"
              "    assert r.error == 'time limit', r\n"
              "print('done')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-2000:]
    assert "panicked" not in done.stderr, done.stderr[-2000:]


def test_cancel_stops_a_running_and_a_sleeping_run(runtime, scratch) -> None:
    for code in ["while True:\n    pass", "import time\nprint('going to sleep')\ntime.sleep(3600)"]:
        cancel = Cancel()
        threading.Timer(1.0, cancel.cancel).start()
        result = run(runtime, code, scratch, limits=SandboxLimits(seconds=60), cancel=cancel)
        assert result.error == STOPPED
        assert result.elapsed_s < 30   # long before its own limit
    already = Cancel()
    already.cancel()
    assert run(runtime, "print(1)", scratch, cancel=already).error == STOPPED


def test_sleeping_a_little_works_and_clocks_move(runtime, scratch) -> None:
    result = run(runtime, "import time\nt0 = time.monotonic()\ntime.sleep(0.2)\n"
                          "w = time.time()\ntime.monotonic() - t0, w > 1.7e9", scratch)
    assert result.error is None, everything(result)
    slept, wall_clock_is_real = eval(result.value)  # noqa: S307 - a tuple of a float and a bool we made
    assert 0.19 <= slept < 5 and wall_clock_is_real


# --- memory ---------------------------------------------------------------------------------------

def _peak_rss_bytes() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@pytest.mark.skipif(sys.platform == "win32", reason="peak RSS through the resource module")
@pytest.mark.parametrize("code", ["bytearray(10 * 2**30)", "b = bytearray(2 * 10**9)",
                                  "x = []\nwhile True:\n    x.append(bytearray(2**20))",
                                  "x = []\nwhile True:\n    x.append('y' * 10**6 + str(len(x)))"])
def test_allocating_ten_gigabytes_ends_with_a_memory_error(runtime, scratch, code) -> None:
    limits = SandboxLimits(seconds=30, memory_mb=128)
    before = _peak_rss_bytes()
    result = run(runtime, code, scratch, limits=limits)
    assert result.error is not None, everything(result)
    if "bytearray(10 * 2**30)" not in code:   # 10 GB does not even fit a 32-bit size
        assert result.error == MEMORY_LIMIT, everything(result)
    assert _peak_rss_bytes() - before < (limits.memory_mb + 256) * 2**20
    assert run(runtime, "len(bytearray(10 * 2**20))", scratch, limits=limits).value == str(10 * 2**20)


# --- the scratch folder ---------------------------------------------------------------------------

def test_files_written_in_scratch_stay_there_and_later_runs_see_them(runtime, scratch, tmp_path) -> None:
    result = run(runtime, "import os\nopen('notes.txt', 'w').write('kept')\nos.makedirs('sub/dir')\n"
                          "open('sub/dir/x.csv', 'w').write('a,b')\nos.getcwd()", scratch)
    assert result.error is None, everything(result)
    assert result.value == "'/scratch'"
    assert (scratch / "notes.txt").read_text() == "kept"
    assert (scratch / "sub" / "dir" / "x.csv").read_text() == "a,b"
    assert run(runtime, "open('/scratch/notes.txt').read()", scratch).value == "'kept'"

    before = sorted(p.name for p in tmp_path.iterdir())
    for target in ["../escaped.txt", "/scratch/../escaped.txt", str(tmp_path / "escaped.txt"), "/tmp/escaped.txt",
                   "/escaped.txt", "sub/../../escaped.txt"]:
        attempt = run(runtime, f"open({target!r}, 'w').write('out')", scratch)
        assert attempt.error is not None, (target, everything(attempt))
    via_link = run(runtime, "import os\nos.symlink('..', 'up')\nopen('up/escaped.txt', 'w').write('out')", scratch)
    assert via_link.error is not None, everything(via_link)
    via_abs_link = run(runtime, f"import os\nos.symlink({str(tmp_path)!r}, 'up2')\n"
                                "open('up2/escaped.txt', 'w').write('out')", scratch)
    assert via_abs_link.error is not None, everything(via_abs_link)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not Path("/tmp/escaped.txt").exists()


def test_attached_files_are_readable_and_read_only(runtime, scratch, tmp_path) -> None:
    attached = tmp_path / "data.csv"
    attached.write_text("n\n1\n2\n3\n", encoding="utf-8")
    result = run(runtime, "import csv\nsum(int(r['n']) for r in csv.DictReader(open('/input/data.csv')))",
                 scratch, read_only_files=[attached])
    assert result.error is None and result.value == "6", everything(result)
    for code in ["open('/input/data.csv', 'w').write('x')", "open('/input/data.csv', 'a').write('x')",
                 "import os\nos.remove('/input/data.csv')", "open('/input/new.txt', 'w').write('x')"]:
        attempt = run(runtime, code, scratch, read_only_files=[attached])
        assert attempt.error is not None, (code, everything(attempt))
    assert attached.read_text(encoding="utf-8") == "n\n1\n2\n3\n"


# --- several at once, output budget, the tool -----------------------------------------------------

def test_three_runs_at_once_all_finish_and_one_stopping_stops_no_other(runtime, tmp_path) -> None:
    results: dict[int, SandboxRun] = {}
    cancel = Cancel()
    jobs = {0: ("import time\nfor i in range(3):\n    time.sleep(0.5)\n    sum(range(10**5))\nprint(0)\n'done'", 60, None),
            1: ("while True:\n    pass", 1.5, None),                 # its time limit ends it
            2: ("x = 0\nwhile True:\n    x += 1", 60, cancel),       # its cancel ends it
            3: ("print(3)\nsum(range(10**6))", 60, None)}

    def one(i: int) -> None:
        code, seconds, cancel_ = jobs[i]
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        results[i] = run(runtime, code, folder, limits=SandboxLimits(seconds=seconds), cancel=cancel_)

    threads = [threading.Thread(target=one, args=(i,)) for i in jobs]
    for t in threads:
        t.start()
    time.sleep(1.0)
    cancel.cancel()
    for t in threads:
        t.join(timeout=300)
    assert sorted(results) == [0, 1, 2, 3]
    assert results[0].error is None and results[0].stdout == "0\n" and results[0].value == "'done'", everything(results[0])
    assert results[1].error == TIME_LIMIT
    assert results[2].error == STOPPED
    assert results[3].error is None and results[3].stdout == "3\n" and results[3].value == "499999500000"


def test_output_over_the_budget_is_cut_and_says_so(runtime, scratch) -> None:
    limits = SandboxLimits(seconds=20, output_chars=1000)
    result = run(runtime, "print('start')\nprint('x' * 100000)\nprint('the end')", scratch, limits=limits)
    assert result.error is None and result.truncated
    assert len(result.stdout) < 1200
    assert result.stdout.startswith("start") and "the end" in result.stdout and "cut" in result.stdout

    flood = run(runtime, "while True:\n    print('y' * 1000)", scratch, limits=SandboxLimits(seconds=2, output_chars=1000))
    assert flood.error == TIME_LIMIT and flood.truncated and len(flood.stdout) < 1200

    small = run(runtime, "print('short')", scratch, limits=limits)
    assert not small.truncated


def test_the_python_tool_reports_in_labelled_sections(runtime) -> None:
    tool = PythonTool(SandboxLimits(seconds=2), runtime=runtime)
    assert tool.spec.name == "python"
    assert tool.spec.parameters["required"] == ["code"]
    assert "network" in tool.spec.description and "/scratch" in tool.spec.description
    entry = tool.spec.openai_tool()
    assert entry["function"]["parameters"]["properties"]["code"]["type"] == "string"

    good = tool.run({"code": "print('hi')\n2 ** 10"}, Cancel())
    assert good.ok and "[stdout]\nhi" in good.text and "[value]\n1024" in good.text

    bad = tool.run({"code": "print('partial')\nraise ValueError('nope')"}, Cancel())
    assert not bad.ok and "[error]\nValueError: nope" in bad.text and "[stderr]" in bad.text

    slow = tool.run({"code": "while True: pass"}, Cancel())
    assert not slow.ok and "time limit" in slow.text

    for arguments in [{}, {"code": 3}, {"code": "   "}]:
        refused = tool.run(arguments, Cancel())
        assert not refused.ok and "code" in refused.text


def test_a_missing_runtime_is_a_clear_failure_not_a_crash(tmp_path) -> None:
    tool = PythonTool(runtime=SandboxRuntime(cache_dir=tmp_path / "cache", wasm_path=tmp_path / "missing.wasm"))
    result = tool.run({"code": "1"}, Cancel())
    assert not result.ok and "sandbox" in result.text.lower()


def test_a_tampered_runtime_is_refused(tmp_path) -> None:
    fake = tmp_path / "python.wasm"
    fake.write_bytes(b"\0asm\x01\0\0\0")
    result = PythonTool(runtime=SandboxRuntime(cache_dir=tmp_path / "cache", wasm_path=fake)).run({"code": "1"}, Cancel())
    assert not result.ok and "not the expected build" in result.text
