"""`hearth ask "PROMPT"`: one answer through the same pipeline as the window (engine/chat),
streamed to stdout. With `--continue` or `--conversation ID` (or `--save`) the question and
answer are kept in the history the window shows; otherwise nothing is kept. `--assistant NAME`
answers as one of the window's assistants (its instructions, model, sampling, tools, think level
and knowledge; flags given here win), and `--knowledge NAME` answers from a collection: the
passages found are put in the prompt to cite, and listed after the answer ("sources" in --json)."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def add_parser(subparsers) -> None:
    ask = subparsers.add_parser("ask", help="ask the model one question and stream the answer")
    ask.add_argument("prompt", help="what to ask")
    ask.add_argument("--model", type=Path, help="a GGUF model file (default: the bundled starter model)")
    ask.add_argument("--system", default="", help="a system prompt (for a new conversation)")
    ask.add_argument("--image", type=Path, action="append", default=[], help="an image to send (vision models)")
    ask.add_argument("--mmproj", type=Path, help="the vision projector for --model (found beside it by default)")
    ask.add_argument("--assistant", metavar="NAME", help="answer as this assistant (hearth assistants list)")
    ask.add_argument("--knowledge", action="append", default=[], metavar="NAME",
                     help="answer from this knowledge collection (repeatable; hearth knowledge list)")
    ask.add_argument("--max-tokens", type=int, help="the longest answer (default: the assistant's, or 512)")
    ask.add_argument("--temperature", type=float, help="randomness (default: the assistant's, or 0.7)")
    ask.add_argument("--seed", type=int)
    ask.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    ask.add_argument("--server", help="an OpenAI-compatible base URL to use instead of a local model")
    ask.add_argument("--api-key", default="", help="key for --server")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming text")
    history = ask.add_mutually_exclusive_group()
    history.add_argument("-c", "--continue", dest="continue_", action="store_true",
                         help="go on with the most recent conversation (saved in Hearth's history)")
    history.add_argument("--conversation", type=int, metavar="ID",
                         help="go on with conversation ID (saved in Hearth's history)")
    ask.add_argument("--save", action="store_true", help="keep this question and answer in Hearth's history")
    ask.add_argument("--tools", metavar="NAMES",
                     help="tools the model may call: calculator,python,files,fetch (each call is shown first; "
                          "default: the assistant's, or none)")
    ask.add_argument("--allow", default="", metavar="NAMES",
                     help="tools that run without asking (fetch always asks); others ask here, "
                          "and are denied when stdin is not a terminal")
    ask.add_argument("--files", type=Path, action="append", default=[], metavar="DIR",
                     help="a folder the files tool may read (repeatable)")
    ask.add_argument("--mcp", type=Path, metavar="FILE",
                     help="an mcp.json of MCP servers whose tools join --tools (named SERVER__TOOL)")
    ask.add_argument("--tool-choice", metavar="NAME", help="make the model call this tool first")
    ask.add_argument("--max-rounds", type=int, default=6, help="tool rounds per answer at most")
    ask.add_argument("--think", choices=("off", "short", "long", "unlimited"),
                     help="how long a reasoning model may think: off, short (512 tokens), long (4096), unlimited "
                          "(default: the assistant's, or long)")
    ask.set_defaults(func=run_ask)


def _fail(message: str) -> int:
    from app.cli import fail

    return fail(message)


def run_ask(args) -> int:
    from engine.chat import AnswerDelta, AnswerFailed, AnswerFinished, PromptPlanner, answer, begin_answer
    from engine.chat.events import AnswerRetracted, SourcesRetrieved, ThinkingDelta, ToolStepChanged
    from engine.chat.titles import title_from
    from engine.llm.client import ChatError
    from engine.llm.endpoint import EndpointPlan, ModelNotUsable, local_plan, open_endpoint
    from engine.llm.host import EngineError
    from engine.store import StoreError

    if (args.max_tokens is not None and args.max_tokens < 1) or args.ctx < 256 or (
            args.temperature is not None and not 0 <= args.temperature <= 2):
        return _fail("--max-tokens must be ≥ 1, --temperature between 0 and 2, --ctx ≥ 256")
    keeps_history = args.continue_ or args.conversation is not None or args.save
    hub = home = None
    try:
        home = _open_home() if keeps_history or args.assistant or args.knowledge else None
        existing = _existing_conversation(home, args) if keeps_history else None
        chosen = _chosen_assistant(home, args, existing)
        if args.tools is None:
            args.tools = ",".join(chosen.tools) if chosen is not None and chosen.tools is not None else ""
        hub = _mcp_hub(args.mcp) if args.mcp else None
        tools, approver = _tools(args, hub.tools() if hub else [])
    except (ValueError, StoreError) as exc:
        for opened in (hub, home):
            if opened is not None:
                opened.close()
        return _fail(str(exc))
    scratch = None if keeps_history else tempfile.TemporaryDirectory(prefix="hearth-ask-")
    endpoint = store = None
    try:
        images = _prepare_images(args.image)
        store, attachments_dir = (home, _attachments_dir()) if keeps_history else (_scratch_store(), Path(scratch.name))
        conversation_id = _conversation(store, args, existing, chosen)
        assistant = _assistant_of(store, conversation_id)
        sampling, think = _sampling(args, assistant)
        knowledge = _retriever(home, [*(assistant.knowledge if assistant else ()), *args.knowledge])
        if args.server:
            plan = EndpointPlan(remote_url=args.server, remote_key=args.api_key,
                                remote_model=_remote_model(assistant))
        else:
            from engine.models.starter import starter_llm_path

            model = args.model or (Path(assistant.model) if assistant and assistant.model else None) \
                or starter_llm_path()
            if model is None:
                raise ModelNotUsable("no model given and the starter model is not installed; pass --model FILE.gguf")
            plan = local_plan(Path(model), n_ctx=args.ctx, mmproj=args.mmproj, seed=args.seed,
                              wants_images=bool(images))
        question = store.add_message(conversation_id, "user", args.prompt)
        if images:
            from engine.vision import store_images

            for attachment in store_images(images, attachments_dir):
                store.add_attachment(question.id, **attachment)
        conversation = store.get_conversation(conversation_id)
        if conversation is not None and conversation.title == "New chat":
            store.rename_conversation(conversation_id, title_from(args.prompt))
        endpoint = open_endpoint(plan, log_dir=_log_dir())
        reply = begin_answer(store, conversation_id)
        text, thought, finished, steps, sources = "", "", None, {}, ()
        tool_choice = {"type": "function", "function": {"name": args.tool_choice}} if args.tool_choice else None
        for event in answer(store, endpoint, PromptPlanner(store, attachments_dir), reply.id, sampling,
                            tools=tools, approver=approver, tool_choice=tool_choice, max_rounds=args.max_rounds,
                            think=think, knowledge=knowledge):
            if isinstance(event, SourcesRetrieved):
                sources = event.sources
                for note in event.notes:
                    sys.stderr.write(f"hearth: {note}\n")
            elif isinstance(event, ThinkingDelta):
                thought += event.text
            elif isinstance(event, AnswerRetracted):
                text = text[:len(text) - len(event.text)]  # already printed: a terminal cannot take it back
            elif isinstance(event, ToolStepChanged):
                steps[event.step.id] = event.step
                if not args.json and event.step.state not in ("requested", "running"):
                    _show_step(event.step)
            elif isinstance(event, AnswerDelta):
                text += event.text
                if not args.json:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
            elif isinstance(event, AnswerFinished):
                finished = event.stats
            elif isinstance(event, AnswerFailed):
                if not args.json and text:
                    sys.stdout.write("\n")
                return _fail(event.message)
        if args.json:
            result = {"model": endpoint.label, "text": text, "reasoning": thought,
                      "completion_tokens": finished.completion_tokens if finished else 0,
                      "tokens_per_second": round(finished.tokens_per_second, 2) if finished else 0,
                      "ttft_ms": round(finished.ttft_ms, 1) if finished else 0,
                      "finish_reason": finished.finish_reason if finished else "error"}
            saved_thought = store.thinking_for([reply.id]).get(reply.id)
            if saved_thought is not None:
                result["reasoning_tokens"] = saved_thought.tokens
                result["reasoning_seconds"] = round(saved_thought.seconds or 0.0, 2)
            if keeps_history:
                result["conversation"] = conversation_id
            if tools is not None:
                result["tool_calls"] = [{"name": s.name, "arguments": s.arguments,
                                         "approved": s.approval not in (None, "denied"), "result": s.result}
                                        for s in steps.values()]
            if assistant is not None:
                result["assistant"] = assistant.name
            if knowledge is not None:
                result["sources"] = [{"n": s.number, "path": s.path, "location": s.location, "passage": s.passage}
                                     for s in sources]
            print(json.dumps(result))
        else:
            sys.stdout.write("\n")
            if sources:
                sys.stdout.write("\nSources:\n" + "".join(
                    f"[{s.number}] {s.path}{f' ({s.location})' if s.location else ''}\n" for s in sources))
        return 0
    except (EngineError, ChatError, StoreError, ValueError) as exc:
        return _fail(exc.message if isinstance(exc, EngineError) else str(exc))
    finally:
        if hub is not None:
            hub.close()
        if endpoint is not None:
            endpoint.close()
        if store is not None and store is not home:
            store.close()
        if home is not None:
            home.close()
        if scratch is not None:
            scratch.cleanup()


def _mcp_hub(path: Path):
    """The MCP servers of an mcp.json, started for this answer; one that cannot start is named."""
    from engine.tools.mcp_servers import McpHub, load_mcp_config

    hub = McpHub(load_mcp_config(path)).start()  # McpConfigError is a ValueError
    for name, why in hub.unavailable.items():
        sys.stderr.write(f"hearth: the MCP server {name!r} is unavailable: {why}\n")
    return hub


def _tools(args, mcp_tools=()):
    """The registry of the tools named by --tools (and the MCP servers'), and who approves their calls."""
    from engine.tools.approval import allow_only
    from engine.tools.registry import TOOL_NAMES, ToolRegistry, ToolSettings

    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    allowed = [n.strip() for n in args.allow.split(",") if n.strip()]
    mcp_names = [tool.spec.name for tool in mcp_tools]
    builtin = [n for n in names if n not in mcp_names]
    if args.tool_choice and args.tool_choice not in names + mcp_names:
        builtin.append(args.tool_choice)
    unknown = [n for n in builtin + allowed if n not in (*TOOL_NAMES, *mcp_names)]
    if unknown:
        raise ValueError(f"unknown tool {unknown[0]!r}; the tools are {', '.join([*TOOL_NAMES, *mcp_names])}")
    if not 1 <= args.max_rounds <= 50:
        raise ValueError("--max-rounds must be between 1 and 50")
    if not builtin and not mcp_tools:
        return None, allow_only(())
    registry = ToolRegistry.build(ToolSettings(enabled=tuple(builtin), folders=tuple(p.resolve() for p in args.files)),
                                  extra=mcp_tools)
    if registry.unavailable:
        name, why = next(iter(registry.unavailable.items()))
        raise ValueError(f"the {name} tool is unavailable: {why}")
    headless = allow_only(allowed)
    if not sys.stdin.isatty():
        return registry, headless
    return registry, _ask_on_terminal(headless)


def _ask_on_terminal(headless):
    from engine.store.records import readable_arguments
    from engine.tools.approval import Approval

    def approve(request, cancel):
        if headless(request, cancel) is Approval.AUTO:
            return Approval.AUTO
        sys.stderr.write(f"\nThe model wants to run the {request.name} tool with:\n{readable_arguments(request.name, request.arguments)[0]}\n"
                         "Allow it? [y]es once, [c]hat (this tool for this chat), [N]o: ")
        sys.stderr.flush()
        reply = sys.stdin.readline().strip().lower()
        if reply in ("y", "yes"):
            return Approval.ONCE
        if reply in ("c", "chat") and request.name != "fetch":
            return Approval.CHAT
        return Approval.DENIED

    return approve


def _show_step(step) -> None:
    verdict = {"done": "ran", "failed": "failed", "denied": "denied", "stopped": "stopped"}.get(step.state, step.state)
    sys.stderr.write(f"\n[{step.name} {verdict}: {(step.result or '').strip()[:400]}]\n")
    sys.stderr.flush()


def _prepare_images(paths: list[Path]) -> list:
    if not paths:
        return []
    try:
        from engine.vision.intake import prepare_image
    except ImportError:
        raise ValueError("image support is not installed") from None
    from engine.vision.intake import ImageIntakeError

    try:
        return [prepare_image(path) for path in paths]
    except ImageIntakeError as exc:  # it names the file
        raise ValueError(str(exc)) from None


def _open_home():
    """Hearth's history (the window's): its chats, assistants and knowledge collections."""
    from app import paths
    from engine.store import Store

    # Not open_or_recover, and no marking of cut-off answers: the window may be answering.
    return Store(paths.database_path(), mark_cut_off=False)


def _attachments_dir() -> Path:
    from app import paths

    return paths.attachments_dir()


def _scratch_store():
    """A throwaway history for an answer nothing of which is kept."""
    from engine.store import Store

    return Store(":memory:")


def _existing_conversation(home, args) -> int | None:
    """The saved chat to go on with (--conversation ID, or the newest for -c), if any."""
    if args.conversation is not None:
        if home.get_conversation(args.conversation) is None:
            raise ValueError(f"there is no conversation {args.conversation}")
        return args.conversation
    if args.continue_ and (conversations := home.list_conversations()):
        return conversations[0].id
    return None


def _chosen_assistant(home, args, existing: int | None):
    """The assistant named by --assistant, else the one the chat going on answers as. A
    --knowledge collection that does not exist is refused before any model starts."""
    from engine.knowledge.index_store import KnowledgeStore
    from engine.store.assistants import conversation_assistant, require_assistant

    missing = [name for name in args.knowledge if KnowledgeStore(home).collection_id(name) is None]
    if missing:
        raise ValueError(f"there is no knowledge collection named {missing[0]!r} (see hearth knowledge list)")
    if args.assistant:
        return require_assistant(home, args.assistant)
    return conversation_assistant(home, existing) if existing is not None else None


def _conversation(store, args, existing: int | None, assistant) -> int:
    """The chat to answer in: the one going on (answering as --assistant from now on, if given),
    or a new one started with the assistant (copied into the throwaway history when nothing is kept)."""
    from engine.store.assistants import copy_assistant, set_conversation_assistant, start_conversation

    if existing is not None:
        if args.assistant:
            set_conversation_assistant(store, existing, assistant.id)
        return existing
    if assistant is None:
        return store.create_conversation(system_prompt=args.system).id
    if store.path == ":memory:":
        assistant = copy_assistant(store, assistant)
    return start_conversation(store, assistant.id, system_prompt=args.system).id


def _assistant_of(store, conversation_id: int):
    from engine.store.assistants import conversation_assistant

    return conversation_assistant(store, conversation_id)


def _sampling(args, assistant):
    """Flags given here, else the assistant's settings, else ask's defaults."""
    from engine.chat.answer import SamplingDefaults, sampling_for, think_for
    from engine.chat.think_budget import ThinkLevel, think_plan
    from engine.llm.client import Sampling

    defaults = SamplingDefaults(temperature=0.7, top_p=0.95, max_tokens=512, think="long")
    base = sampling_for(None, defaults, args.seed, assistant)
    sampling = Sampling(temperature=base.temperature if args.temperature is None else args.temperature,
                        top_p=base.top_p, max_tokens=args.max_tokens or base.max_tokens, seed=args.seed)
    think = think_plan(ThinkLevel(args.think)) if args.think else think_for(None, defaults, assistant)
    return sampling, think


def _retriever(home, names: list[str]):
    """What finds passages for the question in the collections (None: no knowledge)."""
    if not names or home is None:
        return None
    from engine.chat.excerpts import collection_retriever
    from engine.knowledge.index_store import KnowledgeStore

    return collection_retriever(KnowledgeStore(home), names)


def _remote_model(assistant) -> str:
    """An assistant's model on a remote server is its model name there (a GGUF path is not)."""
    model = assistant.model if assistant is not None else ""
    return "" if not model or model.lower().endswith(".gguf") or Path(model).is_absolute() else model


def _log_dir() -> Path:
    from app import paths

    return paths.logs_dir()
