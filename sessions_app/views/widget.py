"""`/widget/chat.js`: the embeddable web chat widget, one script a company's page loads with one tag.

Like the SDK (views/sdk.py), the script is sent with CORS headers only to origins on a tenant's allow-list, so a
page that loads it with `crossorigin="anonymous"` from any other origin fails to load it; the visitor websocket
checks the same allow-list.
"""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse

from ..services import origins

WIDGET_FILES = ("chat.js", "ui.js")


@lru_cache(maxsize=1)
def widget_source() -> str:
    parts = [(settings.BASE_DIR / "static" / "widget" / name).read_text() for name in WIDGET_FILES]
    # One function scope for both files; a page that loads the script twice keeps the first widget.
    return ("(function () {\n'use strict';\nconst SCRIPT = document.currentScript;\n"
            "if (!SCRIPT || window.tcccChat) return;\n" + "\n".join(parts) + "\n})();\n")


def chat_js(request):
    response = HttpResponse(widget_source(), content_type="text/javascript; charset=utf-8")
    origin = request.headers.get("Origin", "")
    if origin and origins.allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"  # the answer depends on Origin, allowed or not: shared caches must key on it
    response["Cache-Control"] = "no-cache"
    return response
