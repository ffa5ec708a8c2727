"""Control: SetStaffStatus, ForceMemberOffline, RestoreMemberOnline and HangUpCall, each through the supervisors'
own services (services/supervision.py): the same checks, and an audit entry naming the cloud API key (its
SecretId) that acted. Those services keep a refusal's audit entry after their rollback, so these actions run
outside the call's transaction (`own_transactions`).
"""
from __future__ import annotations

from ..services import supervision
from ..services.errors import NotFound, ServiceError
from .actions import Call, action
from .protocol import FAILED_OPERATION, RESOURCE_NOT_FOUND, invalid_value

SETTABLE = ("free", "notReady", "rest")  # Tencent's SetStaffStatus statuses, named as ours
MAX_STATUS_ITEMS = 10  # Tencent's: StaffStatusList holds at most 10
STORED_AS_TENCENT = {"offline": "offline", "free": "free", "rest": "rest", "arrange": "afterCallWork",
                     "notReady": "notReady"}


def _staff(call: Call, name: str) -> supervision.AgentRef:
    return supervision.AgentRef(user_id=call.params.string(name, required=True, max_length=128))


def _set_one(call: Call, user_id: str, status: str, reason: str) -> dict:
    answer = {"StaffUserId": user_id, "ErrorCode": "", "ErrorMessage": "", "Status": "", "Reason": "",
              "PreviousStatus": "", "PreviousReason": ""}
    try:
        done = supervision.set_agent_status(cloud_key_id=call.key.pk, agent_id=supervision.AgentRef(user_id=user_id),
                                            status=status, rest_reason=reason if status == "rest" else "")
    except NotFound as missing:
        return {**answer, "ErrorCode": RESOURCE_NOT_FOUND, "ErrorMessage": str(missing)}
    except ServiceError as refused:
        return {**answer, "ErrorCode": FAILED_OPERATION, "ErrorMessage": str(refused)}
    return {**answer, "Status": STORED_AS_TENCENT[done.status], "Reason": done.reason,
            "PreviousStatus": STORED_AS_TENCENT[done.previous], "PreviousReason": done.previous_reason}


@action("SetStaffStatus", own_transactions=True)
def set_staff_status(call: Call) -> dict:
    """Each agent's status set on its own (a refusal is that item's ErrorCode, as Tencent answers it)."""
    items = call.params.objects("StaffStatusList", required=True, max_items=MAX_STATUS_ITEMS)
    if not items:
        raise invalid_value("StaffStatusList", "must name at least one agent")
    wanted = [(item.string("StaffUserId", required=True, max_length=128),
               item.string("Status", required=True, max_length=32, choices=SETTABLE),
               item.string("Reason", "", max_length=128)) for item in items]
    return {"StaffStatusList": [_set_one(call, *each) for each in wanted]}


@action("ForceMemberOffline", own_transactions=True)
def force_member_offline(call: Call) -> dict:
    supervision.force_offline(cloud_key_id=call.key.pk, agent_id=_staff(call, "UserId"))
    return {}


@action("RestoreMemberOnline", own_transactions=True)
def restore_member_online(call: Call) -> dict:
    supervision.restore_online(cloud_key_id=call.key.pk, agent_id=_staff(call, "UserId"))
    return {}


@action("HangUpCall", own_transactions=True)
def hang_up_call(call: Call) -> dict:
    supervision.end_session(cloud_key_id=call.key.pk,
                            session_id=call.params.string("SessionId", required=True, max_length=64))
    return {}
