"""Calls out: CreateCallOutSession, Tencent's two-leg call. The server rings the agent (`UserId`) first; when they
accept, it dials the customer (`Callee`) through the trunk, and the call goes on as one the agent placed
(`services/callout.py`)."""
from __future__ import annotations

from ..domain import phone as rules
from ..services import callout
from .actions import Call, action
from .protocol import INVALID_PARAMETER_VALUE, CloudError, invalid_value


def _number(name: str, value: str) -> str:
    if not rules.NUMBER_PATTERN.fullmatch(rules.digits(value)):
        raise invalid_value(name, "is not a phone number")
    return value


@action("CreateCallOutSession")
def create_call_out_session(call: Call) -> dict:
    params = call.params
    user_id = params.string("UserId", required=True, max_length=128)
    callee = _number("Callee", params.string("Callee", required=True, max_length=64))
    callers = params.strings("Callers", max_items=100, max_length=64)
    if callers is None:
        caller = params.string("Caller", max_length=64)
        callers = [caller] if caller else []
    callers = [_number(f"Callers.{n}", each) for n, each in enumerate(callers)]
    params.boolean("IsForceUseMobile")  # the agent is rung in their SDK (our agents have no mobile-only mode)
    uui = params.string("UUI", max_length=1024) or params.string("Uui", "", max_length=1024)
    try:
        session_id = callout.ring_agent_then_dial(call.tenant, user_id=user_id, callee=callee, callers=callers,
                                                  uui=uui)
    except callout.NotOurNumber as wrong:
        raise CloudError(INVALID_PARAMETER_VALUE, str(wrong)) from None
    return {"SessionId": session_id}
