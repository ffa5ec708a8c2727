"""Consult transfer and three-way calls: during a call the serving agent holds the customer (music) and calls a
colleague, privately; then completes the transfer, makes it a conference, or goes back to the customer.

A phone number is dialled through the trunk as the consult's own call (`media.CONSULT_PHONE_LEG`, beside the
customer's leg, on a phone call and a web call alike); its answer, failure and hang-up come back from the SIP
gateway (`phone_answered`, `phone_failed`, `phone_call_ended`) and end only the consult. A transfer completed to a
number leaves the session in progress with nobody of ours serving it: the number is its serving side until
either end hangs up.

The consulted agent is offered the consult as an incoming internal call of the same session (`callIn` with
`type: 'internal'`, `peerUserId` the consulting agent, the customer's `sessionId`), accepts it with the normal
`accept` and hangs up with the normal `hungUp`: a CRM written for Tencent's SDK sees a colleague calling, and
its leg joins the customer's call (same session, same media call). The media plan follows the open `Consult`
row (`media.plan_for`: `consult`, `conference`, and `ringing` until accepted), so the engine does the holding
and mixing.

How a consult ends:
- completed (`complete`, or the consulting agent hangs up while the consulted one talks, in private or in
  conference): the consulted agent serves the session from now on; the consulting agent's part ends as a
  transfer (`transfer` event, ServeParticipants as a transfer to that agent: their row `transferred` with
  TransferTo, a new row for the consulted agent with TransferFrom, as a blind transfer leaves them) and they
  start after-call work;
- cancelled (`cancel`): back to the customer, the consulted agent hears `sessionEnded`;
- declined, not answered in time (the sweeper), or the consulted agent hung up: the customer stays on hold and
  the consulting agent's workbench says so; after a conference the call goes on between the two;
- the call ended (the customer hung up): the consulted agent hears `sessionEnded` too.

Consulting while the customer is on hold is allowed (agents often hold first, then look for a colleague): the
customer hears music either way and stays on hold after a cancel; a conference takes them off hold.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..domain import routing as policy
from ..models import Agent, Consult, ServeParticipant, Session, found
from . import agents, dialing, lifecycle, media, media_workers, phone, routing, skill_groups, timeline, wallboard_push
from .errors import NotFound, ServiceError
from .events import publish, publish_change
from .session_locks import lock_session

CONSULT_TYPES = ("phone", "voip")  # audio calls: the consulted agent's leg is audio only
RING_TIMEOUT = routing.INTERNAL_RING_TIMEOUT
# Why a consulted number's call failed (the gateway's end status, as an outbound call's) -> the consult's outcome.
PHONE_OUTCOMES = {"busy": "busy", "userReject": "declined", "notAnswer": "timeout"}


def open_consult(session: Session) -> Consult | None:
    return found(Consult.objects.select_related("agent", "by_agent").filter(session=session, ended_at__isnull=True))


def consulted_in(session: Session, agent: Agent) -> Consult | None:
    """The open consult of `session` that `agent` is consulted in, if any."""
    consult = open_consult(session)
    return consult if consult is not None and consult.agent_id == agent.pk else None


def _serving(agent_id: int, session_id: str, action: str) -> tuple[Agent, Session]:
    """The consulting agent and their call, both locked, after checking they serve it."""
    agent = agents.locked_agent(agent_id)
    # The consulted agent's row before the session's, as their own hang-up takes them (session_locks.py).
    consulted = Consult.objects.filter(session_id=session_id, ended_at__isnull=True).values_list("agent_id", flat=True)
    list(Agent.objects.select_for_update().filter(pk__in=list(consulted)).exclude(pk=agent.pk).values_list("pk"))
    session = found(Session.objects.locked("tenant", "skill_group").filter(pk=session_id, tenant_id=agent.tenant_id))
    if session is None:
        raise NotFound(f"no session {session_id!r}")
    if session.state == "ended":
        raise ServiceError(f"session {session_id} has ended")
    if session.state != "active" or session.agent_id != agent.pk:
        raise ServiceError(f"session {session_id} is not in progress with you: only its serving agent can "
                           f"{action}")
    session.agent = agent
    return agent, session


def _in_progress(session: Session) -> Consult:
    consult = open_consult(session)
    if consult is None:
        raise ServiceError("no consult is in progress on this call")
    return consult


def start(agent_id: int, session_id: str, *, user_id: str = "", skill_group_id: str = "",
          phone_number: str = "") -> dict:
    """Hold the customer (music) and ring the consulted party: an agent, one free agent of a skill group (by the
    group's routing rules), or a phone number dialled through the trunk (`_dial_number`). Returns {"consultId",
    "userId"} (the agent rung; "" for a number) and, for a number, "phoneNumber" (the number dialled)."""
    if sum(bool(target) for target in (user_id, skill_group_id, phone_number)) != 1:
        raise ServiceError("a consult needs exactly one of userId, skillGroupId or phoneNumber")
    with transaction.atomic():
        agent, session = _serving(agent_id, session_id, "consult")
        if session.type not in CONSULT_TYPES:
            raise ServiceError(f"a consult works on audio calls (phone, web audio); session {session_id} is "
                               f"{'an' if session.type[0] in 'aeiou' else 'a'} {session.type} session")
        current = open_consult(session)
        if current is not None:
            raise ServiceError(f"a consult with {current.target} is already in progress: complete, conference or "
                               f"cancel it first")
        if phone_number:
            return _dial_number(agent, session, phone_number)
        group = skill_groups.find_requested(agent.tenant_id, skill_group_id) if skill_group_id else None
        target = _free_agent_of(session, group) if group else _named_agent(agent, session, user_id)
        now = timezone.now()
        consult = Consult.objects.create(session=session, by_agent=agent, agent=target, skill_group=group,
                                         ring_at=now, offer_deadline=now + timedelta(seconds=RING_TIMEOUT))
        via = f" (from skill group {group.name})" if group else ""
        timeline.log(session, f"{agent.user_id} consults {target.user_id}{via}; the customer waits with music")
        publish(target.pk, "callIn", **call_in(consult, RING_TIMEOUT))
        _changed(session, agent, target)
        return {"consultId": consult.pk, "userId": target.user_id}


def call_in(consult: Consult, timeout: int) -> dict:
    """The consulted agent's `callIn`: an internal call from the consulting agent, of the customer's session."""
    return {"sessionId": consult.session_id, "type": "internal", "timeout": timeout,
            "peerUserId": consult.by_agent.user_id}


def _dial_number(agent: Agent, session: Session, phone_number: str) -> dict:
    """Ring a phone number as the consult, through the tenant's trunk, by the rules outbound calls follow (the
    number's form or a protected id, calling hours, per-number limits); refused with the reason, nothing
    changed, when it cannot be placed (no trunk, no gateway, the call's media on a worker without the trunk)."""
    tenant = session.tenant
    number = phone.number_to_dial(tenant, phone_number, None)
    phone.check_outbound(tenant, number, shown=phone_number)
    trunk = phone.trunk_for(tenant)
    if trunk is None:
        raise ServiceError("no SIP trunk is configured: a phone number cannot be consulted")
    if not dialing.gateway_running():
        raise ServiceError("the SIP gateway is not running: a phone number cannot be consulted now")
    if settings.MEDIA_IN_WORKERS:
        worker = media_workers.sip_worker()
        if worker is None or session.media_worker != worker.pk:
            raise ServiceError("this call's media runs on a media worker without the SIP trunk: consult an agent or "
                               "a skill group")
    caller = _caller_number(agent, session)
    now = timezone.now()
    consult = Consult.objects.create(session=session, by_agent=agent, phone_number=number, ring_at=now,
                                     offer_deadline=now + timedelta(seconds=dialing.ring_limit(RING_TIMEOUT)))
    timeline.log(session, f"{agent.user_id} consults {phone_number} through trunk {trunk.name}; the customer waits "
                          f"with music")
    _changed(session, agent)  # the plan names the consult's leg before the gateway opens it
    dialing.dial_consult(session, consult.pk, trunk, number=number, caller=caller, ring_seconds=RING_TIMEOUT)
    return {"consultId": consult.pk, "userId": "", "phoneNumber": phone_number}


def _caller_number(agent: Agent, session: Session) -> str:
    """The number a consult call shows: the call's skill group's first outbound number, else the agent's own
    default (as their outbound calls), else the hotline a phone caller dialled."""
    bound = session.skill_group.caller_number_list if session.skill_group else []
    numbers = [*bound, *phone.caller_numbers_for(agent).defaults]
    if session.type == "phone" and session.direction == "in":
        numbers.append(session.callee_phone_number)
    caller = next((number for number in numbers if number), "")
    if not caller:
        raise ServiceError("no number to call from: bind an outbound number to the skill group or a number group")
    return caller


def _named_agent(agent: Agent, session: Session, user_id: str) -> Agent:
    target = found(Agent.objects.select_for_update().filter(tenant_id=agent.tenant_id, user_id=user_id))
    if target is None:
        raise NotFound(f"no agent {user_id!r}")
    if target.pk == agent.pk:
        raise ServiceError("you cannot consult yourself")
    if target.status == "offline":
        raise ServiceError(f"agent {user_id} is offline")
    if not routing.eligible_for(session, target):
        raise ServiceError(f"agent {user_id} cannot take a consult now (status "
                           f"{agents.status_info(target)['status']})")
    return target


def _free_agent_of(session: Session, group) -> Agent:
    """One free agent of the group, in the order its routing strategy offers sessions."""
    order = policy.rank(group.routing_strategy, routing.candidates(session, group, {}), {})
    for agent_id in order:
        target = found(Agent.objects.select_for_update(skip_locked=True).filter(pk=agent_id))
        if target is not None and routing.eligible_for(session, target):
            return target
    raise ServiceError(f"nobody in skill group {group.name} is free to consult")


def accept(session: Session, agent: Agent, consult: Consult) -> None:
    """The consulted agent answers (their `accept`, rows locked by the caller): the two agents talk, the customer
    still hears music."""
    if consult.stage != "ringing":
        raise ServiceError(f"the consult on session {session.pk} is already accepted")
    consult.stage, consult.accept_at, consult.offer_deadline = "talking", timezone.now(), None
    consult.save(update_fields=["stage", "accept_at", "offer_deadline"])
    timeline.log(session, f"{agent.user_id} answered the consult of {consult.by_agent.user_id}")
    publish(agent.pk, "userAccessed", sessionId=session.pk)
    _changed(session, consult.by_agent, agent)


def set_muted(session: Session, consult: Consult, muted: bool) -> None:
    """The consulted agent mutes or unmutes their microphone (their `Call.muteMic`, rows locked by the caller),
    once they have answered: nobody hears them while muted, and they stay muted if the call is handed to them."""
    if consult.stage != "talking":
        raise ServiceError(f"the consult on session {session.pk} has not been answered yet")
    if consult.muted == muted:
        raise ServiceError(f"the microphone is {'already muted' if muted else 'not muted'}")
    consult.muted = muted
    consult.save(update_fields=["muted"])
    timeline.log(session, f"{consult.agent.user_id}: {'muteMic' if muted else 'unmuteMic'}")
    _changed(session, consult.agent)


def hang_up(session: Session, agent: Agent, consult: Consult) -> None:
    """The consulted agent hangs up (their `hungUp`): a ringing consult is declined; one in progress is left. The
    customer is back with the consulting agent: on hold after a private consult, talking after a conference."""
    if consult.stage == "ringing":
        _close(session, consult, "declined", hold=True)
        timeline.log(session, f"{agent.user_id} declined the consult; the customer stays on hold")
    else:
        _close(session, consult, "left", hold=not consult.conference)
        timeline.log(session, f"{agent.user_id} left the consult" + (
            "; the call goes on" if consult.conference else "; the customer stays on hold"))


def complete(agent_id: int, session_id: str) -> None:
    """Complete the transfer: the customer is bridged to the consulted agent, the consulting agent's part ends."""
    with transaction.atomic():
        agent, session = _serving(agent_id, session_id, "complete a transfer")
        consult = _in_progress(session)
        if consult.stage != "talking":
            raise ServiceError(f"{consult.target} has not answered yet: wait, or cancel the consult")
        transfer(session, agent, consult)


def conference(agent_id: int, session_id: str) -> None:
    """All three hear each other; the customer leaves hold."""
    with transaction.atomic():
        agent, session = _serving(agent_id, session_id, "start a conference")
        consult = _in_progress(session)
        if consult.stage != "talking":
            raise ServiceError(f"{consult.target} has not answered yet: wait, or cancel the consult")
        if consult.conference:
            raise ServiceError("the call is already a conference")
        consult.conference = True
        consult.save(update_fields=["conference"])
        if session.on_hold:
            session.on_hold = False
            session.save(update_fields=["on_hold"])
        timeline.log(session, f"{agent.user_id} made it a conference with {consult.target}")
        _changed(session, agent, consult.agent)


def cancel(agent_id: int, session_id: str) -> None:
    """Back to the customer: the consulted agent's part ends (`sessionEnded`)."""
    with transaction.atomic():
        agent, session = _serving(agent_id, session_id, "cancel a consult")
        consult = _in_progress(session)
        _close(session, consult, "cancelled", hold=False)
        timeline.log(session, f"{agent.user_id} cancelled the consult with {consult.target}")


def dismiss(agent_id: int, session_id: str) -> None:
    """The consulting agent read how the last consult ended: the workbench stops saying so."""
    Consult.objects.filter(session_id=session_id, by_agent_id=agent_id, ended_at__isnull=False).update(seen=True)


def transfer(session: Session, agent: Agent, consult: Consult) -> None:
    """The consulted agent serves the session from now on; ServeParticipants as Tencent records a transfer."""
    if not consult.agent_id:
        _transfer_to_number(session, agent, consult)
        return
    now = timezone.now()
    target = Agent.objects.select_for_update().get(pk=consult.agent_id)
    session.participants.filter(agent=agent, end_at__isnull=True).update(
        outcome="transferred", end_at=now, transfer_to=target.user_id)
    sequence = (session.participants.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    ServeParticipant.objects.create(session=session, agent=target, skill_group=session.skill_group,
                                    sequence=sequence, outcome="accepted", ring_at=consult.ring_at,
                                    accept_at=consult.accept_at, transfer_from=agent.user_id)
    session.agent = target
    session.on_hold = session.video_muted = False
    session.mic_muted = consult.muted  # the colleague's microphone as they left it
    session.save(update_fields=["agent", "on_hold", "mic_muted", "video_muted"])
    _end(consult, "transferred")
    publish(agent.pk, "transfer", sessionId=session.pk,
            skillGroupId=str(consult.skill_group_id or ""), userId=target.user_id)
    timeline.log(session, f"{agent.user_id} transferred it to {target.user_id} after a consult"
                 + (" (conference)" if consult.conference else ""))
    agents.start_after_call_work(agent, session.skill_group.wrap_up_seconds if session.skill_group else 0)
    lifecycle.served_by_another(session, target.nickname or target.user_id)
    _changed(session, agent, target)


def _transfer_to_number(session: Session, agent: Agent, consult: Consult) -> None:
    """The consulted number serves the session from now on: the customer's call goes on with it through the trunk,
    nobody of ours serves it (`session.agent` empty; `media.plan_for` makes the consult's leg side b). Recorded
    as Tencent records a transfer to a number: the agent's row ends `transferred` with TransferTo the number; no
    row for the number (ServeParticipants are the center's agents; SeatUser stays the last agent who served)."""
    session.participants.filter(agent=agent, end_at__isnull=True).update(
        outcome="transferred", end_at=timezone.now(), transfer_to=consult.phone_number)
    session.agent = None
    session.on_hold = session.mic_muted = session.video_muted = False
    session.save(update_fields=["agent", "on_hold", "mic_muted", "video_muted"])
    _end(consult, "transferred")
    publish(agent.pk, "transfer", sessionId=session.pk, skillGroupId="", userId="")
    timeline.log(session, f"{agent.user_id} transferred it to {consult.phone_number} after a consult"
                 + (" (conference)" if consult.conference else ""))
    agents.start_after_call_work(agent, session.skill_group.wrap_up_seconds if session.skill_group else 0)
    _changed(session, agent)


def by_agent_hangs_up(session: Session, agent: Agent, consult: Consult) -> bool:
    """The consulting agent hangs up during a consult: once the consulted agent talks (privately or in
    conference), the other two go on (the transfer completes); a consult still ringing is cancelled and the call
    ends as usual. True when the call goes on."""
    if consult.stage == "talking":
        transfer(session, agent, consult)
        return True
    _close(session, consult, "cancelled", hold=False)
    return False


def session_ended(session: Session) -> None:
    """The call ended (the customer hung up, the system ended it): an open consult ends with it."""
    consult = open_consult(session)
    if consult is not None:
        _end(consult, "ended")
        _tell_ended(session, consult, close_by=session.close_by or "client")
        if consult.agent_id:  # a number's call is hung up with the call's other legs (media.send_plan)
            routing.dispatch_for_agent(Agent.objects.select_for_update().get(pk=consult.agent_id))


def agent_gone(agent: Agent) -> None:
    """The consulted agent went offline (row locked by the caller): their consult ends, the customer is back with
    the consulting agent (on hold after a private consult)."""
    for session_id in Consult.objects.filter(agent=agent, ended_at__isnull=True).values_list("session_id", flat=True):
        session = Session.objects.select_for_update().get(pk=session_id)
        current = consulted_in(session, agent)
        if current is not None:
            _close(session, current, "offline", hold=not current.conference, close_by="admin")
            timeline.log(session, f"{agent.user_id} went offline during the consult")


def sweep_unanswered() -> int:
    """Consults that rang out: ended as not answered, the customer stays on hold (the deadlines' sweeper)."""
    fired = 0
    due = list(Consult.objects.filter(offer_deadline__lte=timezone.now(), ended_at__isnull=True)
               .values_list("session_id", flat=True)[:200])
    for session_id in due:
        with transaction.atomic():
            session = lock_session(session_id, skip_locked=True)
            consult = open_consult(session) if session is not None else None
            if consult is None or consult.stage != "ringing" or consult.offer_deadline > timezone.now():
                continue
            _close(session, consult, "timeout", hold=True, close_by="admin")
            timeline.log(session, f"{consult.target} did not answer the consult; the customer stays on hold")
            fired += 1
    return fired


def _close(session: Session, consult: Consult, outcome: str, *, hold: bool, close_by: str = "seat") -> None:
    """The consult ends without a transfer: the consulted agent's part ends, the customer is back with the
    consulting agent (on hold when `hold`; a cancel keeps the hold the customer had)."""
    _end(consult, outcome)
    if hold and not session.on_hold:
        session.on_hold = True
        session.save(update_fields=["on_hold"])
    _tell_ended(session, consult, close_by)
    _changed(session, consult.by_agent, consult.agent)
    if consult.agent_id:  # a number's call is hung up by the gateway once the plan no longer names its leg
        routing.dispatch_for_agent(Agent.objects.select_for_update().get(pk=consult.agent_id))


def _end(consult: Consult, outcome: str) -> None:
    consult.ended_at, consult.outcome, consult.offer_deadline = timezone.now(), outcome, None
    consult.save(update_fields=["ended_at", "outcome", "offer_deadline"])


def _tell_ended(session: Session, consult: Consult, close_by: str) -> None:
    """The consulted agent's internal call is over: `sessionEnded`, as for an internal call (their leg closes)."""
    if not consult.agent_id:
        return
    talked = round((consult.ended_at - consult.accept_at).total_seconds(), 3) if consult.accept_at else 0.0
    publish(consult.agent_id, "sessionEnded", sessionId=session.pk, type="internal", duration=talked,
            closeBy=close_by)


def _changed(session: Session, *involved: Agent | None) -> None:
    """What follows any consult change: the media plan, the agents' workbenches, the wallboards (statuses)."""
    media.sync(session)
    wallboard_push.changed(session.tenant_id)
    for agent in involved:
        if agent is not None:
            publish_change(agent.pk)


def ending(consult: Consult | None) -> dict | None:
    """How the consulting agent's last consult on a call ended, for the workbench (None: nothing to say)."""
    if consult is None or consult.seen or consult.outcome in ("", "cancelled", "transferred", "ended"):
        return None
    label = dict(Consult.OUTCOMES)[consult.outcome]
    who = (consult.agent.nickname or consult.target) if consult.agent_id else consult.target
    return {"who": who, "outcome": consult.outcome, "label": label}



# A consulted number's call, as the SIP gateway reports it (media/phone_gateway.py, through `Decisions`). Each
# names the consult it is about: a report that comes late, once that consult ended, changes nothing.

def phone_answered(session_id: str, consult_id: int) -> None:
    """The number answered: the agent talks with it, the customer still hears music."""
    with transaction.atomic():
        session, consult = _phone_consult(session_id, consult_id)
        if consult is None or consult.stage != "ringing":
            return
        consult.stage, consult.accept_at, consult.offer_deadline = "talking", timezone.now(), None
        consult.save(update_fields=["stage", "accept_at", "offer_deadline"])
        timeline.log(session, f"{consult.phone_number} answered the consult of {consult.by_agent.user_id}")
        _changed(session, consult.by_agent)


def phone_failed(session_id: str, consult_id: int, end_status: str) -> None:
    """The number's call could not be placed or was not answered (busy, rejected, not answered, unreachable: the
    gateway's end status, as an outbound call's): the consult ends, the customer stays on hold, the agent is
    told why."""
    with transaction.atomic():
        session, consult = _phone_consult(session_id, consult_id)
        if consult is None:
            return
        outcome = PHONE_OUTCOMES.get(end_status, "unreachable")
        _close(session, consult, outcome, hold=True, close_by="admin" if outcome == "unreachable" else "client")
        timeline.log(session, f"the consult call to {consult.phone_number} failed ({end_status}); the customer "
                              f"stays on hold")


def phone_call_ended(session: Session, consult_id: int, how: str) -> bool:
    """The number's call ended without our asking (session row locked by the caller, `telephony.consult_call_ended`):
    `how` is "remote" (it hung up) or the end status of a line our side lost. During the consult only the consult
    ends (the customer back on hold; after a conference the call goes on between the other two). True when the
    number had been handed the call: the session ends with it."""
    consult = open_consult(session)
    if consult is not None and consult.pk == consult_id:
        outcome = "left" if how == "remote" else "unreachable"
        _close(session, consult, outcome, hold=not consult.conference, close_by="client")
        timeline.log(session, f"{consult.phone_number} hung up the consult" if how == "remote" else
                     f"the consult call to {consult.phone_number} was lost ({how})")
        return False
    handed = Consult.objects.filter(pk=consult_id, session=session, outcome="transferred",
                                    agent__isnull=True).exists()
    return handed and session.state == "active" and not session.agent_id


def _phone_consult(session_id: str, consult_id: int) -> tuple[Session | None, Consult | None]:
    session = lock_session(session_id)
    consult = open_consult(session) if session is not None and session.state != "ended" else None
    if consult is None or consult.pk != consult_id or consult.agent_id:
        return session, None
    return session, consult
