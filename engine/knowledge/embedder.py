"""What knowledge needs from an embedding model, so the bundled MiniLM can give way to another.

A collection stores its embedder's `name`; opening it with an embedder of another name re-embeds
every file, since vectors from two models cannot be compared. A GGUF model through llama.cpp
(`Llama(embedding=True)`, in a child process: it takes a whole context) or a remote
`/v1/embeddings` endpoint fits the same protocol.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class EmbedderError(Exception):
    """The embedding model cannot be found or run; the message says why, for the user."""


class Embedder(Protocol):
    name: str        # identifies the model (and anything that changes its vectors)
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document texts to a (len(texts), dimension) float32 array of unit-length rows."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """A question to one unit-length float32 vector (models with query prefixes add them here)."""
        ...


def normalized(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as float32: cosine becomes a dot product."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
