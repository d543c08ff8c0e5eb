"""A user turns on Settings → Server: the key is shown once with a Copy button, the status bar
says the server is on and counts requests, the panel lists them; an editor plugin streams an
answer while the user chats, and both answers are whole; a new key locks the old one out."""
from __future__ import annotations

import socket
import threading

from pathlib import Path

import openai
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.support.app import last_widget, running_hearth, send

NO_END = {"2": -100}  # SmolLM2's <|im_end|>: the plugin's answer runs to its full length


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serving_an_app_while_chatting(qtbot):
    port = free_port()
    with running_hearth(qtbot, {"chat/temperature": 0.0, "chat/max_tokens": 30, "engine/n_ctx": 2048,
                                "server/enabled": True, "server/port": port}) as hearth:
        window = hearth.window
        qtbot.waitUntil(lambda: hearth.engine.ready and hearth.server.running, timeout=60000)
        qtbot.waitUntil(lambda: getattr(hearth, "server_key_dialog", None) is not None, timeout=5000)
        dialog = hearth.server_key_dialog
        key = dialog.key_field.text()
        assert key.startswith("hearth-") and dialog.isVisible()
        dialog.copy_button.click()
        assert QApplication.clipboard().text() == key
        dialog.accept()
        hearth.settings._qs.sync()
        assert key not in Path(hearth.settings._qs.fileName()).read_text()  # the key lives in the keyring, not the ini
        assert window.server_indicator.isVisible() and f":{port}" in window.server_indicator.text()
        url = f"http://127.0.0.1:{port}/v1"

        # The plugin streams a long answer; the user sends a message meanwhile.
        plugin: dict = {}
        started = threading.Event()

        def plugin_streams() -> None:
            client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
            text, finish = "", None
            for chunk in client.chat.completions.create(
                    model="SmolLM2-135M-Instruct.Q4_1", stream=True, max_tokens=120, temperature=0,
                    logit_bias=NO_END, messages=[{"role": "user", "content": "Write a poem about autumn."}]):
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
                    started.set()
            plugin.update(text=text, finish=finish)

        thread = threading.Thread(target=plugin_streams)
        thread.start()
        qtbot.waitUntil(started.is_set, timeout=60000)
        with qtbot.waitSignal(hearth.answers.answer_finished, timeout=90000) as finished:
            send(qtbot, hearth, "Hello! Who are you?")
        answer = hearth.store.get_message(finished.args[0])
        assert answer.state == "complete" and answer.content.strip()  # never cut off by the plugin
        assert last_widget(hearth).text() == answer.content
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=90000)
        assert plugin["finish"] == "length" and plugin["text"].strip()  # the plugin's answer is whole too
        qtbot.waitUntil(lambda: "1 request" in window.server_indicator.text(), timeout=10000)

        # The panel lists the request, without its contents (logging is off).
        qtbot.mouseClick(window.server_indicator, Qt.MouseButton.LeftButton)
        panel = hearth._server_panel
        assert panel.isVisible() and panel.table.rowCount() == 1
        assert panel.table.item(0, 2).text() == "SmolLM2-135M-Instruct.Q4_1"
        assert "not kept" in panel.contents.text()

        # A new key: the old one stops working at once.
        new_key = hearth.server.regenerate_key()
        assert new_key != key
        try:
            openai.OpenAI(base_url=url, api_key=key, max_retries=0).models.list()
            raise AssertionError("the old key still works")
        except openai.AuthenticationError:
            pass
        assert [m.id for m in openai.OpenAI(base_url=url, api_key=new_key).models.list()][0] == "SmolLM2-135M-Instruct.Q4_1"

        # Off again: nothing listens.
        hearth.settings.set("server/enabled", False)
        hearth.server.apply_settings()
        qtbot.waitUntil(lambda: not window.server_indicator.isVisible(), timeout=5000)

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return False
            except OSError:
                return True

        qtbot.waitUntil(refused, timeout=10000)
