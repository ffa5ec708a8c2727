"""What an agent's status means and which changes are allowed. Pure: no Django, no I/O.

Stored statuses are offline, free, rest, arrange (after-call work) and notReady. `busy` is never stored:
it is how a free agent with a call in progress is reported. `stopNotReady` is a request, not a status:
it ends notReady and returns the agent to free.
"""
from __future__ import annotations

STORED = ("offline", "free", "rest", "arrange", "notReady")


class StatusChangeRefused(ValueError):
    pass


def next_status(current: str, requested: str, rest_reason: str | None) -> tuple[str, str]:
    """Return (status, rest_reason) after `setStatus(requested)` from `current`, or raise why not."""
    if current == "offline":
        raise StatusChangeRefused("the agent is offline: call tccc.Agent.online() first")
    if requested == "stopNotReady":
        if current != "notReady":
            raise StatusChangeRefused(f"stopNotReady ends notReady, but the agent is {current}")
        return "free", ""
    if requested == "rest":
        return "rest", rest_reason or ""
    if rest_reason:
        raise StatusChangeRefused("restReason goes only with status rest")
    return requested, ""


def reported_status(stored: str, on_call: bool) -> str:
    """The status the SDK reports: a free agent with a call in progress is busy."""
    return "busy" if stored == "free" and on_call else stored


def ends_after_call_work(old: str, new: str) -> bool:
    """Leaving arrange for any status finishes the after-call work (fires sessionCompleted)."""
    return old == "arrange" and new != "arrange"
