"""The phone channel's decisions, for the SIP gateway (`media/phone_gateway.py`), which asks them from its event
loop through a thread (`workbench/sip_gateway.py` `Decisions` carries each to the database): which hotline a trunk
call is for, the IVR's menus, routing once the caller has chosen, and how a phone call ends (the caller hangs up,
the line is lost, an outbound call is answered or fails).

Two stored deadlines, swept like every other (`services.deadlines`), end a trunk call's session even when its
gateway lost the call or its process died: the caller's time in the IVR (`ivr_deadline`, `IVR_MAX_SECONDS`), and
in every state the line's lease (`line_deadline`, `SIP_LINE_LEASE`), which the gateway renews while it carries
the call (`renew_lines`).

Each function is one transaction; events leave on commit, as everywhere in the services.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..domain import inbound, ivr, session_state
from ..domain import phone as rules
from ..models import Hotline, IvrMenu, Session, SkillGroup, Trunk, found
from . import consult, dialing, endings, lifecycle, media, media_workers, phone, routing, timeline
from .errors import ServiceError
from .events import publish
from .session_locks import lock_session

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class InboundCall:
    session_id: str
    tenant_id: int
    menu: int | None  # the IVR menu to start, or None when the hotline queues at once
    ended: bool = False  # it ended at once (nobody of the hotline's group online): the call is refused


def inbound_call(to_number: str, from_number: str, media_worker: str = "") -> InboundCall:
    """A trunk INVITE to `to_number`: the phone session, in the IVR (or queued when the hotline has none).
    `media_worker` names the worker whose gateway took the call: the session's legs all live there."""
    hotline = (Hotline.objects.select_related("tenant", "ivr_menu", "skill_group")
               .filter(number=rules.digits(to_number)).first())
    if hotline is None:
        raise ServiceError(f"{to_number} is not a number of this contact center")
    with transaction.atomic():
        session = Session(tenant=hotline.tenant, type="phone", direction="in", caller_phone_number=from_number,
                          callee_phone_number=hotline.number, caller_location=phone.location_of(from_number),
                          media_worker=media_worker, line_deadline=_line_lease())
        phone.protect(session)
        if hotline.ivr_menu_id:
            lifecycle.open_in_ivr(session, timezone.now() + timedelta(seconds=settings.IVR_MAX_SECONDS),
                                  f"call to {hotline.number}: IVR {hotline.ivr_menu.name}")
            return InboundCall(session.pk, hotline.tenant_id, hotline.ivr_menu_id)
        if hotline.skill_group is None:
            raise ServiceError(f"hotline {hotline.number} leads nowhere: give it an IVR menu or a skill group")
        routing.enqueue(session, hotline.skill_group, note=f" (call to {hotline.number})")
        return InboundCall(session.pk, hotline.tenant_id, None, ended=session.state == "ended")


def inbound_policy() -> inbound.InboundPolicy:
    """Who may call the hotlines (see domain.inbound): `SIP_ALLOW`, each tenant's enabled trunks, its hotlines."""
    trunks: dict[int, list[inbound.TrunkAccess]] = {}
    for trunk in Trunk.objects.filter(enabled=True).order_by("pk"):
        try:
            sources = inbound.parse_sources(trunk.allowed_sources)
        except inbound.SourceListError as error:  # saved past admin's check (a shell, a script): it allows nobody
            log.error("trunk %s: allowed sources ignored: %s", trunk, error)
            sources = ()
        trunks.setdefault(trunk.tenant_id, []).append(
            inbound.TrunkAccess(sources, trunk.inbound_username, trunk.inbound_password))
    hotlines = dict(Hotline.objects.values_list("number", "tenant_id"))
    return inbound.InboundPolicy(settings.SIP_INBOUND.allowed,
                                 {tenant: tuple(each) for tenant, each in trunks.items()}, hotlines)


def ivr_menus(tenant_id: int) -> tuple[dict[int, ivr.Menu], dict[int, str]]:
    """The tenant's IVR menus as the domain runs them, and the prompt file of each that has one (its own WAV, or
    audio uploaded through the cloud API)."""
    menus, files = {}, {}
    for menu in IvrMenu.objects.filter(tenant_id=tenant_id).select_related("prompt_upload").prefetch_related("keys"):
        choices = {key.key: ivr.Choice(key.key, key.label, key.next_menu_id, key.skill_group_id)
                   for key in menu.keys.all() if key.next_menu_id or key.skill_group_id}
        menus[menu.pk] = ivr.Menu(menu.pk, menu.prompt_text, choices, float(menu.timeout_seconds), menu.max_retries,
                                  menu.invalid_text, menu.goodbye_text)
        if menu.prompt_audio:
            files[menu.pk] = menu.prompt_audio.path
        elif menu.prompt_upload:
            files[menu.pk] = menu.prompt_upload.audio.path
    return menus, files


def ivr_chosen(session_id: str, skill_group_id: int, path: list[dict]) -> bool:
    """The caller chose their way: the session leaves the IVR for the group's queue (False: it had ended)."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is None or session.state != "ivr":
            return False
        group = found(SkillGroup.objects.filter(pk=skill_group_id, tenant_id=session.tenant_id))
        if group is None:
            raise ServiceError(f"the IVR leads to skill group {skill_group_id}, which does not exist")
        session.ivr_path, session.ivr_deadline = path, None
        timeline.log(session, "IVR: " + " → ".join(f"{step['key']} {step['label']}" for step in path))
        routing.enqueue(session, group, note=" (after the IVR)")
        return True


def caller_hung_up(session_id: str, ivr_path: list[dict] | None = None) -> None:
    """The phone caller hung up (BYE or CANCEL): in the IVR it ends as ivrGiveUp, otherwise as a customer's
    hang-up in whatever state it was."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is None:
            return
        if session.state == "ivr":
            session.ivr_path = ivr_path or []
            endings.end_session(session, close_by="client", end_status="ivrGiveUp")
        else:
            endings.end_session(session, close_by="client")


def renew_lines(session_ids: list[str]) -> int:
    """The gateway still carries these calls: their sessions' leases run on. Returns how many were renewed."""
    return Session.objects.filter(pk__in=session_ids).exclude(state="ended").update(line_deadline=_line_lease())


def _line_lease():
    return timezone.now() + timedelta(seconds=settings.SIP_LINE_LEASE)


def call_lost(session_id: str, end_status: str) -> None:
    """The gateway lost the call on our side (no ACK for its answer, a transport error, no media leg): the
    session ends with `end_status`, closed by the system, in whatever state it was."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is not None:
            endings.end_session(session, close_by="admin", end_status=end_status)


def consult_call_ended(session_id: str, consult_id: int, how: str) -> None:
    """A consulted number's call ended without our asking (`how`: "remote", or the end status of a line our side
    lost): the consult ends (`consult.phone_call_ended`), or, when the number had been handed the call, the session
    ends with it, as a serving side hanging up."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is not None and consult.phone_call_ended(session, consult_id, how):
            if how == "remote":
                endings.end_session(session, close_by="seat")
            else:
                endings.end_session(session, close_by="admin", end_status=how)


def ivr_gave_up(session_id: str, ivr_path: list[dict]) -> None:
    """No valid key after every retry: the IVR said goodbye and hangs up."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is not None and session.state == "ivr":
            session.ivr_path = ivr_path
            endings.end_session(session, close_by="admin", end_status="ivrGiveUp")


def _locked(session_id: str) -> Session | None:
    return lock_session(session_id, state__in=session_state.OPEN)



# Outbound calls placed through the trunk (see sessions.start_outbound_call, which creates the session).

def plan(session_id: str) -> dict:
    session = found(Session.objects.filter(pk=session_id))
    return media.plan_for(session) if session is not None else {}


def call_outed(session_id: str) -> None:
    """The INVITE went out: the dialling agent hears `callOuted`."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is None or session.state != "ringing" or session.type != "phone" or not session.caller_agent_id:
            return  # (an internal call to a mobile has no callOuted: the caller hears it ring)
        seen = phone.as_agents_see(session)
        timeline.log(session, "INVITE sent to the trunk")
        publish(session.caller_agent_id, "callOuted", sessionId=session.id,
                calleePhoneNumber=seen.callee_phone_number, callerPhoneNumber=session.caller_phone_number,
                protectedCallee=session.protected_callee, remark=session.remark)


def outbound_answered(session_id: str) -> None:
    """The far end answered: the call is in progress, the agent hears `calloutAccepted`."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is None or session.state != "ringing":
            return
        lifecycle.answer(session)


def outbound_failed(session_id: str, end_status: str) -> None:
    """Busy, not answered, rejected or unreachable: the session ends with that status."""
    with transaction.atomic():
        session = _locked(session_id)
        if session is not None:
            close_by = "admin" if end_status == "unconnected" else "client"
            endings.end_session(session, close_by=close_by, end_status=end_status)


def dial(session: Session, trunk: Trunk) -> None:
    """After the outbound session commits, ask the gateway to place it through `trunk`."""
    call_id = session.pk
    args = {"number": session.callee_phone_number, "caller": session.caller_phone_number,
            "trunk_host": trunk.host, "trunk_port": trunk.port, "transport": trunk.transport,
            "username": trunk.username, "password": trunk.password, "uui": session.uui,
            "ring_seconds": settings.OUTBOUND_RING_SECONDS}
    # The stored deadline ends the session even if the gateway lost the call.
    session.offer_deadline = timezone.now() + timedelta(seconds=dialing.ring_limit(settings.OUTBOUND_RING_SECONDS))
    session.line_deadline = _line_lease()
    worker = media_workers.sip_worker() if settings.MEDIA_IN_WORKERS else None
    if worker is not None:  # the call lives on the worker that runs the gateway
        session.media_worker = worker.pk  # on the row in hand too: media.sync trusts it
    session.save(update_fields=["offer_deadline", "line_deadline", "media_worker"])
    transaction.on_commit(lambda: media.backend().dial(call_id, **args), robust=True)


def inbound_call_or_none(to_number: str, from_number: str, media_worker: str = "") -> InboundCall | None:
    """`inbound_call`, or None when the call is refused (logged): the gateway answers it 404."""
    try:
        return inbound_call(to_number, from_number, media_worker)
    except ServiceError as refused:
        log.info("trunk call to %s refused: %s", to_number, refused)
        return None
