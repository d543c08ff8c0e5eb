"""Hearth's local server for other apps, against its engine host, in one run.

- `throughput_ratio` (headline, goal ≥ 0.95): an app's decode speed (completion tokens per second
  between its first and last word) through Hearth's server ÷ the same request sent straight to the
  engine host, alternating, ROUNDS each; the median of each side counts. End of turn is banned, so
  every answer is exactly ANSWER_TOKENS long.
- `window_ttft_ratio`: the window's time to first token while two apps stream long answers
  through the server ÷ its time to first token alone. Each window question is new (no cached
  prompt), so both sides pay the same prompt evaluation; under load the app's stream must first
  step aside (engine/llm/turns.py).

Ends by printing one line: a JSON object of the figures.
"""
from __future__ import annotations

import http.client
import json
import statistics
import threading
import time

import _common  # noqa: F401 - puts the repository on sys.path

from engine.llm.client import ChatClient, Sampling, StreamFinished
from engine.llm.endpoint import default_threads
from engine.llm.host import EngineHost, HostConfig
from engine.models.starter import starter_llm_path
from engine.server.front import create_front
from engine.server.ledger import Ledger
from engine.server.relay import Upstream
from engine.server.serve import LocalServer

ROUNDS = 5
ANSWER_TOKENS = 200
KEY = "bench-key-0123456789"
NO_END = {"2": -100}  # SmolLM2's <|im_end|>


def stream_rate(port: int, path: str, key: str, body: dict) -> float:
    """Tokens per second between the first and the last word. With end of turn banned the answer
    is exactly its max_tokens long (the host's usage figure counts text chunks, a few fewer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("POST", path, body=json.dumps(body).encode(),
                       headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200, response.read()
    first = last = None
    for line in response:
        if not line.startswith(b"data:") or line.strip() == b"data: [DONE]":
            continue
        chunk = json.loads(line[5:])
        for choice in chunk.get("choices") or ():
            if (choice.get("delta") or {}).get("content"):
                last = time.perf_counter()
                first = first or last
    connection.close()
    return (body["max_tokens"] - 1) / (last - first)


def request(number: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Write essay number {number} about rivers."}],
            "max_tokens": ANSWER_TOKENS, "temperature": 0.7, "seed": number, "logit_bias": NO_END, "stream": True,
            "stream_options": {"include_usage": True}}


def window_ttft(window: ChatClient, number: int) -> float:
    question = f"Question {number}: what is {number} times {number + 7}, and why do rivers meander?"
    for event in window.stream([{"role": "user", "content": question}], Sampling(temperature=0, max_tokens=8)):
        if isinstance(event, StreamFinished):
            return event.ttft_ms
    raise RuntimeError("no answer")


def main() -> None:
    host = EngineHost(HostConfig(starter_llm_path(), n_ctx=2048, n_threads=default_threads(), seed=1))
    host.start()
    name = host.config.model_path.name
    server = LocalServer(create_front(lambda: Upstream(host.base_url, host.api_key, name, host.turns),
                                      api_key=lambda: KEY, ledger=Ledger()), port=0)
    server.start()
    try:
        direct, served = [], []
        for number in range(ROUNDS):
            direct.append(stream_rate(host.port, "/v1/chat/completions", host.api_key, request(number)))
            served.append(stream_rate(server.port, "/v1/chat/completions", KEY, request(number)))

        window = ChatClient(host.base_url, host.api_key, turns=host.turns)
        alone = [window_ttft(window, 100 + n) for n in range(ROUNDS)]
        busy = []
        for n in range(ROUNDS):
            apps = [threading.Thread(target=stream_rate, args=(server.port, "/v1/chat/completions", KEY,
                                                               request(1000 + 10 * n + i))) for i in range(2)]
            for app in apps:
                app.start()
            time.sleep(0.5)  # both apps are in: one streams, one waits
            busy.append(window_ttft(window, 200 + n))
            for app in apps:
                app.join()
        window.close()
    finally:
        server.stop()
        host.stop()
    figures = {
        "throughput_ratio": round(statistics.median(served) / statistics.median(direct), 3),
        "served_tok_s": round(statistics.median(served), 1),
        "direct_tok_s": round(statistics.median(direct), 1),
        "window_ttft_ratio": round(statistics.median(busy) / statistics.median(alone), 2),
        "window_ttft_alone_ms": round(statistics.median(alone), 1),
        "window_ttft_busy_ms": round(statistics.median(busy), 1),
        "rounds": ROUNDS,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
