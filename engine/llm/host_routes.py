"""Routes Hearth adds to llama_cpp.server in its engine host.

No `from __future__ import annotations` here: FastAPI reads these annotations at run time.
"""
from typing import Optional

from fastapi import Depends, FastAPI
from llama_cpp.server.app import authenticate, get_llama_proxy
from pydantic import BaseModel


class CountsRequest(BaseModel):
    inputs: list[str]
    model: Optional[str] = None


class CountsResponse(BaseModel):
    counts: list[int]


def add_hearth_routes(app: FastAPI) -> None:
    @app.post("/hearth/tokenize/counts", dependencies=[Depends(authenticate)])
    async def count_many(body: CountsRequest, llama_proxy=Depends(get_llama_proxy)) -> CountsResponse:
        """Token counts of many texts in one request: planning a long chat's prompt asked
        /extras/tokenize/count once per message (~30 ms each on a small machine: seconds)."""
        llama = llama_proxy(body.model)
        # Single messages would crowd the chat prompts out of the prefix tokenizer's memory.
        tokenize = getattr(llama.tokenize, "plain", llama.tokenize)
        return CountsResponse(counts=[len(tokenize(text.encode("utf-8"), special=True)) for text in body.inputs])
