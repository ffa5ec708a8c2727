"""A customer's web audio or video call: placed from the call widget, routed like any session, ended by the
customer's hang-up or by their page going away."""
from __future__ import annotations

from channels.db import database_sync_to_async

from ..domain import web_call as rules
from ..models import Session, SkillGroup, Tenant, found
from . import media, reaping, sessions, visitors
from .errors import ServiceError
from .visitor_limits import Visitor


def start(tenant: Tenant, visitor: Visitor, kind: str, fields: dict, skill_group_id: str | None,
          replacing: str | None = None) -> Session:
    """Create the call's session in the tenant's skill group of its kind (the one given, else the first);
    within the visitor's limits (services/visitor_limits.py). `replacing`: the call the caller's socket has
    now, which must have ended."""
    visitors.check_none_open(replacing)
    session_type = rules.KIND_TYPES[kind]
    groups = SkillGroup.objects.filter(tenant=tenant, kind=session_type).order_by("pk")
    group = groups.filter(pk=int(skill_group_id)).first() if skill_group_id else groups.first()
    if group is None:
        raise ServiceError(f"this contact center takes no web {kind} calls"
                           if not skill_group_id else f"no {session_type} skill group {skill_group_id}")
    if session_type == "video":
        fields = {name: value for name, value in fields.items() if name in ("userId", "nickname", "avatar", "remark")}
    session_id = sessions.create_inbound(tenant, session_type, str(group.pk), fields, visitor=visitor)
    return Session.objects.get(pk=session_id)


def hang_up(tenant: Tenant, session_id: str) -> None:
    sessions.end_by_customer(tenant, session_id)


def left(tenant: Tenant, session_id: str) -> None:
    """The customer's page closed its socket: a call cannot outlive it, so it ends as the customer's hang-up."""
    try:
        sessions.end_by_customer(tenant, session_id)
    except ServiceError:
        pass  # it had ended already


async def connect_customer(session_id: str, sdp: str) -> dict:
    """Answer the customer's WebRTC offer for their call. A call that cannot be connected ends: routing may
    have ended it already (noSeatOnline: said so), or the leg failed (it ends as mediaError)."""
    try:
        return await media.open_leg(session_id, media.CUSTOMER_LEG, sdp)
    except ServiceError:
        status = await database_sync_to_async(end_status)(session_id)
        if status:
            raise ServiceError(f"the call could not be placed: {status}") from None
        await database_sync_to_async(reaping.end_session_for_media)(session_id)
        raise


def state(session_id: str) -> str:
    return found(Session.objects.filter(pk=session_id).values_list("state", flat=True)) or "ended"


def end_status(session_id: str) -> str:
    return found(Session.objects.filter(pk=session_id).values_list("end_status", flat=True)) or ""
