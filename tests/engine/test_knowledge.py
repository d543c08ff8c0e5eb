"""Knowledge collections end to end: a folder of real documents is indexed with the bundled
embedding model into a real SQLite history, and questions find the file that answers them."""
from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from engine.cancel import Cancel, Cancelled
from engine.knowledge import indexer
from engine.knowledge.index_store import KnowledgeStore
from engine.knowledge.indexer import index_collection
from engine.knowledge.minilm import MiniLmEmbedder
from engine.knowledge.retrieval import passages_for_prompt, search
from engine.store import Store
from tests.engine.test_knowledge_corpus import DOCUMENTS, QUESTIONS, build_corpus


@pytest.fixture(scope="module")
def embedder() -> MiniLmEmbedder:
    return MiniLmEmbedder()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, embedder: MiniLmEmbedder):
    """The corpus indexed once as collection 'home' (shared by the read-only tests)."""
    folder = build_corpus(tmp_path_factory.mktemp("library"))
    store = Store(tmp_path_factory.mktemp("history") / "hearth.sqlite3")
    knowledge = KnowledgeStore(store)
    collection_id = knowledge.create_collection("home", embedder.name, embedder.dimension)
    knowledge.add_roots(collection_id, [str(folder)])
    progress = list(index_collection(knowledge, "home", embedder))
    yield knowledge, folder, progress
    store.close()


def fresh(tmp_path: Path, embedder: MiniLmEmbedder, name: str = "notes") -> tuple[KnowledgeStore, Path]:
    """A small collection of its own (for tests that change files)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    build_corpus(tmp_path / "all", filler_paragraphs=1)
    for file in ("lighthouse.md", "pet_care.txt", "volcano.html"):
        shutil.copy(tmp_path / "all" / file, folder / file)
    knowledge = KnowledgeStore(Store(tmp_path / "hearth.sqlite3"))
    collection_id = knowledge.create_collection(name, embedder.name, embedder.dimension)
    knowledge.add_roots(collection_id, [str(folder)])
    return knowledge, folder


def outcomes(progress) -> dict[str, str]:
    return {Path(p.path).name: p.outcome for p in progress if p.path}


def test_questions_find_the_file_that_answers_them(library, embedder) -> None:
    knowledge, _, _ = library
    misses = []
    for question, file in QUESTIONS:
        top = [Path(hit.path).name for hit in search(knowledge, "home", question, top=5, embedder=embedder)]
        if file not in top:
            misses.append((question, file, top))
    recall = 1 - len(misses) / len(QUESTIONS)
    assert recall >= 0.9, misses


def test_indexing_reports_every_file_and_the_chunks_it_made(library) -> None:
    knowledge, folder, progress = library
    assert progress[0].outcome == "started" and progress[-1].outcome == "finished"
    assert progress[-1].total == len(DOCUMENTS)
    assert set(outcomes(progress).values()) == {"indexed"}
    assert [p.done for p in progress[1:-1]] == list(range(1, len(DOCUMENTS) + 1))
    [home] = knowledge.collections()
    assert (home.files, home.failed, home.chunks) == (len(DOCUMENTS), 0, progress[-1].chunks)
    assert home.roots == (str(folder),)


def test_a_hit_says_which_file_page_and_heading_it_came_from(library, embedder) -> None:
    knowledge, folder, _ = library
    [pdf_hit] = [h for h in search(knowledge, "home", "Orchid Valley solar farm gigawatt hours", top=3, embedder=embedder)
                 if h.path.endswith("annual_report.pdf")][:1]
    assert pdf_hit.location == "page 2"
    assert "48.2 gigawatt hours" in " ".join(pdf_hit.passage.split())

    [md_hit] = search(knowledge, "home", "Where is the Dobsonian telescope kept?", top=1, embedder=embedder)
    assert md_hit.path == str(folder / "astronomy_club.md") and md_hit.location == "Astronomy club"
    text = (folder / "astronomy_club.md").read_text(encoding="utf-8")
    assert text[md_hit.start:md_hit.end] == md_hit.passage


def test_a_word_table_and_an_html_page_are_searchable(library, embedder) -> None:
    knowledge, _, _ = library
    [room] = search(knowledge, "home", "Epson EB-W49", top=1, embedder=embedder)
    assert room.path.endswith("rooms.docx") and "| 4B |" in room.passage
    assert not search(knowledge, "home", "tracking", top=5, embedder=embedder)[0].passage.count("tracking")


def test_the_prompt_gets_whole_small_files_within_the_budget(library, embedder) -> None:
    knowledge, folder, _ = library
    passages = passages_for_prompt(knowledge, "home", "Which garage replaced the timing belt?", budget_chars=2500,
                                   embedder=embedder)
    assert passages[0].path.endswith("car_log.txt") and passages[0].location == "whole file"
    assert "Garage Lindqvist" in passages[0].passage
    assert sum(len(p.passage) for p in passages) <= 2500
    assert len({p.path for p in passages}) == len(passages)

    tight = passages_for_prompt(knowledge, "home", "Which garage replaced the timing belt?", budget_chars=400,
                                embedder=embedder)
    assert all(p.location != "whole file" for p in tight) and sum(len(p.passage) for p in tight) <= 400


def test_a_changed_file_is_reindexed_an_added_one_joins_and_a_removed_one_leaves(tmp_path, embedder) -> None:
    knowledge, folder = fresh(tmp_path, embedder)
    list(index_collection(knowledge, "notes", embedder))

    pet = folder / "pet_care.txt"
    pet.write_text(pet.read_text(encoding="utf-8").replace("55 grams", "70 grams"), encoding="utf-8")
    (folder / "volcano.html").unlink()
    (folder / "new.md").write_text("# Bees\n\nThe hive on the roof produced nine kilograms of honey.\n", encoding="utf-8")
    touched = folder / "lighthouse.md"
    os.utime(touched, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))   # new mtime, same bytes

    progress = list(index_collection(knowledge, "notes", embedder))

    assert outcomes(progress) == {"lighthouse.md": "unchanged", "new.md": "indexed", "pet_care.txt": "indexed"}
    [hit] = search(knowledge, "notes", "How much dry food does Miso get?", top=1, embedder=embedder)
    assert "70 grams" in hit.passage and "55 grams" not in hit.passage
    assert search(knowledge, "notes", "How much honey did the hive produce?", top=1, embedder=embedder)[0].path.endswith("new.md")
    assert all(not h.path.endswith("volcano.html") for h in search(knowledge, "notes", "Mount Eldtopp", top=10, embedder=embedder))
    assert outcomes(index_collection(knowledge, "notes", embedder)) == dict.fromkeys(
        ["lighthouse.md", "new.md", "pet_care.txt"], "unchanged")
    assert_consistent(knowledge.store.path)
    knowledge.store.close()


def test_unreadable_and_huge_files_are_recorded_with_their_reason(tmp_path, embedder, monkeypatch) -> None:
    knowledge, folder = fresh(tmp_path, embedder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (folder / "photo.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "big.md").write_text("# Big\n\n" + "word " * 3000, encoding="utf-8")
    monkeypatch.setattr(indexer, "MAX_FILE_BYTES", 8000)

    progress = list(index_collection(knowledge, "notes", embedder))

    assert progress[-1].outcome == "finished"
    reasons = {Path(s.path).name: s.reason for s in knowledge.sources(knowledge.require("notes")) if s.state == "failed"}
    assert set(reasons) == {"broken.pdf", "photo.txt", "big.md"}
    assert "PDF" in reasons["broken.pdf"] and "binary" in reasons["photo.txt"] and "limit" in reasons["big.md"]
    assert outcomes(index_collection(knowledge, "notes", embedder))["broken.pdf"] == "unchanged"  # not retried
    knowledge.store.close()


def test_a_cancelled_index_keeps_whole_files_and_the_next_run_resumes(tmp_path, embedder) -> None:
    knowledge, folder = fresh(tmp_path, embedder)
    cancel = Cancel()
    seen = []
    with pytest.raises(Cancelled):
        for progress in index_collection(knowledge, "notes", embedder, cancel=cancel):
            seen.append(progress)
            if progress.done == 1:
                cancel.cancel()
    assert [s.outcome for s in seen if s.path] == ["indexed"]

    resumed = outcomes(index_collection(knowledge, "notes", embedder))

    assert list(resumed.values()) == ["unchanged", "indexed", "indexed"]
    assert_consistent(knowledge.store.path)
    knowledge.store.close()


def test_another_embedding_model_reembeds_every_file(tmp_path, embedder) -> None:
    knowledge, _ = fresh(tmp_path, embedder)
    list(index_collection(knowledge, "notes", embedder))

    class Shorter:   # another model: the same network with half the dimensions kept
        name, dimension = "minilm-first-192", 192

        def embed(self, texts):
            vectors = embedder.embed(texts)[:, :192]
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

        def embed_query(self, text):
            return self.embed([text])[0]

    other = Shorter()
    progress = list(index_collection(knowledge, "notes", other))

    assert set(outcomes(progress).values()) == {"indexed"}
    assert knowledge.embedder_of(knowledge.require("notes")) == ("minilm-first-192", 192)
    assert search(knowledge, "notes", "When did the volcano erupt?", top=1, embedder=other)[0].path.endswith("volcano.html")
    knowledge.store.close()


def test_removing_a_collection_leaves_no_chunk_vector_or_search_entry_behind(tmp_path, embedder) -> None:
    knowledge, _ = fresh(tmp_path, embedder)
    list(index_collection(knowledge, "notes", embedder))

    knowledge.delete_collection(knowledge.require("notes"))

    conn = sqlite3.connect(knowledge.store.path)
    for table in ("knowledge_sources", "knowledge_chunks", "knowledge_vectors", "knowledge_roots"):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert conn.execute("SELECT count(*) FROM knowledge_fts WHERE knowledge_fts MATCH 'lighthouse'").fetchone()[0] == 0
    conn.close()
    knowledge.store.close()


def test_paraphrases_score_higher_than_unrelated_text(embedder) -> None:
    vectors = embedder.embed(["The cat sits on the mat.", "A kitten is resting on a rug.",
                              "Quarterly revenue rose by twelve percent."])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.5 > 0.1 > vectors[0] @ vectors[2]
    batched = embedder.embed(["short", "a much longer sentence " * 20])
    assert np.allclose(batched[0], embedder.embed_query("short"), atol=1e-5)


def assert_consistent(path: Path) -> None:
    """integrity_check passes, no file twice, every chunk has a vector and an FTS entry."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM (SELECT collection_id, path FROM knowledge_sources "
                            "GROUP BY 1, 2 HAVING count(*) > 1)").fetchone()[0] == 0
        chunks = conn.execute("SELECT count(*) FROM knowledge_chunks").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM knowledge_vectors").fetchone()[0] == chunks
        assert conn.execute("SELECT sum(chunks) FROM knowledge_sources").fetchone()[0] == chunks
        conn.execute("INSERT INTO knowledge_fts(knowledge_fts) VALUES ('integrity-check')")
    finally:
        conn.close()
