"""What the chat watch page shows (views/chat_watch.py renders it once, consumers/chat_watch.py sends its
fragments after each change): the workbench's own chat log, messages, typing line and toasts (ui/workbench.py's
partials, with each message's author named), and a header saying where the chat stands with the actions that
apply to it now. Each fragment is an element with an id and `hx-swap-oob`, swapped wherever it arrives."""
from __future__ import annotations

from django.template.loader import render_to_string

from ..services import workbench as selectors
from . import workbench as bench_ui

PAGE = "admin/chat_watch/"
TYPING_MS = 6000


def status_fragment(view: dict) -> str:
    """The header's state line and actions (take over, end), for `chat_watch.describe`'s view."""
    return render_to_string(PAGE + "status.html", {"chat": view})


def log_fragment(view: dict) -> str:
    return render_to_string("workbench/partials/chat_log.html", {
        "detail": {"id": view["sessionId"]}, "chat": selectors.chat_log(view["sessionId"]),
        "authors": {"visitor": view["visitor"]}})


def message_fragment(message: dict, visitor: str) -> str:
    """A message appended to the log (`message` as `chat.message_dict` builds it, no query)."""
    return render_to_string("workbench/partials/chat_append.html", {
        "message": selectors.chat_message(message), "authors": {"visitor": visitor}})


def typing_fragment(who: str) -> str:
    return bench_ui.typing_fragment(who, TYPING_MS)


def toast_fragment(title: str, message: str) -> str:
    return bench_ui.toast_fragment(title, message)


def refused_fragment(message: str) -> str:
    """Why the socket closes: shown in place of the header, and the page does not reconnect."""
    return render_to_string(PAGE + "refused.html", {"message": message})
