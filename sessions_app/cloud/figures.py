"""Figures: DescribeCallInMetrics, DescribeStaffStatusMetrics and DescribeStaffStatusHistory, read from the same
selectors as the supervisors' wallboard and reports (services/wallboard.py, services/reports.py): one computation,
two transports. This module only renames: our statuses to Tencent's, milliseconds to seconds.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

from django.utils import timezone

from ..services import reports, wallboard
from .actions import Call, action
from .protocol import RESOURCE_NOT_FOUND, CloudError, invalid_value

# The wallboard's agent statuses (domain/wallboard.py) and the stored ones, as Tencent names them: a free agent
# on a call, or ringing, is busy; after-call work is afterCallWork.
TENCENT_STATUS = {"free": "free", "onCall": "busy", "ringing": "busy", "rest": "rest", "notReady": "notReady",
                  "arrange": "afterCallWork", "offline": "offline"}
TENCENT_STATUSES = ("free", "busy", "rest", "notReady", "afterCallWork", "offline")
HISTORY_DAYS_BACK = 180  # Tencent's: StartTimestamp at most 180 days ago
HISTORY_SPAN = timedelta(days=7)  # Tencent's: EndTimestamp less than 7 days after StartTimestamp
HISTORY_PAGE = 100


def _known(asked: list | None, known, what: str) -> None:
    """Every id a filter names must be one of the tenant's: another tenant's is as unknown as one never made."""
    unknown = [each for each in asked or [] if each not in known]
    if unknown:
        raise CloudError(RESOURCE_NOT_FOUND, f"No {what} {unknown[0]!r} in this SdkAppId.")


def _seconds(value: float) -> int:
    return int(round(value))


# DescribeCallInMetrics.

def _call_in(states: dict | None) -> dict:
    none = {"count": 0, "longest": 0.0, "mean": 0.0}
    ivr, queued, ringing, active = ((states or {}).get(state, none) for state in wallboard.INBOUND_STATES)
    return {
        "IvrCount": ivr["count"], "QueueCount": queued["count"], "RingCount": ringing["count"],
        "AcceptCount": active["count"], "TransferOuterCount": 0,
        "MaxQueueDuration": _seconds(queued["longest"]), "AvgQueueDuration": _seconds(queued["mean"]),
        "MaxRingDuration": _seconds(ringing["longest"]), "AvgRingDuration": _seconds(ringing["mean"]),
        "MaxAcceptDuration": _seconds(active["longest"]), "AvgAcceptDuration": _seconds(active["mean"]),
    }


@action("DescribeCallInMetrics")
def describe_call_in_metrics(call: Call) -> dict:
    with_groups = call.params.boolean("EnabledSkillGroup", True)
    call.params.boolean("EnabledNumber", False)
    group_ids = call.params.integers("GroupIdList")
    board = wallboard.board(call.tenant.pk)
    names = {group["id"]: group["name"] for group in board["groups"]}
    _known(group_ids, names, "skill group")
    live = wallboard.inbound_now(board)
    shown = [pk for pk in names if group_ids is None or pk in group_ids] if with_groups else []
    return {
        "Timestamp": board["now_ms"] // 1000,
        "TotalMetrics": _call_in(live.get(None)),
        "NumberMetrics": [],
        "SkillGroupMetrics": [{"SkillGroupId": pk, "Name": names[pk], "Metrics": _call_in(live.get(pk))}
                              for pk in shown],
    }


# DescribeStaffStatusMetrics.

def _staff_metrics(row: dict, today, came_online: datetime | None) -> dict:
    seconds = today.status_seconds if today else {}
    busy = today.talk_seconds if today else 0.0
    session = row["session"]
    return {
        "Email": row["user_id"],
        "Status": TENCENT_STATUS[row["status"]],
        "StatusExtra": {"Type": "im" if session["type"] == "im" else "tel", "Direct": session["direction"]}
        if session and row["status"] in ("onCall", "ringing") else None,
        "OnlineDuration": _seconds(sum(v for k, v in seconds.items() if k != "offline")),
        "FreeDuration": _seconds(max(0.0, seconds.get("free", 0.0) - busy)),
        "BusyDuration": _seconds(busy),
        "NotReadyDuration": _seconds(seconds.get("notReady", 0.0)),
        "RestDuration": _seconds(sum(v for k, v in seconds.items() if k == "rest" or k.startswith("rest: "))),
        "AfterCallWorkDuration": _seconds(seconds.get("arrange", 0.0)),
        "Reason": row["rest_reason"] if row["status"] == "rest" else "",
        "ReserveRest": False,
        "ReserveNotReady": False,
        "UseMobileAccept": 0,
        "UseMobileCallOut": False,
        "LastOnlineTimestamp": int(came_online.timestamp()) if came_online else None,
        "LastStatusTimestamp": row["status_since_ms"] // 1000 if row["status_since_ms"] else None,
        "ClientInfo": [] if row["status"] == "offline" else [{"ClientType": "Web", "IsConnected": True}],
    }


@action("DescribeStaffStatusMetrics")
def describe_staff_status_metrics(call: Call) -> dict:
    staff = call.params.strings("StaffList", max_length=128, max_items=1000)
    group_ids = call.params.integers("GroupIdList")
    statuses = call.params.strings("StatusList", max_length=32)
    for n, status in enumerate(statuses or []):
        if status not in TENCENT_STATUSES:
            raise invalid_value(f"StatusList.{n}", f"must be one of {', '.join(TENCENT_STATUSES)}")
    board = wallboard.board(call.tenant.pk)
    _known(staff, {row["user_id"] for row in board["agents"]}, "agent")
    _known(group_ids, {group["id"] for group in board["groups"]}, "skill group")
    rows = [row for row in board["agents"]
            if (staff is None or row["user_id"] in staff)
            and (group_ids is None or set(group_ids) & set(row["group_ids"]))
            and (statuses is None or TENCENT_STATUS[row["status"]] in statuses)]
    today = reports.agents_today(call.tenant) if rows else {}
    came_online = reports.last_online(call.tenant) if rows else {}
    return {"Metrics": [_staff_metrics(row, today.get(row["agent_id"]), came_online.get(row["agent_id"]))
                        for row in rows]}


# DescribeStaffStatusHistory.

def _instant(call: Call, name: str) -> datetime:
    seconds = call.params.integer(name, required=True, minimum=0, maximum=4102444800)  # up to 2100
    return datetime.fromtimestamp(seconds, dt_timezone.utc)


@action("DescribeStaffStatusHistory")
def describe_staff_status_history(call: Call) -> dict:
    user_id = call.params.string("StaffUserId", required=True, max_length=128)
    starts, ends = _instant(call, "StartTimestamp"), _instant(call, "EndTimestamp")
    cursor = call.params.string("Cursor", "", max_length=20)
    page = call.params.integer("PageSize", HISTORY_PAGE, minimum=1, maximum=HISTORY_PAGE)
    if starts < timezone.now() - timedelta(days=HISTORY_DAYS_BACK):
        raise invalid_value("StartTimestamp", f"must be within the last {HISTORY_DAYS_BACK} days")
    if not timedelta(0) < ends - starts < HISTORY_SPAN:
        raise invalid_value("EndTimestamp", "must be after StartTimestamp, by less than 7 days")
    if cursor and not cursor.isdigit():
        raise invalid_value("Cursor", "is not a cursor this server answered")
    agent, changes = reports.status_history(call.tenant, user_id, starts, ends, after_id=int(cursor or 0),
                                            limit=page)
    return {"Data": [{
        "Cursor": str(change.pk),
        "Timestamp": int(change.at.timestamp()),
        "Status": TENCENT_STATUS[change.to_status],
        "SessionId": "",
        "Reason": change.rest_reason if change.to_status == "rest" else "",
        "StaffEmail": agent.user_id,
        "StaffNo": agent.staff_number,
    } for change in changes]}
