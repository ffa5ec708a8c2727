"""Which server processes are alive, so connections of a dead one are not taken for an online agent.

Each process beats a row every few seconds from its sweeper. A process that misses beats for
`DEAD_AFTER` (kill -9, or a stop that skipped the websocket disconnect handlers) is reaped (`reaping.py`).
"""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import WebProcess

PROCESS_ID = uuid.uuid4().hex
BEAT_EVERY = 2.0
DEAD_AFTER = timedelta(seconds=settings.PROCESS_DEAD_AFTER)
_last_beat = 0.0


def heartbeat(force: bool = False) -> None:
    global _last_beat
    if force or time.monotonic() - _last_beat >= BEAT_EVERY:
        WebProcess.objects.update_or_create(pk=PROCESS_ID, defaults={"last_seen": timezone.now()})
        _last_beat = time.monotonic()
