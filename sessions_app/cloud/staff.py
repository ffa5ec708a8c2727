"""Agents (Tencent's "staff", named by their e-mail address, our userId): CreateStaff, DescribeStaffInfoList,
ModifyStaff, DeleteStaff, ModifyStaffPassword, BindStaffSkillGroupList, UnbindStaffSkillGroupList."""
from __future__ import annotations

import re

from ..models import Agent
from ..services import skill_groups, staff
from ..services.errors import NotFound, ServiceError
from .actions import Call, action
from .protocol import (FAILED_OPERATION, INVALID_PARAMETER_VALUE, LARGEST_INT, RESOURCE_NOT_FOUND, CloudError,
                       Params, invalid_value, missing)
from .skill_groups import MEDIA_OF_KIND, since

AGENT_ROLE = 3  # Tencent's Role of an ordinary agent (1 administrator, 2 quality inspector)
STAFF_PER_CREATE = 10
STAFF_PER_DELETE = 200
STAFF_PAGE = 9999  # DescribeStaffInfoList's PageSize, at most (Tencent's)
USER_ID_LENGTH = Agent._meta.get_field("user_id").max_length
NAME_LENGTH = 150  # the account's first_name
NICK_LENGTH = Agent._meta.get_field("nickname").max_length
STAFF_NUMBER_LENGTH = Agent._meta.get_field("staff_number").max_length
PHONE_LENGTH = Agent._meta.get_field("mobile").max_length


MAIL = re.compile(r"[^@\s]+@[^@\s]+")


def mail(params: Params, name: str, *, new: bool = False) -> str:
    """A staff's e-mail address, their userId here; a new one must look like an address (name@domain)."""
    value = params.string(name, required=True, max_length=USER_ID_LENGTH).strip()
    if new and not MAIL.fullmatch(value):
        raise invalid_value(params.prefix + name, "is not an e-mail address")
    return value


def _unsupported_extension(params: Params) -> None:
    if params.string("ExtensionNumber", "", max_length=16):
        raise invalid_value(params.prefix + "ExtensionNumber", "cannot be set: this server has no extension numbers")


def staff_info(agent: Agent) -> dict:
    skills = sorted(agent.agentskill_set.all(), key=lambda s: (s.priority, s.skill_group_id))
    return {"Name": agent.account.first_name, "Mail": agent.user_id, "Phone": agent.mobile, "Nick": agent.nickname,
            "StaffNumber": agent.staff_number, "RoleId": AGENT_ROLE, "RoleIdList": AGENT_ROLE,
            "RoleList": [AGENT_ROLE],
            "SkillGroupList": [{"SkillGroupId": s.skill_group_id, "SkillGroupName": s.skill_group.name,
                                "Priority": s.priority, "Type": MEDIA_OF_KIND[s.skill_group.kind]} for s in skills],
            "LastModifyTimestamp": int(agent.modified_at.timestamp()), "ExtensionNumber": "",
            "ForwardingConfig": None}


@action("CreateStaff")
def create_staff(call: Call) -> dict:
    """Each staff is made, or listed in ErrorStaffList with why not (the others are made all the same); the
    request as a whole is refused only for parameters that are missing or of the wrong type or form."""
    entries = call.params.objects("Staffs", required=True, max_items=STAFF_PER_CREATE)
    if not entries:
        raise invalid_value("Staffs", "is empty")
    call.params.boolean("SendPassword", True)  # no mail is sent: ModifyStaffPassword sets the password
    wanted = []
    for entry in entries:
        role = entry.integer("Role", AGENT_ROLE)
        if role != AGENT_ROLE:
            raise invalid_value(entry.prefix + "Role", "must be 3: this API makes agents (supervisors are made "
                                                       "in admin)")
        _unsupported_extension(entry)
        entry.string("UserId", max_length=USER_ID_LENGTH)
        wanted.append(dict(
            user_id=mail(entry, "Mail", new=True), name=entry.string("Name", required=True, max_length=NAME_LENGTH).strip(),
            nickname=entry.string("Nick", "", max_length=NICK_LENGTH),
            staff_number=entry.string("StaffNumber", "", max_length=STAFF_NUMBER_LENGTH),
            mobile=entry.string("Phone", "", max_length=PHONE_LENGTH),
            group_names=entry.strings("SkillGroupNameList", max_length=100) or []))
    errors = []
    for fields in wanted:
        group_names = fields.pop("group_names")
        try:
            groups = skill_groups.find_by_names(call.tenant, group_names)
            staff.create(call.tenant, skills=[(g, staff.DEFAULT_PRIORITY) for g in groups], **fields)
        except ServiceError as refused:
            errors.append({"StaffEmail": fields["user_id"], "Code": _code(refused), "Message": str(refused)})
    return {"ErrorStaffList": errors}


def _code(refused: ServiceError) -> str:
    if isinstance(refused, NotFound):
        return RESOURCE_NOT_FOUND
    if isinstance(refused, staff.BadValue):
        return INVALID_PARAMETER_VALUE
    return FAILED_OPERATION


@action("DescribeStaffInfoList")
def describe_staff(call: Call) -> dict:
    size = call.params.integer("PageSize", required=True, minimum=1, maximum=STAFF_PAGE)
    number = call.params.integer("PageNumber", required=True, minimum=0, maximum=LARGEST_INT // STAFF_PAGE)
    user_id = call.params.string("StaffMail", max_length=USER_ID_LENGTH)
    total, agents = staff.page(call.tenant, offset=number * size, limit=size,
                               user_id=user_id.strip() if user_id else None,
                               modified_since=since(call.params, "ModifiedTime"),
                               skill_group_id=call.params.integer("SkillGroupId"))
    return {"TotalCount": total, "StaffList": [staff_info(a) for a in agents]}


@action("ModifyStaff")
def modify_staff(call: Call) -> dict:
    params = call.params
    user_id = mail(params, "Email")
    _unsupported_extension(params)
    if params.boolean("UseMobileCallOut"):
        raise invalid_value("UseMobileCallOut", "cannot be true: agents call from the workbench or the SDK here")
    if params.integer("UseMobileAccept", 0, minimum=0, maximum=2):
        raise invalid_value("UseMobileAccept", "must be 0: agents answer in the workbench or the SDK here")
    forwarding = params.object("ForwardingConfig")
    if forwarding is not None and forwarding.boolean("Enabled"):
        raise invalid_value("ForwardingConfig.Enabled", "cannot be true: this server does not forward calls")
    name = params.string("Name", max_length=NAME_LENGTH)
    if name is not None and not name.strip():
        raise invalid_value("Name", "is empty")
    staff.modify(call.tenant, user_id, name=name.strip() if name else None,
                 nickname=params.string("Nick", max_length=NICK_LENGTH),
                 staff_number=params.string("StaffNo", max_length=STAFF_NUMBER_LENGTH),
                 mobile=params.string("Phone", max_length=PHONE_LENGTH),
                 skill_group_ids=params.integers("SkillGroupIds"))
    return {}


@action("DeleteStaff")
def delete_staff(call: Call) -> dict:
    """Offline agents are deleted; those online (signed in, connected, or on a session) are left as they are and
    answered in OnlineStaffList, as Tencent does: force them offline (ForceMemberOffline) and delete again."""
    user_ids = call.params.strings("StaffList", required=True, max_items=STAFF_PER_DELETE,
                                   max_length=USER_ID_LENGTH)
    if not user_ids:
        raise invalid_value("StaffList", "is empty")
    deleted, online = staff.delete(call.tenant, [u.strip() for u in user_ids])
    info = f"deleted: {', '.join(deleted) or 'none'}"
    if online:
        info += f"; online, not deleted: {', '.join(online)}"
    return {"OnlineStaffList": online, "DeleteStatusInfo": info}


@action("ModifyStaffPassword")
def modify_staff_password(call: Call) -> dict:
    user_id = mail(call.params, "Email")
    password = call.params.string("Password", required=True, max_length=128)
    try:
        staff.set_password(call.tenant, user_id, password)
    except staff.BadValue as refused:
        raise CloudError(INVALID_PARAMETER_VALUE, f"The value of `Password` is refused: {refused}") from None
    return {}


@action("BindStaffSkillGroupList")
def bind_staff_skill_groups(call: Call) -> dict:
    user_id = mail(call.params, "StaffEmail")
    entries = call.params.objects("StaffSkillGroupList")
    group_ids = call.params.integers("SkillGroupList")
    if entries is None and group_ids is None:
        raise missing("StaffSkillGroupList")
    skills = [(e.integer("SkillGroupId", required=True), e.integer("Priority", minimum=1, maximum=5))
              for e in entries or []]
    skills += [(g, None) for g in group_ids or [] if g not in {s for s, _ in skills}]
    if not skills:
        raise invalid_value("StaffSkillGroupList", "is empty")
    staff.bind(call.tenant, user_id, skills)
    return {}


@action("UnbindStaffSkillGroupList")
def unbind_staff_skill_groups(call: Call) -> dict:
    user_id = mail(call.params, "StaffEmail")
    group_ids = call.params.integers("SkillGroupList", required=True)
    if not group_ids:
        raise invalid_value("SkillGroupList", "is empty")
    staff.unbind(call.tenant, user_id, group_ids)
    return {}
