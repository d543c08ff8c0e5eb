"""The `python` tool's sandbox (CPython in WebAssembly under wasmtime) ÷ a plain `python -c`
subprocess, both running `print(sum(range(10**6)))`, measured in the same run. Goal for the
warm ratio ≤ 3.

- warm: the compiled module is cached on disk and this process has run the sandbox before; each
  run still gets a fresh engine, store, interpreter and scratch folder (nothing carries over).
- cold: the first run in a fresh process with an empty cache, so it includes compiling the
  ~26 MB module (once per machine and wasmtime version in real use).
- first_cached: the first run in a fresh process with the cache present (Hearth's first tool
  call after a launch).
The plain side is a whole `python -c` process (start-up included), alternated round by round with
a warm run so both see the same moments of a shared machine; the headline is the median of the
per-round ratios.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, median

CODE = "print(sum(range(10**6)))"
EXPECTED = "499999500000\n"
ROUNDS = 15
COLD_RUNS = 3
CACHED_RUNS = 3


def plain_ms() -> float:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CODE], check=True, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    assert out.stdout == EXPECTED, out.stdout
    return elapsed


def sandbox_ms(runtime, scratch: Path) -> float:
    from engine.tools.python_sandbox import SandboxLimits, run_python

    started = time.perf_counter()
    result = run_python(CODE, scratch=scratch, limits=SandboxLimits(seconds=120), runtime=runtime)
    elapsed = (time.perf_counter() - started) * 1000
    if result.error is not None or result.stdout != EXPECTED:
        raise RuntimeError(f"the sandbox answered {result!r}")
    return elapsed


def child(cache_dir: str) -> None:
    """One fresh process: time its first sandbox run (compiling first when the cache is empty)."""
    from engine.tools.python_sandbox import SandboxRuntime

    started = time.perf_counter()
    runtime = SandboxRuntime(cache_dir=Path(cache_dir))
    with tempfile.TemporaryDirectory() as scratch:
        first = sandbox_ms(runtime, Path(scratch))
    print(json.dumps({"first_ms": first, "in_process_ms": (time.perf_counter() - started) * 1000}))


def fresh_process(cache_dir: str) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", cache_dir], check=True, capture_output=True,
                         text=True, cwd=ROOT, timeout=240)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process_ms"] = (time.perf_counter() - started) * 1000
    return figures


def main() -> None:
    from engine.tools.python_sandbox import SandboxRuntime

    plain_ms()  # warm the OS's file cache for the plain side too
    cold, cached = [], []
    with tempfile.TemporaryDirectory() as shared_cache:
        for _ in range(COLD_RUNS):
            with tempfile.TemporaryDirectory() as empty_cache:
                cold.append(fresh_process(empty_cache))
        fresh_process(shared_cache)   # fills the shared cache
        for _ in range(CACHED_RUNS):
            cached.append(fresh_process(shared_cache))

        runtime = SandboxRuntime(cache_dir=Path(shared_cache))
        warm, plain = [], []
        with tempfile.TemporaryDirectory() as scratch:
            sandbox_ms(runtime, Path(scratch))   # loads the module in this process
            for round_ in range(ROUNDS):
                order = [("warm", lambda: sandbox_ms(runtime, Path(scratch))), ("plain", plain_ms)]
                for who, measure in order if round_ % 2 == 0 else order[::-1]:
                    (warm if who == "warm" else plain).append(measure())

    plain_med = median(plain)
    cold_med = median([c["first_ms"] for c in cold])
    figures = {
        "warm_ratio": round(median([w / p for w, p in zip(warm, plain)]), 3),
        "cold_ratio": round(cold_med / plain_med, 2),
        "first_cached_ratio": round(median([c["first_ms"] for c in cached]) / plain_med, 3),
        "warm_ms": round(median(warm), 1),
        "plain_python_ms": round(plain_med, 1),
        "cold_ms": round(cold_med, 1),
        "cold_process_ms": round(median([c["process_ms"] for c in cold]), 1),
        "first_cached_ms": round(median([c["first_ms"] for c in cached]), 1),
        "rounds": ROUNDS, "cold_runs": COLD_RUNS,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
