"""Which process carries each call's media.

Every media engine has a `MediaWorker` row beating every few seconds: a worker process (Redis configured), or
the web process itself in the embedded default (its media thread). A session's legs all live on one engine,
recorded in `Session.media_worker` when its first leg opens: the least busy live worker takes it. A worker
that stops beating for `PROCESS_DEAD_AFTER` seconds is reaped (`reaping.py`).
"""
from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import MediaWorker, Session, found
from .errors import ServiceError

DEAD_AFTER = timedelta(seconds=settings.PROCESS_DEAD_AFTER)
BEAT_EVERY = 2.0
_last_beat: dict[str, float] = {}


def beat(worker_id: str, channel_name: str, calls: int, force: bool = False, carries_sip: bool = False) -> None:
    if force or time.monotonic() - _last_beat.get(worker_id, 0.0) >= BEAT_EVERY:
        MediaWorker.objects.update_or_create(pk=worker_id, defaults={
            "channel_name": channel_name, "last_seen": timezone.now(), "calls": calls, "carries_sip": carries_sip})
        _last_beat[worker_id] = time.monotonic()


def sip_worker() -> MediaWorker | None:
    """The live media worker that runs the SIP gateway (media_worker --sip), if any."""
    return live_workers().filter(carries_sip=True).order_by("-last_seen").first()


def live_workers():
    return MediaWorker.objects.filter(last_seen__gte=timezone.now() - DEAD_AFTER)


def worker_for(session_id: str, assign: bool) -> MediaWorker | None:
    """The engine that carries the session's legs; with `assign`, choose one if it has none yet."""
    with transaction.atomic():
        session = found(Session.objects.select_for_update().filter(pk=session_id))
        if session is None:
            return None
        if session.media_worker:
            worker = found(MediaWorker.objects.filter(pk=session.media_worker))
            if worker is None and assign:
                raise ServiceError("the media worker of this call has stopped")
            return worker
        if not assign:
            return None
        worker = live_workers().order_by("calls", "started_at").first()
        if worker is None:
            raise ServiceError("no media worker is running: web calls cannot be connected now")
        session.media_worker = worker.pk
        session.save(update_fields=["media_worker"])
        MediaWorker.objects.filter(pk=worker.pk).update(calls=F("calls") + 1)  # until its next beat says
        return worker
