"""`/sdk/tccc.js`: the SDK's files served as one script, with the protocol's names injected.

The script is sent with CORS headers only to origins on a tenant's allow-list, so a page that loads it with
`crossorigin="anonymous"` from any other origin fails to load it.
"""
from __future__ import annotations

import json
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse

from ..domain.protocol import sdk_manifest
from ..services import origins

SDK_FILES = ("transport.js", "events.js", "api.js", "devices.js", "ui.js", "sdk.js")


@lru_cache(maxsize=1)
def sdk_source() -> str:
    parts = [(settings.BASE_DIR / "static" / "sdk" / name).read_text() for name in SDK_FILES]
    return ("(function () {\n'use strict';\nconst SCRIPT = document.currentScript;\n"
            f"const PROTOCOL = {json.dumps(sdk_manifest())};\n" + "\n".join(parts) + "\n})();\n")


def sdk_js(request):
    response = HttpResponse(sdk_source(), content_type="text/javascript; charset=utf-8")
    origin = request.headers.get("Origin", "")
    if origin and origins.allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"  # the answer depends on Origin, allowed or not: shared caches must key on it
    response["Cache-Control"] = "no-cache"
    return response
