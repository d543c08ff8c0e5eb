"""Knowledge collections: indexing throughput, query latency, retrieval quality.

- `index_ratio` (headline, goal ≥ 0.9): chunks per second through Hearth's indexer (find files,
  read, hash, extract, chunk, embed, commit per file into the history database) ÷ chunks per
  second of the embedding runtime called directly (the same tokenizer and onnxruntime session
  settings, batches of the same size) on exactly the texts Hearth embedded, in the same run.
  Each side runs twice, alternately; the better run of each counts.
- `query_ms_median` / `query_ms_p95`: `retrieval.search` (query embedding, FTS5/BM25, numpy
  scoring of every vector, fusion, passages) on a 10,000-chunk collection. Its chunks are real
  text but random unit vectors (embedding 10,000 chunks would take minutes here; scoring costs
  the same whatever the vectors hold). `vector_load_ms`: the first search, loading the matrix.
- `recall_at_5`: share of the corpus questions whose answering file is among the top 5 hits.

Ends by printing one line: a JSON object of the figures, the headline under `index_ratio`.
"""
from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401 - puts the repository on sys.path
import numpy as np

from engine.knowledge.index_store import KnowledgeStore
from engine.knowledge.indexer import index_collection
from engine.knowledge.minilm import BATCH, MiniLmEmbedder
from engine.knowledge.retrieval import search
from engine.store import Store
from tests.engine.test_knowledge_corpus import FILLER, QUESTIONS, build_corpus

ROUNDS = 3
QUERY_CHUNKS = 10_000
QUERIES = 40


def build_folder(folder: Path) -> Path:
    build_corpus(folder, filler_paragraphs=4)
    rng = random.Random(3)
    words = (FILLER + "report budget meeting schedule project review draft team notes summary plan").split()
    for number in range(30):
        paragraphs = [" ".join(rng.choices(words, k=rng.randint(40, 120))) + "." for _ in range(6)]
        (folder / f"memo_{number:02d}.md").write_text(f"# Memo {number}\n\n" + "\n\n".join(paragraphs), encoding="utf-8")
    return folder


def index_once(folder: Path, embedder: MiniLmEmbedder, scratch: Path) -> tuple[float, int, KnowledgeStore]:
    knowledge = KnowledgeStore(Store(scratch / f"hearth-{time.perf_counter_ns()}.sqlite3"))
    collection = knowledge.create_collection("bench", embedder.name, embedder.dimension)
    knowledge.add_roots(collection, [str(folder)])
    began = time.perf_counter()
    *_, last = index_collection(knowledge, "bench", embedder)
    return time.perf_counter() - began, last.chunks, knowledge


def embedded_texts(knowledge: KnowledgeStore) -> list[str]:
    with knowledge.store._reading("bench") as conn:
        return [f"{context}\n{text}" for context, text in conn.execute("SELECT context, text FROM knowledge_chunks")]


def raw_runtime(texts: list[str]) -> float:
    """Seconds for tokenizer + onnxruntime on `texts`, written out without Hearth's code."""
    import onnxruntime
    from tokenizers import Tokenizer

    from engine.knowledge.minilm import MAX_TOKENS, TOKENIZER_FILE, minilm_model_path

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = MiniLmEmbedder()._session.get_session_options().intra_op_num_threads
    session = onnxruntime.InferenceSession(str(minilm_model_path()), options, providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE))
    tokenizer.enable_truncation(MAX_TOKENS)
    began = time.perf_counter()
    encodings = sorted((e.ids for e in tokenizer.encode_batch(texts)), key=len)
    for first in range(0, len(encodings), BATCH):
        batch = encodings[first:first + BATCH]
        width = max(map(len, batch))
        ids = np.array([row + [0] * (width - len(row)) for row in batch], dtype=np.int64)
        mask = (np.arange(width)[None, :] < np.array([len(row) for row in batch])[:, None]).astype(np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    return time.perf_counter() - began


def recall_at_5(knowledge: KnowledgeStore, embedder: MiniLmEmbedder) -> float:
    found = sum(file in [Path(h.path).name for h in search(knowledge, "bench", question, top=5, embedder=embedder)]
                for question, file in QUESTIONS)
    return found / len(QUESTIONS)


def query_latency(scratch: Path, embedder: MiniLmEmbedder) -> tuple[float, float, float]:
    """(median, p95, first-search) milliseconds on a QUERY_CHUNKS-chunk collection."""
    from engine.knowledge.chunking import chunk_document

    knowledge = KnowledgeStore(Store(scratch / "large.sqlite3"))
    collection = knowledge.create_collection("large", embedder.name, embedder.dimension)
    rng = np.random.default_rng(5)
    words = (FILLER + " ".join(q for q, _ in QUESTIONS)).split()
    per_file = 50
    for number in range(QUERY_CHUNKS // per_file):
        text = "\n\n".join(" ".join(rng.choice(words, size=120)) for _ in range(per_file))
        chunks = chunk_document(text, "text")[:per_file]
        vectors = rng.standard_normal((len(chunks), embedder.dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        knowledge.save_indexed(collection, f"/bench/file_{number}.txt", size=len(text), mtime_ns=0, sha256=str(number),
                               kind="text", chars=len(text), chunks=chunks, contexts=["memo"] * len(chunks),
                               vectors=vectors)
    began = time.perf_counter()
    search(knowledge, "large", QUESTIONS[0][0], embedder=embedder)
    first = (time.perf_counter() - began) * 1000
    times = []
    for round_ in range(QUERIES):
        question = QUESTIONS[round_ % len(QUESTIONS)][0]
        began = time.perf_counter()
        search(knowledge, "large", question, top=5, embedder=embedder)
        times.append((time.perf_counter() - began) * 1000)
    knowledge.store.close()
    times.sort()
    return float(np.median(times)), times[int(0.95 * (len(times) - 1))], first


def main() -> None:
    embedder = MiniLmEmbedder()
    with tempfile.TemporaryDirectory(prefix="hearth-knowledge-bench-") as folder:
        scratch = Path(folder)
        corpus = build_folder(scratch / "corpus")
        files = len(list(corpus.iterdir()))
        embedder.embed(["warm up the session"] * 4)
        hearth_s, raw_s = [], []
        knowledge = None
        for _ in range(ROUNDS):
            seconds, chunks, indexed = index_once(corpus, embedder, scratch)
            hearth_s.append(seconds)
            if knowledge is None:
                knowledge = indexed
                texts = embedded_texts(knowledge)
            else:
                indexed.store.close()
            raw_s.append(raw_runtime(texts))
        assert knowledge is not None and len(texts) == chunks
        recall = recall_at_5(knowledge, embedder)
        knowledge.store.close()
        median_ms, p95_ms, first_ms = query_latency(scratch, embedder)
    hearth_rate, raw_rate = chunks / min(hearth_s), chunks / min(raw_s)
    print(json.dumps({"index_ratio": round(hearth_rate / raw_rate, 3), "hearth_chunks_per_s": round(hearth_rate, 1),
                      "raw_chunks_per_s": round(raw_rate, 1), "chunks": chunks, "files": files,
                      "query_ms_median": round(median_ms, 1), "query_ms_p95": round(p95_ms, 1),
                      "vector_load_ms": round(first_ms, 1), "query_chunks": QUERY_CHUNKS,
                      "recall_at_5": round(recall, 3), "questions": len(QUESTIONS)}))


if __name__ == "__main__":
    main()
