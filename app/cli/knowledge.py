"""`hearth knowledge add|list|remove|search`: collections of the user's documents, from a terminal.

`add` indexes with progress on stderr (one line per file) and can be stopped at any point
(Ctrl+C, a kill): the next `add` of the same collection resumes at the first file not saved.
Failures are one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("knowledge", help="collections of your documents to search and ask about",
                                   description="Index folders and files (text, Markdown, code, HTML, PDF, "
                                               "Word) into named collections and search them.")
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    add = actions.add_parser("add", help="add files and folders to a collection (created if new) and index them")
    add.add_argument("name", metavar="NAME")
    add.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                     help="files or folders (none: bring the collection up to date)")
    add.set_defaults(func=run_add)
    listing = actions.add_parser("list", help="the collections, with their files and chunks")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    remove = actions.add_parser("remove", help="remove a collection, or one of the paths added to it")
    remove.add_argument("name", metavar="NAME")
    remove.add_argument("path", nargs="?", type=Path, metavar="PATH")
    remove.set_defaults(func=run_remove)
    search = actions.add_parser("search", help="the passages of a collection that best answer a question")
    search.add_argument("name", metavar="NAME")
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--top", type=int, default=5, metavar="K")
    search.add_argument("--json", action="store_true", help="one JSON object per hit: path, score, passage, location")
    search.set_defaults(func=run_search)
    return parser


def _fail(message: str) -> int:
    from app.cli import fail

    return fail(message)


def _open():
    from app.paths import database_path
    from engine.knowledge.index_store import KnowledgeStore
    from engine.store import Store

    return KnowledgeStore(Store(database_path(), mark_cut_off=False))


def run_add(args: argparse.Namespace) -> int:
    from engine.knowledge.indexer import index_collection
    from engine.knowledge.retrieval import default_embedder

    missing = [str(path) for path in args.paths if not path.exists()]
    if missing:
        return _fail(f"no such file or folder: {missing[0]}")
    knowledge = _open()
    try:
        collection_id = knowledge.collection_id(args.name)
        if collection_id is None and not args.paths:
            return _fail(f"there is no knowledge collection named {args.name!r}; name files or folders to create it")
        embedder = default_embedder()
        collection_id = knowledge.create_collection(args.name, embedder.name, embedder.dimension)
        knowledge.add_roots(collection_id, [str(path.resolve()) for path in args.paths])
        began = time.perf_counter()
        failed = 0
        last = None
        for progress in index_collection(knowledge, args.name, embedder):
            last = progress
            if progress.path is None:
                continue
            failed += progress.outcome == "failed"
            detail = f": {progress.reason}" if progress.reason else ""
            print(f"[{progress.done}/{progress.total}] {progress.outcome} {progress.path}{detail} "
                  f"({progress.chunks} chunks so far)", file=sys.stderr, flush=True)
        assert last is not None
        print(f"{args.name}: {last.total} files ({failed} not readable), {last.chunks} chunks embedded "
              f"in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        return 0
    finally:
        knowledge.store.close()


def run_list(args: argparse.Namespace) -> int:
    knowledge = _open()
    try:
        collections = knowledge.collections()
    finally:
        knowledge.store.close()
    if args.json:
        print(json.dumps([{"name": c.name, "files": c.files, "failed": c.failed, "chunks": c.chunks,
                           "embedder": c.embedder, "paths": list(c.roots)} for c in collections]))
        return 0
    for c in collections:
        unreadable = f", {c.failed} not readable" if c.failed else ""
        print(f"{c.name}\t{c.files} files{unreadable}, {c.chunks} chunks\t{', '.join(c.roots)}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from engine.knowledge.documents import find_files

    knowledge = _open()
    try:
        collection_id = knowledge.collection_id(args.name)
        if collection_id is None:
            return _fail(f"there is no knowledge collection named {args.name!r}")
        if args.path is None:
            knowledge.delete_collection(collection_id)
            print(f"Removed the collection {args.name}.", file=sys.stderr)
            return 0
        path = str(args.path.resolve())
        roots = knowledge.roots(collection_id)
        if path not in roots:
            return _fail(f"{args.path} is not one of the paths added to {args.name} ({', '.join(roots) or 'none'})")
        still_wanted = set(find_files([root for root in roots if root != path]))
        knowledge.remove_root(collection_id, path, [p for p in knowledge.known_sources(collection_id)
                                                    if p not in still_wanted])
        print(f"Removed {path} from {args.name}.", file=sys.stderr)
        return 0
    finally:
        knowledge.store.close()


def run_search(args: argparse.Namespace) -> int:
    from engine.knowledge.retrieval import search

    if args.top < 1:
        return _fail("--top must be at least 1")
    knowledge = _open()
    try:
        if knowledge.collection_id(args.name) is None:
            return _fail(f"there is no knowledge collection named {args.name!r}")
        hits = search(knowledge, args.name, args.query, top=args.top)
    finally:
        knowledge.store.close()
    for hit in hits:
        if args.json:
            print(json.dumps({"path": hit.path, "score": round(hit.score, 6), "passage": hit.passage,
                              "location": hit.location, "start": hit.start, "end": hit.end}, ensure_ascii=False))
        else:
            where = f" ({hit.location})" if hit.location else ""
            print(f"{hit.score:.4f}  {hit.path}{where}\n    {' '.join(hit.passage.split())[:300]}")
    return 0
