"""`hearth assistants list|add|remove|export|import`: the assistants the window offers, from a
terminal. `hearth ask --assistant NAME` answers as one. Failures are one line on stderr and
exit status 2."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("assistants", help="your assistants: instructions, model, tools and knowledge",
                                   description="Assistants answer with standing instructions, their own model, "
                                               "sampling and tools, from knowledge collections of your documents.")
    actions = parser.add_subparsers(dest="action", required=True, parser_class=type(parser))
    listing = actions.add_parser("list", help="the assistants")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    add = actions.add_parser("add", help="make a new assistant")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--instructions", default="", help="standing instructions (its system prompt)")
    add.add_argument("--model", default="", help="a GGUF model file (default: the default model)")
    add.add_argument("--tools", metavar="NAMES", help="tools it may use, e.g. calculator,python ('' for none; "
                                                      "default: the default tools)")
    add.add_argument("--knowledge", default="", metavar="NAMES", help="knowledge collections it answers from")
    add.add_argument("--temperature", type=float)
    add.add_argument("--top-p", type=float)
    add.add_argument("--max-tokens", type=int)
    add.add_argument("--think", choices=("off", "short", "long", "unlimited"), default="")
    add.set_defaults(func=run_add)
    remove = actions.add_parser("remove", help="delete an assistant (its chats become plain chats)")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=run_remove)
    export = actions.add_parser("export", help="write an assistant to a small JSON file")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.set_defaults(func=run_export)
    load = actions.add_parser("import", help="add the assistant in a file written by export")
    load.add_argument("file", type=Path, metavar="FILE")
    load.add_argument("--name", help="import it under this name")
    load.set_defaults(func=run_import)
    return parser


def _open():
    from app.paths import database_path
    from engine.store import Store

    return Store(database_path(), mark_cut_off=False)


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _row(assistant) -> dict:
    return {"name": assistant.name, "instructions": assistant.instructions, "model": assistant.model,
            "temperature": assistant.temperature, "top_p": assistant.top_p, "max_tokens": assistant.max_tokens,
            "tools": None if assistant.tools is None else list(assistant.tools), "think": assistant.think,
            "knowledge": list(assistant.knowledge)}


def run_list(args: argparse.Namespace) -> int:
    from engine.store.assistants import list_assistants

    with _open() as store:
        assistants = list_assistants(store)
    if args.json:
        print(json.dumps([_row(a) for a in assistants], ensure_ascii=False))
        return 0
    for a in assistants:
        tools = "default tools" if a.tools is None else (", ".join(a.tools) or "no tools")
        knowledge = f"knowledge: {', '.join(a.knowledge)}" if a.knowledge else "no knowledge"
        print(f"{a.name}\t{a.model or 'default model'}\t{tools}\t{knowledge}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from engine.store.assistants import create_assistant

    if args.model and not Path(args.model).expanduser().is_file():
        from app.cli import fail

        return fail(f"model file not found: {args.model}")
    model = str(Path(args.model).expanduser().resolve()) if args.model else ""
    with _open() as store:
        assistant = create_assistant(store, args.name, instructions=args.instructions, model=model,
                                     tools=None if args.tools is None else _names(args.tools),
                                     knowledge=_names(args.knowledge), temperature=args.temperature,
                                     top_p=args.top_p, max_tokens=args.max_tokens, think=args.think)
    print(f"Added the assistant {assistant.name}.", file=sys.stderr)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from engine.store.assistants import delete_assistant, purge_deleted_assistants, require_assistant

    with _open() as store:
        assistant = require_assistant(store, args.name)
        delete_assistant(store, assistant.id)
        purge_deleted_assistants(store, [assistant.id])  # a terminal has no Undo
    print(f"Removed the assistant {assistant.name}.", file=sys.stderr)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from engine.store.assistants import export_assistant, require_assistant

    with _open() as store:
        out = export_assistant(store, require_assistant(store, args.name).id, args.out)
    print(f"Exported the assistant {args.name} to {out}.", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from engine.store.assistants import import_assistant, read_assistant_file

    read_assistant_file(args.file)  # a bad file says so before the history is opened
    with _open() as store:
        assistant = import_assistant(store, args.file, name=args.name)
    print(f"Imported the assistant {assistant.name}.", file=sys.stderr)
    return 0
