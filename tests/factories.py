"""Rows made in code for a test that needs a few of them, rather than the whole demo tenant (`seed_demo`).

Plain functions over the models: each makes one row with working defaults, any field overridable by keyword,
and names that do not collide, so two calls give two tenants or two agents. Call them from sync code (in an
async test, through `database_sync_to_async`).
"""
from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from sessions_app.models import Agent, AgentSkill, SkillGroup, Tenant

_numbers = itertools.count(1)


def tenant(**fields) -> Tenant:
    n = next(_numbers)
    return Tenant.objects.create(**{"name": f"Tenant {n}", "sdk_app_id": f"1500{n:06d}",
                                    "allowed_origins": "http://127.0.0.1:*", **fields})


def skill_group(tenant: Tenant, kind: str = "phone", **fields) -> SkillGroup:
    name = f"{kind} {next(_numbers)}"
    return SkillGroup.objects.create(**{"tenant": tenant, "name": name, "kind": kind, **fields})


def agent(tenant: Tenant, *groups: SkillGroup, priority: int = 1, **fields) -> Agent:
    """An agent with a user account of its own, in `groups` at `priority`."""
    user_id = fields.pop("user_id", f"agent{next(_numbers)}@{tenant.sdk_app_id}")
    account = get_user_model().objects.create_user(username=user_id, password="test-password")
    made = Agent.objects.create(**{"tenant": tenant, "account": account, "user_id": user_id, **fields})
    for group in groups:
        AgentSkill.objects.create(agent=made, skill_group=group, priority=priority)
    return made
