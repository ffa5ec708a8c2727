"""A call's recording by its RecordURL: no cookie, the link's signature and expiry are the permission
(services/recording_links.py); served with HTTP Range so that a player seeks. Until the file is stored, a valid
link is answered 503 with Retry-After, which HTTP clients and players know to try again after."""
from __future__ import annotations

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from ..services import recording_links
from ..services.errors import NotFound
from .ranged import ranged_file


@require_GET
def recording_file(request, session_id: str):
    try:
        recording = recording_links.signed_file(session_id, request.GET.get("expires", ""),
                                                request.GET.get("signature", ""))
    except recording_links.NotStoredYet as error:
        return HttpResponse(str(error), status=503, content_type="text/plain", headers={"Retry-After": "5"})
    except NotFound as error:
        raise Http404(str(error)) from None
    storage, name = recording.file.storage, recording.file.name
    return ranged_file(request, storage.open(name, "rb"), storage.size(name), "audio/ogg", f"{session_id}.ogg",
                       download=request.GET.get("download") == "1")
