"""`/widget/chat.js`: the embeddable web chat widget, one script a company's page loads with one tag.

The visitor websocket checks the same allow-list as the script's CORS headers (views/scripts.py).
"""
from __future__ import annotations

from functools import lru_cache

from .scripts import bundle, script_response

WIDGET_FILES = ("chat.js", "ui.js")


@lru_cache(maxsize=1)
def widget_source() -> str:
    # A page that loads the script twice keeps the first widget.
    return bundle("widget", WIDGET_FILES, prelude="if (!SCRIPT || window.tcccChat) return;\n")


def chat_js(request):
    return script_response(request, widget_source())
