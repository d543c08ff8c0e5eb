"""Decode speed through Hearth's engine path (llama_cpp.server child + openai streaming client)
÷ llama_cpp.Llama called directly: same model, threads, context, prompt and greedy sampling,
alternated several times. Goal ≥ 0.97."""
from __future__ import annotations

import json
import tempfile
import time

from _common import median

from engine.llm.client import ChatClient, Sampling, TextDelta
from engine.llm.host import EngineHost, HostConfig
from engine.models.starter import starter_llm_path

ROUNDS = 4
MAX_TOKENS = 200
THREADS = 2
N_CTX = 2048
MESSAGES = [{"role": "user", "content": "Write a long, detailed essay about the history of lighthouses."}]


def hearth_rate(client: ChatClient) -> tuple[float, int]:
    stamps = []
    for event in client.stream(MESSAGES, Sampling(temperature=0.0, top_p=1.0, max_tokens=MAX_TOKENS, seed=1)):
        if isinstance(event, TextDelta):
            stamps.append(time.perf_counter())
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)


def raw_rate(llama) -> tuple[float, int]:
    stamps = []
    for chunk in llama.create_chat_completion(MESSAGES, temperature=0.0, top_p=1.0, max_tokens=MAX_TOKENS,
                                              seed=1, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            stamps.append(time.perf_counter())
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps)


def main() -> None:
    import llama_cpp

    model = starter_llm_path()
    host = EngineHost(HostConfig(model, n_ctx=N_CTX, n_threads=THREADS, n_batch=512),
                      log_dir=tempfile.mkdtemp(prefix="hearth-bench-"))
    host.start()
    client = ChatClient(host.base_url, host.api_key)
    llama = llama_cpp.Llama(str(model), n_ctx=N_CTX, n_threads=THREADS, n_threads_batch=THREADS, n_batch=512,
                            verbose=False)
    hearth_rates, raw_rates, tokens = [], [], []
    try:
        hearth_rate(client), raw_rate(llama)  # warm both
        for _ in range(ROUNDS):
            rate, n = hearth_rate(client)
            hearth_rates.append(rate)
            tokens.append(n)
            rate, n = raw_rate(llama)
            raw_rates.append(rate)
            tokens.append(n)
    finally:
        host.stop()
    hearth_tok_s, raw_tok_s = median(hearth_rates), median(raw_rates)
    print(json.dumps({"decode_ratio": round(hearth_tok_s / raw_tok_s, 3), "hearth_tok_s": round(hearth_tok_s, 1),
                      "raw_tok_s": round(raw_tok_s, 1), "tokens_per_run": min(tokens), "rounds": ROUNDS,
                      "threads": THREADS}))


if __name__ == "__main__":
    main()
