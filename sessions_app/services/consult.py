"""Consult transfer and three-way calls: during a call the serving agent holds the customer (music) and calls a
colleague, privately; then completes the transfer, makes it a conference, or goes back to the customer.

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

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..domain import routing as policy
from ..models import Agent, Consult, ServeParticipant, Session, SkillGroup, found
from . import agents, media, routing, timeline, wallboard_push
from .errors import NotFound, ServiceError
from .events import publish, publish_change
from .session_locks import lock_session

CONSULT_TYPES = ("phone", "voip")  # audio calls: the consulted agent's leg is audio only
RING_TIMEOUT = routing.INTERNAL_RING_TIMEOUT


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


def _skill_group(tenant_id: int, skill_group_id: str) -> SkillGroup:
    group = None
    if re.fullmatch(r"\d{1,18}", str(skill_group_id)):
        group = found(SkillGroup.objects.filter(tenant_id=tenant_id, pk=int(skill_group_id)))
    if group is None:
        raise NotFound(f"no skill group {skill_group_id!r}")
    return group


def _in_progress(session: Session) -> Consult:
    consult = open_consult(session)
    if consult is None:
        raise ServiceError("no consult is in progress on this call")
    return consult


def start(agent_id: int, session_id: str, *, user_id: str = "", skill_group_id: str = "",
          phone_number: str = "") -> dict:
    """Hold the customer (music) and ring the consulted party: an agent, or one free agent of a skill group (by the
    group's routing rules); a phone number is refused (`_refuse_phone_number` says why). Returns {"consultId", "userId"} (the agent rung)."""
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
            _refuse_phone_number(session, phone_number)
        group = _skill_group(agent.tenant_id, skill_group_id) if skill_group_id else None
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


def _refuse_phone_number(session: Session, phone_number: str) -> None:
    """The SIP gateway (media/phone_gateway.py) carries one dialog per call, keyed by the session, as the call's
    `phone` leg: on a phone call the customer is on it; on a web call a consult dialled out would be the whole
    call to it (a busy or unanswered number, or the far end hanging up, ends the customer's call too, and
    cancelling cannot hang up that leg alone). Until the gateway carries a consult leg, a number is refused."""
    if session.type == "phone":
        raise ServiceError("consulting a phone number on a phone call is not possible: the media engine carries one "
                           "trunk leg per call, and the customer is on it; consult an agent or a skill group")
    raise ServiceError(f"consulting a phone number ({phone_number}) is not possible yet: the SIP gateway cannot "
                       f"carry a consult leg beside the customer; consult an agent or a skill group")


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
    if consult.state != "ringing":
        raise ServiceError(f"the consult on session {session.pk} is already accepted")
    consult.state, consult.accept_at, consult.offer_deadline = "talking", timezone.now(), None
    consult.save(update_fields=["state", "accept_at", "offer_deadline"])
    timeline.log(session, f"{agent.user_id} answered the consult of {consult.by_agent.user_id}")
    publish(agent.pk, "userAccessed", sessionId=session.pk)
    _changed(session, consult.by_agent, agent)


def hang_up(session: Session, agent: Agent, consult: Consult) -> None:
    """The consulted agent hangs up (their `hungUp`): a ringing consult is declined; one in progress is left. The
    customer is back with the consulting agent: on hold after a private consult, talking after a conference."""
    if consult.state == "ringing":
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
        if consult.state != "talking":
            raise ServiceError(f"{consult.target} has not answered yet: wait, or cancel the consult")
        transfer(session, agent, consult)


def conference(agent_id: int, session_id: str) -> None:
    """All three hear each other; the customer leaves hold."""
    with transaction.atomic():
        agent, session = _serving(agent_id, session_id, "start a conference")
        consult = _in_progress(session)
        if consult.state != "talking":
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
    now = timezone.now()
    target = Agent.objects.select_for_update().get(pk=consult.agent_id)
    session.participants.filter(agent=agent, end_at__isnull=True).update(
        outcome="transferred", end_at=now, transfer_to=target.user_id)
    sequence = (session.participants.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    ServeParticipant.objects.create(session=session, agent=target, skill_group=session.skill_group,
                                    sequence=sequence, outcome="accepted", ring_at=consult.ring_at,
                                    accept_at=consult.accept_at, transfer_from=agent.user_id)
    session.agent = target
    session.on_hold = session.mic_muted = session.video_muted = False
    session.save(update_fields=["agent", "on_hold", "mic_muted", "video_muted"])
    _end(consult, "transferred")
    publish(agent.pk, "transfer", sessionId=session.pk,
            skillGroupId=str(consult.skill_group_id or ""), userId=target.user_id)
    timeline.log(session, f"{agent.user_id} transferred it to {target.user_id} after a consult"
                 + (" (conference)" if consult.conference else ""))
    agents.start_after_call_work(agent, session.skill_group.wrap_up_seconds if session.skill_group else 0)
    _changed(session, agent, target)


def by_agent_hangs_up(session: Session, agent: Agent, consult: Consult) -> bool:
    """The consulting agent hangs up during a consult: once the consulted agent talks (privately or in
    conference), the other two go on (the transfer completes); a consult still ringing is cancelled and the call
    ends as usual. True when the call goes on."""
    if consult.state == "talking":
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
            if consult is None or consult.state != "ringing" or consult.offer_deadline > timezone.now():
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
    routing.dispatch_for_agent(Agent.objects.select_for_update().get(pk=consult.agent_id))


def _end(consult: Consult, outcome: str) -> None:
    consult.ended_at, consult.outcome, consult.offer_deadline = timezone.now(), outcome, None
    consult.save(update_fields=["ended_at", "outcome", "offer_deadline"])


def _tell_ended(session: Session, consult: Consult, close_by: str) -> None:
    """The consulted agent's internal call is over: `sessionEnded`, as for an internal call (their leg closes)."""
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

