"""The agent workbench: its pages (standalone `/workbench/`, embedded `/workbench/embed/`, login, logout) and
the server-rendered fragments its websocket (consumers/workbench.py) pushes.

One template set serves both pages. The page is a layout of fragments, each an element with an id and
`hx-swap-oob="true"`, so htmx's ws extension swaps a fragment wherever it arrives. A fragment has a `key`, the
HTML it would render *without its children* (`parts`), so the consumer sends a fragment only when it changed and
a change inside one child (a new chat message) does not re-send its parent (and wipe the agent's half-typed reply).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_POST

from ..models import Agent, Tenant
from ..services import logins, tokens
from ..services import workbench as selectors

PARTIALS = "workbench/partials/"


@dataclass
class UiState:
    """What one workbench page has open: which session is selected, its keypad or transfer picker."""

    selected: str | None = None
    keypad: str | None = None
    transfer: str | None = None
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
    """Renders an agent's fragments for one page's UiState; reads each thing once per render."""

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
        return Fragment("wb-sessions", self._template(
            "sessions.html", cards=cards, selected_id=self.selected.id if self.selected else None))

    def _detail(self) -> Fragment:
        view = self.selected
        if view is None:
            return Fragment("wb-detail", self._template("detail.html", detail=None, parts={}))
        detail = selectors.session_detail(view, self.agent_id)
        open_here = {"keypad_open": self.ui.keypad == view.id and "keypad" in detail["controls"],
                     "transfer_open": self.ui.transfer == view.id and detail["transferable"]}
        context = {"detail": detail, **open_here}
        children = {
            "controls": Fragment("wb-controls", self._template("controls.html", **context)),
            "keypad": Fragment("wb-keypad", self._template(
                "keypad.html", dtmf_sent=self.ui.dtmf_sent.get(view.id, ""), **context)),
            "transfer": Fragment("wb-transfer", self._template(
                "transfer.html", targets=selectors.transfer_targets(self.agent_id, view.id)
                if open_here["transfer_open"] else None, **context)),
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


# Pages.

def _page(request, mode: str, agent: Agent | None, sdk: dict | None):
    fragments = {f.id: f.html for f in Workbench(agent.pk if agent else None).render()}
    names = {"agent": "wb-agent", "offers": "wb-offers", "tab_count": "wb-tab-count", "sessions": "wb-sessions",
             "detail": "wb-detail", "dialpad": "wb-dialpad", "history": "wb-history"}
    return render(request, "workbench/workbench.html", {
        "mode": mode, "ws_path": "/ws/workbench/", "sdk": sdk, "clock": mark_safe(clock_fragment()),
        "fragments": {name: fragments[fragment_id] for name, fragment_id in names.items()},
    })


@login_required
def standalone(request):
    """The workbench in a full tab for the logged-in agent, with the SDK loaded for them (`window.tccc`)."""
    agent = Agent.objects.select_related("tenant").filter(account=request.user).first()
    if agent is None:
        return render(request, "workbench/not_an_agent.html", status=403)
    token, _ = tokens.issue(agent)
    sdk = {"url": "/sdk/tccc.js", "token": token, "sdk_app_id": agent.tenant.sdk_app_id, "user_id": agent.user_id}
    response = _page(request, "standalone", agent, sdk)
    response["Cache-Control"] = "no-store"  # it carries a login token
    return response


@xframe_options_exempt
def embedded(request):
    """The workbench inside the SDK's panel (an iframe on the CRM's page). No cookie: the page's script reads the
    SDK's resume token from the URL fragment and authenticates the websocket with it, so this page itself shows
    nothing of anyone's until that socket is open. Framing is limited to the tenants' allowed origins."""
    response = _page(request, "embed", None, None)
    # CSP host sources cannot name IPv6 literals ([::1]): such patterns are left out (the page is then not
    # framable from there; the SDK shows its panel's notice instead).
    ancestors = {p for tenant in Tenant.objects.all() for p in tenant.origin_patterns if "[" not in p}
    response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(sorted(ancestors))
    return response


class WorkbenchLoginView(LoginView):
    template_name = "workbench/login.html"
    redirect_authenticated_user = True
    next_page = "/workbench/"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signed_out": "signed-out" in self.request.GET}


@require_POST
def logout(request):
    """Log out and end the agent's presence and logins (services/logins.py): its SDK and workbench sockets close."""
    agent = Agent.objects.filter(account_id=request.user.pk).first() if request.user.is_authenticated else None
    if agent:
        logins.sign_out(agent.pk)
    auth.logout(request)
    return redirect(f"{settings.LOGIN_URL}?signed-out")


