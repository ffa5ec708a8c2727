"""Calls the server places for an agent (the cloud API's CreateCallOutSession, Tencent's two-leg call): the agent
is rung first, with a `callIn`; once they accept, the customer is dialled through the trunk and the call goes on
as one the agent placed with `startOutboundCall` (`sessions.start_outbound_call`): `callOuted`, then
`calloutAccepted` when the customer answers, the same hang-ups, CDR and media (the agent's leg is the call's
from the ring on: `media.plan_for` bridges an outbound call's `caller_agent`).

While it rings the agent the session is `ringing`, placed by the agent (`caller_agent`), not dialled, and the
agent's serving record (`ServeParticipant`) is still `ringing`: that record accepted is what tells the agent's
ring from the customer's. A ring nobody accepts ends as notAnswer (the sweeper's `offer_deadline`, as for every
outbound call); the agent's hang-up cancels it (`sessions.hang_up`: callerCancel, as for a call they placed).
"""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..domain import phone as rules
from ..models import Agent, ServeParticipant, Session, Tenant, found
from . import dialing, lifecycle, phone, routing, telephony, timeline
from .endings import end_session
from .errors import NotFound, ServiceError
from .events import publish
from .payloads import call_in

AGENT_RING_SECONDS = routing.INTERNAL_RING_TIMEOUT  # as an internal call rings


class NotOurNumber(ServiceError):
    """A caller number that is not one of the tenant's: the request named a wrong value."""


def ring_agent_then_dial(tenant: Tenant, *, user_id: str, callee: str, callers: list[str], uui: str = "") -> str:
    """Ring agent `user_id` for a call to `callee` from the first of `callers` (each must be the tenant's; none:
    the agent's default caller number) and answer the session's id. Refused, with nothing created, when the agent
    is unknown, offline or on a call, a caller number is not the tenant's, no trunk can dial, or outside the
    tenant's calling hours and per-number limits."""
    agent = found(Agent.objects.select_for_update().select_related("tenant").filter(tenant=tenant, user_id=user_id))
    if agent is None:
        raise NotFound(f"no agent {user_id!r}")
    if agent.status == "offline":
        raise ServiceError(f"agent {user_id} is offline")
    if routing.has_call(agent):
        raise ServiceError(f"agent {user_id} is already on a call")
    numbers = phone.caller_numbers_for(agent)
    strangers = [number for number in callers if number not in numbers.offered]
    if strangers:
        raise NotOurNumber(f"{strangers[0]} is not one of this center's numbers")
    caller = callers[0] if callers else next(iter(numbers.defaults), "")
    if not caller:
        raise ServiceError("no caller number: none given, and no skill group or number group has one")
    number = rules.digits(callee)
    if phone.trunk_for(tenant) is None or not dialing.gateway_running():
        raise ServiceError("no SIP trunk is configured to dial the customer through")
    phone.check_outbound(tenant, number, shown=callee)
    session = Session(tenant=tenant, type="phone", direction="out", caller_agent=agent, callee_phone_number=number,
                      caller_phone_number=caller, uui=uui)
    phone.protect(session)
    now = timezone.now()
    session.offer_deadline = now + timedelta(seconds=AGENT_RING_SECONDS)
    seen = phone.as_agents_see(session)
    lifecycle.place(session, f"call out to {seen.callee_phone_number or seen.protected_callee} from {caller}: "
                             f"ringing {agent.user_id} first")
    ServeParticipant.objects.create(session=session, agent=agent, sequence=1, ring_at=now)
    agent.last_offered_at = now
    agent.save(update_fields=["last_offered_at"])
    publish(agent.pk, "callIn", **call_in(session, AGENT_RING_SECONDS))
    return session.id


def awaits(session: Session, agent: Agent) -> bool:
    """Whether `session` is a call out still ringing `agent` (not yet dialled)."""
    return (session.state == "ringing" and session.type == "phone" and session.direction == "out"
            and session.caller_agent_id == agent.pk
            and session.participants.filter(agent=agent, outcome="ringing").exists())


def agent_accepted(session: Session, agent: Agent) -> None:
    """The agent took the call out (`awaits` is true, rows locked): the customer is dialled through the trunk."""
    session.participants.filter(agent=agent, outcome="ringing").update(outcome="accepted", accept_at=timezone.now())
    trunk = phone.trunk_for(session.tenant)
    if trunk is None or not dialing.gateway_running():
        timeline.log(session, f"{agent.user_id} answered; not dialled: no SIP trunk is configured")
        end_session(session, close_by="admin", end_status="unconnected")
        return
    timeline.log(session, f"{agent.user_id} answered: dialled through trunk {trunk.name}")
    telephony.dial(session, trunk)
