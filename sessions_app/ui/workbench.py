"""What the agent workbench shows: its fragments, rendered from the workbench's selectors (services/workbench.py)
for one page's UiState, and the small fragments its socket sends alone (clock, toast, banner, typing, chat).

The pages (views/workbench.py) render them once; the page's socket (consumers/workbench.py) re-renders them after
a change. The page is a layout of fragments, each an element with an id and `hx-swap-oob="true"`, so htmx's ws
extension swaps a fragment wherever it arrives. A fragment has a `key`, the HTML it would render *without its
children* (`parts`), so the socket sends a fragment only when it changed and a change inside one child (a new chat
message) does not re-send its parent (and wipe the agent's half-typed reply).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from ..services import workbench as selectors

PARTIALS = "workbench/partials/"


@dataclass
class UiState:
    """What one workbench page has open: which session is selected, its keypad or transfer picker."""

    selected: str | None = None
    keypad: str | None = None
    transfer: str | None = None
    consult: str | None = None  # the session whose consult picker is open
    dtmf_sent: dict[str, str] = field(default_factory=dict)
    dial_session: str | None = None


@dataclass
class Fragment:
    id: str
    html: SafeString
    key: str = ""
    children: list["Fragment"] = field(default_factory=list)

    def __post_init__(self):
        self.key = self.key or str(self.html)


# Fragment names, in the order they are sent (and swapped) after a change.
ALL = ("agent", "offers", "tab_count", "sessions", "detail", "dialpad", "history")


class Workbench:
    """Renders an agent's fragments for one page's UiState; reads each thing once per render. Rendering the
    sessions list notes each chat's unread count and last visitor message (by seq) as shown (`unread`), so that
    the page's socket updates a badge alone for later messages and counts none twice."""

    unread: dict[str, list[int]] | None = None

    def __init__(self, agent_id: int | None, ui: UiState | None = None):
        self.agent_id = agent_id
        self.ui = ui or UiState()

    @cached_property
    def agent(self) -> dict | None:
        return selectors.agent_summary(self.agent_id) if self.agent_id else None

    @cached_property
    def views(self) -> list[selectors.SessionView]:
        return selectors.open_sessions(self.agent_id) if self.agent_id else []

    @cached_property
    def selected(self) -> selectors.SessionView | None:
        return selectors.pick_selected(self.views, self.ui.selected)

    @cached_property
    def offers(self) -> list[dict]:
        return selectors.offers(self.agent_id) if self.agent_id else []

    def render(self, names=ALL) -> list[Fragment]:
        return [getattr(self, f"_{name}")() for name in names]

    def _template(self, name: str, **context) -> SafeString:
        return mark_safe(render_to_string(PARTIALS + name, {"agent": self.agent, **context}))

    def _agent(self) -> Fragment:
        return Fragment("wb-agent", self._template("agent.html"))

    def _offers(self) -> Fragment:
        return Fragment("wb-offers", self._template("offers.html", offers=self.offers))

    def _tab_count(self) -> Fragment:
        return Fragment("wb-tab-count", self._template("tab_count.html", tab_count=len(self.offers) + len(self.views)))

    def _sessions(self) -> Fragment:
        cards = selectors.session_cards(self.agent_id, self.views) if self.agent_id else []
        self.unread = {card["id"]: [card["unread"], card["unread_through"]] for card in cards if card["type"] == "im"}
        return Fragment("wb-sessions", self._template(
            "sessions.html", cards=cards, selected_id=self.selected.id if self.selected else None))

    def _detail(self) -> Fragment:
        view = self.selected
        if view is None:
            return Fragment("wb-detail", self._template("detail.html", detail=None, parts={}))
        detail = selectors.session_detail(view, self.agent_id)
        open_here = {"keypad_open": self.ui.keypad == view.id and "keypad" in detail["controls"],
                     "transfer_open": self.ui.transfer == view.id and detail["transferable"],
                     "consult_open": self.ui.consult == view.id and "consult" in detail["controls"]
                     and not detail.get("consult")}
        context = {"detail": detail, **open_here}
        children = {
            "controls": Fragment("wb-controls", self._template("controls.html", **context)),
            "keypad": Fragment("wb-keypad", self._template(
                "keypad.html", dtmf_sent=self.ui.dtmf_sent.get(view.id, ""), **context)),
            "transfer": Fragment("wb-transfer", self._template(
                "transfer.html", targets=selectors.transfer_targets(self.agent_id, view.id)
                if open_here["transfer_open"] else None, **context)),
            "consult": Fragment("wb-consult", self._template(
                "consult.html", targets=selectors.transfer_targets(self.agent_id, view.id, any_group=True)
                if open_here["consult_open"] else None, **context)),
        }
        canned = []
        if detail["type"] == "im" and view.mine_as == "serving":
            children["chat_log"] = Fragment("wb-chat-log", self._template(
                "chat_log.html", chat=selectors.chat_log(view.id), **context))
            canned = selectors.canned_responses(self.agent_id)
        frame = "detail.html"
        key = self._template(frame, parts={name: "" for name in children}, canned=canned, **context)
        html = self._template(frame, parts={name: child.html for name, child in children.items()}, canned=canned,
                              **context)
        return Fragment("wb-detail", html, key=str(key), children=list(children.values()))

    def _dialpad(self) -> Fragment:
        result = selectors.outbound_result(self.agent_id, self.ui.dial_session) if self.ui.dial_session else None
        child = Fragment("wb-dial-result", self._template("dial_result.html", dial_result=result))
        numbers = selectors.caller_numbers(self.agent_id) if self.agent_id else []
        key = self._template("dialpad.html", caller_numbers=numbers, parts={})
        html = self._template("dialpad.html", caller_numbers=numbers, parts={"dial_result": child.html})
        return Fragment("wb-dialpad", html, key=str(key), children=[child])

    def _history(self) -> Fragment:
        return Fragment("wb-history", self._template(
            "history.html", history=selectors.history(self.agent_id) if self.agent_id else []))


def clock_fragment() -> str:
    """The server's time, sent with every message: the page runs its timers on it, not on the PC's clock."""
    return render_to_string(PARTIALS + "clock.html", {"now_ms": int(time.time() * 1000)})


def typing_fragment(who: str, for_ms: int = 6000) -> str:
    return render_to_string(PARTIALS + "typing.html", {"who": who, "for_ms": for_ms})


def toast_fragment(title: str, message: str, tone: str = "error") -> str:
    return render_to_string(PARTIALS + "toast.html", {"title": title, "message": message, "tone": tone})


def banner_fragment(message: str, tone: str = "error", login_url: str = "") -> str:
    return render_to_string(PARTIALS + "banner.html", {"message": message, "tone": tone, "login_url": login_url})


def chat_message_fragment(message: dict) -> str:
    """A message appended to the chat log on screen (`message` as `chat.message_dict` builds it, no query)."""
    return render_to_string(PARTIALS + "chat_append.html", {"message": selectors.chat_message(message)})


def chat_log_fragment(session_id: str) -> str:
    """The whole chat log, as the detail pane renders it (its child `wb-chat-log`)."""
    return render_to_string(PARTIALS + "chat_log.html",
                            {"detail": {"id": session_id}, "chat": selectors.chat_log(session_id)})


def unread_fragment(session_id: str, unread: int) -> str:
    return render_to_string(PARTIALS + "unread_badge.html",
                            {"session_id": session_id, "unread": unread, "oob": True})
