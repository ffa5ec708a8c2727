"""Event payloads built from rows, by the spec's field names (checked against the protocol in `event`)."""
from __future__ import annotations

from ..domain.protocol import CALL_IN_FIELDS
from ..models import Session
from .phone import as_agents_see

_FIELD_COLUMNS = {
    "calleePhoneNumber": "callee_phone_number", "callerPhoneNumber": "caller_phone_number",
    "callerLocation": "caller_location", "remark": "remark", "ivrPath": "ivr_path",
    "protectedCallee": "protected_callee", "protectedCaller": "protected_caller",
    "nickname": "nickname", "avatar": "avatar", "peerSource": "peer_source", "channelName": "channel_name",
    "clientData": "client_data", "callee": "callee", "calleeRemark": "callee_remark", "userId": "customer_user_id",
}


def call_in(session: Session, timeout: int) -> dict:
    session = as_agents_see(session)
    fields = {"sessionId": session.id, "type": session.type, "timeout": timeout}
    for name in CALL_IN_FIELDS[session.type]:
        if name == "peerUserId":
            fields[name] = session.caller_agent.user_id if session.caller_agent else ""
        else:
            fields[name] = getattr(session, _FIELD_COLUMNS[name])
    return fields


def session_columns(fields: dict) -> dict:
    """Map callIn field names given by an integration to Session columns (unknown names are left out)."""
    return {_FIELD_COLUMNS[k]: v for k, v in fields.items() if k in _FIELD_COLUMNS}


def duration(session: Session) -> float:
    if session.accepted_at and session.ended_at:
        return round((session.ended_at - session.accepted_at).total_seconds(), 3)
    return 0.0
