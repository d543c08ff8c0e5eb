"""The engine asks, the front end answers (after git-cola's interaction module): before any
tool runs, an `Approver` sees exactly what will run and says yes once, yes for this chat, or no.

The headless default allows only what the caller listed and denies the rest; the window and
the terminal replace it with one that asks the user. A call to `fetch` can never be allowed for
a whole chat: a URL can carry data out, so every one is shown and asked about.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from engine.cancel import Cancel

ALWAYS_ASK = frozenset({"fetch"})


class Approval(Enum):
    ONCE = "once"
    CHAT = "chat"      # this tool, for the rest of this chat
    AUTO = "auto"      # allowed beforehand (command line --allow, or earlier for this chat)
    DENIED = "denied"

    @property
    def allowed(self) -> bool:
        return self is not Approval.DENIED


@dataclass(frozen=True)
class ToolRequest:
    """What the user is shown: the tool and its full arguments, as the model wrote them."""
    conversation_id: int
    message_id: int
    step_id: int
    name: str
    arguments: str           # JSON text
    description: str = ""    # the tool's own description, for context


Approver = Callable[[ToolRequest, Cancel], Approval]


def allow_only(names: Iterable[str]) -> Approver:
    """Headless: the listed tools run without asking (never `fetch`); anything else is denied."""
    allowed = frozenset(names) - ALWAYS_ASK

    def approve(request: ToolRequest, cancel: Cancel) -> Approval:
        return Approval.AUTO if request.name in allowed else Approval.DENIED

    return approve


def deny_all(request: ToolRequest, cancel: Cancel) -> Approval:
    return Approval.DENIED
