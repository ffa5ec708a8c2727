"""The one writer of a session's state. Every move between states (`domain/session_state.py`) happens here,
together with the columns and serving records (`ServeParticipant`) that go with it, its line in the session's
timeline, the CDR when it ends, and what it tells: the agents' SDK events at the move, and once the transaction
commits, one notification per session (`Moved`) that brings its media in line and tells its web customer where
it stands now; and the tenant's wallboards hear that something moved (`wallboard_push.py`, once per
transaction).

A move runs inside the caller's transaction, on a row the caller has locked (or a new one). What a move means
for agents' statuses (after-call work, an agent it frees offered the next session) is done by `endings.py` and
`routing.py` under the same locks, not after the commit: a freed agent must be offered the next session before
another process can see them free.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Case, Value, When
from django.utils import timezone

from ..domain import session_state
from ..models import Agent, Monitoring, ServeParticipant, Session, SkillGroup
from . import cdr, media, monitor_push, recordings, timeline, visitors, wallboard_push
from .commit_hooks import once_per_transaction
from .events import publish
from .payloads import call_in, duration


def _move(session: Session, new: str, **columns) -> str:
    """Check the move, set the state and `columns` on the row in hand; returns the state it left. The caller
    saves (a new row whole, an existing one with the columns it changed)."""
    old = session_state.NEW if session._state.adding else session.state
    session_state.check_move(old, new)
    session.state = new
    for name, value in columns.items():
        setattr(session, name, value)
    wallboard_push.changed(session.tenant_id)
    return old


def open_in_ivr(session: Session, deadline: datetime, note: str) -> None:
    """A new phone call enters the IVR, which it must leave by `deadline`."""
    _move(session, "ivr", ivr_deadline=deadline)
    session.save()
    timeline.log(session, note)


def queue(session: Session, skill_group: SkillGroup, note: str = "") -> None:
    """Into the group's queue (new, from the IVR, or transferred to a group), waiting from now."""
    now = timezone.now()
    wait = timedelta(seconds=skill_group.max_queue_wait) if skill_group.max_queue_wait else None
    old = _move(session, "queued", skill_group=skill_group, agent=None, offer_deadline=None, queued_at=now,
                queue_deadline=now + wait if wait else None)
    session.save()
    timeline.log(session, f"queued in {skill_group.name}{note}")
    _moved(session, old)


def offer(session: Session, agent: Agent, timeout: int, note: str = "") -> None:
    """Ring `agent` with `session` (queued, or a new internal call, which `note` describes): callIn now, and an
    offer deadline unless the timeout is 0."""
    now = timezone.now()
    transfer_from, first_offer = session.transferred_by, session.ring_at is None
    adding = session._state.adding
    old = _move(session, "ringing", agent=agent, ring_at=session.ring_at or now,
                offer_deadline=now + timedelta(seconds=timeout) if timeout else None)
    if adding:
        session.save()
    else:
        session.save(update_fields=["state", "agent", "ring_at", "offer_deadline"])
    if note:
        timeline.log(session, note)
    agent.last_offered_at = now
    agent.save(update_fields=["last_offered_at"])
    sequence = 1 if first_offer else (
        session.participants.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    ServeParticipant.objects.create(session=session, agent=agent, skill_group=session.skill_group,
                                    sequence=sequence, ring_at=now, transfer_from=transfer_from)
    by = f" (transferred by {transfer_from})" if transfer_from else ""
    timeline.log(session, f"offered to {agent.user_id}{by}")
    publish(agent.pk, "callIn", **call_in(session, timeout))
    _moved(session, old)


def withdraw(session: Session, outcome: str) -> None:
    """The ringing agent did not take the session (`outcome`: timeout, rejected, cancelled): back in its queue,
    keeping its place (queued_at). An offer that timed out or was taken back (the agent went offline, a supervisor
    moved the session) stops ringing for the agent with `autoTransfer`: it went on without them."""
    agent = session.agent
    session.participants.filter(agent=agent, outcome="ringing").update(outcome=outcome, end_at=timezone.now())
    old = _move(session, "queued", agent=None, offer_deadline=None)
    session.save(update_fields=["state", "agent", "offer_deadline"])
    timeline.log(session, f"{agent.user_id}: {dict(ServeParticipant.OUTCOMES).get(outcome, outcome)}")
    if outcome in ("timeout", "cancelled"):
        publish(agent.pk, "autoTransfer", sessionId=session.id)
    _moved(session, old)


def place(session: Session, note: str) -> None:
    """A new call an agent places (outbound, or internal to a mobile) rings the far end from now."""
    _move(session, "ringing", ring_at=timezone.now())
    session.save()
    timeline.log(session, note)


def accept(session: Session, agent: Agent) -> bool:
    """The ringing agent takes the session. False when another transaction took or ended it first: a
    conditional update, so of two accepts racing for one offer exactly one wins."""
    now = timezone.now()
    session_state.check_move(session.state, "active")
    columns = {"state": "active", "accepted_at": session.accepted_at or now, "offer_deadline": None,
               "queue_deadline": None, "transferred_by": ""}
    if not Session.objects.filter(pk=session.pk, state="ringing", agent=agent).update(**columns):
        return False
    for name, value in columns.items():
        setattr(session, name, value)
    wallboard_push.changed(session.tenant_id)
    session.participants.filter(agent=agent, outcome="ringing").update(outcome="accepted", accept_at=now)
    timeline.log(session, f"accepted by {agent.user_id}")
    publish(agent.pk, "userAccessed", sessionId=session.id)
    if session.caller_agent_id and session.type == "internal":
        publish(session.caller_agent_id, "userAccessed", sessionId=session.id)
    _moved(session, "ringing", agent_nickname=agent.nickname or agent.user_id)
    return True


def answer(session: Session) -> None:
    """The far end of a call placed through the trunk answered."""
    old = _move(session, "active", accepted_at=timezone.now(), offer_deadline=None)
    session.save(update_fields=["state", "accepted_at", "offer_deadline"])
    timeline.log(session, "answered")
    publish(session.caller_agent_id, "userAccessed" if session.type == "internal" else "calloutAccepted",
            sessionId=session.id)
    _moved(session, old)


def hand_over(session: Session, agent: Agent, *, user_id: str = "", skill_group: SkillGroup | None = None,
              by: str = "") -> None:
    """The first half of a transfer of the serving agent's session, to the agent `user_id` or to `skill_group`,
    by the agent or (`by`) a supervisor: the agent's part ends and the call's hold and mutes are lifted. The
    caller then offers the session to the agent (`offer`) or queues it in the group (`queue`), which moves it on."""
    session.participants.filter(agent=agent, end_at__isnull=True).update(
        outcome="transferred", end_at=timezone.now(), transfer_to=user_id or f"skillGroup:{skill_group.pk}")
    session.transferred_by = agent.user_id
    session.mic_muted = session.on_hold = session.video_muted = False
    session.save(update_fields=["transferred_by", "mic_muted", "on_hold", "video_muted"])
    publish(agent.pk, "transfer", sessionId=session.id, skillGroupId=str(skill_group.pk) if skill_group else "",
            userId=user_id)
    who = f"{by}, from {agent.user_id}," if by else agent.user_id
    timeline.log(session, f"{who} transferred it to {user_id or skill_group.name}")


def take_over(session: Session, supervisor, name: str, *, leg: str = "") -> Agent | None:
    """A supervisor (`supervisor`, their account; `name`, as logged) takes over the web chat in progress, or a
    call through their own media leg (`leg`, services/monitoring.py): they serve it from now on and the agent
    serving it drops out (their part ends as transferred to the supervisor, and they hear `sessionEnded` with
    `closeBy: 'admin'`, as for a session a supervisor ends; the session stays open, and a call's hold and mute
    are lifted). Returns the agent who served it, whose consequences (after-call work, the next offer) are the
    caller's."""
    agent = session.agent
    now = timezone.now()
    served = round((now - session.accepted_at).total_seconds(), 3) if session.accepted_at else 0.0
    session_state.check_take_over(session.state, session.type, with_leg=bool(leg))
    session.agent, session.taken_over_by = None, supervisor
    session.mic_muted = session.on_hold = session.video_muted = False
    session.save(update_fields=["agent", "taken_over_by", "mic_muted", "on_hold", "video_muted"])
    wallboard_push.changed(session.tenant_id)
    if agent is not None:
        session.participants.filter(agent=agent, end_at__isnull=True).update(
            outcome="transferred", end_at=now, transfer_to=f"supervisor:{name}"[:128])
        publish(agent.pk, "sessionEnded", sessionId=session.id, type=session.type, duration=served, closeBy="admin")
    timeline.log(session, f"taken over by supervisor {name}" + (f" from {agent.user_id}" if agent else ""))
    _moved(session, "active", agent_nickname=name)
    return agent


@dataclass(frozen=True)
class Ending:
    """Whom an ending leaves free or in after-call work: `endings.end_session` carries it on."""
    serving: Agent | None  # the agent it was in progress with
    ringing: Agent | None  # the agent it was ringing for
    caller: Agent | None  # the agent who placed it (outbound, internal)
    accepted: bool
    is_call: bool
    wrap_up_seconds: int


def end(session: Session, close_by: str, end_status: str | None = None) -> Ending:
    """End the session (open, row locked by the caller): every participant's part ends, the agents hear
    `sessionEnded`, the CDR is stored (pushed later by the sweeper, so none is lost with the process)."""
    now = timezone.now()
    serving = session.agent if session.state == "active" else None
    ringing = session.agent if session.state == "ringing" else None
    if end_status is None:
        end_status = session_state.end_status(bool(session.accepted_at), ringing is not None)
    old = _move(session, "ended", ended_at=now, close_by=close_by, end_status=end_status, offer_deadline=None,
                queue_deadline=None, ivr_deadline=None, line_deadline=None)
    session.duration = duration(session)
    session.save()
    session.participants.filter(end_at__isnull=True).update(
        outcome=Case(When(outcome="ringing", then=Value("cancelled")), default=Value("ended")), end_at=now)
    timeline.log(session, f"ended by {dict(Session.CLOSE_BY)[close_by].lower()}: {end_status}")
    Monitoring.objects.filter(session=session, ended_at__isnull=True).update(ended_at=now)  # their legs close
    for agent in {a for a in (session.agent, session.caller_agent) if a}:
        publish(agent.pk, "sessionEnded", sessionId=session.id, type=session.type, duration=session.duration,
                closeBy=close_by)
    _moved(session, old)
    cdr.record(session)
    return Ending(serving, ringing, session.caller_agent, bool(session.accepted_at), session.is_call,
                  session.skill_group.wrap_up_seconds if session.skill_group else 0)


def served_by_another(session: Session, nickname: str) -> None:
    """The session goes on in progress with another agent serving it (a consult's transfer completed): its web
    customer hears who serves it now, as after a blind transfer's accept."""
    _moved(session, "active", agent_nickname=nickname)


class Moved:
    """After commit, for each session moved in the transaction, once and in its final state: its media plan is
    sent (`media.send_plan`, which reads the row afresh) and supervisors monitoring it hear (`monitor_push`), and its web customer hears where it stands
    (`visitors.where_it_stands`): a web call queued and offered in one transaction tells its caller "ringing",
    not "queued" after it. One per transaction (`commit_hooks.once_per_transaction`)."""

    def __init__(self):
        self.sessions: dict[str, tuple[Session, bool, dict]] = {}

    def add(self, session: Session, details: dict) -> None:
        earlier = self.sessions.get(session.pk)
        carried = media.carried(session) or bool(earlier and earlier[1])
        self.sessions[session.pk] = (session, carried, details)

    def __call__(self) -> None:
        for session, carried, details in self.sessions.values():
            if carried:
                media.send_plan(session.pk)
                monitor_push.changed(session.pk)
            visitors.where_it_stands(session, **details)


def _moved(session: Session, old: str, **details) -> None:
    if session.state == "active" and old != "active":
        recordings.start_if_on(session)
    if "queued" in (old, session.state):
        visitors.queue_moved(session)
    once_per_transaction(Moved, lambda hook: hook.add(session, details))
