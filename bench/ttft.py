"""Time to first token at turn 20 ÷ at turn 2 of a growing conversation, through Hearth's engine
path. The host reuses its KV cache, so each turn evaluates only the new words (~18 tokens); what
grows is attention over the longer history. Goal ≤ 1.3.

The same conversation is also run on `llama_cpp.Llama` in this process (after the host has
stopped, so they don't compete) to show the engine's own growth beside Hearth's.
"""
from __future__ import annotations

import json
import tempfile
import time

from _common import median

from engine.llm.client import ChatClient, Sampling, StreamFinished, TextDelta
from engine.llm.host import EngineHost, HostConfig
from engine.models.starter import starter_llm_path

TURNS = 20
RUNS = 5
N_CTX = 8192
THREADS = 2
QUESTIONS = ["Tell me one fact about {}.".format(topic) for topic in (
    "rivers", "mountains", "owls", "bread", "copper", "tides", "maps", "bees", "glass", "salt",
    "comets", "violins", "deserts", "moss", "ink", "clocks", "whales", "wool", "stone", "rain")]
SYSTEM = {"role": "system", "content": "You are a concise assistant."}


def conversation(client: ChatClient) -> list[float]:
    history = [SYSTEM]
    ttfts = []
    for turn in range(TURNS):
        history.append({"role": "user", "content": QUESTIONS[turn]})
        answer = ""
        for event in client.stream(history, Sampling(temperature=0.0, max_tokens=48, seed=1)):
            if isinstance(event, TextDelta):
                answer += event.text
            elif isinstance(event, StreamFinished):
                ttfts.append(event.ttft_ms)
        history.append({"role": "assistant", "content": answer})
    return ttfts


def raw_conversation(llama) -> list[float]:
    history = [SYSTEM]
    ttfts = []
    for turn in range(TURNS):
        history.append({"role": "user", "content": QUESTIONS[turn]})
        answer, first = "", None
        started = time.perf_counter()
        for chunk in llama.create_chat_completion(history, temperature=0.0, max_tokens=48, seed=1, stream=True):
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                first = first or time.perf_counter()
                answer += text
        ttfts.append(((first or time.perf_counter()) - started) * 1000)
        history.append({"role": "assistant", "content": answer})
    return ttfts


def ratio(runs: list[list[float]]) -> tuple[float, float, float]:
    t2, t20 = median([r[1] for r in runs]), median([r[TURNS - 1] for r in runs])
    return t20 / t2, t2, t20


def main() -> None:
    import llama_cpp

    host = EngineHost(HostConfig(starter_llm_path(), n_ctx=N_CTX, n_threads=THREADS),
                      log_dir=tempfile.mkdtemp(prefix="hearth-bench-"))
    host.start()
    client = ChatClient(host.base_url, host.api_key)
    try:
        hearth = [conversation(client) for _ in range(RUNS)]
    finally:
        host.stop()
    llama = llama_cpp.Llama(str(starter_llm_path()), n_ctx=N_CTX, n_threads=THREADS, n_threads_batch=THREADS,
                            verbose=False)
    raw = [raw_conversation(llama) for _ in range(RUNS)]
    h_ratio, h2, h20 = ratio(hearth)
    r_ratio, r2, r20 = ratio(raw)
    print(json.dumps({"ttft_ratio": round(h_ratio, 3), "ttft_turn2_ms": round(h2, 1), "ttft_turn20_ms": round(h20, 1),
                      "raw_ttft_ratio": round(r_ratio, 3), "raw_turn2_ms": round(r2, 1), "raw_turn20_ms": round(r20, 1),
                      "runs": RUNS}))


if __name__ == "__main__":
    main()
