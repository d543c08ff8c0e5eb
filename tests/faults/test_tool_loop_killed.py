"""Hearth is killed (SIGKILL) while a tool call waits for the user's approval: when the history is
opened again, the question, the model's words before the call, and the call itself are all there,
the answer marked interrupted and the call marked stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from engine.store import Store
from tests.support.openai_server import scripted_server

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[3])
from engine.chat import PromptPlanner, answer, begin_answer
from engine.llm.client import Sampling
from engine.llm.endpoint import EndpointPlan, open_endpoint
from engine.store import Store
from engine.tools.registry import ToolRegistry, ToolSettings

store = Store(sys.argv[1])
chat = store.create_conversation("Killed mid-loop")
store.add_message(chat.id, "user", "What is 7 to the 77th?")
reply = begin_answer(store, chat.id)
endpoint = open_endpoint(EndpointPlan(remote_url=sys.argv[2]))

def approver(request, cancel):
    print("ASKED", request.step_id, flush=True)
    time.sleep(3600)  # the user has not decided when the machine dies

for event in answer(store, endpoint, PromptPlanner(store, sys.argv[1] + ".files"), reply.id, Sampling(max_tokens=32),
                    tools=ToolRegistry.build(ToolSettings(enabled=("calculator",))), approver=approver):
    pass
"""


def test_a_kill_while_a_call_waits_loses_no_step(tmp_path):
    database = tmp_path / "history.sqlite3"
    with scripted_server(["tool-model"]) as server:
        server.replies = [{"content": "I will use the calculator. ",
                           "tool_calls": [{"name": "calculator", "arguments": {"expression": "7**77"}}]}]
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(database), server.base_url, str(ROOT)],
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            line = child.stdout.readline()
            assert line.startswith("ASKED"), line
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(10)

    with Store(database) as store:  # Hearth starting again
        [chat] = store.list_conversations()
        question, reply = store.messages(chat.id)
        assert (question.role, question.content) == ("user", "What is 7 to the 77th?")
        assert reply.state == "interrupted" and reply.content == "I will use the calculator. "
        [step] = store.tool_steps_for([reply.id])[reply.id]
        assert (step.name, step.state) == ("calculator", "stopped")
        assert step.arguments == '{"expression": "7**77"}' and step.preamble == "I will use the calculator. "
        assert step.result and "stopped" in step.result.lower()
