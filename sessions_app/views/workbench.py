"""The agent workbench's pages: standalone `/workbench/`, embedded `/workbench/embed/`, login, logout.

One template set serves both pages, laid out of the fragments `ui/workbench.py` renders; the page's websocket
(consumers/workbench.py) keeps them current.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_POST

from ..models import Agent, Tenant
from ..services import logins, tokens
from ..ui.workbench import Workbench, clock_fragment


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


