"""Drive the media bridge from the session's row: which leg is whose, and the plan the row implies.

Legs are named `customer` (the web caller), `phone` (the trunk's RTP), `agent:{id}`, `phone:consult` (a
consult's call to a phone number, the trunk's RTP too) and `supervisor:{user id}` (a supervisor monitoring the
call, services/monitoring.py). After every change to a media session (offered, accepted, held, muted, transferred,
ended) `sync` sends the whole plan, read fresh from the database once the change commits, so the bridge always
converges on what the database says, whatever order commands arrive in.

The engines run on a thread of this process (`media/embedded.py`), or, when Redis is configured, in media
worker processes reached over the channel layer (`media/remote.py`; which worker carries a call is
`media_workers.worker_for`). Which one this process drives is wiring (`settings.MEDIA_BACKEND` names it,
`workbench/media_backend.py`); here they are a `MediaBackend`. Nothing here waits for media while a
transaction is open.
"""
from __future__ import annotations

import functools
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from ..media.commands import LegError
from ..models import Consult, Monitoring, Session, found
from . import media_workers, processes, recordings
from .errors import NotFound, ServiceError

MEDIA_TYPES = ("voip", "video", "internal", "phone")
CUSTOMER_LEG = "customer"
PHONE_LEG = "phone"  # the RTP leg to the trunk
CONSULT_PHONE_LEG = "phone:consult"  # a consult's call to a phone number, through the trunk (services/consult.py)


class MediaBackend(Protocol):
    """The media engines' commands services use (`media/engine.py` carries them out). Those that return
    nothing are sent without waiting for the engine, from synchronous code such as a commit hook."""

    async def open_leg(self, call_id: str, leg_id: str, sdp: str, plan: dict) -> dict:
        """Answer a browser's offer for its leg: {"sdp": the answer}; raises `LegError` if refused."""

    async def close_leg(self, call_id: str, leg_id: str) -> None: ...

    def apply_plan(self, call_id: str, plan: dict) -> None:
        """Who hears and sees whom now (`plan_for`)."""

    def end_call(self, call_id: str) -> None:
        """Close the call's legs; a phone call is hung up."""

    def send_digits(self, call_id: str, leg_id: str, digits: str) -> None: ...

    def dial(self, call_id: str, **call) -> None:
        """Place an outbound phone call through the trunk (`telephony.dial` says with what)."""

    def calls_here(self) -> int:
        """How many calls this process's own engine carries (0 when they are all media workers')."""


def backend(start: bool = True) -> MediaBackend | None:
    """The media engines this process drives, started on first use (None if not started and `start` is False)."""
    return _provider(settings.MEDIA_BACKEND)(start)


@functools.lru_cache
def _provider(path: str):
    return import_string(path)


def agent_leg(agent_id: int) -> str:
    return f"agent:{agent_id}"


def supervisor_leg(user_id: int) -> str:
    return f"supervisor:{user_id}"


def heartbeat(force: bool = False) -> None:
    """Beat for this process's own media thread, if it runs (called by the sweeper)."""
    engine = backend(start=False)
    if engine is not None and not settings.MEDIA_IN_WORKERS:
        media_workers.beat(processes.PROCESS_ID, "", engine.calls_here(), force=force)


def plan_for(session: Session) -> dict:
    """Who hears and sees whom in this session now (see media/call.py's Plan)."""
    a = {"internal": agent_leg(session.caller_agent_id), "phone": PHONE_LEG}.get(session.type, CUSTOMER_LEG)
    if session.type == "internal" and session.callee_phone_number:
        # useMobile: the callee's mobile is the phone leg; the caller hears it from the first ringback on.
        a, b, ringing = agent_leg(session.caller_agent_id), PHONE_LEG, ""
    elif session.type == "phone" and session.direction == "out":
        # The agent who dials hears the far end from the first ringback tone (early media) on.
        b = agent_leg(session.caller_agent_id) if session.caller_agent_id else ""
        ringing = ""
    else:
        b = agent_leg(session.agent_id) if session.state == "active" and session.agent_id else ""
        ringing = agent_leg(session.agent_id) if session.state == "ringing" and session.agent_id else ""
        if session.state == "active" and not b and Consult.objects.filter(
                session_id=session.pk, outcome="transferred", agent__isnull=True).exists():
            b = CONSULT_PHONE_LEG  # handed to a phone number after a consult: that number serves it
    monitors = {}
    for leg, mode in Monitoring.objects.filter(session_id=session.pk, ended_at__isnull=True).values_list("leg", "mode"):
        if mode == "takeover":
            b = leg  # a supervisor took the call over: their leg serves it in the agent's place
        else:
            monitors[leg] = mode
    muted = [leg for leg, flag in ((b, session.mic_muted), (a, session.caller_mic_muted)) if leg and flag]
    plan = {"a": a, "b": b, "ringing": ringing, "hold": session.on_hold, "quiet": session.state == "ivr",
            "muted": muted, "videoMuted": [b] if b and session.video_muted else []}
    if monitors:
        plan["monitors"] = monitors  # supervisors listening, whispering or barging (media/hearing.py)
    consult = found(Consult.objects.filter(session_id=session.pk, ended_at__isnull=True)) if b else None
    if consult is not None:  # services/consult.py: b talks with the consulted leg, a waits (or all three talk)
        plan["consult"] = agent_leg(consult.agent_id) if consult.agent_id else CONSULT_PHONE_LEG
        plan["conference"] = consult.conference
        if consult.muted:
            plan["muted"].append(plan["consult"])
        if consult.stage == "ringing" and consult.agent_id:  # a number rung is heard from its ringback on
            plan["ringing"] = plan["consult"]
    record = recordings.plan_entry(session)
    if record is not None:
        plan["record"] = record  # the call is recorded: what side a says and hears (media/recorder.py)
    return plan


def carried(session: Session) -> bool:
    """Whether a change to the session may re-point media: `session` is the row as this transaction read it,
    locked (or created it). With media workers, a session that no worker carries has nothing to re-point (most
    phone sessions: their audio is the trunk's; a web call before its first leg), and the row says so already:
    no other transaction can give it a worker before this one commits, and the one that does sends the plan,
    read fresh, once the leg is up (`open_leg`)."""
    return session.type in MEDIA_TYPES and bool(session.media_worker or not settings.MEDIA_IN_WORKERS)


def sync(session: Session) -> None:
    """After the current transaction commits, bring the session's media in line with its row (see `carried`)."""
    if carried(session):
        session_id = session.pk
        transaction.on_commit(lambda: send_plan(session_id), robust=True)


def send_plan(session_id: str) -> None:
    """Send the session's plan as its row says now (an ended session's legs close)."""
    engine = backend(start=False)
    if engine is None:
        return  # no leg was ever opened in this process, so there is nothing to re-point
    session = found(Session.objects.filter(pk=session_id))
    if session is None or (settings.MEDIA_IN_WORKERS and not session.media_worker):
        return  # gone, or no worker carries a leg of it
    if session.state == "ended":
        engine.end_call(session_id)
    else:
        engine.apply_plan(session_id, plan_for(session))


def send_digits(session: Session, digits: str) -> None:
    """Key presses toward the phone leg (RFC 4733), once the request commits; nothing without a phone leg. While
    the agent consults a number, toward that number (an extension, its menu), not the held caller."""
    session_id = session.pk
    consulting = Consult.objects.filter(session_id=session_id, ended_at__isnull=True, agent__isnull=True).exists()
    leg = CONSULT_PHONE_LEG if consulting else PHONE_LEG

    def press():
        engine = backend(start=False)
        if engine is not None:
            engine.send_digits(session_id, leg, digits)

    transaction.on_commit(press, robust=True)


def media_session(session_id: str, *, agent_id: int | None = None, tenant_id: int | None = None) -> Session:
    """The session a leg is opened for, if the asker may: an agent offered or serving it (or who placed it),
    or the customer connection that started it (checked by the caller through `tenant_id`)."""
    session = found(Session.objects.filter(pk=session_id))
    if session is None or (tenant_id is not None and session.tenant_id != tenant_id):
        raise NotFound(f"no session {session_id!r}")
    if agent_id is not None and agent_id not in (session.agent_id, session.caller_agent_id) and not (
            Consult.objects.filter(session=session, agent_id=agent_id, ended_at__isnull=True).exists()):
        raise ServiceError(f"session {session_id} is not ringing for you or in progress with you")
    if session.type not in MEDIA_TYPES:
        raise ServiceError(f"session {session_id} is a {session.type} session: it has no web media")
    if session.state == "ended":
        raise ServiceError(f"session {session_id} has ended")
    return session


def _leg_session(session_id: str) -> Session:
    """The session a leg opens for; with media on this process's thread, this process is recorded as its
    media worker, so that the call ends if the process dies."""
    session = media_session(session_id)
    if not settings.MEDIA_IN_WORKERS:
        heartbeat(force=True)
        Session.objects.filter(pk=session_id, media_worker="").update(media_worker=processes.PROCESS_ID)
    return session


async def open_leg(session_id: str, leg_id: str, sdp: str) -> dict:
    """Answer a browser's WebRTC offer for its leg of the session: {"sdp": the answer}.

    The plan is read again after the leg is up: a change that committed while it was connecting sent its plan
    when the leg did not exist yet, and this brings the call up to date. A session that ended meanwhile loses
    its media at once."""
    engine = backend()
    plan = await database_sync_to_async(lambda: plan_for(_leg_session(session_id)))()  # reads the recording too
    try:
        answer = await engine.open_leg(session_id, leg_id, sdp, plan)
    except LegError as refused:
        raise ServiceError(str(refused)) from None
    await database_sync_to_async(send_plan)(session_id)
    return {"sdp": answer["sdp"]}


async def close_leg(session_id: str, leg_id: str) -> None:
    engine = backend(start=False)
    if engine is not None:
        await engine.close_leg(session_id, leg_id)
