"""The engine host: a llama_cpp.server child on the starter model, spoken to over the OpenAI protocol."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest

from engine.cancel import Cancel
from engine.llm.client import ChatClient, EngineUnavailableError, Sampling, StreamFinished, TextDelta
from engine.llm.host import EngineError, EngineHost, HostConfig
from tests.support.engine import shared_host  # noqa: F401 - fixture

GREEDY = Sampling(temperature=0.0, top_p=1.0, max_tokens=24, seed=1)


def ask(client: ChatClient, text: str, sampling: Sampling = GREEDY, cancel=None):
    deltas, finished = [], None
    for event in client.stream([{"role": "user", "content": text}], sampling, cancel):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            finished = event
    return deltas, finished


def test_an_answer_streams_in_pieces_and_reports_its_tokens(shared_host):
    """The host sends the first words at once, then what is ready ~20 times a second (one piece
    may hold several tokens), and says at the end how many tokens it produced."""
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    long_answer = Sampling(temperature=0.0, top_p=1.0, max_tokens=120, seed=1)
    deltas, finished = ask(client, "Write a long story about a lighthouse keeper.", long_answer)
    assert len(deltas) > 1, "the answer should arrive while it is being written, not all at the end"
    assert "".join(deltas).strip()
    assert isinstance(finished, StreamFinished) and finished.finish_reason == "length"
    assert len(deltas) <= finished.completion_tokens <= 120
    assert finished.completion_tokens > 100, "the token count comes from the host, not from counting pieces"
    assert finished.tokens_per_second > 0


def test_stopping_mid_answer_ends_the_stream_and_the_host_stays_usable(shared_host):
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    cancel = Cancel()
    got = []
    for event in client.stream([{"role": "user", "content": "Tell me a long story about a dragon."}],
                               Sampling(temperature=0, max_tokens=400), cancel):
        if isinstance(event, TextDelta):
            got.append(event.text)
            if len(got) == 5:
                cancel.cancel()
        else:
            finished = event
    assert finished.finish_reason == "cancelled"
    assert len(got) <= 6
    deltas, again = ask(client, "Say hi.")
    assert deltas and again.finish_reason in ("stop", "length")


def test_a_repeated_conversation_reuses_the_kv_cache(shared_host):
    """Turn 2 shares turn 1's prefix, so its prompt processing is shorter (a measured, not timed, claim:
    llama.cpp logs how many prompt tokens it evaluated)."""
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    history = [{"role": "system", "content": "You are terse. " + "Remember these facts: " + ", ".join(
        f"item {i} is {i * 7}" for i in range(60))}, {"role": "user", "content": "What is item 3?"}]
    first = "".join(e.text for e in client.stream(history, GREEDY) if isinstance(e, TextDelta))
    evaluated_first = _last_prompt_eval_tokens(shared_host)
    history += [{"role": "assistant", "content": first}, {"role": "user", "content": "And item 4?"}]
    list(client.stream(history, GREEDY))
    evaluated_second = _last_prompt_eval_tokens(shared_host)
    assert evaluated_first > 300
    assert evaluated_second < evaluated_first / 3, (evaluated_first, evaluated_second)


def test_the_host_tokenizes_a_growing_conversation_by_its_new_end(shared_host):
    """The starter model's vocabulary is byte-level BPE: the host's log says the shortcut is on
    (tests/engine/test_prefix_tokens.py shows its tokens are exactly llama.cpp's)."""
    assert "prompts tokenized by their new end: yes" in shared_host.log_path.read_text(errors="replace")


def _last_prompt_eval_tokens(host) -> int:
    import re

    time.sleep(0.2)
    text = host.log_path.read_text(errors="replace")
    found = re.findall(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens", text)
    assert found, "llama.cpp's timing line is missing from the host log"
    return int(found[-1])


def test_the_host_listens_on_loopback_only_and_demands_its_key(shared_host):
    url = shared_host.base_url + "/models"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 401
    wrong = urllib.request.Request(url, headers={"Authorization": "Bearer not-the-key"})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(wrong, timeout=5)
    assert shared_host.base_url.startswith("http://127.0.0.1:")
    connections = _listening_addresses(shared_host.pid)
    assert connections and all(addr.startswith("127.0.0.1:") for addr in connections), connections


def _listening_addresses(pid: int) -> list[str]:
    """Local addresses of the child's listening TCP sockets, from /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[9] in inodes:  # LISTEN
                    hex_ip, hex_port = parts[1].split(":")
                    if len(hex_ip) == 8:
                        ip = ".".join(str(int(hex_ip[i:i + 2], 16)) for i in (6, 4, 2, 0))
                    else:
                        ip = "ipv6:" + hex_ip
                    found.append(f"{ip}:{int(hex_port, 16)}")
    return found


def test_the_key_is_never_on_a_command_line_or_in_the_log(shared_host):
    with open(f"/proc/{shared_host.pid}/cmdline", "rb") as f:
        cmdline = f.read().decode(errors="replace")
    assert shared_host.api_key not in cmdline
    assert shared_host.api_key not in shared_host.log_path.read_text(errors="replace")
    environ = open(f"/proc/{shared_host.pid}/environ", "rb").read().decode(errors="replace")
    assert shared_host.api_key not in environ


def test_kill_9_of_the_host_is_noticed_and_a_restart_works(starter_model, tmp_path):
    died = threading.Event()
    reports = []
    host = EngineHost(HostConfig(starter_model, n_ctx=1024, n_threads=2), log_dir=tmp_path,
                      on_death=lambda report: (reports.append(report), died.set()))
    host.start()
    try:
        client = ChatClient(host.base_url, host.api_key)
        os.kill(host.pid, signal.SIGKILL)
        assert died.wait(10), "the host's death went unnoticed"
        assert "SIGKILL" in reports[0]
        with pytest.raises(EngineUnavailableError):
            ask(client, "hello")
        host.restart()
        client = ChatClient(host.base_url, host.api_key)
        deltas, _ = ask(client, "hello")
        assert deltas
    finally:
        host.stop()


def test_the_host_dies_with_its_parent(starter_model, tmp_path):
    """Even a SIGKILLed Hearth leaves no orphan engine behind."""
    import subprocess
    import sys

    script = (
        "import sys, time; from pathlib import Path\n"
        "from engine.llm.host import EngineHost, HostConfig\n"
        f"h = EngineHost(HostConfig(Path({str(starter_model)!r}), n_ctx=512), log_dir=Path({str(tmp_path)!r}))\n"
        "h.start(); print(h.pid, flush=True); time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    child_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child_pid):
        time.sleep(0.1)
    assert not _alive(child_pid), "the engine host outlived Hearth"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_model_that_cannot_load_gives_a_clear_error(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(2048))
    host = EngineHost(HostConfig(broken), log_dir=tmp_path)
    with pytest.raises(EngineError) as failure:
        host.start(timeout=60)
    assert "engine" in failure.value.message.lower()
    assert not host.is_alive()


def test_a_host_started_from_a_short_lived_thread_outlives_that_thread(starter_model, tmp_path):
    """Hearth starts engines from pool threads that come and go; the engine must not go with them."""
    host = EngineHost(HostConfig(starter_model, n_ctx=512, n_threads=2), log_dir=tmp_path)
    starter = threading.Thread(target=host.start)
    starter.start()
    starter.join()
    try:
        time.sleep(1.0)
        assert host.is_alive(), "the engine died with the thread that started it"
        deltas, _ = ask(ChatClient(host.base_url, host.api_key), "hello")
        assert deltas
    finally:
        host.stop()


def test_stopping_and_asking_again_at_once_many_times_never_breaks_the_host(shared_host):
    """A stop lets the server finish the token it is decoding before the next request may use
    the model; asking again straight away must never find the model busy or crash the host."""
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    for round_ in range(12):
        cancel = Cancel()
        for event in client.stream([{"role": "user", "content": f"Tell a long story number {round_}."}],
                                   Sampling(temperature=0.7, max_tokens=300), cancel):
            if isinstance(event, TextDelta):
                cancel.cancel()
        assert shared_host.is_alive()
    deltas, finished = ask(client, "Say hi.")
    assert deltas and finished.finish_reason in ("stop", "length")


def test_many_texts_are_counted_in_one_request_with_the_same_counts_as_one_by_one(shared_host):
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    texts = ["Hello there.", "", "A longer sentence about lighthouses and the sea, with punctuation!",
             "<|im_start|>user"]
    library = [client._post_beside_api("/extras/tokenize/count", {"input": t})["count"] for t in texts]
    assert client.count_tokens_many(texts) == library == [client.count_tokens(t) for t in texts]


def test_counting_while_an_answer_streams_does_not_stop_it(shared_host):
    """llama_cpp.server stops a stream when another request waits for the model; the context meter
    and the think budget count tokens while answers stream, so Hearth's count never waits."""
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    counted = []
    deltas, finished = [], None
    for event in client.stream([{"role": "user", "content": "Write a long story about a lighthouse."}],
                               Sampling(temperature=0.0, top_p=1.0, max_tokens=80, seed=1)):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
            if len(counted) < 3:
                counted.append(client.count_tokens("".join(deltas)))
        else:
            finished = event
    assert all(isinstance(c, int) and c > 0 for c in counted) and len(counted) == 3
    assert finished.finish_reason == "length" and finished.completion_tokens == 80


def test_an_answer_that_ends_with_the_models_own_turn_is_continued_not_restarted(shared_host):
    """The think budget closes a thought by sending it back with `</think>` and letting the model go
    on: the host must continue that turn (as llama.cpp's server does), not open a new one."""
    client = ChatClient(shared_host.base_url, shared_host.api_key)
    question = [{"role": "user", "content": "What is the capital of France?"}]
    fresh = client.count_tokens_many(["x"])  # the host is up
    assert fresh
    prefix = "<think>\nThe user asks about France.\n</think>\n\nThe capital of France is"
    words = "".join(e.text for e in client.stream([*question, {"role": "assistant", "content": prefix}],
                                                   GREEDY, continue_final=True) if isinstance(e, TextDelta))
    assert words.strip() and "Paris" in words, words


def test_counting_needs_the_hosts_key(shared_host):
    stranger = ChatClient(shared_host.base_url, "not-the-key")
    assert stranger.count_tokens_many(["Hello"]) is None



def test_a_continued_turn_is_written_where_the_models_answer_begins(starter_model):
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from engine.llm.continue_message import continuing
    from engine.models.gguf_info import inspect_gguf

    render = continuing(Jinja2ChatFormatter.__call__)
    question = [{"role": "user", "content": "What is the capital of France?"}]
    thought = "<think>\nFrance.\n</think>\n\n"
    smol = Jinja2ChatFormatter(inspect_gguf(starter_model).chat_template, "<|im_end|>", "")
    plain = render(smol, messages=question).prompt
    assert render(smol, messages=[*question, {"role": "assistant", "content": thought}]).prompt == plain + thought
    # A template that opens the thought itself (DeepSeek-R1 distills) does not get a second <think>.
    r1 = Jinja2ChatFormatter("{% for m in messages %}<|User|>{{ m.content }}{% endfor %}"
                             "{% if add_generation_prompt %}<|Assistant|><think>\n{% endif %}", "", "")
    continued = render(r1, messages=[*question, {"role": "assistant", "content": thought}]).prompt
    assert continued.endswith("<|Assistant|><think>\nFrance.\n</think>\n\n") and continued.count("<think>") == 1
