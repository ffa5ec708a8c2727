"""`/widget/chat.js` and `/widget/call.js`: the embeddable web chat and web call widgets, each one script a
company's page loads with one tag.

Each script starts with its channel's names and limits, from the domain's declaration (`CHAT_PROTOCOL`,
`CALL_PROTOCOL`), as the SDK's does. The visitor and caller websockets check the same allow-list as the
scripts' CORS headers (views/scripts.py).
"""
from __future__ import annotations

import json
from functools import lru_cache

from ..domain import chat, web_call
from .scripts import bundle, script_response

# The shared core first: the widgets' own files use its functions and constants as they load.
COMMON_FILES = ("common/rpc.js", "common/visitor.js", "common/events.js", "common/theme.js", "common/panel.js")
WIDGET_FILES = (*COMMON_FILES, "widget/chat.js", "widget/ui.js")
CALL_FILES = (*COMMON_FILES, "call/call.js", "call/link.js", "call/media.js", "call/ui.js")


@lru_cache(maxsize=1)
def widget_source() -> str:
    # A page that loads the script twice keeps the first widget.
    return bundle(WIDGET_FILES, prelude="if (!SCRIPT || window.tcccChat) return;\n"
                  f"const CHAT_PROTOCOL = {json.dumps(chat.widget_manifest())};\n")


@lru_cache(maxsize=1)
def call_source() -> str:
    return bundle(CALL_FILES, prelude="if (!SCRIPT || window.tcccCall) return;\n"
                  f"const CALL_PROTOCOL = {json.dumps(web_call.widget_manifest())};\n")


def chat_js(request):
    return script_response(request, widget_source())


def call_js(request):
    return script_response(request, call_source())
