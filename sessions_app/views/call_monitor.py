"""The call monitor page, `/admin/calls/<session_id>/monitor/`: a supervisor listens to a call, whispers to its
agent, barges in or takes it over, through a WebRTC leg of the page's own and its socket
(consumers/call_monitor.py). Behind admin's own login; the page shows a call of the supervisor's tenants only, to
an account allowed to monitor calls (anything else: 404). `?mode=listen|whisper|barge|takeover` starts at once
(the wallboard's and the session admin page's buttons link here so)."""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.http import Http404
from django.shortcuts import render

from ..services import monitoring

START_MODES = (*monitoring.MODES, "takeover")


def monitor(request, session_id: str):
    view = monitoring.visible_call(request.user, session_id)
    if view is None:
        raise Http404("No such call, or your account may not monitor calls.")
    start = request.GET.get("mode", "")
    response = render(request, "admin/call_monitor/page.html", {
        **admin.site.each_context(request), "title": f"Call with {view['customer']}", "call": view,
        "start": start if start in START_MODES else "",
        "ws_path": "/ws/supervise/call/?" + urlencode({"sessionId": view["sessionId"]}),
    })
    response["Cache-Control"] = "no-store"
    return response


page = admin.site.admin_view(monitor)
