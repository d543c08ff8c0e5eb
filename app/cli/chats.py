"""`hearth chats list | export | import`: the chat history in and out of files, through the same
engine functions as the window's Export and Import menus."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path


def add_parser(subparsers) -> None:
    chats = subparsers.add_parser("chats", help="list, export or import chats")
    commands = chats.add_subparsers(dest="chats_command", required=True, metavar="list|export|import",
                                     parser_class=type(chats))

    listing = commands.add_parser("list", help="the chats in Hearth's history, most recent first")
    listing.add_argument("--json", action="store_true", help="print one JSON array")
    listing.set_defaults(func=run_list)

    export = commands.add_parser("export", help="write chats to a JSON file (everything) or markdown (to read)")
    export.add_argument("ids", nargs="*", type=int, metavar="ID", help="the chats to export (default: all)")
    export.add_argument("--format", choices=("md", "json"),
                        help="md or json (default: md when --out ends in .md, else json)")
    export.add_argument("--out", type=Path, required=True, metavar="PATH",
                        help="the file to write (several chats as md: a folder)")
    export.set_defaults(func=run_export)

    importing = commands.add_parser("import", help="bring chats in from a Hearth JSON export or ChatGPT's "
                                                   "conversations.json (or its export zip)")
    importing.add_argument("file", type=Path, metavar="FILE")
    importing.set_defaults(func=run_import)


def _open_store():
    """Hearth's history and attachments folder, as `hearth ask` opens them (the window may be open)."""
    from app import paths
    from engine.store import Store

    return Store(paths.database_path(), mark_cut_off=False), paths.attachments_dir()


def run_list(args) -> int:
    from app.cli import fail
    from engine.store import StoreError

    try:
        store, _ = _open_store()
    except StoreError as exc:
        return fail(str(exc))
    with store:
        rows = [{"id": c.id, "title": c.title, "messages": store.count_messages(c.id),
                 "created_at": c.created_at, "updated_at": c.updated_at} for c in store.list_conversations()]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    elif not rows:
        print("No chats yet.")
    else:
        width = len(str(max(row["id"] for row in rows)))
        for row in rows:
            when = datetime.fromtimestamp(row["updated_at"]).strftime("%Y-%m-%d %H:%M")
            print(f"{row['id']:>{width}}  {when}  {row['messages']:>4} msg  {row['title']}")
    return 0


def run_export(args) -> int:
    from app.cli import fail
    from engine.store import StoreError
    from engine.store.chat_export import write_json_export
    from engine.store.chat_file import ChatFileError
    from engine.store.chat_markdown import write_markdown_export

    chosen = args.format or ("md" if args.out.suffix.lower() == ".md" else "json")
    write = write_markdown_export if chosen == "md" else write_json_export
    try:
        store, attachments_dir = _open_store()
        with store:
            if not args.ids and not store.list_conversations():
                return fail("there are no chats to export")
            report = write(store, attachments_dir, args.out, args.ids or None)
    except (ChatFileError, StoreError) as exc:
        return fail(str(exc))
    print(report.summary())
    return 0


def run_import(args) -> int:
    from app.cli import fail
    from engine.store import StoreError
    from engine.store.chat_file import ChatFileError
    from engine.store.chat_import import import_chats

    try:
        store, attachments_dir = _open_store()
        with store:
            report = import_chats(store, attachments_dir, args.file)
    except (ChatFileError, StoreError) as exc:
        return fail(str(exc))
    print(report.summary())
    return 0
