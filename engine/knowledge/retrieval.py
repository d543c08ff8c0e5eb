"""Hybrid retrieval: FTS5/BM25 and vector similarity, fused by reciprocal rank.

Keywords find exact names, numbers and rare words that a small embedding model blurs; vectors
find paraphrases that share no word with the question. Reciprocal-rank fusion (Cormack et al.,
k = 60) needs no score calibration between the two. `passages_for_prompt` fills a character
budget with the best hits, putting a whole file in instead of its passage when it fits.
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

import numpy as np

from .embedder import Embedder, EmbedderError
from .index_store import KnowledgeStore
from .records import Hit

CANDIDATES = 50      # from each side, before fusion
RRF_K = 60
CHARS_PER_TOKEN = 4  # English prose with MiniLM/Llama-style tokenizers, for callers that budget tokens
_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be but by can could did do does for from had has have how i if in into is it its me my "
    "no not of on or our she so than that the their them then there these they this to was we were what when "
    "where which who whom why will with would you your about after all also any been before being between both "
    "each few he her here him his more most other out over same should some such through too under until up very "
    "while".split())


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The bundled MiniLM, loaded once per process (about 0.2 s)."""
    from .minilm import MiniLmEmbedder

    return MiniLmEmbedder()


def embedder_for(knowledge: KnowledgeStore, collection_id: int) -> Embedder:
    """The embedder a collection was indexed with (today only the bundled one is known)."""
    name, _ = knowledge.embedder_of(collection_id)
    embedder = default_embedder()
    if name != embedder.name:
        raise EmbedderError(f"this collection was indexed with the embedding model {name!r}, which Hearth no "
                            f"longer has; add its files again to re-index it with {embedder.name}")
    return embedder


def keyword_expression(query: str) -> str | None:
    """An FTS5 expression matching any of the query's meaningful words (BM25 weighs rare ones up)."""
    words = [w.lower() for w in _WORD.findall(query)]
    kept = [w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())] or words
    unique = list(dict.fromkeys(kept))
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in unique) if unique else None


def search(knowledge: KnowledgeStore, name: str, query: str, *, top: int = 5,
           embedder: Embedder | None = None) -> list[Hit]:
    """The `top` best passages of collection `name` for `query`, best first."""
    collection_id = knowledge.require(name)
    embedder = embedder or embedder_for(knowledge, collection_id)
    ranked = _fused(knowledge, collection_id, query, embedder)[:max(0, top)]
    rows = knowledge.chunks([chunk_id for chunk_id, _ in ranked])
    return [Hit(rows[cid].path, score, rows[cid].text, rows[cid].location, rows[cid].start, rows[cid].end, cid,
                rows[cid].source_id) for cid, score in ranked if cid in rows]


def passages_for_prompt(knowledge: KnowledgeStore, name: str, question: str, *, budget_chars: int = 6000,
                        top: int = 8, embedder: Embedder | None = None) -> list[Hit]:
    """What to put in the prompt for `question`, best first, within `budget_chars` characters
    (tokens × CHARS_PER_TOKEN). A hit's whole file replaces its passage when the file fits in
    what is left (location 'whole file'); passages that do not fit are skipped, not cut."""
    hits = search(knowledge, name, question, top=top, embedder=embedder)
    chosen: list[Hit] = []
    whole: set[str] = set()
    left = budget_chars
    for hit in hits:
        if hit.path in whole:
            continue
        text = knowledge.document_text(hit.source_id)
        if len(text) <= left and not any(c.path == hit.path for c in chosen):
            chosen.append(replace(hit, passage=text, location="whole file", start=0, end=len(text)))
            whole.add(hit.path)
            left -= len(text)
        elif len(hit.passage) <= left:
            chosen.append(hit)
            left -= len(hit.passage)
    return chosen


def _fused(knowledge: KnowledgeStore, collection_id: int, query: str, embedder: Embedder) -> list[tuple[int, float]]:
    """(chunk id, fused score) best first."""
    scores: dict[int, float] = {}
    expression = keyword_expression(query)
    if expression:
        for rank, chunk_id in enumerate(knowledge.keyword_candidates(collection_id, expression, CANDIDATES)):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    ids, matrix = knowledge.vectors(collection_id)
    if len(ids) and query.strip():
        similarity = matrix @ np.asarray(embedder.embed_query(query), dtype=np.float32)
        count = min(CANDIDATES, len(ids))
        best = np.argpartition(-similarity, count - 1)[:count]
        for rank, index in enumerate(best[np.argsort(-similarity[best])]):
            chunk_id = int(ids[index])
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
