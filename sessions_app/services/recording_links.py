"""Links to a call's recording that need no cookie: Tencent's `RecordURL` (with `RecordId`, the recording's
id), as the CDR push and `GET /api/sessions/{id}` give them.

A link names the session and when it expires, signed with SECRET_KEY (`django.core.signing`, a salt of its
own): whoever holds it may fetch the file (`views/recordings.py`, with HTTP Range) until then, and nobody
can make one for another session or stretch its time. The file is there a moment after the call ends
(`recordings.store_finished`): the CDR push, sent at the end, carries the link before it can be fetched, so until
then a valid link says the file is not stored yet (`NotStoredYet`: try again shortly; Tencent's recording push
says when it is). After the retention period the link finds nothing.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from ..models import Recording, found
from .errors import NotFound

_SALT = "sessions_app.recording-url"
LOCAL_URL = "http://127.0.0.1:8000"


class NotStoredYet(NotFound):
    """The link holds and the call was recorded, but its file is still being finished and stored."""


def fields(recording: Recording | None, base_url: str = "") -> dict:
    """RecordId and RecordURL of a session's recording (a fresh link), or empty strings for a call not
    recorded; RecordPartial once the file is stored."""
    if recording is None:
        return {"RecordId": "", "RecordURL": ""}
    shown = {"RecordId": str(recording.pk), "RecordURL": record_url(recording, base_url)}
    if recording.stored_at is not None:
        shown["RecordPartial"] = recording.partial
    return shown


def fields_of_sessions(session_ids: list[str], base_url: str = "") -> dict[str, dict]:
    """`fields` of each of these sessions that has a recording, by session id, in one query."""
    return {recording.session_id: fields(recording, base_url)
            for recording in Recording.objects.filter(session_id__in=session_ids)}


def record_url(recording: Recording, base_url: str = "", ttl: int | None = None) -> str:
    """A link to the recording's file valid for `ttl` seconds (RECORD_URL_TTL), under `base_url` (the
    request's; else PUBLIC_URL)."""
    expires = int(time.time()) + (settings.RECORD_URL_TTL if ttl is None else ttl)
    base = (base_url or settings.PUBLIC_URL or LOCAL_URL).rstrip("/")
    path = reverse("recording-file", args=[recording.session_id])
    return f"{base}{path}?expires={expires}&signature={_signature(recording.session_id, expires)}"


def signed_file(session_id: str, expires: str, signature: str) -> Recording:
    """The stored recording a link names, if its signature holds and it has not expired; NotFound otherwise
    (an expired or altered link says no more than an unknown one), NotStoredYet while its file is on its way."""
    valid = (expires.isdigit() and int(expires) >= time.time()
             and constant_time_compare(signature, _signature(session_id, int(expires))))
    recording = found(Recording.objects.filter(session_id=session_id)) if valid else None
    if recording is None:
        raise NotFound("no such recording, or the link has expired")
    if not recording.file:
        raise NotStoredYet("the recording is still being stored: try again in a few seconds")
    return recording


def _signature(session_id: str, expires: int) -> str:
    return signing.Signer(salt=_SALT).signature(f"{session_id}:{expires}")
