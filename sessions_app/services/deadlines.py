"""The sweeps: fire every stored deadline that is due, exactly once, from any process (each process runs them
every SWEEP_INTERVAL: `workbench/sweeper.py`).

Each due row is taken with `SELECT ... FOR UPDATE SKIP LOCKED` inside its own transaction and its deadline
cleared there, so with several processes sweeping, each deadline fires in exactly one of them.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from ..domain import session_state
from ..models import Agent, Session, SkillGroup, found
from . import agents, cdr, consult, media, presence, processes, reaping, recording_push, recordings, routing, tokens
from .endings import end_session
from .session_locks import lock_session

def _due(model, deadline: str, **filters):
    now = timezone.now()
    return list(model.objects.filter(**{f"{deadline}__lte": now}, **filters).values_list("pk", flat=True)[:200])


def _locked_due(model, pk, deadline: str, **filters):
    return found(model.objects.select_for_update(skip_locked=True)
                 .filter(pk=pk, **{f"{deadline}__lte": timezone.now()}, **filters))


def _locked_due_session(pk, deadline: str, **filters):
    """A session still due, locked after its agents (session_locks.py); None if another transaction holds it."""
    return lock_session(pk, skip_locked=True, **{f"{deadline}__lte": timezone.now()}, **filters)


def _end_due(deadline: str, end_status: str, **filters) -> int:
    """End every session whose `deadline` is due (and that still matches `filters`) with `end_status`."""
    fired = 0
    for pk in _due(Session, deadline, **filters):
        with transaction.atomic():
            session = _locked_due_session(pk, deadline, **filters)
            if session is not None:
                end_session(session, close_by="admin", end_status=end_status)
                fired += 1
    return fired


def sweep_ivrs() -> int:
    """A caller still in the IVR past its deadline: the gateway lost the call, its process died, or the caller
    has walked the menus too long. The session ends; a gateway still carrying the call hangs it up."""
    return _end_due("ivr_deadline", "error", state="ivr")


def sweep_lines() -> int:
    """A trunk call whose gateway stopped renewing its lease: the gateway lost it, or its process died. The
    session ends in whatever state it was (a gateway that still has the call hangs it up)."""
    return _end_due("line_deadline", "error", state__in=session_state.OPEN)


def sweep_offers() -> int:
    fired = 0
    for pk in _due(Session, "offer_deadline", state="ringing"):
        with transaction.atomic():
            session = _locked_due_session(pk, "offer_deadline", state="ringing")
            if session is None:
                continue
            if session.type == "internal" or session.direction == "out":  # nobody else to offer it to
                end_session(session, close_by="admin", end_status="notAnswer")
            else:
                routing.withdraw_offer(session, outcome="timeout")
            fired += 1
    return fired


def sweep_queue_waits() -> int:
    return _end_due("queue_deadline", "waitingGiveUp", state="queued")


def sweep_wrap_ups() -> int:
    fired = 0
    for pk in _due(Agent, "arrange_deadline"):
        with transaction.atomic():
            agent = _locked_due(Agent, pk, "arrange_deadline")
            if agent is not None:
                agents.end_after_call_work(agent.pk)
                fired += 1
    return fired


def sweep_offline_graces() -> int:
    fired = 0
    for pk in _due(Agent, "offline_deadline"):
        with transaction.atomic():
            agent = _locked_due(Agent, pk, "offline_deadline")
            if agent is None:
                continue
            if agent.connections.exists():
                agent.offline_deadline = None
                agent.save(update_fields=["offline_deadline"])
                continue
            presence.go_offline(agent)
            fired += 1
    return fired


# A queued session older than this that a free agent could take is offered by the sweep.
REDISPATCH_AFTER = timedelta(seconds=1)


def sweep_queues() -> int:
    """Offer sessions that wait while an agent of their group is free; returns how many were offered.

    Dispatch skips rows another transaction holds (SKIP LOCKED): when process A is dispatching a queue
    while process B frees an agent, B's dispatch skips A's locked sessions and A does not yet see B's free
    agent, so the session would wait for the next event. With one process SQLite's write lock orders them;
    with several, this sweep closes the gap within a second.
    """
    offered = 0
    waiting = Session.objects.filter(state="queued", queued_at__lte=timezone.now() - REDISPATCH_AFTER)
    for group_id in set(waiting.values_list("skill_group_id", flat=True)):
        group = found(SkillGroup.objects.filter(pk=group_id))
        if group is not None:
            with transaction.atomic():
                offered += len(routing.dispatch_group(group))
    return offered


def sweep_once() -> int:
    """Fire everything due now; returns how many deadlines fired."""
    processes.heartbeat()
    reaping.reap_dead_processes()
    media.heartbeat()
    reaping.reap_dead_workers()
    tokens.forget_spent()
    recordings.store_finished()
    recordings.delete_expired()
    return (sweep_ivrs() + sweep_lines() + sweep_offers() + consult.sweep_unanswered() + sweep_queue_waits() + sweep_wrap_ups()
            + sweep_offline_graces() + sweep_queues())


async def push_due_recordings(client: httpx.AsyncClient) -> int:
    """Deliver every claimed recording push (action=record) concurrently; returns how many were attempted."""
    claimed = await database_sync_to_async(recording_push.claim_due)()

    async def push(recording_id, url, push_id, body, signature):
        error = await cdr.deliver(client, url, push_id, body, signature)
        await database_sync_to_async(recording_push.settle)(recording_id, error)

    await asyncio.gather(*(push(*item) for item in claimed))
    return len(claimed)


async def push_due_cdrs(client: httpx.AsyncClient) -> int:
    """Deliver every claimed push concurrently; returns how many were attempted."""
    claimed = await database_sync_to_async(cdr.claim_due)()

    async def push(cdr_id, url, push_id, body, signature):
        error = await cdr.deliver(client, url, push_id, body, signature)
        await database_sync_to_async(cdr.settle)(cdr_id, error)

    await asyncio.gather(*(push(*item) for item in claimed))
    return len(claimed)
