"""A tenant's skill groups and outbound numbers as a directory: made, listed, renamed and deleted (admin's pages
and the cloud API's CCCSkillGroup actions), and which groups call out from which number.

A group is deleted only when nothing would be left pointing at nothing: no session still open in it (queued,
ringing, in progress or in the IVR towards it), no hotline or IVR key sending callers to it. Its members are
unbound with it; ended sessions keep their CDRs but lose the group's name in reports.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Min, QuerySet
from django.utils import timezone

from ..models import Agent, Hotline, IvrKey, NumberGroup, Session, SkillGroup, Tenant, found
from .errors import NotFound, ServiceError

OPEN_STATES = ("ivr", "queued", "ringing", "active")


class WrongKind(ServiceError):
    """Refused because a skill group is not of the kind the operation needs (only phone groups call out)."""


def find(tenant: Tenant, group_id: int, *, locked: bool = False) -> SkillGroup:
    rows = SkillGroup.objects.filter(tenant=tenant, pk=group_id)
    group = found(rows.select_for_update() if locked else rows)
    if group is None:
        raise NotFound(f"no skill group {group_id} in SdkAppId {tenant.sdk_app_id}")
    return group


def find_requested(tenant_id: int, skill_group_id) -> SkillGroup:
    """The tenant's group of an id as an agent's request carries it (text or a number); NotFound for any other
    value, a malformed one included."""
    group = None
    if re.fullmatch(r"\d{1,18}", str(skill_group_id)):
        group = found(SkillGroup.objects.filter(tenant_id=tenant_id, pk=int(skill_group_id)))
    if group is None:
        raise NotFound(f"no skill group {skill_group_id!r}")
    return group


def find_all(tenant: Tenant, group_ids: Iterable[int]) -> list[SkillGroup]:
    """The groups of `group_ids`, in that order; NotFound naming every id that is not the tenant's."""
    wanted = list(dict.fromkeys(group_ids))
    groups = SkillGroup.objects.in_bulk([g for g in wanted if 0 < g < 2**63], field_name="pk")
    missing = [g for g in wanted if g not in groups or groups[g].tenant_id != tenant.pk]
    if missing:
        raise NotFound(f"no skill group {', '.join(map(str, missing))} in SdkAppId {tenant.sdk_app_id}")
    return [groups[g] for g in wanted]


def find_by_names(tenant: Tenant, names: Iterable[str]) -> list[SkillGroup]:
    wanted = list(dict.fromkeys(names))
    groups = {g.name: g for g in SkillGroup.objects.filter(tenant=tenant, name__in=wanted)}
    missing = [n for n in wanted if n not in groups]
    if missing:
        raise NotFound(f"no skill group named {', '.join(map(repr, missing))} in SdkAppId {tenant.sdk_app_id}")
    return [groups[n] for n in wanted]


def create(tenant: Tenant, *, name: str, kind: str) -> SkillGroup:
    if SkillGroup.objects.filter(tenant=tenant, name=name).exists():
        raise ServiceError(f"a skill group named {name!r} exists already")
    try:
        with transaction.atomic():
            return SkillGroup.objects.create(tenant=tenant, name=name, kind=kind)
    except IntegrityError:  # made by a concurrent request since the check
        raise ServiceError(f"a skill group named {name!r} exists already") from None


def page(tenant: Tenant, *, offset: int, limit: int, group_id: int | None = None,
         modified_since: datetime | None = None, name: str | None = None) -> tuple[int, list[SkillGroup]]:
    """One page of the tenant's groups, oldest first, and how many match in all."""
    groups = SkillGroup.objects.filter(tenant=tenant)
    if group_id is not None:
        groups = groups.filter(pk=find(tenant, group_id).pk)
    if modified_since is not None:
        groups = groups.filter(modified_at__gte=modified_since)
    if name:
        groups = groups.filter(name__icontains=name)
    return groups.count(), list(groups.order_by("pk")[offset:offset + limit])


def chat_capacities(groups: list[SkillGroup]) -> dict[int, int]:
    """Per group, the fewest chats one of its members takes at once (Agent.chat_capacity; the default for a group
    with no members): what a web-chat group answers as its MaxConcurrency."""
    lowest = dict(Agent.objects.filter(skill_groups__in=groups).values("skill_groups").annotate(
        fewest=Min("chat_capacity")).values_list("skill_groups", "fewest"))
    default = Agent._meta.get_field("chat_capacity").default
    return {g.pk: lowest.get(g.pk, default) for g in groups}


def rename(tenant: Tenant, group_id: int, *, name: str | None) -> None:
    group = find(tenant, group_id, locked=True)
    if name is not None and name != group.name:
        if SkillGroup.objects.filter(tenant=tenant, name=name).exclude(pk=group.pk).exists():
            raise ServiceError(f"a skill group named {name!r} exists already")
        group.name = name
    group.modified_at = timezone.now()
    group.save(update_fields=["name", "modified_at"])


def delete(tenant: Tenant, group_id: int) -> None:
    group = find(tenant, group_id, locked=True)
    open_sessions = Session.objects.filter(skill_group=group, state__in=OPEN_STATES).count()
    if open_sessions:
        raise ServiceError(f"skill group {group.pk} has {open_sessions} open session(s) (waiting, ringing or in "
                           f"progress): delete it once they have ended")
    hotlines = list(Hotline.objects.filter(skill_group=group).values_list("number", flat=True))
    if hotlines:
        raise ServiceError(f"skill group {group.pk} answers the hotline(s) {', '.join(hotlines)}: "
                           f"point them elsewhere first")
    menus = sorted(set(IvrKey.objects.filter(skill_group=group).values_list("menu__name", flat=True)))
    if menus:
        raise ServiceError(f"keys of the IVR menu(s) {', '.join(menus)} lead to skill group {group.pk}: "
                           f"point them elsewhere first")
    group.delete()


# Numbers: a tenant's numbers are its hotlines', its number groups' and the caller numbers bound to its groups.

def numbers(tenant: Tenant) -> list[tuple[str, list[int]]]:
    """Every number of the tenant, sorted, with the ids of the groups calling out from it."""
    groups = list(SkillGroup.objects.filter(tenant=tenant).order_by("pk"))
    owned = set(Hotline.objects.filter(tenant=tenant).values_list("number", flat=True))
    for number_group in NumberGroup.objects.filter(tenant=tenant):
        owned.update(number_group.number_list)
    for group in groups:
        owned.update(group.caller_number_list)
    return [(n, [g.pk for g in groups if n in g.caller_number_list]) for n in sorted(owned)]


def _check_number(tenant: Tenant, number: str) -> None:
    if not any(n == number for n, _ in numbers(tenant)):
        raise NotFound(f"no number {number} in SdkAppId {tenant.sdk_app_id}")


def _phone_groups(tenant: Tenant, group_ids: list[int]) -> QuerySet:
    groups = find_all(tenant, group_ids)
    others = [str(g.pk) for g in groups if g.kind != "phone"]
    if others:
        raise WrongKind(f"skill group {', '.join(others)} is not a phone group: only phone groups call out")
    return SkillGroup.objects.select_for_update().filter(pk__in=[g.pk for g in groups]).order_by("pk")


def bind_number(tenant: Tenant, number: str, group_ids: list[int]) -> None:
    """Calls out of each group may show `number` (added to its caller numbers, after those it has)."""
    _check_number(tenant, number)
    for group in _phone_groups(tenant, group_ids):
        if number not in group.caller_number_list:
            group.caller_numbers = "\n".join([*group.caller_number_list, number])
            group.modified_at = timezone.now()
            group.save(update_fields=["caller_numbers", "modified_at"])


def unbind_number(tenant: Tenant, number: str, group_ids: list[int]) -> None:
    _check_number(tenant, number)
    for group in _phone_groups(tenant, group_ids):
        if number in group.caller_number_list:
            group.caller_numbers = "\n".join(n for n in group.caller_number_list if n != number)
            group.modified_at = timezone.now()
            group.save(update_fields=["caller_numbers", "modified_at"])
