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


class ChatCountRequest(BaseModel):
    messages: list[dict]
    model: Optional[str] = None


class ChatCountResponse(BaseModel):
    count: int


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

    @app.post("/hearth/tokenize/chat", dependencies=[Depends(authenticate)])
    def count_chat(body: ChatCountRequest) -> ChatCountResponse:
        """Tokens of a whole chat prompt as the model's own template frames it (the context
        meter's total equals what the answer's request will hold). Images count as text-free
        turns here; the caller adds their share. Like count_many, it never waits for the model."""
        from fastapi import HTTPException
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        llama = server_app._llama_proxy(body.model)  # noqa: SLF001
        template = llama.metadata.get("tokenizer.chat_template")
        if not template or llama.chat_handler is not None:
            raise HTTPException(status_code=404, detail="this model's prompt is not framed by a chat template")
        formatter = getattr(llama, "_hearth_formatter", None)
        if formatter is None:
            token = llama._model.token_get_text  # noqa: SLF001
            formatter = Jinja2ChatFormatter(template, token(llama.token_eos()), token(llama.token_bos()))
            llama._hearth_formatter = formatter
        messages = [dict(m, content=_text_of(m.get("content"))) for m in body.messages]
        prompt = formatter(messages=messages).prompt
        tokenize = getattr(llama.tokenize, "plain", llama.tokenize)
        return ChatCountResponse(count=len(tokenize(prompt.encode("utf-8"), add_bos=False, special=True)))  # as its handler does


def _text_of(content) -> str:  # noqa: ANN001
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""
