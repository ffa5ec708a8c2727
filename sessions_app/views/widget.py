"""`/widget/chat.js` and `/widget/call.js`: the embeddable web chat and web call widgets, each one script a
company's page loads with one tag.

The visitor and caller websockets check the same allow-list as the scripts' CORS headers (views/scripts.py).
"""
from __future__ import annotations

from functools import lru_cache

from .scripts import bundle, script_response

WIDGET_FILES = ("chat.js", "ui.js")
CALL_FILES = ("call.js", "link.js", "media.js", "ui.js")


@lru_cache(maxsize=1)
def widget_source() -> str:
    # A page that loads the script twice keeps the first widget.
    return bundle("widget", WIDGET_FILES, prelude="if (!SCRIPT || window.tcccChat) return;\n")


@lru_cache(maxsize=1)
def call_source() -> str:
    return bundle("call", CALL_FILES, prelude="if (!SCRIPT || window.tcccCall) return;\n")


def chat_js(request):
    return script_response(request, widget_source())


def call_js(request):
    return script_response(request, call_source())
