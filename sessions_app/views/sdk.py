"""`/sdk/tccc.js`: the SDK's files served as one script, with the protocol's names injected."""
from __future__ import annotations

import json
from functools import lru_cache

from django.conf import settings

from ..domain.protocol import sdk_manifest
from .scripts import bundle, script_response

SDK_FILES = ("common/rpc.js", "common/theme.js", "sdk/transport.js", "sdk/events.js", "sdk/api.js", "sdk/devices.js",
             "sdk/media.js", "sdk/ui.js", "sdk/sdk.js")


@lru_cache(maxsize=1)
def sdk_source() -> str:
    manifest = sdk_manifest(phone_media=bool(settings.SIP_PORT))
    return bundle(SDK_FILES, prelude=f"const PROTOCOL = {json.dumps(manifest)};\n")


def sdk_js(request):
    return script_response(request, sdk_source())
