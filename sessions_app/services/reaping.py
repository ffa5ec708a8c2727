"""Processes and media workers that are gone: their calls end, their connections go.

A media worker that stops beating for `PROCESS_DEAD_AFTER` seconds (kill -9, a crash) is reaped by any sweeping
web process: its calls end with `mediaError`, so agents are told and CDRs written, instead of hanging silent. A
web process that stops beating (kill -9, or a stop that skipped the websocket disconnect handlers) is reaped by
any other sweeping process, or by itself after a restart: its connection rows go, and agents left without a
connection start their offline grace period, exactly as if their websocket had closed. Processes that stop in
order retire themselves the same way.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..domain import session_state
from ..models import Agent, MediaWorker, Session, WebProcess
from . import media_workers, processes
from .endings import end_session
from .session_locks import lock_session


def reap_dead_workers() -> int:
    """End the calls of workers that stopped beating, and forget the workers; returns how many calls ended."""
    dead = list(MediaWorker.objects.filter(last_seen__lt=timezone.now() - media_workers.DEAD_AFTER)
                .values_list("pk", flat=True))
    ended = 0
    for worker_id in dead:
        ended += end_calls_of(worker_id)
        MediaWorker.objects.filter(pk=worker_id).delete()
    return ended


def end_calls_of(worker_id: str) -> int:
    """End every session still carried by a worker that is gone (or stopping)."""
    session_ids = Session.objects.filter(media_worker=worker_id).exclude(state="ended").values_list("pk", flat=True)
    return sum(end_session_for_media(session_id) for session_id in list(session_ids))


def end_session_for_media(session_id: str) -> bool:
    """End a session whose media is lost (or could not be connected): `mediaError`, closed by the system."""
    with transaction.atomic():
        session = lock_session(session_id, state__in=session_state.OPEN)
        if session is None:
            return False
        end_session(session, close_by="admin", end_status="mediaError")
        return True


def retire_worker(worker_id: str) -> None:
    """A worker stopping in order: its calls end now, and its row goes."""
    end_calls_of(worker_id)
    MediaWorker.objects.filter(pk=worker_id).delete()


def reap_dead_processes() -> int:
    """Forget web processes that stopped beating; returns how many were reaped."""
    dead = list(WebProcess.objects.filter(last_seen__lt=timezone.now() - processes.DEAD_AFTER)
                .exclude(pk=processes.PROCESS_ID).values_list("pk", flat=True))
    for process_id in dead:
        retire_process(process_id)
    return len(dead)


def retire_process(process_id: str = processes.PROCESS_ID) -> None:
    """Drop a process and its connections; agents left with none start their offline grace period.

    Called for dead processes, and by a process itself when it shuts down in order (its websockets'
    disconnect handlers do not run then). Web calls whose media ran on the process's own thread end too."""
    retire_worker(process_id)
    with transaction.atomic():
        agent_ids = set(Agent.objects.filter(connections__process_id=process_id).values_list("pk", flat=True))
        WebProcess.objects.filter(pk=process_id).delete()
        orphaned = (Agent.objects.select_for_update(of=("self",)).filter(pk__in=agent_ids, connections__isnull=True,
                                                                         offline_deadline__isnull=True)
                    .exclude(status="offline"))
        orphaned.update(offline_deadline=timezone.now() + timedelta(seconds=settings.OFFLINE_GRACE))
