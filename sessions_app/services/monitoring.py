"""A supervisor monitoring a call (issue 19): Listen, Whisper, Barge, Take over, Stop, from the call's monitor
page (`/admin/calls/<session_id>/monitor/`, consumers/call_monitor.py), which the wallboard's live sessions and
the session's admin page open.

The supervisor's browser has a WebRTC leg of its own on the call, `supervisor:{user id}` (`media.supervisor_leg`):
while a `Monitoring` row is open, `media.plan_for` names it in the plan's `monitors` with its mode, so the engine
mixes what each one hears (media/hearing.py): listen hears both, nobody hears it; whisper is heard by the agent
only; barge by everyone. Changing the mode changes the row and re-sends the plan: the leg stays. Taking over makes
that leg the serving side (`b`) in the agent's place (`lifecycle.take_over`): the agent hears `sessionEnded`
and goes to after-call work; a supervisor who is also an agent of the tenant gets the session as theirs in their
workbench, its audio staying on the leg they already have.

Each call takes the supervisor's user id and the session's id, runs in one transaction with the session locked
and is audited like every supervisor action (`supervision.Audit`): started, changed, stopped, taken over, done or
refused. A refusal is a `ServiceError` saying what stands in the way, and nothing is left half done: monitoring
needs the `monitor_calls` permission (the Supervisor role), a call (not a chat) of a tenant the supervisor sees
(another's is "not found"), in progress with an agent; one supervisor barges at a time.
"""
from __future__ import annotations

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Agent, Monitoring, ServeParticipant, Session, found
from . import agents, consult, lifecycle, media, monitor_push, timeline
from .errors import NotFound, ServiceError
from .events import publish, publish_change
from .session_locks import lock_session
from .supervisors import tenants_visible_to
from . import supervision
from .supervision import Audit, audited, may_see, where

MODES = ("listen", "whisper", "barge")
PERMISSION = "sessions_app.monitor_calls"
WORDS = {"listen": "listens", "whisper": "whispers to the agent", "barge": "barges in", "takeover": "took it over"}


class NotAllowed(ServiceError):
    """Refused because the supervisor's account lacks the permission to monitor calls."""


def _allowed(audit: Audit) -> None:
    if not audit.supervisor.has_perm(PERMISSION):
        raise NotAllowed(f"{audit.name} may not monitor calls: an administrator can give the account the "
                         "Supervisor role")


def _call(audit: Audit, session_id) -> Session:
    """The call acted on, locked after its agents, if the supervisor may see it and it is in progress."""
    _allowed(audit)
    session = lock_session(session_id) if isinstance(session_id, str) and 0 < len(session_id) <= 64 else None
    if session is None or not may_see(audit, session.tenant_id):
        raise NotFound(f"no session {str(session_id)[:64]!r}")
    audit.found(str(session), session.tenant_id)
    audit.details.setdefault("state", session.state)
    if session.type not in media.MEDIA_TYPES:
        raise ServiceError(f"session {session.id[:8]} is a {session.get_type_display().lower()}, not a call: "
                           "a chat is watched instead")
    if session.state == "ended":
        raise ServiceError(f"call {session.id[:8]} has ended")
    if session.state != "active" or not (session.agent_id or session.caller_agent_id or session.taken_over_by_id):
        raise ServiceError(f"call {session.id[:8]} is {where(session)}: it is monitored once an agent serves it")
    return session


def _mode(mode) -> str:
    if mode not in MODES:
        raise ServiceError(f"{str(mode)[:20]!r} is no monitoring mode (listen, whisper or barge)")
    return mode


def _open(session: Session) -> list[Monitoring]:
    return list(Monitoring.objects.filter(session=session, ended_at__isnull=True).order_by("pk"))


def _mine(audit: Audit, session: Session) -> Monitoring:
    row = found(Monitoring.objects.select_for_update().filter(session=session, supervisor=audit.supervisor,
                                                              ended_at__isnull=True))
    if row is None:
        raise ServiceError(f"you are not monitoring call {session.id[:8]}")
    return row


def _check_barge(session: Session, mode: str, me) -> None:
    """One supervisor barges (or serves, having taken over) at a time: a second voice would talk over them."""
    if mode != "barge":
        return
    for row in _open(session):
        if row.supervisor_id != me.pk and row.mode in ("barge", "takeover"):
            raise ServiceError(f"{row.supervisor_name} is already {'barging into' if row.mode == 'barge' else 'serving'}"
                               f" call {session.id[:8]}: one supervisor barges at a time")


def _changed(session: Session) -> None:
    """The call's media, its monitor pages and its agent's workbench (the "being monitored" mark) follow."""
    media.sync(session)
    monitor_push.on_commit(session.pk)
    for agent_id in {session.agent_id, session.caller_agent_id} - {None}:
        publish_change(agent_id)


def start(*, supervisor_id, session_id, mode, page: str = "") -> dict:
    """Start monitoring a call in `mode` (listen, whisper or barge) from the monitor page `page`; the supervisor's
    leg then connects (`open_leg`). Returns where the call stands (`describe`).

    A supervisor already monitoring the call from another page (the same page reloaded, before the old one's
    socket was seen to close) moves the monitoring to this page: its leg is offered again, in `mode` (a call they
    took over stays theirs); the old page's closing then changes nothing (`page_closed`)."""
    def act(audit: Audit) -> None:
        chosen = _mode(mode)
        session = _call(audit, session_id)
        mine = next((row for row in _open(session) if row.supervisor_id == audit.supervisor.pk), None)
        if mine is not None and (not page or mine.page == page):
            raise ServiceError(f"you are already monitoring call {session.id[:8]}: change the mode instead")
        if mine is None or mine.mode != "takeover":
            _check_barge(session, chosen, audit.supervisor)
        if mine is None:
            Monitoring.objects.create(session=session, supervisor=audit.supervisor, supervisor_name=audit.name,
                                      leg=media.supervisor_leg(audit.supervisor.pk), mode=chosen, page=page)
        else:
            audit.details["movedFrom"] = mine.mode
            mine.page, mine.mode = page, (mine.mode if mine.mode == "takeover" else chosen)
            mine.save(update_fields=["page", "mode"])
            chosen = mine.mode
        timeline.log(session, f"supervisor {audit.name} {WORDS[chosen]}")
        _changed(session)

    audited(Audit("monitor_call", supervisor_id, "session", session_id, {"mode": str(mode)[:20]}), act)
    return describe(session_id, supervisor_id)


def change_mode(*, supervisor_id, session_id, mode) -> dict:
    """Listen, whisper or barge from now on, on the same leg."""
    def act(audit: Audit) -> None:
        chosen = _mode(mode)
        session = _call(audit, session_id)
        row = _mine(audit, session)
        if row.mode == "takeover":
            raise ServiceError(f"you serve call {session.id[:8]}: end it to leave")
        audit.details["from"] = row.mode
        if row.mode == chosen:
            return
        _check_barge(session, chosen, audit.supervisor)
        row.mode = chosen
        row.save(update_fields=["mode"])
        timeline.log(session, f"supervisor {audit.name} {WORDS[chosen]}")
        _changed(session)

    audited(Audit("monitoring_mode", supervisor_id, "session", session_id, {"mode": str(mode)[:20]}), act)
    return describe(session_id, supervisor_id)


def stop(*, supervisor_id, session_id) -> None:
    """Stop monitoring: the supervisor's leg leaves the call (the engine closes a leg the plan no longer names)."""
    def act(audit: Audit) -> None:
        _allowed(audit)
        session = lock_session(session_id) if isinstance(session_id, str) and 0 < len(session_id) <= 64 else None
        if session is None or not may_see(audit, session.tenant_id):
            raise NotFound(f"no session {str(session_id)[:64]!r}")
        audit.found(str(session), session.tenant_id)
        row = _mine(audit, session)
        if row.mode == "takeover":
            raise ServiceError(f"you serve call {session.id[:8]}: end it to leave")
        audit.details["mode"] = row.mode
        row.ended_at = timezone.now()
        row.save(update_fields=["ended_at"])
        timeline.log(session, f"supervisor {audit.name} stopped monitoring")
        _changed(session)

    audited(Audit("stop_monitoring", supervisor_id, "session", session_id, {}), act)


def take_over(*, supervisor_id, session_id) -> dict:
    """Serve the call in the agent's place, through the supervisor's leg (they must be monitoring it): the agent's
    leg leaves, the agent hears `sessionEnded` (closeBy admin) and starts after-call work. A supervisor who is
    also an agent of the call's tenant gets it in their workbench as theirs."""
    def act(audit: Audit) -> None:
        session = _call(audit, session_id)
        row = _mine(audit, session)
        if session.taken_over_by_id is not None:
            who = "you" if session.taken_over_by_id == audit.supervisor.pk else session.taken_over_by.get_username()
            raise ServiceError(f"call {session.id[:8]} has already been taken over by {who}")
        if session.agent_id is None:
            raise ServiceError(f"call {session.id[:8]} is a call an agent placed: it is taken over only from the "
                               "agent serving a customer's call")
        if consult.open_consult(session) is not None:
            raise ServiceError(f"call {session.id[:8]} is in a consult: take it over once the agent has completed, "
                               "conferenced or cancelled it")
        _check_barge(session, "barge", audit.supervisor)
        audit.details.update({"fromAgent": session.agent.user_id, "mode": row.mode})
        row.mode = "takeover"
        row.save(update_fields=["mode"])
        agent = lifecycle.take_over(session, audit.supervisor, audit.name, leg=row.leg)
        agent = agents.locked_agent(agent.pk)
        agents.start_after_call_work(agent, session.skill_group.wrap_up_seconds if session.skill_group else 0)
        _to_own_workbench(session, audit.supervisor)
        _changed(session)

    audited(Audit("take_over_call", supervisor_id, "session", session_id, {}), act)
    return describe(session_id, supervisor_id)


def _to_own_workbench(session: Session, supervisor) -> None:
    """An agent-supervisor (an agent of the call's tenant on the same account) serves the call taken over as
    theirs: the session is their agent's, listed in their workbench, ended from there as any of their calls."""
    agent = found(Agent.objects.select_for_update().filter(account=supervisor, tenant_id=session.tenant_id))
    if agent is None:
        return
    now = timezone.now()
    sequence = (session.participants.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    ServeParticipant.objects.create(session=session, agent=agent, skill_group=session.skill_group, sequence=sequence,
                                    ring_at=now, accept_at=now, outcome="accepted")
    session.agent = agent
    session.save(update_fields=["agent"])
    publish(agent.pk, "userAccessed", sessionId=session.id)


def page_closed(*, supervisor_id: int, session_id: str, page: str) -> bool:
    """The monitor page `page` closed (its socket went): the supervisor stops monitoring, or ends the call they
    took over, so that no leg is left in a call nobody's page plays. Nothing happens when another page of theirs
    holds the monitoring now (the page reloaded) or when they no longer monitor it; a monitoring no page holds
    ends with any of theirs. True when the monitoring ended here (the leg is then to be closed)."""
    with transaction.atomic():
        row = found(Monitoring.objects.filter(Q(page=page) | Q(page=""), session_id=session_id,
                                              supervisor_id=supervisor_id, ended_at__isnull=True))
    if row is None:
        return False
    try:
        if row.mode == "takeover":
            supervision.end_session(supervisor_id=supervisor_id, session_id=session_id)
        else:
            stop(supervisor_id=supervisor_id, session_id=session_id)
    except ServiceError:
        return False  # the call ended meanwhile: nothing to undo
    return True


def describe(session_id: str, supervisor_id=None) -> dict:
    """Where a monitored call stands, for the monitor page: its state, parties, who monitors it and how, and this
    supervisor's own mode ("" when not monitoring)."""
    session = Session.objects.select_related("agent", "caller_agent", "taken_over_by", "skill_group").get(pk=session_id)
    rows = list(Monitoring.objects.filter(session=session, ended_at__isnull=True).order_by("pk"))
    mine = next((row.mode for row in rows if supervisor_id is not None and row.supervisor_id == supervisor_id), "")
    agent = session.agent or (session.caller_agent if session.type != "internal" else None)
    return {
        "sessionId": session.id, "state": session.state, "type": session.type,
        "typeLabel": session.get_type_display(), "tenantId": session.tenant_id,
        "customer": _customer(session), "agent": (agent.nickname or agent.user_id) if agent else "",
        "takenOverBy": session.taken_over_by.get_username() if session.taken_over_by else "",
        "skillGroup": session.skill_group.name if session.skill_group else "",
        "acceptedAt": int(session.accepted_at.timestamp() * 1000) if session.accepted_at else None,
        "closeBy": session.close_by, "endStatus": session.end_status, "mode": mine,
        "monitors": [{"supervisor": row.supervisor_name, "mode": row.mode} for row in rows],
        "onHold": session.on_hold,
    }


def _customer(session: Session) -> str:
    if session.type == "phone":
        number = session.callee_phone_number if session.direction == "out" else session.caller_phone_number
        return number or "Phone caller"
    if session.type == "internal":
        return (session.caller_agent.nickname or session.caller_agent.user_id) if session.caller_agent else "Colleague"
    return session.nickname or session.customer_user_id or "Web caller"


def visible_call(user, session_id: str) -> dict | None:
    """The call as `describe` shows it, if `user` may monitor calls and see this one (a call of a tenant they
    see); None otherwise. For the page itself: the socket's actions check (and audit) the same again."""
    if not user.has_perm(PERMISSION):
        return None
    session = found(Session.objects.filter(pk=str(session_id)[:64], type__in=media.MEDIA_TYPES,
                                           tenant__in=tenants_visible_to(user)).only("pk"))
    return describe(session.pk, user.pk) if session is not None else None


def monitored(session_ids) -> set[str]:
    """Of these sessions, those a supervisor listens to, whispers in or barges into now, in tenants that show it
    to their agents (the workbench's "Being monitored")."""
    return set(Monitoring.objects.filter(session_id__in=list(session_ids), ended_at__isnull=True,
                                         session__tenant__show_monitoring=True)
               .exclude(mode="takeover").values_list("session_id", flat=True))


# The supervisor's media leg.

def _leg_allowed(supervisor_id: int, session_id: str) -> str:
    """The supervisor's leg, if they monitor the call now (their row is open): what `media.open_leg` may answer."""
    if not Monitoring.objects.filter(session_id=str(session_id)[:64], supervisor_id=supervisor_id,
                                     ended_at__isnull=True).exists():
        raise ServiceError(f"you are not monitoring call {str(session_id)[:8]}: choose Listen, Whisper or Barge first")
    return media.supervisor_leg(supervisor_id)


async def open_leg(*, supervisor_id: int, session_id: str, sdp: str) -> dict:
    """Answer the supervisor's WebRTC offer for their leg of a call they monitor: {"sdp": the answer}. A leg
    that cannot be connected stops the monitoring, so the call is left as it was."""
    leg = await database_sync_to_async(_leg_allowed)(supervisor_id, session_id)
    try:
        return await media.open_leg(session_id, leg, sdp)
    except ServiceError:
        await database_sync_to_async(_give_up)(supervisor_id, session_id)
        raise


def _give_up(supervisor_id: int, session_id: str) -> None:
    with transaction.atomic():
        session = lock_session(session_id)
        if session is None:
            return
        closed = Monitoring.objects.filter(session=session, supervisor_id=supervisor_id, ended_at__isnull=True,
                                           mode__in=MODES).update(ended_at=timezone.now())
        if closed:
            timeline.log(session, "a supervisor's leg could not connect: monitoring stopped")
            _changed(session)


async def close_leg(*, supervisor_id: int, session_id: str) -> None:
    await media.close_leg(session_id, media.supervisor_leg(supervisor_id))
