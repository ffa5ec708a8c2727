"""Skill groups and numbers: CreateCCCSkillGroup, DescribeSkillGroupInfoList, UpdateCCCSkillGroup,
DeleteCCCSkillGroup, DescribeNumbers, BindNumberCallOutSkillGroup, UnbindNumberCallOutSkillGroup."""
from __future__ import annotations

from datetime import datetime, timezone

from ..models import SkillGroup
from ..services import skill_groups
from .actions import Call, action
from .protocol import LARGEST_INT, invalid_value

# Tencent's SkillGroupType and its (deprecated) Type, for our kinds.
KIND_OF_TYPE = {0: "phone", 1: "im", 3: "voip", 4: "video"}
TYPE_OF_KIND = {kind: number for number, kind in KIND_OF_TYPE.items()}
MEDIA_OF_KIND = {"phone": "TEL", "im": "IM", "voip": "TEL", "video": "TEL"}
NAME_LENGTH = SkillGroup._meta.get_field("name").max_length
GROUPS_PAGE = 100  # DescribeSkillGroupInfoList's PageSize, at most (Tencent's)
NUMBERS_PAGE = 100  # DescribeNumbers' PageSize, at most (ours: Tencent states none), 20 by default
NUMBER_STATE_NORMAL = 1


def since(params, name: str) -> datetime | None:
    """A Unix-seconds filter as an aware datetime (None when not given)."""
    seconds = params.integer(name, minimum=0, maximum=253402300799)
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def _max_concurrency(call: Call, kind: str | None) -> None:
    """MaxConcurrency: 1 for a call group (an agent takes one call at a time, as Tencent requires); any count
    from 1 for a web-chat group, whose chats per agent each agent's chat capacity (admin) limits here."""
    value = call.params.integer("MaxConcurrency", minimum=1, maximum=LARGEST_INT)
    if value is not None and kind != "im" and value != 1:
        raise invalid_value("MaxConcurrency", "must be 1 for a phone, audio or video skill group")


def group_item(group: SkillGroup, chat_capacity: int) -> dict:
    return {"SkillGroupId": group.pk, "SkillGroupName": group.name, "Type": MEDIA_OF_KIND[group.kind],
            "RoutePolicy": group.routing_strategy, "UsingLastSeat": 0,
            "MaxConcurrency": chat_capacity if group.kind == "im" else 1,
            "LastModifyTimestamp": int(group.modified_at.timestamp()), "SkillGroupType": TYPE_OF_KIND[group.kind],
            "Alias": "", "RingAll": False}


@action("CreateCCCSkillGroup")
def create_skill_group(call: Call) -> dict:
    name = call.params.string("SkillGroupName", required=True, max_length=NAME_LENGTH)
    kind = KIND_OF_TYPE.get(call.params.integer("SkillGroupType", required=True))
    if kind is None:
        raise invalid_value("SkillGroupType", "must be 0 (phone), 1 (web chat), 3 (web audio) or 4 (web video)")
    _max_concurrency(call, kind)
    return {"SkillGroupId": skill_groups.create(call.tenant, name=name.strip(), kind=kind).pk}


@action("DescribeSkillGroupInfoList")
def describe_skill_groups(call: Call) -> dict:
    size = call.params.integer("PageSize", required=True, minimum=1, maximum=GROUPS_PAGE)
    number = call.params.integer("PageNumber", required=True, minimum=0, maximum=LARGEST_INT // GROUPS_PAGE)
    total, groups = skill_groups.page(
        call.tenant, offset=number * size, limit=size, group_id=call.params.integer("SkillGroupId"),
        modified_since=since(call.params, "ModifiedTime"),
        name=call.params.string("SkillGroupName", max_length=NAME_LENGTH))
    capacities = skill_groups.chat_capacities(groups)
    return {"TotalCount": total, "SkillGroupList": [group_item(g, capacities[g.pk]) for g in groups]}


@action("UpdateCCCSkillGroup")
def update_skill_group(call: Call) -> dict:
    group = skill_groups.find(call.tenant, call.params.integer("SkillGroupID", required=True))
    name = call.params.string("SkillGroupName", max_length=NAME_LENGTH)
    if name is not None and not name.strip():
        raise invalid_value("SkillGroupName", "is empty")
    _max_concurrency(call, group.kind)
    if call.params.boolean("RingAll"):
        raise invalid_value("RingAll", "cannot be true: this server offers a session to one agent at a time")
    skill_groups.rename(call.tenant, group.pk, name=name.strip() if name else None)
    return {}


@action("DeleteCCCSkillGroup")
def delete_skill_group(call: Call) -> dict:
    skill_groups.delete(call.tenant, call.params.integer("SkillGroupId", required=True))
    return {}


@action("DescribeNumbers")
def describe_numbers(call: Call) -> dict:
    number = call.params.integer("PageNumber", 0, minimum=0, maximum=LARGEST_INT // NUMBERS_PAGE)
    size = call.params.integer("PageSize", 20, minimum=1, maximum=NUMBERS_PAGE)
    every = skill_groups.numbers(call.tenant)
    return {"TotalCount": len(every), "Numbers": [
        {"Number": n, "CallOutSkillGroupIds": groups, "State": NUMBER_STATE_NORMAL, "CostType": 0}
        for n, groups in every[number * size:number * size + size]]}


def _number_and_groups(call: Call) -> tuple[str, list[int]]:
    number = call.params.string("Number", required=True, max_length=64)
    group_ids = call.params.integers("SkillGroupIds", required=True)
    if not group_ids:
        raise invalid_value("SkillGroupIds", "is empty")
    return number.strip(), group_ids


@action("BindNumberCallOutSkillGroup")
def bind_number(call: Call) -> dict:
    skill_groups.bind_number(call.tenant, *_number_and_groups(call))
    return {}


@action("UnbindNumberCallOutSkillGroup")
def unbind_number(call: Call) -> dict:
    skill_groups.unbind_number(call.tenant, *_number_and_groups(call))
    return {}
