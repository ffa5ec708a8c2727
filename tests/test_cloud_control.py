"""Tencent's cloud API on our server, control actions (sessions_app/cloud/control.py), through Tencent's own client
against a live daphne: what the agent's SDK socket sees, and the audit entry naming the key."""
from __future__ import annotations

import asyncio
import json

import pytest

from testing.serving import running
from .browser import live_shell, reset_center
from .cloud_client import app, call, client, cloud_server, refused
from .ws_clients import open_agent

pytestmark = pytest.mark.peer

OTHER_TENANT = """
from django.contrib.auth import get_user_model
from sessions_app.models import Agent, Session, Tenant
tenant, _ = Tenant.objects.get_or_create(sdk_app_id="1400000077", defaults={"name": "Other company"})
user, _ = get_user_model().objects.get_or_create(username="other-agent")
Agent.objects.get_or_create(account=user, defaults={"tenant": tenant, "user_id": "other@elsewhere"})
print(Session.objects.create(tenant=tenant, type="im").pk)
"""


@pytest.fixture(scope="module")
def live():
    with running(cloud_server()) as server:
        live_shell(server, OTHER_TENANT)
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)


@pytest.fixture
def center(live):
    reset_center(live)
    return live



def audit(live, action: str) -> dict:
    """The latest audit entry of `action`, as the log keeps it."""
    return json.loads(live_shell(live, (
        "import json\nfrom sessions_app.models import AuditEntry\n"
        f"e = AuditEntry.objects.filter(action={action!r}).order_by('-id').first()\n"
        "print(json.dumps({'name': e.supervisor_name, 'key': e.cloud_key.secret_id if e.cloud_key else None, "
        "'supervisor': e.supervisor_id, 'outcome': e.outcome, 'target': e.target_id, 'tenant': e.tenant_id, "
        "'message': e.message}))")).strip().splitlines()[-1])


async def request(socket, method: str, **params) -> dict:
    reply = await socket.request(method=method, params=params)
    assert reply["status"] == "success", reply
    return reply.get("data") or {}


async def serving_a_chat(live, user_id: str):
    """The agent's SDK socket, free, serving a chat just created through the API."""
    agent = await open_agent(live, user_id)
    await request(agent, "Agent.setStatus", status="free")
    session_id = live.api("POST", "/api/sessions", {"type": "im", "skillGroupId": live.demo["skillGroups"]["im"]})[
        "sessionId"]
    assert (await agent.event("callIn"))["sessionId"] == session_id
    await request(agent, "Chat.accept", sessionId=session_id)
    return agent, session_id


def test_hang_up_call_ends_a_live_session_as_admin(center, cloud):
    async def scenario():
        agent, session_id = await serving_a_chat(center, "agent1@demo")
        call(cloud, "HangUpCall", {"SdkAppId": app(center), "SessionId": session_id})
        ended = await agent.event("sessionEnded")
        await agent.ws.close()
        return session_id, ended

    session_id, ended = asyncio.run(scenario())
    assert (ended["sessionId"], ended["closeBy"]) == (session_id, "admin")
    assert center.api("GET", f"/api/sessions/{session_id}")["state"] == "ended"
    hung_up_side = live_shell(center, f"from sessions_app.models import Cdr\n"
                                      f"print(Cdr.objects.get(session_id={session_id!r}).payload['HungUpSide'])")
    assert hung_up_side.strip().splitlines()[-1] == "system"  # Tencent's name for an ending by the system
    entry = audit(center, "end_session")
    assert entry["outcome"] == "done" and entry["supervisor"] is None
    assert entry["key"] == center.demo["secretId"] and center.demo["secretId"] in entry["name"]
    assert center.demo["secretKey"] not in json.dumps(entry)
    # The session is over: hanging it up again is a wrong state, refused and audited.
    error = refused(cloud, "HangUpCall", {"SdkAppId": app(center), "SessionId": session_id})
    assert error.code == "FailedOperation" and "already ended" in error.message
    assert audit(center, "end_session")["outcome"] == "refused"


@pytest.mark.parametrize("params, code", [
    ({}, "MissingParameter"),
    ({"SessionId": 7}, "InvalidParameter"),
    ({"SessionId": "no-such-session"}, "ResourceNotFound"),
    ({"SessionId": "x" * 65}, "InvalidParameterValue"),
])
def test_hang_up_call_refusals(live, cloud, params, code):
    assert refused(cloud, "HangUpCall", {"SdkAppId": app(live), **params}).code == code


def test_another_tenants_session_is_not_found_and_stays_open(live, cloud):
    other_session = live_shell(live, OTHER_TENANT).strip().splitlines()[-1]
    error = refused(cloud, "HangUpCall", {"SdkAppId": app(live), "SessionId": other_session})
    assert error.code == "ResourceNotFound"
    state = live_shell(live, f"from sessions_app.models import Session\n"
                             f"print(Session.objects.get(pk={other_session!r}).state)").strip()
    assert state.splitlines()[-1] == "queued"


def test_force_member_offline_takes_the_agent_offline_and_closes_their_sockets(center, cloud):
    async def scenario():
        agent, session_id = await serving_a_chat(center, "agent2@demo")
        call(cloud, "ForceMemberOffline", {"SdkAppId": app(center), "UserId": "agent2@demo"})
        ended = await agent.event("sessionEnded")
        await asyncio.wait_for(agent.ws.wait_closed(), 10)
        return session_id, ended, agent.ws.close_code

    session_id, ended, close_code = asyncio.run(scenario())
    assert ended["sessionId"] == session_id
    assert close_code == 4001  # as for an expired token: the page asks for a new one
    status = call(cloud, "DescribeStaffStatusMetrics", {"SdkAppId": app(center), "StaffList": ["agent2@demo"]})
    assert status["Metrics"][0]["Status"] == "offline"
    assert audit(center, "force_offline")["key"] == center.demo["secretId"]

    # RestoreMemberOnline: nothing blocks a new login here; it answers as Tencent's, and the agent signs in again.
    call(cloud, "RestoreMemberOnline", {"SdkAppId": app(center), "UserId": "agent2@demo"})
    assert audit(center, "restore_online")["outcome"] == "done"

    async def signs_in_again():
        agent = await open_agent(center, "agent2@demo")
        await request(agent, "Agent.setStatus", status="free")
        status = await request(agent, "Agent.getStatus")
        await agent.ws.close()
        return status

    assert asyncio.run(signs_in_again())["status"] == "free"


@pytest.mark.parametrize("action", ["ForceMemberOffline", "RestoreMemberOnline"])
@pytest.mark.parametrize("params, code", [
    ({}, "MissingParameter"),
    ({"UserId": 12}, "InvalidParameter"),
    ({"UserId": "nobody@demo"}, "ResourceNotFound"),
    ({"UserId": "other@elsewhere"}, "ResourceNotFound"),  # another tenant's agent
])
def test_member_refusals(live, cloud, action, params, code):
    assert refused(cloud, action, {"SdkAppId": app(live), **params}).code == code


def test_a_refused_force_offline_is_audited_with_the_key(live, cloud):
    refused(cloud, "ForceMemberOffline", {"SdkAppId": app(live), "UserId": "other@elsewhere"})
    entry = audit(live, "force_offline")
    assert (entry["outcome"], entry["target"], entry["key"]) == ("refused", "other@elsewhere", live.demo["secretId"])
    assert entry["tenant"] is not None  # the key's own tenant: the other one is never named


def test_set_staff_status_changes_what_the_agents_sdk_sees(center, cloud):
    async def scenario():
        agent = await open_agent(center, "agent3@demo")
        await request(agent, "Agent.setStatus", status="free")
        answer = call(cloud, "SetStaffStatus", {"SdkAppId": app(center), "StaffStatusList": [
            {"StaffUserId": "agent3@demo", "Status": "rest", "Reason": "Lunch"}]})
        resting = await request(agent, "Agent.getStatus")
        call(cloud, "SetStaffStatus", {"SdkAppId": app(center), "StaffStatusList": [
            {"StaffUserId": "agent3@demo", "Status": "notReady"}]})
        not_ready = await request(agent, "Agent.getStatus")
        await agent.ws.close()
        return answer, resting, not_ready

    answer, resting, not_ready = asyncio.run(scenario())
    assert answer["StaffStatusList"] == [{
        "StaffUserId": "agent3@demo", "ErrorCode": "", "ErrorMessage": "", "Status": "rest", "Reason": "Lunch",
        "PreviousStatus": "free", "PreviousReason": ""}]
    assert (resting["status"], resting.get("restReason")) == ("rest", "Lunch")
    assert not_ready["status"] == "notReady"
    entry = audit(center, "set_status")
    assert (entry["outcome"], entry["key"]) == ("done", center.demo["secretId"])


def test_set_staff_status_answers_each_agents_refusal_in_its_item(center, cloud):
    answer = call(cloud, "SetStaffStatus", {"SdkAppId": app(center), "StaffStatusList": [
        {"StaffUserId": "nobody@demo", "Status": "free"},
        {"StaffUserId": "other@elsewhere", "Status": "free"},
        {"StaffUserId": "agent1@demo", "Status": "free"},  # offline: they come online by signing in
    ]})["StaffStatusList"]
    assert [item["ErrorCode"] for item in answer] == ["ResourceNotFound", "ResourceNotFound", "FailedOperation"]
    assert "offline" in answer[2]["ErrorMessage"] and answer[2]["Status"] == ""


def test_a_rest_reason_must_be_one_of_the_tenants(center, cloud):
    async def scenario():
        agent = await open_agent(center, "agent2@demo")
        await request(agent, "Agent.setStatus", status="free")
        answer = call(cloud, "SetStaffStatus", {"SdkAppId": app(center), "StaffStatusList": [
            {"StaffUserId": "agent2@demo", "Status": "rest", "Reason": "Not a reason of ours"}]})
        status = await request(agent, "Agent.getStatus")
        await agent.ws.close()
        return answer["StaffStatusList"][0], status

    item, status = asyncio.run(scenario())
    assert item["ErrorCode"] == "FailedOperation" and "Lunch" in item["ErrorMessage"]
    assert status["status"] == "free"


@pytest.mark.parametrize("params, code", [
    ({}, "MissingParameter"),
    ({"StaffStatusList": []}, "InvalidParameterValue"),
    ({"StaffStatusList": [{"Status": "free"}]}, "MissingParameter"),
    ({"StaffStatusList": [{"StaffUserId": "agent1@demo", "Status": "busy"}]}, "InvalidParameterValue"),
    ({"StaffStatusList": [{"StaffUserId": "agent1@demo", "Status": "offline"}]}, "InvalidParameterValue"),
    ({"StaffStatusList": [{"StaffUserId": "agent1@demo", "Status": 1}]}, "InvalidParameter"),
    ({"StaffStatusList": [{"StaffUserId": "agent1@demo", "Status": "free"}] * 11}, "InvalidParameterValue"),
])
def test_set_staff_status_bad_requests(live, cloud, params, code):
    assert refused(cloud, "SetStaffStatus", {"SdkAppId": app(live), **params}).code == code


def test_a_revoked_key_acts_on_nothing_and_its_refusal_names_it(live):
    """A key revoked after its request was let in (the view refuses a revoked one): supervision refuses, and the
    audit log names the key."""
    printed = live_shell(live, """
import json
from django.utils import timezone
from sessions_app.models import AuditEntry, CloudKey, Tenant
from sessions_app.services import supervision
from sessions_app.services.errors import ServiceError
key = CloudKey.objects.create(tenant=Tenant.objects.get(sdk_app_id=%r), sealed_secret_key="-",
                              secret_id="AKIDrevoked%%d" %% CloudKey.objects.count(), revoked_at=timezone.now())
try:
    supervision.force_offline(cloud_key_id=key.pk, agent_id=supervision.AgentRef(user_id="agent1@demo"))
    refusal = ""
except ServiceError as error:
    refusal = str(error)
entry = AuditEntry.objects.order_by("-id").first()
print(json.dumps({"refusal": refusal, "key": entry.cloud_key_id == key.pk, "outcome": entry.outcome,
                  "name": entry.supervisor_name, "secret_id": key.secret_id}))
""" % live.demo["SdkAppId"]).strip().splitlines()[-1]
    seen = json.loads(printed)
    assert "revoked" in seen["refusal"] and seen["key"] and seen["outcome"] == "refused"
    assert seen["name"] == f"cloud API key {seen['secret_id']}"
