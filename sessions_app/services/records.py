"""What a tenant reads back of its past and present calls: its CDRs (the bodies the CDR push sent, stored with
each ended session by `cdr.record`) a page at a time, a web chat's messages, one session's record, the calls in
progress and the minutes used. Read only; every read is scoped to the tenant, and another tenant's session is
NotFound, as an unknown one is.
"""
from __future__ import annotations

from datetime import datetime, timezone as utc_zone
from math import ceil

from django.db.models import Q

from ..models import Agent, Cdr, ChatMessage, ServeParticipant, Session, Tenant
from . import cdr
from .errors import NotFound

TEL_TYPES = ("phone", "voip", "video", "internal")
CHAT_TYPES = ("im",)
# The session columns a CDR page reads beside the stored push (what Tencent's record has and the push lacks).
PAGE_COLUMNS = ("payload", "session__remark", "session__protected_caller", "session__protected_callee",
                "session__nickname", "session__customer_user_id", "session__visitor_id")


def moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=utc_zone.utc)


def cdr_page(tenant: Tenant, start: int, end: int, offset: int, limit: int, *, types: tuple[str, ...],
             phones: list[str] | None = None, session_ids: list[str] | None = None,
             protected_only: bool = False) -> tuple[int, list[dict]]:
    """The tenant's CDRs of sessions started within [start, end] (Unix seconds, both included), oldest first
    (ties by session id, so pages are stable): (how many match, the page's rows: the push body as `payload`
    and the session columns of PAGE_COLUMNS).

    Every ended session has its CDR (lifecycle.end stores it in the ending transaction), so the sessions are
    counted and paged on the index `session_cdr_page` alone, and only the page's CDRs are read."""
    ended = Session.objects.filter(tenant=tenant, state="ended", created_at__gte=moment(start),
                                   created_at__lt=moment(end + 1), type__in=types)
    if phones:
        ended = ended.filter(Q(caller_phone_number__in=phones) | Q(callee_phone_number__in=phones))
    if session_ids:
        ended = ended.filter(pk__in=session_ids)
    if protected_only:
        ended = ended.exclude(protected_caller="", protected_callee="")
    total = ended.count()
    if offset >= total:
        return total, []
    ids = list(ended.order_by("created_at", "id").values_list("id", flat=True)[offset:offset + limit])
    rows = {row["session_id"]: row for row in Cdr.objects.filter(session_id__in=ids).values("session_id",
                                                                                           *PAGE_COLUMNS)}
    return total, [rows[session_id] for session_id in ids if session_id in rows]


def agents_by_user_id(tenant: Tenant, user_ids: set[str]) -> dict[str, dict]:
    """The named agents' details (one query), keyed by userId; with the names of their skill groups."""
    found = {}
    for agent in Agent.objects.filter(tenant=tenant, user_id__in=user_ids).prefetch_related("skill_groups"):
        found[agent.user_id] = {"user_id": agent.user_id, "nickname": agent.nickname,
                                "staff_number": agent.staff_number, "mobile": agent.mobile,
                                "skill_groups": sorted(group.name for group in agent.skill_groups.all())}
    return found


def session_of(tenant: Tenant, session_id: str, types: tuple[str, ...] | None = None) -> Session:
    """The tenant's session (of one of `types`), with what its record reads; NotFound otherwise."""
    rows = Session.objects.select_related("skill_group", "agent", "caller_agent").filter(tenant=tenant, pk=session_id)
    if types:
        rows = rows.filter(type__in=types)
    session = rows.first()
    if session is None:
        raise NotFound(f"session {session_id} not found")
    return session


def record_of(session: Session) -> dict:
    """A session's record as the CDR push has (or will have) it: the stored push once it ended, else built now."""
    stored = Cdr.objects.filter(session=session).values_list("payload", flat=True).first()
    return stored if stored is not None else cdr.build(session)


def chat_messages(tenant: Tenant, session_id: str, offset: int, limit: int,
                  newest_first: bool) -> tuple[int, list[dict]]:
    """A web chat's messages, a page at a time: (how many, the page: seq, sender, who wrote it, text, time)."""
    session = session_of(tenant, session_id, CHAT_TYPES)
    rows = ChatMessage.objects.filter(session=session)
    total = rows.count()
    page = rows.order_by("-seq" if newest_first else "seq").values(
        "seq", "sender", "agent__user_id", "supervisor_name", "text", "created_at")[offset:offset + limit]
    customer = session.customer_user_id or session.visitor_id or session.nickname
    messages = []
    for row in page:
        author = {"visitor": customer, "agent": row["agent__user_id"] or "",
                  "supervisor": row["supervisor_name"], "system": "system"}[row["sender"]]
        messages.append({**row, "author": author, "timestamp": int(row["created_at"].timestamp())})
    return total, messages


def active_phone_calls(tenant: Tenant, offset: int, limit: int) -> tuple[int, list[Session]]:
    """The tenant's phone calls in progress (not ended), oldest first. They are few: all are read on the index
    session_open and ordered here (ordered by the database, the planner may walk every session of the tenant by
    date looking for open ones)."""
    open_states = [state for state, _ in Session.STATES if state != "ended"]
    in_progress = sorted(Session.objects.filter(tenant=tenant, state__in=open_states, type="phone")
                         .values_list("created_at", "id"))
    ids = [session_id for _, session_id in in_progress[offset:offset + limit]]
    found = Session.objects.select_related("agent", "caller_agent").in_bulk(ids)
    return len(in_progress), [found[session_id] for session_id in ids if session_id in found]


def minutes_used(tenant: Tenant, start: int, end: int) -> dict:
    """Minutes of connected calls that ended within [start, end], each call rounded up to whole minutes as a
    carrier bills them: phone out, phone in, web audio/video; and how many agents served any call."""
    ended = Session.objects.filter(tenant=tenant, ended_at__gte=moment(start), ended_at__lt=moment(end + 1),
                                   duration__gt=0)
    minutes = {"phone_out": 0, "phone_in": 0, "voip_in": 0}
    for kind, direction, duration in ended.values_list("type", "direction", "duration").iterator():
        key = {"phone": f"phone_{direction}", "voip": "voip_in", "video": "voip_in"}.get(kind)
        if key:
            minutes[key] += ceil(duration / 60)
    served = (ServeParticipant.objects.filter(session__in=ended, accept_at__isnull=False)
              .values("agent").distinct().count())
    return {**minutes, "agents": served}

