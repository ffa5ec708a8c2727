"""The chat watch page, `/admin/chats/<session_id>/`: a supervisor reads a web chat as it happens, writes into
it, takes it over or ends it, through its socket (consumers/chat_watch.py). Behind admin's own login
(`admin.site.admin_view`); the page shows a chat of the supervisor's tenants only (another tenant's, a session
that is no chat: 404), and opening it is audited by the socket, which checks the same again."""
from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.http import Http404
from django.shortcuts import render
from django.utils.safestring import mark_safe

from ..services import chat_watch
from ..ui import chat_watch as watch_ui


def watch(request, session_id: str):
    view = chat_watch.visible_chat(request.user, session_id)
    if view is None:
        raise Http404("No such web chat.")
    response = render(request, "admin/chat_watch/page.html", {
        **admin.site.each_context(request), "title": f"Chat with {view['visitor']}", "chat": view,
        "status": mark_safe(watch_ui.status_fragment(view)), "log": mark_safe(watch_ui.log_fragment(view)),
        "ws_path": "/ws/supervise/chat/?" + urlencode({"sessionId": view["sessionId"]}),
    })
    response["Cache-Control"] = "no-store"
    return response


page = admin.site.admin_view(watch)
