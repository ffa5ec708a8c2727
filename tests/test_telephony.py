"""The phone channel's decisions as the SIP gateway calls them: a trunk call to the hotline enters the IVR,
the keys pressed route it with its ivrPath, a caller who hangs up in the IVR ends as ivrGiveUp, and the CDR
carries IVRKeyPressed and IVRDuration; a caller still in the IVR past its stored deadline ends, swept, and so
do a call dialled out that no gateway carries and a trunk call whose gateway stopped renewing its lease."""
from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from sessions_app.models import Agent, Cdr, Hotline, Session, SkillGroup, Trunk
from sessions_app.services import deadlines, telephony
from sessions_app.services.errors import ServiceError

pytestmark = pytest.mark.service

HOTLINE = "008675586013388"
CALLER = "008613800001234"


async def test_a_call_to_the_hotline_waits_in_the_ivr_then_its_keys_route_it_to_an_agent(sdk, demo):
    agent = await sdk("agent1@demo")
    call = await sync_to_async(telephony.inbound_call)(HOTLINE, CALLER)
    session = await sync_to_async(Session.objects.get)(pk=call.session_id)
    assert session.state == "ivr" and session.caller_location == "China Mobile" and call.menu is not None
    menus, files = await sync_to_async(telephony.ivr_menus)(call.tenant_id)
    assert set(menus[call.menu].choices) == {"1", "2"} and files == {}

    path = [{"key": "1", "label": "Support"}]
    assert await sync_to_async(telephony.ivr_chosen)(call.session_id, demo["skillGroups"]["phone"], path)
    offer = await agent.event("callIn")
    assert offer["sessionId"] == call.session_id and offer["ivrPath"] == path
    assert offer["callerPhoneNumber"] == CALLER and offer["calleePhoneNumber"] == HOTLINE

    await sync_to_async(telephony.caller_hung_up)(call.session_id)
    ended = await agent.event("sessionEnded")
    assert ended["closeBy"] == "client"
    assert (await sync_to_async(Session.objects.get)(pk=call.session_id)).end_status == "ringingGiveUp"


async def test_hanging_up_in_the_ivr_ends_as_ivr_give_up_with_the_keys_so_far_in_the_cdr(demo):
    call = await sync_to_async(telephony.inbound_call)(HOTLINE, CALLER)
    await sync_to_async(telephony.caller_hung_up)(call.session_id, [{"key": "2", "label": "Orders and billing"}])
    session = await sync_to_async(Session.objects.get)(pk=call.session_id)
    assert (session.state, session.end_status, session.close_by) == ("ended", "ivrGiveUp", "client")
    record = (await sync_to_async(Cdr.objects.get)(session_id=call.session_id)).payload
    assert record["IVRKeyPressed"] == ["2"] and record["EndStatus"] == 102 and record["HungUpSide"] == "user"
    assert record["IVRDuration"] >= 0 and record["Direction"] == 0 and record["CallType"] == 2


async def test_after_every_retry_the_ivr_gives_up_and_a_late_choice_changes_nothing(demo):
    call = await sync_to_async(telephony.inbound_call)(HOTLINE, CALLER)
    await sync_to_async(telephony.ivr_gave_up)(call.session_id, [])
    assert not await sync_to_async(telephony.ivr_chosen)(call.session_id, demo["skillGroups"]["phone"], [])
    session = await sync_to_async(Session.objects.get)(pk=call.session_id)
    assert (session.end_status, session.close_by) == ("ivrGiveUp", "admin")


async def test_a_hotline_without_a_menu_queues_at_once_and_an_unknown_number_is_refused(sdk, demo):
    agent = await sdk("agent1@demo")
    group = await sync_to_async(SkillGroup.objects.get)(pk=demo["skillGroups"]["phone"])
    await sync_to_async(Hotline.objects.create)(tenant_id=group.tenant_id, number="4008001234", skill_group=group)
    call = await sync_to_async(telephony.inbound_call)("4008001234", CALLER)
    assert call.menu is None and (await agent.event("callIn"))["sessionId"] == call.session_id
    with pytest.raises(ServiceError, match="not a number of this contact center"):
        await sync_to_async(telephony.inbound_call)("5550000", CALLER)


async def test_a_caller_in_the_ivr_past_its_deadline_ends_though_no_gateway_says_so(demo, settings):
    settings.IVR_MAX_SECONDS = 0.3
    call = await sync_to_async(telephony.inbound_call)(HOTLINE, CALLER)
    session = await sync_to_async(Session.objects.get)(pk=call.session_id)
    assert session.state == "ivr" and session.ivr_deadline is not None

    async def swept_and_ended():
        await sync_to_async(deadlines.sweep_once)()
        return (await sync_to_async(Session.objects.get)(pk=call.session_id)).state == "ended"

    await until_true(swept_and_ended, "the sweeper ends the session at its IVR deadline")
    session = await sync_to_async(Session.objects.get)(pk=call.session_id)
    assert (session.end_status, session.close_by, session.ivr_deadline) == ("error", "admin", None)
    assert (await sync_to_async(Cdr.objects.get)(session_id=call.session_id)).payload["EndStatus"] == 0


async def test_a_caller_who_chose_in_time_leaves_the_ivr_deadline_behind(demo):
    call = await sync_to_async(telephony.inbound_call)(HOTLINE, CALLER)
    assert await sync_to_async(telephony.ivr_chosen)(call.session_id, demo["skillGroups"]["phone"], [])
    assert (await sync_to_async(Session.objects.get)(pk=call.session_id)).ivr_deadline is None


async def until_true(check, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


def test_a_call_dialled_out_that_no_gateway_carries_ends_at_its_stored_deadline(demo,
                                                                                django_capture_on_commit_callbacks):
    agent = Agent.objects.select_related("tenant").get(user_id="agent1@demo")
    session = Session.objects.create(tenant=agent.tenant, type="phone", direction="out", state="ringing",
                                     caller_agent=agent, callee_phone_number="13800138000", ring_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():  # the gateway never gets it
        telephony.dial(session, Trunk(tenant=agent.tenant, host="127.0.0.1", port=5060))
    session.refresh_from_db()
    assert session.offer_deadline > timezone.now()
    Session.objects.filter(pk=session.pk).update(offer_deadline=timezone.now())  # its time is up
    deadlines.sweep_once()
    session.refresh_from_db()
    assert (session.state, session.end_status, session.close_by) == ("ended", "notAnswer", "admin")


async def test_a_trunk_call_whose_gateway_stops_renewing_its_lease_ends_in_whatever_state(sdk, demo):
    agent = await sdk("agent1@demo")
    group = await sync_to_async(SkillGroup.objects.get)(pk=demo["skillGroups"]["phone"])
    await sync_to_async(Hotline.objects.create)(tenant_id=group.tenant_id, number="4008001234", skill_group=group)
    call = await sync_to_async(telephony.inbound_call)("4008001234", CALLER)
    assert (await agent.event("callIn"))["sessionId"] == call.session_id  # ringing
    first = (await sync_to_async(Session.objects.get)(pk=call.session_id)).line_deadline
    assert await sync_to_async(telephony.renew_lines)([call.session_id]) == 1
    renewed = (await sync_to_async(Session.objects.get)(pk=call.session_id)).line_deadline
    assert renewed > first

    await sync_to_async(Session.objects.filter(pk=call.session_id).update)(line_deadline=timezone.now())  # not renewed
    await sync_to_async(deadlines.sweep_once)()
    assert (await agent.event("sessionEnded"))["sessionId"] == call.session_id
    session = await sync_to_async(Session.objects.get)(pk=call.session_id)
    assert (session.state, session.end_status, session.close_by, session.line_deadline) == ("ended", "error", "admin",
                                                                                            None)
