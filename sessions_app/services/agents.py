"""Agent status: connect/disconnect with a grace period, online, setStatus, getStatus, after-call work; a free
agent is offered what waits for them. Going offline, which ends an agent's sessions, is `presence.py`'s."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..domain import agent_state
from ..models import Agent, AgentConnection, AgentStatusChange, Consult, ServeParticipant, Session
from . import processes, routing, tokens, wallboard_push
from .errors import ServiceError
from .events import publish, publish_change
from .media import MEDIA_TYPES
from .payloads import call_in


def locked_agent(agent_id: int) -> Agent:
    return Agent.objects.select_for_update().get(pk=agent_id)


def status_info(agent: Agent) -> dict:
    """getStatus: busy while talking or dialing, not while a call merely rings for the agent."""
    talking = (routing.busy_call_sessions().filter(Q(agent=agent, state="active") | Q(caller_agent=agent)).exists()
               or Consult.objects.filter(agent=agent, stage="talking", ended_at__isnull=True).exists())
    return {
        "status": agent_state.reported_status(agent.status, talking),
        "restReason": agent.rest_reason,
        "statusSince": int(agent.status_since.timestamp()),
    }


def change_status(agent: Agent, status: str, rest_reason: str = "", *, by: str = "system",
                  by_user_id: int | None = None) -> None:
    """Store a status (agent row locked by the caller) and do what it implies (going offline: see presence.py).

    `by` says who made the change for the status history reports read: "agent" (their SDK or workbench),
    "supervisor" (with `by_user_id`, their account) or "system" (deadlines, after-call work)."""
    old = agent.status
    now = timezone.now()
    if (old, agent.rest_reason) != (status, rest_reason):
        _record_change(agent, status, rest_reason, now, by, by_user_id)
    agent.status, agent.rest_reason = status, rest_reason
    if old != status:
        agent.status_since = now
    publish_change(agent.pk)
    wallboard_push.changed(agent.tenant_id)
    agent.arrange_deadline = None if status != "arrange" else agent.arrange_deadline
    if status == "free" and old != "free":
        agent.available_since = now
    agent.save()
    if agent_state.ends_after_call_work(old, status):
        complete_after_call_work(agent)
    if status == "free":
        routing.dispatch_for_agent(agent)


def _record_change(agent: Agent, status: str, rest_reason: str, now, by: str, by_user_id: int | None) -> None:
    """Close the agent's open interval in the history and open the new one."""
    AgentStatusChange.objects.filter(agent=agent, until__isnull=True).update(until=now)
    AgentStatusChange.objects.create(agent=agent, tenant_id=agent.tenant_id, at=now, from_status=agent.status,
                                     to_status=status, rest_reason=rest_reason, by=by, by_user_id=by_user_id)


def complete_after_call_work(agent: Agent, session_id: str | None = None) -> None:
    """Finish after-call work on ended sessions the agent served: fires sessionCompleted for each."""
    pending = ServeParticipant.objects.filter(agent=agent, completed_at__isnull=True, accept_at__isnull=False,
                                              end_at__isnull=False)
    if session_id:
        pending = pending.filter(session_id=session_id)
    pending = list(pending.order_by("pk").values_list("pk", "session_id"))
    if pending:
        ServeParticipant.objects.filter(pk__in=[pk for pk, _ in pending]).update(completed_at=timezone.now())
    for _, session_id in pending:
        publish(agent.pk, "sessionCompleted", sessionId=session_id)


def connect(agent_id: int, channel_name: str, token_generation: int) -> dict:
    """A new SDK connection: cancels the offline grace, brings an offline agent online; answers the welcome.

    The token's generation is checked again with the row locked: a login revoked after the token was read
    (services/logins.py) neither comes online nor stays connected."""
    with transaction.atomic():
        agent = locked_agent(agent_id)
        tokens.check_not_revoked(agent, token_generation)
        processes.heartbeat(force=True)
        AgentConnection.objects.get_or_create(agent=agent, channel_name=channel_name,
                                              defaults={"process_id": processes.PROCESS_ID})
        agent.offline_deadline = None
        agent.save(update_fields=["offline_deadline"])
        if agent.status == "offline":
            change_status(agent, "free", by="agent")
        ringing = ringing_for(agent.pk).select_related("caller_agent")
        offers = [call_in(s, routing.remaining_timeout(s)) for s in ringing]
        offers += [{"sessionId": c.session_id, "type": "internal", "peerUserId": c.by_agent.user_id,
                    "timeout": max(1, round((c.offer_deadline - timezone.now()).total_seconds()))}
                   for c in consults_of(agent.pk).filter(stage="ringing", offer_deadline__isnull=False)]
        info = {"userId": agent.user_id, "nickname": agent.nickname, **status_info(agent)}
        return info, offers, calls_with_media(agent)


def ringing_for(agent_id: int):
    """The sessions ringing for the agent: offers, and calls out the server placed for them that still ring them
    (`callout.py`: the agent placed it, and their serving record is still ringing)."""
    return Session.objects.filter(state="ringing").filter(
        Q(agent_id=agent_id)
        | Q(caller_agent_id=agent_id, participants__agent_id=agent_id, participants__outcome="ringing")).distinct()


def calls_with_media(agent: Agent) -> list[dict]:
    """The web calls whose media this agent's page should carry now: in progress with them, or placed by them
    and still ringing. A page that reloads mid-call reconnects its leg to these (offers ring anew by callIn)."""
    sessions = Session.objects.filter(type__in=MEDIA_TYPES).filter(
        Q(agent=agent, state="active") | Q(caller_agent=agent, state__in=("ringing", "active")))
    calls = [{"sessionId": s.pk, "type": s.type} for s in sessions]
    return calls + [{"sessionId": c.session_id, "type": "internal"}
                    for c in consults_of(agent.pk).filter(stage="talking")]


def consults_of(agent_id: int):
    """The open consults the agent is consulted in (services/consult.py): an internal call to them."""
    return Consult.objects.filter(agent_id=agent_id, ended_at__isnull=True).select_related("by_agent")


def disconnect(agent_id: int, channel_name: str) -> None:
    with transaction.atomic():
        agent = locked_agent(agent_id)
        AgentConnection.objects.filter(channel_name=channel_name).delete()
        if not agent.connections.exists() and agent.status != "offline":
            agent.offline_deadline = timezone.now() + timedelta(seconds=settings.OFFLINE_GRACE)
            agent.save(update_fields=["offline_deadline"])


def online(agent_id: int) -> None:
    with transaction.atomic():
        agent = locked_agent(agent_id)
        if agent.status == "offline":
            change_status(agent, "free", by="agent")


def set_status(agent_id: int, status: str, rest_reason: str | None = None) -> None:
    with transaction.atomic():
        agent = locked_agent(agent_id)
        try:
            new_status, reason = agent_state.next_status(agent.status, status, rest_reason)
        except agent_state.StatusChangeRefused as refused:
            raise ServiceError(str(refused)) from None
        change_status(agent, new_status, reason, by="agent")


def get_status(agent_id: int) -> dict:
    return status_info(Agent.objects.get(pk=agent_id))


def start_after_call_work(agent: Agent, wrap_up_seconds: int) -> None:
    """After a call: arrange for the wrap-up time (then free), or straight to completed when there is none."""
    if agent.status == "arrange":
        return  # already in after-call work; it completes when that ends
    if agent.status != "free":
        complete_after_call_work(agent)
        return
    if wrap_up_seconds <= 0:
        complete_after_call_work(agent)
        agent.available_since = timezone.now()
        agent.save(update_fields=["available_since"])
        routing.dispatch_for_agent(agent)
        return
    change_status(agent, "arrange")
    agent.arrange_deadline = timezone.now() + timedelta(seconds=wrap_up_seconds)
    agent.save(update_fields=["arrange_deadline"])


def end_after_call_work(agent_id: int) -> None:
    """The wrap-up deadline passed: back to free."""
    agent = locked_agent(agent_id)
    if agent.status == "arrange":
        change_status(agent, "free")
