"""Session operations of the SDK and the server API, each one transaction with row locks.

The SDK namespaces map onto session types: Call → phone, voip, internal; Chat → im; Video → video. A
method called on a session of another type is refused with the namespace to use.
"""
from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from ..domain import protocol
from ..models import Agent, Recording, ServeParticipant, Session, SkillGroup, Tenant, found
from . import (agents, callout, consult, dialing, lifecycle, media, phone, recording_links, recordings, routing, skill_groups,
               telephony, timeline, visitor_limits)
from .endings import end_session
from .errors import NotFound, ServiceError
from .events import publish_change
from .payloads import session_columns
from .session_locks import lock_session

NAMESPACE_TYPES = {"Call": ("phone", "voip", "internal"), "Chat": ("im",), "Video": ("video",)}
TYPE_NAMESPACE = {t: ns for ns, types in NAMESPACE_TYPES.items() for t in types}
SAME_METHOD = {"hungUp": "end", "end": "hungUp"}  # Call ends with hungUp, Chat and Video with end


def _agent(agent_id: int) -> Agent:
    return agents.locked_agent(agent_id)


def _session(agent: Agent, session_id: str, namespace: str | None, method: str,
             related=("tenant", "skill_group")) -> Session:
    """The session, locked, after checking it exists in the agent's tenant, fits the namespace and is theirs;
    `related` rows come joined in, its agent is `agent` when it is theirs (others, such as an internal call's
    caller_agent, are read when used)."""
    session = found(Session.objects.locked(*related).filter(pk=session_id, tenant_id=agent.tenant_id))
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    if session.agent_id == agent.pk:
        session.agent = agent  # the row the caller has locked: not read again
    if namespace and session.type not in NAMESPACE_TYPES[namespace]:
        article = "an" if session.type[0] in "aeiou" else "a"
        fitting = [f"{TYPE_NAMESPACE[session.type]}.{name}" for name in (method, SAME_METHOD.get(method))]
        fitting = [name for name in fitting if name in protocol.METHODS]
        hint = (f"use tccc.{fitting[0]}" if fitting
                else f"{namespace}.{method} works on {', '.join(NAMESPACE_TYPES[namespace])} sessions")
        raise ServiceError(f"session {session_id} is {article} {session.type} session: {hint}")
    involved = (session.agent_id == agent.pk or session.caller_agent_id == agent.pk
                or session.participants.filter(agent=agent).exists() or consult.consulted_in(session, agent))
    if not involved:
        raise ServiceError(f"session {session_id} is not yours")
    return session


def _placing_a_call(agent_id: int) -> Agent:
    """The agent placing a call, locked, after checking they are online and on no other call."""
    agent = _agent(agent_id)
    if agent.status == "offline":
        raise ServiceError("the agent is offline: call tccc.Agent.online() first")
    if routing.has_call(agent):
        raise ServiceError("you are already on a call")
    return agent


def _active(session: Session, agent: Agent) -> Session:
    if session.state == "ended":
        raise ServiceError(f"session {session.id} has ended")
    if session.state != "active" or agent.pk not in (session.agent_id, session.caller_agent_id):
        raise ServiceError(f"session {session.id} is not in progress with you")
    return session


def accept(agent_id: int, session_id: str, namespace: str) -> None:
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _session(agent, session_id, namespace, "accept", related=())
        if session.state == "ended":
            raise ServiceError(f"session {session_id} has ended")
        if session.state == "active" and session.agent_id == agent.pk:
            raise ServiceError(f"session {session_id} is already accepted")
        consulted = consult.consulted_in(session, agent)
        if consulted is not None:  # a colleague consults them: their leg joins the call
            consult.accept(session, agent, consulted)
            return
        if callout.awaits(session, agent):  # a call out the server placed for them: now dial the customer
            callout.agent_accepted(session, agent)
            return
        if session.state != "ringing" or session.agent_id != agent.pk:
            raise ServiceError(f"session {session_id} is not ringing for you")
        if not lifecycle.accept(session, agent):
            raise ServiceError(f"session {session_id} is not ringing for you")


def hang_up(agent_id: int, session_id: str, namespace: str) -> None:
    """End a session in progress, cancel one's own outgoing internal call, or reject an offer."""
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _session(agent, session_id, namespace, "hungUp" if namespace == "Call" else "end")
        if session.state == "ended":
            raise ServiceError(f"session {session_id} has already ended")
        if session.state == "ringing" and session.agent_id == agent.pk:
            reject(session)
            return
        if session.state == "ringing" and session.caller_agent_id == agent.pk:
            end_session(session, close_by="seat", end_status="callerCancel")
            return
        consulted = consult.consulted_in(session, agent)
        if consulted is not None:  # the consulted agent declines or leaves; the call goes on
            consult.hang_up(session, agent, consulted)
            return
        _active(session, agent)
        open_consult = consult.open_consult(session) if session.agent_id == agent.pk else None
        if open_consult is not None and consult.by_agent_hangs_up(session, agent, open_consult):
            return  # the consulted agent and the customer go on
        end_session(session, close_by="seat", locked=agent)


def reject(session: Session) -> None:
    if session.type == "internal":
        end_session(session, close_by="seat", end_status="userReject")
    else:
        routing.withdraw_offer(session, outcome="rejected")


def delete_call(agent_id: int, session_id: str) -> None:
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _session(agent, session_id, None, "deleteCall")
        if session.state != "ended":
            raise ServiceError(f"session {session_id} is still in progress: end it first")
        agents.complete_after_call_work(agent, session.id)
        session.participants.filter(agent=agent).update(hidden=True)


def finish_after_call_work(agent_id: int, session_id: str) -> None:
    """The workbench's "Complete": leaving `arrange` for free completes every session waiting (as
    Agent.setStatus free does); outside `arrange` (the agent took a break meanwhile) deleteCall clears the one."""
    if Agent.objects.filter(pk=agent_id, status="arrange").exists():
        agents.set_status(agent_id, "free")
    else:
        delete_call(agent_id, session_id)


def set_mic(agent_id: int, session_id: str, namespace: str, muted: bool) -> None:
    _set_flag(agent_id, session_id, namespace, "mic_muted", muted, "muteMic" if muted else "unmuteMic",
              "microphone is already muted", "microphone is not muted")


def set_video(agent_id: int, session_id: str, muted: bool) -> None:
    _set_flag(agent_id, session_id, "Video", "video_muted", muted, "muteVideo" if muted else "unmuteVideo",
              "camera is already off", "camera is already on")


def set_hold(agent_id: int, session_id: str, held: bool) -> None:
    _set_flag(agent_id, session_id, "Call", "on_hold", held, "hold" if held else "unHold",
              "call is already on hold", "call is not on hold")


def set_recording_paused(agent_id: int, session_id: str, paused: bool) -> None:
    """Pause the call's recording (while the customer reads out a card number: silence in the file) or resume
    it; only the agent serving the call (or who placed it), and only a call being recorded."""
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _active(_session(agent, session_id, None, "pauseRecording"), agent)
        recordings.pause(session, paused, by=agent.user_id)
        media.sync(session)
        publish_change(agent.pk)


def _set_flag(agent_id, session_id, namespace, column, value, method, already_on, already_off) -> None:
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _session(agent, session_id, namespace, method)
        consulted = consult.consulted_in(session, agent) if column == "mic_muted" else None
        if consulted is not None and session.state == "active":  # a consulted agent's own microphone
            consult.set_muted(session, consulted, value)
            return
        session = _active(session, agent)
        if column == "mic_muted" and session.type == "internal" and agent.pk == session.caller_agent_id:
            column = "caller_mic_muted"  # each side of an internal call has a microphone of its own
        if getattr(session, column) == value:
            raise ServiceError(f"the {already_on if value else already_off}")
        setattr(session, column, value)
        session.save(update_fields=[column])
        timeline.log(session, f"{agent.user_id}: {method}")
        media.sync(session)
        publish_change(agent.pk)


def is_mic_muted(agent_id: int, session_id: str) -> dict:
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _session(agent, session_id, "Call", "isMicMuted")
        consulted = consult.consulted_in(session, agent) if session.state == "active" else None
        if consulted is not None:
            return {"muted": consulted.muted}
        if session.type == "internal" and agent.pk == session.caller_agent_id:
            return {"muted": session.caller_mic_muted}
        return {"muted": session.mic_muted}


def send_digits(agent_id: int, session_id: str, dtmf_text: str | None = None) -> None:
    if not dtmf_text:
        raise ServiceError("dtmfText is required")
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _active(_session(agent, session_id, "Call", "sendDigits"), agent)
        if session.type != "phone":
            raise ServiceError(f"sendDigits works on phone sessions; session {session_id} is {session.type}")
        timeline.log(session, f"{agent.user_id}: sent digits {dtmf_text}")
        media.send_digits(session, dtmf_text)


def transfer(agent_id: int, session_id: str, namespace: str, skill_group_id: str | None = None,
             user_id: str | None = None) -> None:
    if bool(skill_group_id) == bool(user_id):
        raise ServiceError("transfer needs exactly one of skillGroupId or userId")
    with transaction.atomic():
        agent = _agent(agent_id)
        session = _active(_session(agent, session_id, namespace, "transfer"), agent)
        if session.type == "internal" or session.agent_id != agent.pk:
            raise ServiceError("only a customer session you are serving can be transferred")
        if consult.open_consult(session) is not None:
            raise ServiceError("a consult is in progress: complete the transfer, or cancel the consult first")
        target_agent, target_group = _transfer_target(agent, session, skill_group_id, user_id)
        pass_on(session, agent, target_agent, target_group)


def pass_on(session: Session, agent: Agent, target_agent: Agent | None, target_group: SkillGroup | None,
            by: str = "") -> None:
    """Transfer the session `agent` serves (both rows locked, the target checked by the caller), by the agent or
    (`by`) a supervisor: the agent's part ends (after-call work for a call), and the session rings for
    `target_agent` or waits in `target_group`'s queue."""
    lifecycle.hand_over(session, agent, user_id=target_agent.user_id if target_agent else "",
                        skill_group=target_group, by=by)
    if session.is_call:
        agents.start_after_call_work(agent, session.skill_group.wrap_up_seconds if session.skill_group else 0)
    else:
        agents.complete_after_call_work(agent, session.id)
    if target_agent:
        lifecycle.offer(session, target_agent, timeout=session.skill_group.ring_timeout if session.skill_group else 8)
    else:
        routing.enqueue(session, target_group)


def _transfer_target(agent, session, skill_group_id, user_id):
    if user_id:
        target = found(Agent.objects.select_for_update().filter(tenant_id=agent.tenant_id, user_id=user_id))
        if target is None:
            raise NotFound(f"no agent {user_id!r}")
        if target.pk == agent.pk:
            raise ServiceError("a session cannot be transferred to yourself")
        if target.status != "free" or not routing.eligible_for(session, target):
            raise ServiceError(f"agent {user_id} cannot take it now (status {target.status})")
        return target, None
    group = skill_groups.find_requested(agent.tenant_id, skill_group_id)
    if not Agent.objects.filter(agentskill__skill_group=group).exclude(status="offline").exists():
        raise ServiceError(f"nobody in skill group {group.name} is online")
    return None, group


def start_internal_call(agent_id: int, callee_user_id: str, use_mobile: bool = False) -> dict:
    """Call another agent: in their browser (callIn type internal), or with `useMobile` on their mobile
    through the SIP trunk, whatever their status."""
    with transaction.atomic():
        agent = _placing_a_call(agent_id)
        callee = found(Agent.objects.select_for_update().filter(tenant_id=agent.tenant_id, user_id=callee_user_id))
        if callee is None:
            raise NotFound(f"no agent {callee_user_id!r}")
        if callee.pk == agent.pk:
            raise ServiceError("an agent cannot call themself")
        session = Session(tenant_id=agent.tenant_id, type="internal", caller_agent=agent)
        if use_mobile:
            return _call_mobile(session, agent, callee)
        if callee.status != "free" or not routing.eligible_for(session, callee):
            raise ServiceError(f"agent {callee_user_id} cannot take a call now (status {callee.status})")
        session.queued_at = timezone.now()
        lifecycle.offer(session, callee, timeout=routing.INTERNAL_RING_TIMEOUT,
                        note=f"internal call from {agent.user_id} to {callee.user_id}")
        return {"sessionId": session.id}


def _call_mobile(session: Session, agent: Agent, callee: Agent) -> dict:
    """An internal call to the callee's mobile: dialled through the trunk, bridged to the caller's browser."""
    if not callee.mobile:
        raise ServiceError(f"agent {callee.user_id} has no mobile number")
    trunk = phone.trunk_for(session.tenant)
    if trunk is None or not dialing.gateway_running():
        raise ServiceError("useMobile rings the agent's mobile through the SIP trunk, and none is configured")
    session.callee_phone_number = callee.mobile  # marks the call as one to a mobile (see media.plan_for)
    session.caller_phone_number = next(iter(agent.tenant.hotlines.values_list("number", flat=True)), "")
    lifecycle.place(session, f"internal call from {agent.user_id} to {callee.user_id}'s mobile")
    telephony.dial(session, trunk)
    return {"sessionId": session.id}


def start_outbound_call(agent_id: int, phone_number: str, phone_desc: str = "", uui: str = "",
                        skill_group_id: str | None = None, caller_phone_number: str | None = None,
                        serving_number_group_ids: list[str] | None = None, phone_encode_type: str | None = None) -> dict:
    """Create the outbound session, after the number rules (a protected id is dialled as its real number;
    calling hours; per-number limits). Dialing is the phone channel's; without a trunk it ends as unconnected."""
    with transaction.atomic():
        agent = _placing_a_call(agent_id)
        number = phone.number_to_dial(agent.tenant, phone_number, phone_encode_type)
        caller = _caller_number(agent, caller_phone_number, skill_group_id, serving_number_group_ids)
        group = skill_groups.find_requested(agent.tenant_id, skill_group_id) if skill_group_id else None
        phone.check_outbound(agent.tenant, number, shown=phone_number)
        session = Session(
            tenant=agent.tenant, type="phone", direction="out", caller_agent=agent, skill_group=group,
            callee_phone_number=number, caller_phone_number=caller, remark=phone_desc, uui=uui)
        phone.protect(session)
        seen = phone.as_agents_see(session)
        lifecycle.place(session, f"{agent.user_id} dials {seen.callee_phone_number or seen.protected_callee} "
                                 f"from {caller}")
        _dial(session)
        return {"sessionId": session.id, "calleePhoneNumber": seen.callee_phone_number or seen.protected_callee,
                "callerPhoneNumber": caller, "calleeLocation": phone.location_of(number), "serverType": "",
                "remark": phone_desc}


def _dial(session: Session) -> None:
    """Hand the call to the SIP gateway, or end it at once when there is no trunk to dial through."""
    trunk = phone.trunk_for(session.tenant)
    if trunk is not None and dialing.gateway_running():
        timeline.log(session, f"dialled through trunk {trunk.name}")
        telephony.dial(session, trunk)
        return
    timeline.log(session, "not dialed: no SIP trunk is configured" if trunk is None
                else "not dialed: the SIP gateway is not running (set SIP_PORT)")
    end_session(session, close_by="admin", end_status="unconnected")


def _caller_number(agent: Agent, caller_phone_number, skill_group_id, serving_number_group_ids) -> str:
    """callerPhoneNumber if it is one of ours, else the skill group's bound numbers, else the number groups',
    else the agent's default (services/phone.py: CallerNumbers)."""
    tenant = agent.tenant
    numbers = phone.caller_numbers_for(agent)
    if caller_phone_number:
        if caller_phone_number not in numbers.offered:
            raise ServiceError(f"callerPhoneNumber {caller_phone_number} is not one of this center's numbers")
        return caller_phone_number
    if skill_group_id:
        bound = skill_groups.find_requested(tenant.pk, skill_group_id).caller_number_list
        if not bound:
            raise ServiceError(f"skill group {skill_group_id} has no outbound numbers bound")
        return bound[0]
    if serving_number_group_ids:
        ids = [int(i) for i in serving_number_group_ids if re.fullmatch(r"\d{1,18}", i)]
        groups = list(tenant.number_groups.filter(pk__in=ids))
        if len(groups) != len(set(serving_number_group_ids)):
            raise ServiceError(f"no number group among {serving_number_group_ids}")
        candidates = [n for g in groups for n in g.number_list]
    else:
        candidates = numbers.defaults
    if not candidates:
        raise ServiceError("no caller number: none given, and no skill group or number group has one")
    return candidates[0]


# Server API (integrations bringing their own channels).

API_TYPES = ("phone", "im", "voip", "video")


def create_inbound(tenant: Tenant, session_type, skill_group_id, fields: dict, uui: str = "",
                   visitor: visitor_limits.Visitor | None = None) -> str:
    """Create and route an inbound session; a web customer's (`visitor`) within their limits on starts."""
    if session_type not in API_TYPES:
        raise ServiceError(f"type must be one of: {', '.join(API_TYPES)}")
    allowed = set(protocol.CALL_IN_FIELDS[session_type])
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ServiceError(f"{unknown[0]} is not a callIn field of a {session_type} session")
    for name, value in fields.items():
        if name == "ivrPath":
            if not isinstance(value, list) or not all(
                    isinstance(v, dict) and set(v) == {"key", "label"} and all(isinstance(x, str) for x in v.values())
                    for v in value):
                raise ServiceError("ivrPath must be a list of {key, label} strings")
        else:
            limit = Session._meta.get_field(next(iter(session_columns({name: value})))).max_length
            if not isinstance(value, str) or len(value) > limit:
                raise ServiceError(f"{name} must be a string of at most {limit} characters")
    if not isinstance(uui, str) or len(uui) > 1024:
        raise ServiceError("uui must be a string of at most 1024 characters")
    with transaction.atomic():
        group = skill_groups.find_requested(tenant.pk, skill_group_id)
        if group.kind != session_type:
            raise ServiceError(f"skill group {group.pk} takes {group.kind} sessions, not {session_type}")
        session = Session(tenant=tenant, type=session_type, uui=uui, **session_columns(fields))
        if visitor is not None:
            visitor_limits.check_start(visitor)
            session.visitor_id, session.client_address = visitor.id, visitor.address
        if session_type == "phone":
            session.caller_location = session.caller_location or phone.location_of(session.caller_phone_number)
            phone.protect(session)
        routing.enqueue(session, group, note=" (created through the API)")
        return session.id


def end_by_customer(tenant: Tenant, session_id: str) -> None:
    with transaction.atomic():
        session = lock_session(session_id, tenant=tenant)
        if session is None:
            raise NotFound(f"no session {session_id!r}")
        if session.state == "ended":
            raise ServiceError(f"session {session_id} has already ended")
        end_session(session, close_by="client")


def describe(tenant: Tenant, session_id: str, base_url: str = "") -> dict:
    """The session as `GET /api/sessions/{id}` shows it; a recorded call's RecordURL is under `base_url`."""
    session = found(Session.objects.filter(pk=session_id, tenant=tenant).select_related("agent", "skill_group"))
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    return {
        "sessionId": session.id, "type": session.type, "direction": session.direction, "state": session.state,
        "skillGroupId": str(session.skill_group_id or ""), "userId": session.agent.user_id if session.agent else "",
        "endStatus": session.end_status, "closeBy": session.close_by, "duration": session.duration,
        "queuedAt": _ts(session.queued_at), "ringAt": _ts(session.ring_at), "acceptedAt": _ts(session.accepted_at),
        "endedAt": _ts(session.ended_at), "uui": session.uui,
        "participants": [{"userId": p.agent.user_id, "sequence": p.sequence, "outcome": p.outcome,
                          "transferFrom": p.transfer_from, "transferTo": p.transfer_to}
                         for p in ServeParticipant.objects.filter(session=session).select_related("agent")],
        **recording_links.fields(found(Recording.objects.filter(session=session)), base_url),
    }


def _ts(moment):
    return moment.timestamp() if moment else None
