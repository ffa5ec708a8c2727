"""Tell a web customer what happens to their session: a chat's visitor hears queued (with their place), accepted
and ended; a web caller hears ringing, accepted and ended (domain/web_call.py).

Every connection of a visitor joins the channel-layer group `visitor_group(session_id)`. Like agents' events,
these frames leave only when the transaction that caused them commits. The session lifecycle (routing and
sessions services) calls the hooks below; they do nothing for sessions that no web customer follows (phone, internal, API-created sessions have no
listener in the group, so a frame sent there goes nowhere).
"""
from __future__ import annotations

from django.db import transaction

from ..models import Session
from .outbox import group_send


def visitor_group(session_id: str) -> str:
    return f"visitor.{session_id}"


def event_frame(name: str, **data) -> dict:
    return {"type": "event", "event": name, "data": data}


def publish(session_id: str, name: str, **data) -> None:
    """Send an event to the visitor of `session_id` once the current transaction commits."""
    frame = event_frame(name, sessionId=session_id, **data)
    transaction.on_commit(lambda: send_frame(session_id, frame), robust=True)


def send_frame(session_id: str, frame: dict) -> None:
    group_send(visitor_group(session_id), {"type": "visitor.frame", "frame": frame})


def queue_positions(skill_group_id: int) -> dict[str, int]:
    """The 1-based place of every web chat waiting in a skill group's queue, oldest first."""
    waiting = (Session.objects.filter(skill_group_id=skill_group_id, state="queued", type="im")
               .order_by("queued_at", "created_at").values_list("pk", flat=True))
    return {session_id: place for place, session_id in enumerate(waiting, start=1)}


def queue_moved(session: Session) -> None:
    """A web chat joined, left or re-entered its group's queue: after commit, every chat still waiting there
    hears its place. Computed after commit, so several moves in one transaction all announce the final places."""
    if session.type != "im" or not session.skill_group_id:
        return
    transaction.on_commit(lambda: announce_positions(session.skill_group_id), robust=True)


def announce_positions(skill_group_id: int) -> None:
    for session_id, place in queue_positions(skill_group_id).items():
        send_frame(session_id, event_frame("queued", sessionId=session_id, position=place))


WEB_TYPES = ("im", "voip", "video")


def queued(session: Session) -> None:
    """A web call waits for an agent again (its chat counterpart hears its place through `queue_moved`)."""
    if session.type in ("voip", "video"):
        publish(session.id, "queued")


def ringing(session: Session) -> None:
    if session.type in ("voip", "video"):
        publish(session.id, "ringing")


def accepted(session: Session, agent) -> None:
    if session.type in WEB_TYPES:
        publish(session.id, "accepted", agentNickname=agent.nickname or agent.user_id)


def ended(session: Session) -> None:
    if session.type in WEB_TYPES:
        publish(session.id, "ended", closeBy=session.close_by, endStatus=session.end_status)
