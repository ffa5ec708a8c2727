"""Which server processes are alive, so connections of a dead one are not taken for an online agent.

Each process beats a row every few seconds from its sweeper. A process that misses beats for
`DEAD_AFTER` (kill -9, or a stop that skipped the websocket disconnect handlers) is reaped by any other
sweeping process, or by itself after a restart: its connection rows go, and agents left without a connection
start their offline grace period, exactly as if their websocket had closed.
"""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Agent, WebProcess
from . import media_workers

PROCESS_ID = uuid.uuid4().hex
BEAT_EVERY = 2.0
DEAD_AFTER = timedelta(seconds=settings.PROCESS_DEAD_AFTER)
_last_beat = 0.0


def heartbeat(force: bool = False) -> None:
    global _last_beat
    if force or time.monotonic() - _last_beat >= BEAT_EVERY:
        WebProcess.objects.update_or_create(pk=PROCESS_ID, defaults={"last_seen": timezone.now()})
        _last_beat = time.monotonic()


def reap_dead() -> int:
    """Forget processes that stopped beating; returns how many were reaped."""
    dead = list(WebProcess.objects.filter(last_seen__lt=timezone.now() - DEAD_AFTER).exclude(pk=PROCESS_ID)
                .values_list("pk", flat=True))
    for process_id in dead:
        retire(process_id)
    return len(dead)


def retire(process_id: str = PROCESS_ID) -> None:
    """Drop a process and its connections; agents left with none start their offline grace period.

    Called for dead processes, and by a process itself when it shuts down in order (its websockets'
    disconnect handlers do not run then). Web calls whose media ran on the process's own thread end too."""
    media_workers.retire(process_id)
    with transaction.atomic():
        agent_ids = set(Agent.objects.filter(connections__process_id=process_id).values_list("pk", flat=True))
        WebProcess.objects.filter(pk=process_id).delete()
        orphaned = (Agent.objects.select_for_update(of=("self",)).filter(pk__in=agent_ids, connections__isnull=True,
                                                             offline_deadline__isnull=True)
                    .exclude(status="offline"))
        orphaned.update(offline_deadline=timezone.now() + timedelta(seconds=settings.OFFLINE_GRACE))
