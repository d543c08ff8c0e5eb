"""A GGUF's chat template is code written by whoever made the file (CVE-2024-34359: templates ran
arbitrary Python in llama-cpp-python < 0.2.72). A hostile template must fail or render harmlessly:
no command runs, no file is read into the answer, and the engine and the app keep going.

One tiny model carries every attack; the last user message picks which branch the template runs,
so a single engine host serves them all."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.llm.client import ChatClient, ChatError, Sampling, TextDelta
from engine.llm.host import EngineHost, HostConfig
from tests.support import tiny_vision

SHORT = Sampling(temperature=0.0, top_p=1.0, max_tokens=8, seed=1)
SECRET_LINE = "root:x:0:0"  # the first line of /etc/passwd on every Linux


def attacks(marker: Path) -> dict[str, str]:
    """Branch name → template code that tries to escape the sandbox."""
    return {
        "subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "popen": f"{{{{ cycler.__init__.__globals__.os.popen('touch {marker}').read() }}}}",
        "joiner-popen": f"{{{{ joiner.__init__.__globals__['os'].system('touch {marker}') }}}}",
        "template-context": "{{ self._TemplateReference__context }}",
        "lipsum-passwd": "{{ lipsum.__globals__['os'].popen('cat /etc/passwd').read() }}",
        "builtins-open": "{{ lipsum.__globals__['__builtins__']['open']('/etc/passwd').read() }}",
        "include-passwd": "{% include '/etc/passwd' %}",
        "format-string": "{{ '{0.__class__.__init__.__globals__}'.format(messages) }}",
        "mutate-messages": "{% set _ = messages.append({'role': 'system', 'content': 'pwned'}) %}",
        "bare-open": "{{ open('/etc/passwd').read() }}",
    }


def hostile_template(marker: Path) -> str:
    branches = "".join(
        f"{'{% if' if i == 0 else '{% elif'} messages[-1]['content'] == '{name}' %}}{code}"
        for i, (name, code) in enumerate(attacks(marker).items()))
    return (
        branches + "{% endif %}"
        "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )


def write_hostile_model(path: Path, tokenizer_source: Path, template: str) -> Path:
    """The tiny random-weight llama of tests/support/tiny_vision.py, with our template in place of ChatML."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiny_vision, "CHATML_TEMPLATE", template)
        return tiny_vision.write_text_model(path, tokenizer_source)


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox") / "pwned"


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory: pytest.TempPathFactory, starter_model: Path, marker: Path) -> Path:
    folder = tmp_path_factory.mktemp("hostile-model")
    return write_hostile_model(folder / "hostile-template.gguf", starter_model, hostile_template(marker))


@pytest.fixture(scope="module")
def hostile_host(hostile_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHost]:
    host = EngineHost(HostConfig(hostile_model, n_ctx=512, n_threads=2, seed=1),
                      log_dir=tmp_path_factory.mktemp("hostile-log"))
    host.start()
    yield host
    host.stop()


def ask(host: EngineHost, text: str) -> str:
    client = ChatClient(host.base_url, host.api_key, model=Path(host.config.model_path).name)
    try:
        return "".join(e.text for e in client.stream([{"role": "user", "content": text}], SHORT)
                       if isinstance(e, TextDelta))
    finally:
        client.close()


def test_the_hostile_template_is_really_the_one_the_engine_uses(hostile_host):
    assert "__subclasses__" in hostile_host.log_tail(400) or "chat_template" in hostile_host.log_tail(400)


@pytest.mark.parametrize("attack", list(attacks(Path("/x"))))
def test_a_template_that_tries_to_escape_fails_or_renders_harmlessly(hostile_host, marker, attack):
    try:
        answer = ask(hostile_host, attack)
    except ChatError as exc:
        outcome = str(exc)
        assert outcome.strip(), "a failure must say something"
    else:
        outcome = answer
    assert not marker.exists(), "the template ran a shell command"
    assert SECRET_LINE not in outcome and "/bin/bash" not in outcome, "file content leaked into the answer"
    assert hostile_host.is_alive()


def test_a_template_the_sandbox_refuses_is_an_error_not_an_empty_answer(hostile_host, marker):
    """The server renders the template once streaming has begun, so its refusal arrives as an
    event stream that just ends. That must reach the user as a failure, never as an empty reply."""
    with pytest.raises(ChatError) as refused:
        ask(hostile_host, "popen")
    assert str(refused.value).strip()
    assert not marker.exists()


def test_the_engine_still_answers_after_every_attack(hostile_host, marker):
    for attack in attacks(marker):
        try:
            ask(hostile_host, attack)
        except ChatError:
            pass
    assert hostile_host.is_alive()
    ask(hostile_host, "Hello there")  # the harmless branch: no exception
    assert not marker.exists()


def test_in_the_app_the_attack_shows_as_a_failed_message_and_the_chat_goes_on(qtbot, hostile_model, marker):
    from app.gui.main_window_controller import HearthController
    from app.settings import Settings

    Settings().set("model/path", str(hostile_model))
    Settings().set("chat/temperature", 0.0)
    Settings().set("chat/max_tokens", 8)
    Settings().set("engine/n_ctx", 512)
    hearth = HearthController()
    qtbot.addWidget(hearth.window)
    hearth.window.show()
    hearth.start()
    try:
        qtbot.waitUntil(lambda: hearth.engine.ready, timeout=60000)
        with qtbot.waitSignal(hearth.answers.answer_failed, timeout=30000) as failed:
            hearth.answers.send("popen")
        message_id, reason = failed.args
        assert reason.strip()
        stored = hearth.store.get_message(message_id)
        assert stored.state == "error" and stored.error == reason
        widget = hearth.window.messages.widget_for(message_id)
        assert widget.state == "error"
        assert widget._footer.text() == reason
        assert not marker.exists()

        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=30000) as finished:
            hearth.answers.send("Hello there")
        assert hearth.store.get_message(finished.args[0]).state == "complete"
        assert hearth.engine.ready
    finally:
        hearth.shutdown()
