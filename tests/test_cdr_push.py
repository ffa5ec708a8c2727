"""CDR push (README, "CDR push") against a real HTTP receiver: body, signature, dedupe id, retries, leases."""
import hashlib
import hmac
import json

import httpx
import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient
from django.utils import timezone

from sessions_app.models import Agent, Cdr, Tenant
from sessions_app.services import cdr as cdr_service
from sessions_app.services import sessions
from sessions_app.services.deadlines import push_due_cdrs

from . import factories
from .webhook_receiver import OK, Receiver, closed_port_url

pytestmark = pytest.mark.service

EVENTS_MD_FIELDS = {
    "SessionId", "Caller", "Callee", "Direction", "CallType", "Duration", "SeatUser", "CallerLocation", "IVRDuration",
    "RingTimestamp", "AcceptTimestamp", "EndedTimestamp", "StartTimestamp", "QueuedTimestamp", "IVRKeyPressed",
    "IVRKeyPressedEx", "HungUpSide", "ServeParticipants", "EndStatus", "EndStatusString", "QueuedSkillGroupId",
    "QueuedSkillGroupName", "Uui",
}


@pytest.fixture
def retry_backoff(settings):
    settings.CDR_RETRY_BASE = 2
    settings.CDR_RETRY_MAX = 600


@database_sync_to_async
def set_webhook(url: str) -> Tenant:
    Tenant.objects.filter(sdk_app_id="1400000001").update(cdr_webhook_url=url)
    return Tenant.objects.get(sdk_app_id="1400000001")


async def ended_session(demo, session_type="phone", **fields) -> str:
    """An inbound session offered to agent1 and then hung up by the customer: its CDR is due."""
    def create_and_end():
        Agent.objects.filter(user_id="agent1@demo").update(status="free")
        tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
        session_id = sessions.create_inbound(tenant, session_type, demo["skillGroups"][session_type], fields,
                                             uui="crm-ticket-42")
        sessions.end_by_customer(tenant, session_id)
        return session_id
    return await database_sync_to_async(create_and_end)()


@database_sync_to_async
def ended_call_of(center: Tenant) -> str:
    """A phone call of a tenant made by the factories, offered to its one agent and hung up by the customer."""
    phone = factories.skill_group(center, "phone")
    factories.agent(center, phone, status="free")
    session_id = sessions.create_inbound(center, "phone", str(phone.pk), {}, uui="crm-ticket-42")
    sessions.end_by_customer(center, session_id)
    return session_id


@database_sync_to_async
def cdr_of(session_id: str) -> Cdr:
    return Cdr.objects.get(session_id=session_id)


@database_sync_to_async
def make_due_now(session_id: str) -> None:
    """Stand-in for waiting out the backoff: the retry is due now."""
    Cdr.objects.filter(session_id=session_id).update(next_attempt_at=timezone.now())


async def push() -> int:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await push_due_cdrs(client)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_pushed_body_is_the_cdr_with_every_events_md_field(demo):
    with Receiver(OK) as receiver:
        tenant = await set_webhook(receiver.url)
        session_id = await ended_session(demo, "phone", callerPhoneNumber="008613800000000",
                                         calleePhoneNumber="008675586013388", callerLocation="Shenzhen",
                                         ivrPath=[{"key": "1", "label": "Sales"}])
        assert await push() == 1

    [request] = receiver.requests
    assert request["path"] == "/cdr"
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert EVENTS_MD_FIELDS <= set(body)
    record = await cdr_of(session_id)
    assert body == record.payload
    assert body["SessionId"] == session_id
    assert (body["Caller"], body["Callee"]) == ("008613800000000", "008675586013388")
    assert (body["Direction"], body["CallType"], body["Duration"]) == (0, 2, 0)
    assert body["SeatUser"] == ""
    assert (body["EndStatus"], body["EndStatusString"], body["HungUpSide"]) == (104, "ringingGiveUp", "user")
    assert body["IVRKeyPressed"] == ["1"] and body["IVRKeyPressedEx"] == [{"key": "1", "label": "Sales"}]
    assert body["Uui"] == "crm-ticket-42"
    assert body["QueuedSkillGroupId"] == demo["skillGroups"]["phone"]
    assert body["StartTimestamp"] <= body["QueuedTimestamp"] <= body["RingTimestamp"] <= body["EndedTimestamp"]
    assert body["AcceptTimestamp"] == 0
    [participant] = body["ServeParticipants"]
    assert participant["SeatUser"] == "agent1@demo" and participant["AcceptTimestamp"] == 0
    assert participant["Outcome"] == "cancelled"
    assert request["headers"]["X-Tccc-Push-Id"] == str(record.push_id)
    assert request["headers"]["X-Tccc-Signature"] == signature(tenant.cdr_secret, request["body"])
    assert record.delivered_at is not None and record.next_attempt_at is None and record.attempts == 1


async def test_push_is_retried_until_errcode_0_with_one_push_id_and_growing_backoff(demo, retry_backoff):
    with Receiver((500, b"server error"), (200, {"ErrCode": 1, "ErrMsg": "busy"}), OK) as receiver:
        tenant = await set_webhook(receiver.url)
        session_id = await ended_session(demo)

        before = timezone.now()
        assert await push() == 1
        first = await cdr_of(session_id)
        assert first.delivered_at is None and first.last_error == "HTTP 500"
        first_delay_at_most = first.next_attempt_at - before

        assert await push() == 0, "not due again before its backoff"
        await make_due_now(session_id)
        assert await push() == 1
        after = timezone.now()
        second = await cdr_of(session_id)
        assert second.delivered_at is None and "ErrCode" in second.last_error
        second_delay_at_least = second.next_attempt_at - after
        assert second_delay_at_least > first_delay_at_most

        await make_due_now(session_id)
        assert await push() == 1
        delivered = await cdr_of(session_id)
        assert delivered.delivered_at is not None and delivered.next_attempt_at is None
        assert delivered.last_error == "" and delivered.attempts == 3

        assert await push() == 0
    assert len(receiver.requests) == 3
    assert {r["headers"]["X-Tccc-Push-Id"] for r in receiver.requests} == {str(delivered.push_id)}
    assert len({r["body"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        assert request["headers"]["X-Tccc-Signature"] == signature(tenant.cdr_secret, request["body"])


async def test_delivered_push_is_never_sent_again(demo):
    with Receiver(OK) as receiver:
        await set_webhook(receiver.url)
        session_id = await ended_session(demo)
        assert await push() == 1
        assert await push() == 0
        assert await push() == 0
    assert len(receiver.requests) == 1
    assert (await cdr_of(session_id)).delivered_at is not None


async def test_each_cdr_has_its_own_push_id(demo):
    with Receiver(OK) as receiver:
        await set_webhook(receiver.url)
        first = await ended_session(demo)
        second = await ended_session(demo)
        assert await push() == 2
    by_session = {json.loads(r["body"])["SessionId"]: r["headers"]["X-Tccc-Push-Id"] for r in receiver.requests}
    assert set(by_session) == {first, second}
    assert by_session[first] != by_session[second]
    assert by_session[first] == str((await cdr_of(first)).push_id)
    assert by_session[second] == str((await cdr_of(second)).push_id)


async def test_receiver_down_leaves_the_push_pending_with_its_error(demo):
    await set_webhook(closed_port_url())
    session_id = await ended_session(demo)
    assert await push() == 1
    record = await cdr_of(session_id)
    assert record.delivered_at is None
    assert record.next_attempt_at is not None and record.next_attempt_at > timezone.now()
    assert "ConnectError" in record.last_error
    assert record.attempts == 1


async def test_pending_push_survives_a_restart(demo):
    """A push is only a row: a process that claimed it and died leaves it for the next one after the lease."""
    with Receiver(OK) as receiver:
        await set_webhook(receiver.url)
        session_id = await ended_session(demo)
        [claimed] = await database_sync_to_async(cdr_service.claim_due)()  # then the process dies mid-push
        assert claimed[0] == (await cdr_of(session_id)).pk

        assert await push() == 0, "the dead process's lease still holds"
        await make_due_now(session_id)  # the lease ran out
        async with httpx.AsyncClient(trust_env=False) as fresh_client:
            assert await push_due_cdrs(fresh_client) == 1
    record = await cdr_of(session_id)
    assert record.delivered_at is not None and record.attempts == 2
    [request] = receiver.requests
    assert request["headers"]["X-Tccc-Push-Id"] == str(record.push_id)


async def test_failed_push_is_delivered_by_a_fresh_sweeper_after_a_restart(demo):
    with Receiver((503, b"down for maintenance"), OK) as receiver:
        await set_webhook(receiver.url)
        session_id = await ended_session(demo)
        async with httpx.AsyncClient(trust_env=False) as before_restart:
            assert await push_due_cdrs(before_restart) == 1
        assert (await cdr_of(session_id)).last_error == "HTTP 503"

        await make_due_now(session_id)
        async with httpx.AsyncClient(trust_env=False) as after_restart:
            assert await push_due_cdrs(after_restart) == 1
    assert (await cdr_of(session_id)).delivered_at is not None
    assert [r["headers"]["X-Tccc-Push-Id"] for r in receiver.requests] == [str((await cdr_of(session_id)).push_id)] * 2


async def test_tenant_without_webhook_gets_a_cdr_but_no_push(transactional_db):
    with Receiver(OK) as receiver:
        session_id = await ended_call_of(await database_sync_to_async(factories.tenant)(cdr_webhook_url=""))
        record = await cdr_of(session_id)
        assert record.payload["SessionId"] == session_id
        assert record.next_attempt_at is None
        assert await push() == 0
    assert receiver.requests == []
    assert (await cdr_of(session_id)).delivered_at is None


async def test_webhook_removed_after_the_session_ended_stops_its_push(demo):
    with Receiver(OK) as receiver:
        await set_webhook(receiver.url)
        session_id = await ended_session(demo)
        await set_webhook("")
        assert await push() == 0
    assert receiver.requests == []
    assert (await cdr_of(session_id)).next_attempt_at is None


async def test_second_claim_returns_nothing_while_the_first_holds_the_lease(transactional_db):
    center = await database_sync_to_async(factories.tenant)(cdr_webhook_url="http://127.0.0.1:9/cdr")
    session_id = await ended_call_of(center)
    claim = database_sync_to_async(cdr_service.claim_due)
    first = await claim()
    second = await claim()
    assert [item[0] for item in first] == [(await cdr_of(session_id)).pk]
    assert second == []


async def test_claims_split_due_pushes_without_overlap(demo):
    await set_webhook("http://127.0.0.1:9/cdr")
    ended = [await ended_session(demo) for _ in range(3)]
    claim = database_sync_to_async(cdr_service.claim_due)
    batches = [await claim(limit=2), await claim(limit=2), await claim(limit=2)]
    ids = [item[0] for batch in batches for item in batch]
    assert len(ids) == len(set(ids)) == 3
    assert [len(batch) for batch in batches] == [2, 1, 0]
    assert {item[2] for batch in batches for item in batch} == {str((await cdr_of(s)).push_id) for s in ended}


async def test_call_accepted_over_the_websocket_and_hung_up_pushes_a_served_cdr(sdk, demo):
    with Receiver(OK) as receiver:
        tenant = await set_webhook(receiver.url)
        agent = await sdk("agent1@demo")
        await database_sync_to_async(Agent.objects.exclude(user_id="agent1@demo").update)(status="offline")
        response = await AsyncClient().post(
            "/api/sessions", {"type": "phone", "skillGroupId": demo["skillGroups"]["phone"],
                              "callerPhoneNumber": "008613800000000", "calleePhoneNumber": "008675586013388",
                              "uui": "crm-ticket-7"},
            content_type="application/json", headers={"Authorization": f"Bearer {demo['apiKey']}"})
        assert response.status_code == 200
        session_id = response.json()["sessionId"]
        assert (await agent.event("callIn"))["sessionId"] == session_id
        assert (await agent.call("Call.accept", sessionId=session_id))["status"] == "success"
        assert await agent.event("userAccessed") == {"sessionId": session_id}
        assert (await agent.call("Call.hungUp", sessionId=session_id))["status"] == "success"
        assert (await agent.event("sessionEnded"))["closeBy"] == "seat"
        assert await push() == 1

    [request] = receiver.requests
    assert request["headers"]["X-Tccc-Signature"] == signature(tenant.cdr_secret, request["body"])
    body = json.loads(request["body"])
    assert body["SessionId"] == session_id
    assert (body["SeatUser"], body["EndStatus"], body["EndStatusString"]) == ("agent1@demo", 1, "ok")
    assert body["HungUpSide"] == "seat"
    assert (body["Caller"], body["Callee"], body["Uui"]) == ("008613800000000", "008675586013388", "crm-ticket-7")
    assert (body["Direction"], body["CallType"]) == (0, 2)
    assert body["AcceptTimestamp"] > 0 and body["AcceptTimestamp"] <= body["EndedTimestamp"]
    assert abs(body["Duration"] - (body["EndedTimestamp"] - body["AcceptTimestamp"])) <= 1
    [served] = body["ServeParticipants"]
    assert served["SeatUser"] == "agent1@demo" and served["Sequence"] == 1
    assert served["SkillGroupId"] == demo["skillGroups"]["phone"]
    assert 0 < served["RingTimestamp"] <= served["AcceptTimestamp"] <= served["EndedTimestamp"]
