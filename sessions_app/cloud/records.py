"""Records: DescribeTelCdr, DescribeProtectedTelCdr, DescribeIMCdrs, DescribeIMCdrList, DescribeChatMessages,
DescribeSessionDetail, DescribeTelSession, DescribeTelCallInfo, DescribePSTNActiveSessionList.

A CDR answered here is the body the CDR push sent (`services/cdr.build`, stored with the session), translated
field by field to Tencent's TelCdrInfo; what Tencent's record has and the push lacks (recordings, ASR, AI agents,
post-call IVR) gets Tencent's empty value.
"""
from __future__ import annotations

from ..services import recording_links, records
from ..services.errors import NotFound
from .actions import Call, action
from .protocol import Params, invalid_value

MAX_SPAN_DAYS = 90  # Tencent: "the range from StartTimeStamp to EndTimeStamp is less than 90 days"
PAGE_MAX = 100


# Parameters.


def time_range(params: Params, start_name: str, end_name: str, *, required: bool = True) -> tuple[int, int] | None:
    start = params.integer(start_name, required=required, minimum=0)
    end = params.integer(end_name, required=required, minimum=0)
    if start is None and end is None:
        return None
    if start is None or end is None:
        params.integer(start_name if start is None else end_name, required=True)
    if end < start:
        raise invalid_value(end_name, f"must not be before {start_name}")
    if end - start >= MAX_SPAN_DAYS * 86400:
        raise invalid_value(end_name, f"must be less than {MAX_SPAN_DAYS} days after {start_name}")
    return start, end


def page_size_and_number(params: Params) -> tuple[int, int]:
    """DescribeTelCdr's paging: PageSize and PageNumber (from 0), or the older Limit and Offset; (offset, limit)."""
    if params.has("PageSize") or params.has("PageNumber") or not (params.has("Limit") or params.has("Offset")):
        size = params.integer("PageSize", required=True, minimum=1, maximum=PAGE_MAX)
        number = params.integer("PageNumber", required=True, minimum=0)
        return number * size, size
    limit = params.integer("Limit", required=True, minimum=1, maximum=PAGE_MAX)
    return params.integer("Offset", 0, minimum=0), limit


def limit_and_offset(params: Params, default: int, maximum: int) -> tuple[int, int]:
    limit = params.integer("Limit", default, minimum=1, maximum=maximum)
    return params.integer("Offset", 0, minimum=0), limit


# The push's CDR as Tencent's models.


def key_pressed(step: dict) -> dict:
    return {"Key": str(step.get("key", "")), "Label": str(step.get("label", "")), "Timestamp": 0, "NodeLabel": "",
            "OriginalContent": "", "TTSPrompt": ""}


def seat_user(user_id: str, agents: dict[str, dict]) -> dict | None:
    if not user_id:
        return None
    agent = agents.get(user_id, {})
    return {"Name": agent.get("nickname") or user_id, "Mail": user_id, "StaffNumber": agent.get("staff_number", ""),
            "Phone": agent.get("mobile", ""), "Nick": agent.get("nickname", ""), "UserId": user_id,
            "SkillGroupNameList": agent.get("skill_groups", []), "Role": 0, "ExtensionNumber": ""}


def serve_participant(pushed: dict, agents: dict[str, dict]) -> dict:
    return {"Mail": pushed["SeatUser"], "Phone": agents.get(pushed["SeatUser"], {}).get("mobile", ""),
            "RingTimestamp": pushed["RingTimestamp"], "AcceptTimestamp": pushed["AcceptTimestamp"],
            "EndedTimestamp": pushed["EndedTimestamp"], "RecordId": "", "Type": "staffSeat",
            "TransferFrom": pushed["TransferFrom"], "TransferFromType": "staffSeat" if pushed["TransferFrom"] else "",
            "TransferTo": pushed["TransferTo"], "TransferToType": "staffSeat" if pushed["TransferTo"] else "",
            "SkillGroupId": pushed["SkillGroupId"], "EndStatusString": pushed["Outcome"], "RecordURL": "",
            "Sequence": pushed["Sequence"], "StartTimestamp": pushed["RingTimestamp"],
            "SkillGroupName": pushed["SkillGroupName"], "CustomRecordURL": ""}


def tel_cdr(push: dict, session: dict, agents: dict[str, dict], record: dict, *,
            hide_protected: bool = False) -> dict:
    """TelCdrInfo of a CDR push body and the session columns records.PAGE_COLUMNS read beside it; `record`: the
    call's recording (`recording_links.fields`: a fresh link, the push's own has expired by now), if any."""
    protected_caller, protected_callee = session["session__protected_caller"], session["session__protected_callee"]
    caller, callee = push["Caller"], push["Callee"]
    if hide_protected:  # Tencent: with number protection, Caller/Callee are empty and the Protected* ids set
        caller, callee = ("" if protected_caller else caller), ("" if protected_callee else callee)
    return {
        "Caller": caller, "Callee": callee, "Time": push["StartTimestamp"], "Direction": push["Direction"],
        "CallType": push["CallType"], "Duration": push["Duration"], "RecordURL": record.get("RecordURL", ""),
        "RecordId": record.get("RecordId", ""), "SeatUser": seat_user(push["SeatUser"], agents), "EndStatus": push["EndStatus"],
        "SkillGroup": push["QueuedSkillGroupName"], "CallerLocation": push["CallerLocation"],
        "IVRDuration": push["IVRDuration"], "RingTimestamp": push["RingTimestamp"],
        "AcceptTimestamp": push["AcceptTimestamp"], "EndedTimestamp": push["EndedTimestamp"],
        "IVRKeyPressed": push["IVRKeyPressed"], "IVRKeyPressedEx": [key_pressed(s) for s in push["IVRKeyPressedEx"]],
        "HungUpSide": push["HungUpSide"],
        "ServeParticipants": [serve_participant(p, agents) for p in push["ServeParticipants"]],
        "SkillGroupId": push["QueuedSkillGroupId"], "EndStatusString": push["EndStatusString"],
        "StartTimestamp": push["StartTimestamp"], "QueuedTimestamp": push["QueuedTimestamp"],
        "PostIVRKeyPressed": [], "PostIVRKeyPressedEx": [], "QueuedSkillGroupId": push["QueuedSkillGroupId"],
        "SessionId": push["SessionId"], "ProtectedCaller": protected_caller, "ProtectedCallee": protected_callee,
        "Uui": push["Uui"], "UUI": push["Uui"], "AsrUrl": "", "AsrStatus": "NotExists", "CustomRecordURL": "",
        "Remark": session["session__remark"], "QueuedSkillGroupName": push["QueuedSkillGroupName"],
        "VoicemailRecordURL": [], "VoicemailAsrURL": [], "AIAgentId": 0, "AIAgentName": "", "SysHangupReason": 0,
        "SysHangupReasonString": "", "EndStatusV2": 0,
    }


def agents_of(call: Call, pushes: list[dict]) -> dict[str, dict]:
    user_ids = {push["SeatUser"] for push in pushes} | {p["SeatUser"] for push in pushes
                                                        for p in push["ServeParticipants"]}
    return records.agents_by_user_id(call.tenant, user_ids - {""})


def tel_cdr_page(call: Call, *, protected: bool) -> dict:
    params = call.params
    start, end = time_range(params, "StartTimeStamp", "EndTimeStamp")
    offset, limit = page_size_and_number(params)
    phones = session_ids = None
    if not protected:
        phones = params.strings("Phones", max_items=100, max_length=64)
        session_ids = params.strings("SessionIds", max_items=100, max_length=64)
    total, rows = records.cdr_page(call.tenant, start, end, offset, limit, types=records.TEL_TYPES, phones=phones,
                                   session_ids=session_ids, protected_only=protected)
    agents = agents_of(call, [row["payload"] for row in rows])
    recorded = recording_links.fields_of_sessions([row["payload"]["SessionId"] for row in rows], call.base_url)
    cdrs = [tel_cdr(row["payload"], row, agents, recorded.get(row["payload"]["SessionId"], {}),
                    hide_protected=protected) for row in rows]
    return {"TotalCount": total, "TelCdrs": cdrs, "TelCdrList": cdrs}


@action("DescribeTelCdr")
def describe_tel_cdr(call: Call) -> dict:
    call.params.integer("InstanceId")
    return tel_cdr_page(call, protected=False)


@action("DescribeProtectedTelCdr")
def describe_protected_tel_cdr(call: Call) -> dict:
    return tel_cdr_page(call, protected=True)


# Web chats.


def im_cdr_page(call: Call) -> tuple[int, list[dict]]:
    params = call.params
    params.integer("InstanceId")
    start, end = time_range(params, "StartTimestamp", "EndTimestamp")
    offset, limit = limit_and_offset(params, 20, PAGE_MAX)
    kind = params.integer("Type")
    if kind not in (None, 1, 2):
        raise invalid_value("Type", "must be 1 (omnichannel) or 2 (text chat)")
    if kind == 1:  # our web chats are text chats: none is an omnichannel record
        return 0, []
    total, rows = records.cdr_page(call.tenant, start, end, offset, limit, types=records.CHAT_TYPES)
    return total, [{
        "Id": row["payload"]["SessionId"], "Duration": row["payload"]["Duration"],
        "EndStatus": row["payload"]["EndStatus"], "Nickname": row["session__nickname"], "Type": 2,
        "StaffId": row["payload"]["SeatUser"], "Timestamp": row["payload"]["StartTimestamp"],
        "SessionId": row["payload"]["SessionId"],
        "SkillGroupId": str(row["payload"]["QueuedSkillGroupId"] or ""),
        "SkillGroupName": row["payload"]["QueuedSkillGroupName"], "Satisfaction": None,
        "ClientUserId": row["session__customer_user_id"] or row["session__visitor_id"],
    } for row in rows]


@action("DescribeIMCdrs")
def describe_im_cdrs(call: Call) -> dict:
    total, cdrs = im_cdr_page(call)
    return {"TotalCount": total, "IMCdrs": cdrs, "IMCdrList": cdrs}


@action("DescribeIMCdrList")
def describe_im_cdr_list(call: Call) -> dict:
    total, cdrs = im_cdr_page(call)
    return {"TotalCount": total, "IMCdrList": cdrs}


@action("DescribeChatMessages")
def describe_chat_messages(call: Call) -> dict:
    params = call.params
    params.integer("InstanceId")
    params.string("CdrId", max_length=64)
    session_id = params.string("SessionId", required=True, max_length=64)
    offset, limit = limit_and_offset(params, 20, PAGE_MAX)
    order = params.integer("Order", 2)
    if order not in (1, 2):
        raise invalid_value("Order", "must be 1 (oldest first) or 2 (newest first)")
    total, messages = records.chat_messages(call.tenant, session_id, offset, limit, newest_first=order == 2)
    return {"TotalCount": total, "Messages": [
        {"Timestamp": m["timestamp"], "From": m["author"], "Messages": [{"Type": "text", "Content": m["text"]}]}
        for m in messages]}


# One call.


def one_session(call: Call, range_names: tuple[str, str] | None = None):
    session_id = call.params.string("SessionId", required=True, max_length=64)
    span = time_range(call.params, *range_names, required=False) if range_names else None
    session = records.session_of(call.tenant, session_id, records.TEL_TYPES)
    started = int(session.created_at.timestamp())
    if span and not span[0] <= started <= span[1]:
        raise NotFound(f"session {session_id} did not start between {span[0]} and {span[1]}")
    return session, records.record_of(session)


@action("DescribeSessionDetail")
def describe_session_detail(call: Call) -> dict:
    session, push = one_session(call, ("StartTimestamp", "EndTimestamp"))
    agents = agents_of(call, [push])
    record = recording_links.fields_of_sessions([push["SessionId"]], call.base_url).get(push["SessionId"], {})
    return {
        "Caller": push["Caller"], "Callee": push["Callee"], "CallType": push["CallType"],
        "StartTimeStamp": push["StartTimestamp"], "RingTimestamp": push["RingTimestamp"],
        "AcceptTimestamp": push["AcceptTimestamp"], "EndedTimestamp": push["EndedTimestamp"],
        "QueuedTimestamp": push["QueuedTimestamp"], "StaffUserId": push["SeatUser"], "EndStatus": push["EndStatus"],
        "QueuedSkillGroupId": push["QueuedSkillGroupId"], "QueuedSkillGroupName": push["QueuedSkillGroupName"],
        "RecordURL": record.get("RecordURL", ""), "CustomRecordURL": "", "AsrURL": "", "VoicemailRecordURL": [],
        "VoicemailAsrURL": [], "IVRKeyPressed": [key_pressed(s) for s in push["IVRKeyPressedEx"]], "PostIVRKeyPressed": [],
        "HungUpSide": push["HungUpSide"], "UUI": push["Uui"], "Events": [],
        "ServeParticipants": [serve_participant(p, agents) for p in push["ServeParticipants"]],
        "SysHangupReason": 0, "SysHangupReasonString": "", "EndStatusV2": 0,
    }


def pstn_session(session, push: dict) -> dict:
    agent = session.agent or (session.caller_agent if session.direction == "out" else None)
    return {"SessionID": session.id, "RoomID": "", "Caller": push["Caller"], "Callee": push["Callee"],
            "StartTimestamp": push["StartTimestamp"], "RingTimestamp": push["RingTimestamp"],
            "AcceptTimestamp": push["AcceptTimestamp"],
            "StaffEmail": push["SeatUser"] or (agent.user_id if agent else ""),
            "StaffNumber": agent.staff_number if agent else "", "SessionStatus": session.state,
            "Direction": push["Direction"], "OutBoundCaller": "", "OutBoundCallee": "",
            "ProtectedCaller": session.protected_caller, "ProtectedCallee": session.protected_callee}


@action("DescribeTelSession")
def describe_tel_session(call: Call) -> dict:
    session, push = one_session(call)
    return {"Session": pstn_session(session, push)}


@action("DescribePSTNActiveSessionList")
def describe_pstn_active_session_list(call: Call) -> dict:
    offset, limit = limit_and_offset(call.params, 25, 25)
    total, sessions = records.active_phone_calls(call.tenant, offset, limit)
    listed = []
    for session in sessions:
        seen = pstn_session(session, records.record_of(session))
        listed.append({**{name: seen[name] for name in ("SessionID", "RoomID", "Caller", "Callee", "StaffEmail",
                                                         "StaffNumber", "Direction", "RingTimestamp",
                                                         "ProtectedCaller", "ProtectedCallee")},
                       "StartTimestamp": str(seen["StartTimestamp"]), "AcceptTimestamp": str(seen["AcceptTimestamp"]),
                       "SessionStatus": "inProgress"})
    return {"Total": total, "Sessions": listed}


# Usage.


@action("DescribeTelCallInfo", app_id_list=True)
def describe_tel_call_info(call: Call) -> dict:
    start, end = time_range(call.params, "StartTimeStamp", "EndTimeStamp")
    used = records.minutes_used(call.tenant, start, end)
    return {"TelCallOutCount": used["phone_out"], "TelCallInCount": used["phone_in"], "SeatUsedCount": used["agents"],
            "VoipCallInCount": used["voip_in"], "VOIPCallInCount": used["voip_in"], "AsrOfflineCount": 0,
            "AsrRealtimeCount": 0}
