"""Routes Hearth adds to llama_cpp.server in its engine host.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time.
"""
from typing import Optional

import llama_cpp.server.app as server_app
from fastapi import Depends, FastAPI
from llama_cpp.server.app import authenticate
from pydantic import BaseModel


class CountsRequest(BaseModel):
    inputs: list[str]
    model: Optional[str] = None


class CountsResponse(BaseModel):
    counts: list[int]


def add_hearth_routes(app: FastAPI) -> None:
    @app.post("/hearth/tokenize/counts", dependencies=[Depends(authenticate)])
    def count_many(body: CountsRequest) -> CountsResponse:
        """Token counts of many texts in one request: planning a long chat's prompt asked
        /extras/tokenize/count once per message (~30 ms each on a small machine: seconds).

        It does not wait for the model's lock: llama_cpp.server stops a streaming answer when
        another request waits for it, and the context meter and the think budget count while an
        answer streams. Tokenizing reads only the vocabulary; a plain `def` runs it off the loop."""
        llama = server_app._llama_proxy(body.model)  # noqa: SLF001 - the host's one loaded model
        # Single messages would crowd the chat prompts out of the prefix tokenizer's memory.
        tokenize = getattr(llama.tokenize, "plain", llama.tokenize)
        return CountsResponse(counts=[len(tokenize(text.encode("utf-8"), special=True)) for text in body.inputs])
