"""Decode speed through Hearth's engine path (llama_cpp.server child + openai streaming client)
÷ llama_cpp.Llama called directly: same model, threads, context, prompt and sampling (greedy,
with the server's repeat penalty), alternated several times. Goal ≥ 0.97."""
from __future__ import annotations

import json
import tempfile
import time

from _common import median, raw_llama, server_sampling

from engine.llm.endpoint import default_threads
from engine.llm.client import ChatClient, Sampling, StreamFinished, TextDelta
from engine.llm.host import EngineHost, HostConfig
from engine.models.starter import starter_llm_path

ROUNDS = 15  # paired rounds: on a shared 2-core machine one round can be off by 10 %
MAX_TOKENS = 200
N_CTX = 2048
MESSAGES = [{"role": "user", "content": "Write a long, detailed essay about the history of lighthouses."}]


def hearth_rate(client: ChatClient) -> tuple[float, int, str]:
    """From the first words' arrival to the last's. The host folds tokens into ~20 chunks a
    second and reports how many it produced: the same count as one chunk per token below."""
    text = ""
    for event in client.stream(MESSAGES, Sampling(temperature=0.0, top_p=1.0, max_tokens=MAX_TOKENS, seed=1)):
        if isinstance(event, TextDelta):
            text += event.text
        elif isinstance(event, StreamFinished):
            return event.tokens_per_second, event.completion_tokens, text
    raise RuntimeError("the stream ended without finishing")


def raw_rate(llama) -> tuple[float, int, str]:
    stamps, text = [], ""
    for chunk in llama.create_chat_completion(MESSAGES, temperature=0.0, top_p=1.0, max_tokens=MAX_TOKENS,
                                              seed=1, stream=True, **server_sampling()):
        content = chunk["choices"][0]["delta"].get("content")
        if content:
            stamps.append(time.perf_counter())
            text += content
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]), len(stamps), text


def measure(threads: int) -> dict:
    config = HostConfig(starter_llm_path(), n_ctx=N_CTX, n_threads=threads, n_batch=512)
    host = EngineHost(config, log_dir=tempfile.mkdtemp(prefix="hearth-bench-"))
    host.start()
    client = ChatClient(host.base_url, host.api_key)
    llama = raw_llama(config)
    hearth_rates, raw_rates, tokens = [], [], []
    try:
        # Warm both, and check that both sides write the same words: a side that samples
        # differently would be timed on a different text.
        same_text = hearth_rate(client)[2] == raw_rate(llama)[2]
        for round_ in range(ROUNDS):
            # Who goes first alternates, so a machine that speeds up or slows down within a
            # round favours neither side.
            order = (("hearth", lambda: hearth_rate(client)), ("raw", lambda: raw_rate(llama)))
            for who, run in order if round_ % 2 == 0 else order[::-1]:
                rate, n, _text = run()
                (hearth_rates if who == "hearth" else raw_rates).append(rate)
                tokens.append(n)
    finally:
        host.stop()
    hearth_tok_s, raw_tok_s = median(hearth_rates), median(raw_rates)
    # Each round runs both back to back; the median of the per-round ratios resists the noise of
    # a shared machine better than a ratio of medians.
    paired = median([h / r for h, r in zip(hearth_rates, raw_rates)])
    return {"ratio": round(paired, 3), "ratio_of_medians": round(hearth_tok_s / raw_tok_s, 3),
            "hearth_tok_s": round(hearth_tok_s, 1), "raw_tok_s": round(raw_tok_s, 1),
            "tokens_per_run": min(tokens), "threads": threads, "same_text": same_text}


def main() -> None:
    """Hearth's default threads (every core) first; then, on a machine with cores to spare, one
    core left free for the server's and client's Python, which shows the protocol's own cost."""
    threads = default_threads()
    default = measure(threads)
    figures = {"decode_ratio": default["ratio"], "hearth_tok_s": default["hearth_tok_s"],
               "raw_tok_s": default["raw_tok_s"], "ratio_of_medians": default["ratio_of_medians"],
               "threads": threads, "rounds": ROUNDS, "tokens_per_run": default["tokens_per_run"],
               "same_text": default["same_text"]}
    if threads > 1:
        spare = measure(threads - 1)
        figures.update({"spare_core_decode_ratio": spare["ratio"], "spare_core_threads": threads - 1,
                        "spare_core_hearth_tok_s": spare["hearth_tok_s"], "spare_core_raw_tok_s": spare["raw_tok_s"]})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
