"""The demo tenant's rows by name, for tests on the seeded demo (`seed_demo`): its agents, its skill groups, and a
new inbound session in one of them."""
from __future__ import annotations

from sessions_app.models import Agent, SkillGroup, Tenant
from sessions_app.services import sessions


def agent(user_id: str = "agent1@demo") -> Agent:
    return Agent.objects.get(user_id=user_id)


def group(kind: str = "phone") -> SkillGroup:
    return SkillGroup.objects.get(kind=kind)


def inbound(tenant: Tenant, kind: str = "phone") -> str:
    """A new session of `kind`, created through the server API's service and routed in the demo's group."""
    return sessions.create_inbound(tenant, kind, str(group(kind).pk), {})
