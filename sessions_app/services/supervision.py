"""What a supervisor does to agents and sessions, from admin or the wallboard: set an agent's status, force them
offline, end a session, transfer it to an agent or a skill group, offer a waiting one to a chosen agent. A tenant's
back office does the first ones through Tencent's cloud API (sessions_app/cloud/control.py) with one of the
tenant's cloud API keys instead of a supervisor's account (`cloud_key_id`): the same checks, the same audit entry
naming the key by its SecretId, and it acts only on the key's own tenant.

Each function takes plain ids (the acting supervisor's user id, an agent's or a session's id) and runs in one
transaction with row locks. It acts only on what the supervisor's tenants hold (`supervisors.tenants_visible_to`;
anything else is "not found", as if it were not there) and on a session only in the state the supervisor saw
(`expected_state`), so a click on a page that is out of date answers what happened meanwhile instead of doing
something else. Every call writes one `AuditEntry`: done, in the action's own transaction; refused, after that
transaction rolled back, so the refusal is kept (call these outside any transaction of the caller's, or a
rollback of the caller's loses it). A refusal is a `ServiceError` (`NotFound` for what is not there or not
theirs) whose message says what stands in the way.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from ..domain import agent_state
from ..models import Agent, AuditEntry, CloudKey, RestReason, Session, SkillGroup, Tenant, found
from . import agents, endings, lifecycle, logins, routing, sessions, timeline
from .errors import NotFound, ServiceError
from .session_locks import lock_session
from .supervisors import tenant_of, tenants_visible_to

STATUSES = ("free", "rest", "notReady")
TRANSFERABLE = ("queued", "ringing", "active")


class Audit:
    """One supervisor call being audited: who acts (a supervisor's account, or a tenant's cloud API key), and what
    on, once the target is found and theirs."""

    def __init__(self, action: str, supervisor_id, target_kind: str, target_id, details: dict, *,
                 cloud_key_id: int | None = None):
        self.action, self.supervisor_id, self.target_kind = action, supervisor_id, target_kind
        self.cloud_key_id = cloud_key_id
        self.target_id, self.details = str(target_id)[:64], details
        self.supervisor = None
        self.cloud_key: CloudKey | None = None
        self.target_label, self.tenant_id = "", None

    def found(self, label: str, tenant_id: int) -> None:
        self.target_label, self.tenant_id = label[:200], tenant_id

    def identify(self) -> None:
        """Find who acts (locked out: a deactivated or tenantless account, a revoked key)."""
        if self.cloud_key_id is not None and self.supervisor_id is not None:
            raise ServiceError("one actor per call: a supervisor's account or a cloud API key, not both")
        if self.cloud_key_id is not None:
            self.cloud_key = found(CloudKey.objects.filter(pk=_pk(self.cloud_key_id) or 0))
            if self.cloud_key is None:
                raise NotFound(f"no cloud API key {self.cloud_key_id!r}")
            if not self.cloud_key.active:  # revoked since the request was let in: refused, naming the key
                raise ServiceError(f"cloud API key {self.cloud_key.secret_id} is revoked")
        else:
            self.supervisor = _supervisor(self.supervisor_id)

    @property
    def name(self) -> str:
        if self.cloud_key is not None:
            return f"cloud API key {self.cloud_key.secret_id}"
        return self.supervisor.get_username() if self.supervisor else ""

    @property
    def supervisor_pk(self) -> int | None:
        return self.supervisor.pk if self.supervisor else None

    def write(self, outcome: str, message: str = "") -> None:
        tenant_id = self.tenant_id
        if tenant_id is None and self.supervisor is not None:
            own = tenant_of(self.supervisor)
            tenant_id = own.pk if own else None
        if tenant_id is None and self.cloud_key is not None:
            tenant_id = self.cloud_key.tenant_id
        AuditEntry.objects.create(
            supervisor=self.supervisor, supervisor_name=self.name, cloud_key=self.cloud_key, action=self.action,
            target_kind=self.target_kind, target_id=self.target_id, target_label=self.target_label,
            tenant_id=tenant_id, details=self.details, outcome=outcome, message=message[:500])


def audited(audit: Audit, act: Callable[[Audit], object]):
    """Run `act` in a transaction as the audit's supervisor (or cloud API key) and write the entry: done with it
    (answering what `act` answers), or refused (after the rollback, so the refusal is kept) with the message the
    caller then hears."""
    try:
        with transaction.atomic():
            audit.identify()
            result = act(audit)
            audit.write("done")
            return result
    except ServiceError as refused:
        audit.write("refused", str(refused))
        raise


def _supervisor(supervisor_id):
    user = found(get_user_model().objects.filter(pk=_pk(supervisor_id) or 0))
    if user is None:
        raise NotFound(f"no account {supervisor_id!r}")
    if not tenants_visible_to(user).exists():
        raise ServiceError(f"{user.get_username()} supervises no tenant")
    return user


def _pk(value) -> int | None:
    """An id as a row's primary key, or None for anything that cannot be one (a crafted id is "not found")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 2 ** 63 else None
    return int(value) if isinstance(value, str) and re.fullmatch(r"[1-9]\d{0,17}", value) else None


def _visible(audit: Audit):
    """The tenants the audit's actor may see and act on: a supervisor's, or a cloud API key's own one."""
    if audit.cloud_key is not None:
        return Tenant.objects.filter(pk=audit.cloud_key.tenant_id)
    return tenants_visible_to(audit.supervisor)


def may_see(audit: Audit, tenant_id: int) -> bool:
    """Whether the audit's supervisor (or key) may see and act on rows of the tenant."""
    return _visible(audit).filter(pk=tenant_id).exists()


@dataclass(frozen=True)
class AgentRef:
    """An agent as a caller names it: by id (admin, the wallboard), or by userId within the tenants the caller
    may see (the cloud API names agents as the SDK does)."""
    agent_id: object = None
    user_id: str | None = None

    def __repr__(self) -> str:
        return repr(self.agent_id if self.user_id is None else self.user_id)

    def __str__(self) -> str:
        return str(self.agent_id if self.user_id is None else self.user_id)


def _agent(audit: Audit, agent_id) -> Agent:
    """The agent acted on, locked, if the supervisor may see it; `agent_id` an id or an `AgentRef`."""
    ref = agent_id if isinstance(agent_id, AgentRef) else AgentRef(agent_id)
    rows = Agent.objects.select_for_update()
    if ref.user_id is None:
        agent = found(rows.filter(pk=_pk(ref.agent_id) or 0))
    else:
        agent = found(rows.filter(user_id=ref.user_id[:128], tenant__in=_visible(audit)).order_by("pk"))
    if agent is None or not may_see(audit, agent.tenant_id):
        raise NotFound(f"no agent {ref!r}")
    if ref.user_id is not None:
        audit.target_id = str(agent.pk)  # found: its id, as admin's audit log links it
    audit.found(agent.user_id, agent.tenant_id)
    return agent


def _session(audit: Audit, session_id, expected_state: str | None) -> Session:
    """The session acted on, locked after its agents (`session_locks.py`: a supervisor and an agent acting on
    one session wait for each other instead of deadlocking), if the supervisor may see it and it is still as
    they saw it."""
    session = None
    if isinstance(session_id, str) and len(session_id) <= 64:
        session = lock_session(session_id)
    if session is None or not may_see(audit, session.tenant_id):
        raise NotFound(f"no session {session_id!r}")
    audit.found(str(session), session.tenant_id)
    audit.details.setdefault("state", session.state)
    if session.state == "ended":
        raise ServiceError(f"session {session.id[:8]} has already ended")
    if expected_state and session.state != expected_state:
        raise ServiceError(f"session {session.id[:8]} has moved on: it is {where(session)} now, not {expected_state}")
    return session


def where(session: Session) -> str:
    """Where a session stands, in words, for a refusal."""
    agent = session.agent.user_id if session.agent else ""
    if not agent and session.taken_over_by_id:
        agent = f"supervisor {session.taken_over_by.get_username()}"
    group = session.skill_group.name if session.skill_group else ""
    return {"ivr": "in the IVR", "queued": f"waiting in {group}'s queue", "ringing": f"ringing for {agent}",
            "active": f"in progress with {agent or 'the far end'}", "ended": "ended"}[session.state]


# Agents.

@dataclass(frozen=True)
class StatusSet:
    """An agent's stored status (and rest reason) before and after `set_agent_status`."""
    previous: str
    previous_reason: str
    status: str
    reason: str


def set_agent_status(*, supervisor_id=None, agent_id, status: str, rest_reason: str = "",
                     cloud_key_id: int | None = None) -> StatusSet:
    """Set an agent's status (free, rest with one of the tenant's rest reasons, notReady), as if they had set it:
    their SDK's getStatus and their workbench show it at once; free may bring them an offer."""
    def act(audit: Audit) -> StatusSet:
        agent = _agent(audit, agent_id)
        if status not in STATUSES:
            raise ServiceError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
        if agent.status == "offline":
            raise ServiceError(f"agent {agent.user_id} is offline: they come online by signing in")
        _check_rest_reason(agent, status, rest_reason)
        previous, previous_reason = agent.status, agent.rest_reason
        new_status, reason = agent_state.next_status(agent.status, status, rest_reason)
        agents.change_status(agent, new_status, reason)
        return StatusSet(previous, previous_reason, new_status, reason)

    return audited(Audit("set_status", supervisor_id, "agent", agent_id,
                         {"status": status, **({"restReason": rest_reason} if rest_reason else {})},
                         cloud_key_id=cloud_key_id), act)


def _check_rest_reason(agent: Agent, status: str, rest_reason: str) -> None:
    if status != "rest":
        if rest_reason:
            raise ServiceError("a rest reason goes only with status rest")
        return
    reasons = list(RestReason.objects.filter(tenant_id=agent.tenant_id).values_list("label", flat=True))
    if rest_reason not in (reasons or [""]):
        raise ServiceError(f"the rest reason must be one of: {', '.join(reasons)}" if reasons
                           else "this tenant has no rest reasons (admin → Rest reasons): rest without one")


def force_offline(*, supervisor_id=None, agent_id, cloud_key_id: int | None = None) -> None:
    """Offline at once, whatever they are doing: sessions in progress end, offers go back to their queues, their
    logins are revoked and their sockets close (`logins.force_offline`)."""
    def act(audit: Audit) -> None:
        agent = _agent(audit, agent_id)
        logins.force_offline(agent.pk, supervisor_id=audit.supervisor_pk)

    audited(Audit("force_offline", supervisor_id, "agent", agent_id, {}, cloud_key_id=cloud_key_id), act)


def restore_online(*, supervisor_id=None, agent_id, cloud_key_id: int | None = None) -> None:
    """Let an agent forced offline sign in again (Tencent's RestoreMemberOnline). A forced offline here revokes
    the logins the agent had and nothing more: a new login token signs them in, so there is nothing to lift.
    Checked and audited all the same (the agent must be there, theirs, and able to sign in), so a back office
    that pairs the two calls sees the same answers as on Tencent's cloud."""
    def act(audit: Audit) -> None:
        agent = _agent(audit, agent_id)
        if not agent.account.is_active:
            raise ServiceError(f"agent {agent.user_id}'s account is deactivated: an administrator activates it")

    audited(Audit("restore_online", supervisor_id, "agent", agent_id, {}, cloud_key_id=cloud_key_id), act)


# Sessions.

def end_session(*, supervisor_id=None, session_id, expected_state: str | None = None,
                cloud_key_id: int | None = None) -> None:
    """End an open session as the system (`closeBy: 'admin'`, the CDR's HungUpSide `system`); its agents hear
    `sessionEnded` and go on as after any ending (after-call work, the next offer)."""
    def act(audit: Audit) -> None:
        session = _session(audit, session_id, expected_state)
        timeline.log(session, f"supervisor {audit.name} ends it")
        endings.end_session(session, close_by="admin")

    audited(Audit("end_session", supervisor_id, "session", session_id, {}, cloud_key_id=cloud_key_id), act)


def transfer_session(*, supervisor_id, session_id, agent_id=None, skill_group_id=None,
                     expected_state: str | None = None) -> None:
    """Move a customer's session to an agent (it rings for them) or to a skill group (it waits in its queue):
    a queued one from its queue, a ringing one from the agent it rings for (their offer stops with
    `autoTransfer`), an active one from the agent serving it (who hears `transfer` and goes on as after their
    own transfer)."""
    def act(audit: Audit) -> None:
        if (agent_id is None) == (skill_group_id is None):
            raise ServiceError("transfer to exactly one of an agent or a skill group")
        session = _session(audit, session_id, expected_state)
        if session.taken_over_by_id is not None:
            raise ServiceError(f"session {session.id[:8]} is served by a supervisor who took it over: they end it")
        if session.state not in TRANSFERABLE:
            raise ServiceError(f"session {session.id[:8]} is {where(session)}: it can be transferred once it waits "
                               "in a queue")
        if session.type == "internal" or session.caller_agent_id:
            raise ServiceError(f"session {session.id[:8]} is a call an agent placed: only customers' sessions are "
                               "transferred")
        target_agent = _target_agent(session, agent_id) if agent_id is not None else None
        target_group = _target_group(session, skill_group_id) if target_agent is None else None
        audit.details.update({"toAgent": target_agent.user_id} if target_agent else {"toSkillGroup": target_group.name})
        by = f"supervisor {audit.name}"
        if session.state == "active":
            sessions.pass_on(session, agents.locked_agent(session.agent_id), target_agent, target_group, by=by)
            return
        timeline.log(session, f"{by} transferred it to {target_agent.user_id if target_agent else target_group.name}")
        ringing = agents.locked_agent(session.agent_id) if session.state == "ringing" else None
        if ringing:
            lifecycle.withdraw(session, "cancelled")
        _ring_or_queue(session, target_agent, target_group, by)
        if ringing:
            routing.dispatch_for_agent(ringing)  # free again: offered what waits for them

    audited(Audit("transfer_session", supervisor_id, "session", session_id, _target_details(agent_id, skill_group_id)),
             act)


def offer_session(*, supervisor_id, session_id, agent_id) -> None:
    """Ring a chosen agent (free, with room for it) with a session waiting in a queue: `callIn` at once; if they
    do not take it, it goes back to its queue and on to the next agent, as any offer."""
    def act(audit: Audit) -> None:
        session = _session(audit, session_id, None)
        if session.state != "queued":
            raise ServiceError(f"session {session.id[:8]} is {where(session)}, not waiting in a queue")
        target = _target_agent(session, agent_id)
        audit.details["toAgent"] = target.user_id
        timeline.log(session, f"supervisor {audit.name} offers it to {target.user_id}")
        _ring_or_queue(session, target, None, f"supervisor {audit.name}")

    audited(Audit("offer_session", supervisor_id, "session", session_id, _target_details(agent_id, None)), act)


def _target_details(agent_id, skill_group_id) -> dict:
    return {"agentId": str(agent_id)[:64]} if agent_id is not None else {"skillGroupId": str(skill_group_id)[:64]}


def _target_agent(session: Session, agent_id) -> Agent:
    """The agent a session goes to, locked: of its tenant, not the one it is with, able to take it now."""
    target = found(Agent.objects.select_for_update().filter(pk=_pk(agent_id) or 0, tenant_id=session.tenant_id))
    if target is None:
        raise NotFound(f"no agent {agent_id!r}")
    if target.pk == session.agent_id:
        raise ServiceError(f"session {session.id[:8]} is already {where(session)}")
    if target.status == "offline":
        raise ServiceError(f"agent {target.user_id} is offline")
    if not target.account.is_active:
        raise ServiceError(f"agent {target.user_id}'s account is deactivated")
    if target.status != "free":
        raise ServiceError(f"agent {target.user_id} is not free (status {target.get_status_display().lower()})")
    if not routing.eligible_for(session, target):
        raise ServiceError(f"agent {target.user_id} cannot take it now: " + (
            "they are on a call" if session.is_call else f"they have as many chats open as they may "
                                                         f"({target.chat_capacity})"))
    return target


def _target_group(session: Session, skill_group_id) -> SkillGroup:
    """The skill group a session goes to: of its tenant, of its kind (calls or chats), someone in it online."""
    group = found(SkillGroup.objects.filter(pk=_pk(skill_group_id) or 0, tenant_id=session.tenant_id))
    if group is None:
        raise NotFound(f"no skill group {skill_group_id!r}")
    if (group.kind == "im") != (session.type == "im"):
        raise ServiceError(f"skill group {group.name} takes {group.get_kind_display().lower()} sessions, "
                           f"not {session.get_type_display().lower()}")
    if session.state == "queued" and group.pk == session.skill_group_id:
        raise ServiceError(f"session {session.id[:8]} already waits in {group.name}'s queue")
    if not Agent.objects.filter(agentskill__skill_group=group).exclude(status="offline").exists():
        raise ServiceError(f"nobody in skill group {group.name} is online")
    return group


def _ring_or_queue(session: Session, agent: Agent | None, group: SkillGroup | None, by: str) -> None:
    if agent is not None:
        lifecycle.offer(session, agent, timeout=session.skill_group.ring_timeout if session.skill_group else 8)
    else:
        routing.enqueue(session, group, note=f" (moved by {by})")
