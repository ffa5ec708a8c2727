"""A tenant's agents as a directory: made with their Django account, listed, changed, given a password, bound to
skill groups and deleted (the cloud API's Staff actions; seed_demo makes its agents with `create` too).

An agent's account is a Django user named by the agent's userId (an e-mail address in Tencent's API), not staff:
it signs in to the workbench only. Made without a password, it cannot sign in until one is set; setting one
closes the agent's open sockets (services/logins.py). Only an agent who is offline, with no socket open and no
session ringing or in progress, is deleted: the others are left exactly as they were and named to the caller.
Deleting an agent deletes its account (unless it is also a supervisor's or a superuser's), its skills and its rows in reports' history; the CDRs it served keep
their records (Cdr.payload).
"""
from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..models import Agent, AgentSkill, Session, SkillGroup, Tenant, found
from . import logins, skill_groups
from .errors import NotFound, ServiceError

MIN_PASSWORD_LENGTH = 8
DEFAULT_PRIORITY = 3  # Tencent's default for a skill bound without one; 1 is offered first


class AccountExists(ServiceError):
    """Refused because the userId names an agent of the tenant already, or an account of this server."""


class BadValue(ServiceError):
    """Refused because a value given is not acceptable (a password too weak, a userId no account can have)."""


def find(tenant: Tenant, user_id: str, *, locked: bool = False) -> Agent:
    rows = Agent.objects.filter(tenant=tenant, user_id=user_id).select_related("account")
    agent = found(rows.select_for_update(of=("self",)) if locked else rows)
    if agent is None:
        raise NotFound(f"no agent {user_id!r} in SdkAppId {tenant.sdk_app_id}")
    return agent


def create(tenant: Tenant, *, user_id: str, name: str = "", nickname: str = "", staff_number: str = "",
           mobile: str = "", skills: list[tuple[SkillGroup, int]] = (), password: str | None = None) -> Agent:
    """A new agent and its account, in a savepoint of its own: a refusal leaves nothing of it behind. Without a
    password the account cannot sign in until `set_password`."""
    users = get_user_model()
    if Agent.objects.filter(tenant=tenant, user_id=user_id).exists():
        raise AccountExists(f"agent {user_id} exists already")
    try:
        users.username_validator(user_id)
    except ValidationError:
        raise BadValue(f"{user_id!r} cannot name an account: letters, digits and @ . + - _ only") from None
    if users.objects.filter(username__iexact=user_id).exists():
        raise AccountExists(f"the account name {user_id} is taken on this server")
    if password is not None:
        _check_password(password, users(username=user_id, email=user_id, first_name=name))
    try:
        with transaction.atomic():
            account = users.objects.create_user(user_id, email=user_id if "@" in user_id else "", password=password,
                                                first_name=name)
            agent = Agent.objects.create(account=account, tenant=tenant, user_id=user_id, nickname=nickname,
                                         staff_number=staff_number, mobile=mobile)
            AgentSkill.objects.bulk_create([AgentSkill(agent=agent, skill_group=g, priority=p) for g, p in skills])
    except IntegrityError:  # made by a concurrent request since the checks
        raise AccountExists(f"agent {user_id} exists already") from None
    return agent


def page(tenant: Tenant, *, offset: int, limit: int, user_id: str | None = None,
         modified_since: datetime | None = None, skill_group_id: int | None = None) -> tuple[int, list[Agent]]:
    """One page of the tenant's agents, oldest first, with their account and skills, and how many match."""
    agents = Agent.objects.filter(tenant=tenant)
    if user_id is not None:
        agents = agents.filter(user_id=user_id)
    if modified_since is not None:
        agents = agents.filter(modified_at__gte=modified_since)
    if skill_group_id is not None:
        agents = agents.filter(agentskill__skill_group=skill_groups.find(tenant, skill_group_id))
    rows = agents.select_related("account").prefetch_related("agentskill_set__skill_group").order_by("pk")
    return agents.count(), list(rows[offset:offset + limit])


def modify(tenant: Tenant, user_id: str, *, name: str | None = None, nickname: str | None = None,
           staff_number: str | None = None, mobile: str | None = None,
           skill_group_ids: list[int] | None = None) -> None:
    """Change what is given (None: left as it is). `skill_group_ids` is the agent's whole set of groups: those
    it keeps keep their priority, new ones get the default."""
    agent = find(tenant, user_id, locked=True)
    if skill_group_ids is not None:
        groups = skill_groups.find_all(tenant, skill_group_ids)
        AgentSkill.objects.filter(agent=agent).exclude(skill_group__in=groups).delete()
        _bind(agent, [(g, None) for g in groups])
    for field, value in (("nickname", nickname), ("staff_number", staff_number), ("mobile", mobile)):
        if value is not None:
            setattr(agent, field, value)
    if name is not None:
        agent.account.first_name = name
        agent.account.save(update_fields=["first_name"])
    _touch(agent)


def set_password(tenant: Tenant, user_id: str, password: str) -> None:
    """The agent's workbench password; its sockets open with the old login close (services/logins.py). The
    account of an agent who is also staff (a supervisor, a superuser) keeps its password: that one is changed
    in admin, never by a tenant's program."""
    agent = find(tenant, user_id, locked=True)
    if _staff_account(agent):
        raise ServiceError(f"the account of {user_id} signs in to admin too: change its password in admin")
    _check_password(password, agent.account)
    agent.account.set_password(password)
    agent.account.save(update_fields=["password"])
    logins.revoke(agent, logins.PASSWORD_CHANGED)
    _touch(agent)


def bind(tenant: Tenant, user_id: str, skills: list[tuple[int, int | None]]) -> None:
    """Add the agent to each group (group id, priority); a group it is in already takes the priority given."""
    agent = find(tenant, user_id, locked=True)
    groups = skill_groups.find_all(tenant, [g for g, _ in skills])
    priorities = dict(skills)
    _bind(agent, [(g, priorities[g.pk]) for g in groups])
    _touch(agent)


def unbind(tenant: Tenant, user_id: str, group_ids: list[int]) -> None:
    """Take the agent out of each group (one it is not in is left as it is); what rings for the agent from a
    group it left goes on ringing until answered or timed out, as when a supervisor unbinds it in admin."""
    agent = find(tenant, user_id, locked=True)
    groups = skill_groups.find_all(tenant, group_ids)
    AgentSkill.objects.filter(agent=agent, skill_group__in=groups).delete()
    _touch(agent)


def delete(tenant: Tenant, user_ids: list[str]) -> tuple[list[str], list[str]]:
    """Delete the agents who are offline; answer (deleted, left online). Every userId must be the tenant's
    (NotFound naming the others, and nothing is deleted)."""
    wanted = list(dict.fromkeys(user_ids))
    agents = {a.user_id: a for a in Agent.objects.select_for_update(of=("self",)).select_related("account").filter(
        tenant=tenant, user_id__in=wanted)}
    missing = [u for u in wanted if u not in agents]
    if missing:
        raise NotFound(f"no agent {', '.join(missing)} in SdkAppId {tenant.sdk_app_id}")
    online = set(_online(Agent.objects.filter(pk__in=[a.pk for a in agents.values()])).values_list(
        "user_id", flat=True))
    deleted = [u for u in wanted if u not in online]
    accounts = [agents[u].account_id for u in deleted if not _staff_account(agents[u])]
    Agent.objects.filter(pk__in=[agents[u].pk for u in deleted]).delete()
    get_user_model().objects.filter(pk__in=accounts).delete()
    return deleted, [u for u in wanted if u in online]


def _staff_account(agent: Agent) -> bool:
    """Whether the agent's account also signs in to admin: deleting the agent keeps such an account."""
    return agent.account.is_staff or agent.account.is_superuser


def _online(agents: QuerySet) -> QuerySet:
    """Those of `agents` who are signed in, connected, or with a session ringing or in progress."""
    busy = Session.objects.filter(state__in=("ringing", "active")).filter(
        Q(agent__in=agents) | Q(caller_agent__in=agents))
    busy_ids = set(busy.values_list("agent_id", flat=True)) | set(busy.values_list("caller_agent_id", flat=True))
    return agents.filter(~Q(status="offline") | Q(connections__isnull=False) | Q(pk__in=busy_ids)).distinct()


def _bind(agent: Agent, skills: list[tuple[SkillGroup, int | None]]) -> None:
    have = {s.skill_group_id: s for s in AgentSkill.objects.filter(agent=agent)}
    for group, priority in skills:
        skill = have.get(group.pk)
        if skill is None:
            AgentSkill.objects.create(agent=agent, skill_group=group, priority=priority or DEFAULT_PRIORITY)
        elif priority is not None and skill.priority != priority:
            skill.priority = priority
            skill.save(update_fields=["priority"])


def _check_password(password: str, account) -> None:
    """The server's password rules (AUTH_PASSWORD_VALIDATORS), and at least these: a password set from afar, by
    a program, is never short, all digits or the account's own name."""
    floor = [password_validation.MinimumLengthValidator(MIN_PASSWORD_LENGTH),
             password_validation.UserAttributeSimilarityValidator(), password_validation.NumericPasswordValidator()]
    try:
        password_validation.validate_password(
            password, account, password_validators=floor + password_validation.get_default_password_validators())
    except ValidationError as refused:
        raise BadValue(" ".join(refused.messages)) from None


def _touch(agent: Agent) -> None:
    agent.modified_at = timezone.now()
    agent.save(update_fields=["nickname", "staff_number", "mobile", "modified_at"])
