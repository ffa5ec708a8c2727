"""The phone channel's number rules over the SDK: number mapping (agents see and dial protected ids, never
the number), caller location from the prefix table, per-number outbound limits and calling hours."""
from __future__ import annotations

import datetime

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from sessions_app.models import ProtectedNumber, Session, Tenant
from sessions_app.services import sessions

from .conftest import api_session

pytestmark = pytest.mark.service

CUSTOMER = "008613912345678"


async def set_tenant(**fields):
    await sync_to_async(Tenant.objects.filter(sdk_app_id="1400000001").update)(**fields)


async def test_with_number_mapping_the_agent_sees_a_protected_id_and_dialing_it_calls_the_number(sdk, demo):
    await set_tenant(protect_numbers=True)
    agent = await sdk("agent1@demo")
    session_id = await api_session(demo, "phone", callerPhoneNumber=CUSTOMER, calleePhoneNumber="008675586013388")
    call_in = await agent.event("callIn")
    assert call_in["sessionId"] == session_id and call_in["callerPhoneNumber"] == ""
    protected = call_in["protectedCaller"]
    assert protected.startswith("PN") and CUSTOMER not in str(call_in)
    assert call_in["callerLocation"] == "China"
    tenant = await sync_to_async(Tenant.objects.get)(sdk_app_id="1400000001")
    await sync_to_async(sessions.end_by_customer)(tenant, session_id)  # the caller hangs up while it rings
    await agent.event("sessionEnded")
    reply = await agent.call("Call.startOutboundCall", phoneNumber=protected)
    assert reply["status"] == "success", reply
    assert reply["data"]["calleePhoneNumber"] == protected
    outbound = await sync_to_async(Session.objects.get)(pk=reply["data"]["sessionId"])
    assert outbound.callee_phone_number == CUSTOMER and outbound.protected_callee == protected
    assert await sync_to_async(ProtectedNumber.objects.filter(number=CUSTOMER).count)() == 1


async def test_phone_encode_type_number_dials_the_digits_as_they_are(sdk):
    await set_tenant(protect_numbers=True)
    agent = await sdk("agent1@demo")
    reply = await agent.call("Call.startOutboundCall", phoneNumber="10086", phoneEncodeType="number")
    assert reply["status"] == "success", reply
    assert (await sync_to_async(Session.objects.get)(pk=reply["data"]["sessionId"])).callee_phone_number == "10086"


async def test_a_number_called_too_often_is_refused_with_the_limit_named(sdk):
    agent = await sdk("agent1@demo")
    for _ in range(3):
        reply = await agent.call("Call.startOutboundCall", phoneNumber="10086")
        assert reply["status"] == "success", reply
        await agent.event("sessionEnded")
        await agent.call("Agent.setStatus", status="free")
    reply = await agent.call("Call.startOutboundCall", phoneNumber="10086")
    assert reply["status"] == "error"
    assert reply["errorMsg"] == "10086 was called 3 times in the last 5 minutes (at most 3)"
    assert (await agent.call("Call.startOutboundCall", phoneNumber="10010"))["status"] == "success"


async def test_outside_calling_hours_no_outbound_call_goes_out(sdk):
    now = timezone.localtime()
    await set_tenant(calling_hours_start=(now + datetime.timedelta(hours=1)).time().replace(microsecond=0),
                     calling_hours_end=(now + datetime.timedelta(hours=2)).time().replace(microsecond=0))
    agent = await sdk("agent1@demo")
    reply = await agent.call("Call.startOutboundCall", phoneNumber="10086")
    assert reply["status"] == "error" and "outside calling hours" in reply["errorMsg"]
