"""`hearth serve`: another app on this computer uses Hearth's model through the real `openai`
client: it lists the models, streams an answer, gets a whole one, embeds text; without the key
it gets 401; other computers cannot connect; SIGTERM stops the server and its engine cleanly."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import openai
import pytest

from tests.support.tiny_vision import tiny_vision_model  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]


def start_serving(home: Path, *args: str) -> tuple[subprocess.Popen, str, str]:
    process = subprocess.Popen([sys.executable, "-m", "app", "serve", "--port", "0", "--ctx", "1024", *args], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, HEARTH_HOME=str(home)))
    first = process.stdout.readline()
    assert first.startswith("Serving "), process.stderr.read() if process.poll() is not None else first
    _, url, word, key = first.split()
    assert word == "key" and url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    return process, url, key


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A `hearth serve --port 0` process, its base URL and key (read from its first line)."""
    process, url, key = start_serving(tmp_path_factory.mktemp("serve-home"))
    yield process, url, key
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_first_line_is_the_address_and_key_and_nothing_else(served):
    process, url, key = served
    assert len(key) >= 20
    assert int(url.rsplit(":", 1)[1].split("/")[0]) > 0


def test_an_app_lists_the_models_by_file_name(served):
    _, url, key = served
    names = [m.id for m in openai.OpenAI(base_url=url, api_key=key).models.list()]
    assert "SmolLM2-135M-Instruct.Q4_1" in names
    assert not any(name.endswith(".gguf") for name in names)


def test_an_app_streams_an_answer_and_gets_a_whole_one(served):
    _, url, key = served
    client = openai.OpenAI(base_url=url, api_key=key)
    stream = client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", stream=True, max_tokens=24,
                                            temperature=0, stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": "Name three colours."}])
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    streamed = "".join(pieces)
    assert streamed.strip() and finish in ("stop", "length")
    assert usage.completion_tokens > 0 and usage.prompt_tokens > 0

    whole = client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", max_tokens=24, temperature=0,
                                           messages=[{"role": "user", "content": "Name three colours."}])
    assert whole.choices[0].message.content.strip()
    assert whole.choices[0].finish_reason in ("stop", "length")
    assert 0 < whole.usage.completion_tokens <= 24 and whole.usage.prompt_tokens == usage.prompt_tokens


def test_an_app_embeds_text_with_the_knowledge_model(served):
    _, url, key = served
    client = openai.OpenAI(base_url=url, api_key=key)
    result = client.embeddings.create(model="all-MiniLM-L6-v2", input=["a cat sat on the mat", "stock prices fell"])
    vectors = np.array([item.embedding for item in result.data])
    assert vectors.shape == (2, 384)
    from engine.knowledge.minilm import MiniLmEmbedder

    direct = MiniLmEmbedder().embed(["a cat sat on the mat", "stock prices fell"])
    assert np.allclose(vectors, direct, atol=1e-5)


def test_without_the_key_an_app_gets_401(served):
    _, url, key = served
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url, api_key="not-the-key", max_retries=0).models.list()
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url, api_key=key[:-1], max_retries=0).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}])


def test_a_request_for_another_model_or_a_web_image_is_refused(served):
    _, url, key = served
    client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
    with pytest.raises(openai.NotFoundError, match="not loaded here"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="data:image"):
        client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://example.com/cat.png"}}]}])


def test_an_app_sends_images_to_a_vision_model(tmp_path, tiny_vision_model):
    import base64
    import io

    from PIL import Image

    process, url, key = start_serving(tmp_path, "--model", str(tiny_vision_model.model_path))
    try:
        client = openai.OpenAI(base_url=url, api_key=key)

        def describe(colour: tuple[int, int, int]) -> str:
            buffer = io.BytesIO()
            Image.new("RGB", (32, 32), colour).save(buffer, "PNG")
            uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
            reply = client.chat.completions.create(model=tiny_vision_model.model_path.stem, max_tokens=6, temperature=0,
                                                   messages=[{"role": "user", "content": [
                                                       {"type": "text", "text": "What is this?"},
                                                       {"type": "image_url", "image_url": {"url": uri}}]}])
            return reply.choices[0].message.content

        answers = {describe(colour) for colour in ((250, 0, 0), (0, 0, 250), (250, 250, 250))}
        assert len(answers) > 1, "the image never reached the model: every picture got the same words"
    finally:
        process.terminate()
        process.wait(30)


def test_other_computers_cannot_connect_by_default(served):
    _, url, _ = served
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    address = _lan_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
        pass


def test_sigterm_stops_the_server_and_its_engine(served):
    process, url, key = served
    children = _children(process.pid)
    assert children, "the engine host runs as a child of `hearth serve`"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children)


def _lan_address() -> str | None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
