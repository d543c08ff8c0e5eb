"""The one place an image becomes a `data:` URI, the form OpenAI-compatible servers take."""
from __future__ import annotations

import base64


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
