"""Time to first token at turn 20 ÷ at turn 2 of a growing conversation, through Hearth's engine
path. The host reuses its KV cache, so a long history should cost little. Goal ≤ 1.3."""
from __future__ import annotations

import json
import tempfile

from _common import median

from engine.llm.client import ChatClient, Sampling, StreamFinished, TextDelta
from engine.llm.host import EngineHost, HostConfig
from engine.models.starter import starter_llm_path

TURNS = 20
RUNS = 3
QUESTIONS = ["Tell me one fact about {}.".format(topic) for topic in (
    "rivers", "mountains", "owls", "bread", "copper", "tides", "maps", "bees", "glass", "salt",
    "comets", "violins", "deserts", "moss", "ink", "clocks", "whales", "wool", "stone", "rain")]


def conversation(client: ChatClient) -> list[float]:
    history = [{"role": "system", "content": "You are a concise assistant."}]
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


def main() -> None:
    host = EngineHost(HostConfig(starter_llm_path(), n_ctx=8192, n_threads=2),
                      log_dir=tempfile.mkdtemp(prefix="hearth-bench-"))
    host.start()
    client = ChatClient(host.base_url, host.api_key)
    turn2, turn20, prompt_len = [], [], 0
    try:
        for _ in range(RUNS):
            ttfts = conversation(client)
            turn2.append(ttfts[1])
            turn20.append(ttfts[TURNS - 1])
    finally:
        host.stop()
    t2, t20 = median(turn2), median(turn20)
    print(json.dumps({"ttft_ratio": round(t20 / t2, 3), "ttft_turn2_ms": round(t2, 1),
                      "ttft_turn20_ms": round(t20, 1), "runs": RUNS}))


if __name__ == "__main__":
    main()
