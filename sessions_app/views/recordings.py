"""A call's recording by its RecordURL: no cookie, the link's signature and expiry are the permission
(services/recording_links.py); served with HTTP Range so that a player seeks."""
from __future__ import annotations

from django.http import Http404
from django.views.decorators.http import require_GET

from ..services import recording_links
from ..services.errors import NotFound
from .ranged import ranged_file


@require_GET
def recording_file(request, session_id: str):
    try:
        recording = recording_links.signed_file(session_id, request.GET.get("expires", ""),
                                                request.GET.get("signature", ""))
    except NotFound as error:
        raise Http404(str(error)) from None
    storage, name = recording.file.storage, recording.file.name
    return ranged_file(request, storage.open(name, "rb"), storage.size(name), "audio/ogg", f"{session_id}.ogg",
                       download=request.GET.get("download") == "1")
