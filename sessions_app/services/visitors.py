"""Tell a web customer what happens to their session: a chat's visitor hears queued (with their place), accepted
and ended; a web caller hears queued, ringing, accepted and ended (domain/web_call.py).

Every connection of a visitor joins the channel-layer group `visitor_group(session_id)`. Like agents' events, these
frames leave only when the transaction that caused them commits: the session lifecycle (`lifecycle.py`) calls
`queue_moved` at a move, and `where_it_stands` once it commits. Sessions that no web customer follows (phone,
internal, API-created ones have no listener in the group) hear nothing: a frame sent there goes nowhere.
"""
from __future__ import annotations

from django.db.models import Q

from ..domain import chat as chat_protocol
from ..domain import web_call as call_protocol
from ..models import Session, found
from .commit_hooks import once_per_transaction
from .errors import ServiceError
from .outbox import group_send


STILL_OPEN = {"im": "a chat is already open: end it before starting another",
              "voip": "a call is already in progress: hang up before starting another",
              "video": "a call is already in progress: hang up before starting another"}


def check_none_open(session_id: str | None) -> None:
    """A customer's socket carries one chat or call at a time: starting another while the one it has (if any)
    has not ended is refused, before it counts against the visitor's limits on starts."""
    if not session_id:
        return
    session_type = found(Session.objects.filter(pk=session_id).exclude(state="ended").values_list("type", flat=True))
    if session_type in STILL_OPEN:
        raise ServiceError(STILL_OPEN[session_type])


def visitor_group(session_id: str) -> str:
    return f"visitor.{session_id}"


def event_frame(session_type: str, name: str, **data) -> dict:
    """A web customer's event, checked against their channel's declaration: the chat's or the web call's."""
    channel = chat_protocol if session_type == "im" else call_protocol
    return channel.event(name, **data)


def send_frame(session_id: str, frame: dict) -> None:
    group_send(visitor_group(session_id), {"type": "visitor.frame", "frame": frame})


def waiting_chats(skill_group_id: int):
    """The web chats waiting in a skill group's queue; their order (QUEUE_ORDER) is their place."""
    return Session.objects.filter(skill_group_id=skill_group_id, state="queued", type="im")


QUEUE_ORDER = ("queued_at", "created_at")


def _ahead_of(place: tuple) -> Q:
    queued_at, created_at = place
    return Q(queued_at__lt=queued_at) | Q(queued_at=queued_at, created_at__lt=created_at)


def queue_position(session: Session) -> int | None:
    """A waiting chat's 1-based place in its group's queue (1 is next); None when it does not wait."""
    if session.state != "queued" or not session.skill_group_id or session.queued_at is None:
        return None
    return waiting_chats(session.skill_group_id).filter(_ahead_of((session.queued_at, session.created_at))).count() + 1


class QueueAnnouncement:
    """After commit: the chats waiting in a group's queue from a place on hear their places. Those ahead of every
    place that moved in the transaction did not move, so they hear nothing: a chat joining at the tail costs one
    frame, not one per waiting chat. One per group and transaction (`queue_moved` widens it), so several moves
    in one transaction announce the final places once."""

    def __init__(self, skill_group_id: int, since: tuple | None):
        self.skill_group_id, self.since = skill_group_id, since

    def widen(self, since: tuple | None) -> None:
        self.since = None if since is None or self.since is None else min(self.since, since)

    def __call__(self) -> None:
        waiting = waiting_chats(self.skill_group_id)
        first = 1
        if self.since is not None:
            first = waiting.filter(_ahead_of(self.since)).count() + 1
            waiting = waiting.exclude(_ahead_of(self.since))
        for place, session_id in enumerate(waiting.order_by(*QUEUE_ORDER).values_list("pk", flat=True), start=first):
            send_frame(session_id, chat_protocol.event("queued", sessionId=session_id, position=place))


def queue_moved(session: Session) -> None:
    """A web chat joined, left or re-entered its group's queue: after commit, it (if it waits) and every chat
    behind its place hear their places."""
    if session.type != "im" or not session.skill_group_id:
        return
    since = (session.queued_at, session.created_at) if session.queued_at else None
    group_id = session.skill_group_id
    once_per_transaction(QueueAnnouncement, lambda hook: hook.widen(since),
                         make=lambda: QueueAnnouncement(group_id, since),
                         matches=lambda hook: hook.skill_group_id == group_id)


WEB_TYPES = ("im", "voip", "video")


def where_it_stands(session: Session, agent_nickname: str = "") -> None:
    """Tell the web customer of a session that moved where it stands now (called after the commit, by
    `lifecycle.Moved`): a web call queued or ringing; any web session accepted (by `agent_nickname`) or ended.
    A chat waiting hears its place from `queue_moved` instead."""
    if session.type not in WEB_TYPES:
        return
    if session.state == "ended":
        data = {"closeBy": session.close_by, "endStatus": session.end_status}
    elif session.state == "active":
        data = {"agentNickname": agent_nickname}
    elif session.state in ("queued", "ringing") and session.type != "im":
        data = {}
    else:
        return
    name = {"ended": "ended", "active": "accepted"}.get(session.state, session.state)
    send_frame(session.id, event_frame(session.type, name, sessionId=session.id, **data))
