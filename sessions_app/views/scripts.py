"""Serving our embeddable scripts (the SDK, the chat and call widgets): files joined into one, with CORS for the
allow-list.

A script is sent with CORS headers only to origins on a tenant's allow-list, so a page that loads it with
`crossorigin="anonymous"` from any other origin fails to load it.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from ..services import origins


def bundle(files: tuple[str, ...], prelude: str = "") -> str:
    """The files (paths under static/) inside one function scope, after `SCRIPT` (the loading tag) and the given
    prelude: what they declare stays theirs, so the shared core under static/common/ adds no global to a page."""
    parts = [(settings.BASE_DIR / "static" / path).read_text() for path in files]
    return ("(function () {\n'use strict';\nconst SCRIPT = document.currentScript;\n" + prelude
            + "\n".join(parts) + "\n})();\n")


def script_response(request, source: str) -> HttpResponse:
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    origin = request.headers.get("Origin", "")
    if origin and origins.allowed(origin):
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"  # the answer depends on Origin, allowed or not: shared caches must key on it
    response["Cache-Control"] = "no-cache"
    return response
