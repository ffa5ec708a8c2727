"""Tencent's cloud API on our server, figures (sessions_app/cloud/figures.py), through Tencent's own client against
a live daphne: for a scripted set of sessions and statuses, the answers agree with the supervisors' wallboard
(`services.wallboard.board`, read in the live server's database) and the status history."""
from __future__ import annotations

import asyncio
import json
import time

import pytest

from testing.serving import running
from .browser import live_shell, reset_center
from .cloud_client import app, call, client, cloud_server, refused
from .ws_clients import open_agent

pytestmark = pytest.mark.peer

BOARD = """
import json
from sessions_app.models import Tenant
from sessions_app.services import wallboard
board = wallboard.board(Tenant.objects.get(sdk_app_id={app!r}).pk)
print(json.dumps({{"queues": board["queues"], "agents": board["agents"], "now_ms": board["now_ms"]}}))
"""

OTHER_TENANT = """
from sessions_app.models import SkillGroup, Tenant
tenant, _ = Tenant.objects.get_or_create(sdk_app_id="1400000078", defaults={"name": "Other company"})
group, _ = SkillGroup.objects.get_or_create(tenant=tenant, name="Theirs", defaults={"kind": "phone"})
print(group.pk)
"""


@pytest.fixture(scope="module")
def live():
    with running(cloud_server()) as server:
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)



async def request(socket, method: str, **params) -> dict:
    reply = await socket.request(method=method, params=params)
    assert reply["status"] == "success", reply
    return reply.get("data") or {}


@pytest.fixture(scope="module")
def scripted(live):
    """agent1 serves a chat, then rests for lunch; agent2 is not ready; agent3 is offline; a phone call and a
    second chat wait in their queues. The sockets stay open for the module's tests (and close after)."""
    reset_center(live)
    loop = asyncio.new_event_loop()

    async def script():
        alice = await open_agent(live, "agent1@demo")
        await request(alice, "Agent.setStatus", status="free")
        chat = live.api("POST", "/api/sessions", {"type": "im", "skillGroupId": live.demo["skillGroups"]["im"]})
        assert (await alice.event("callIn"))["sessionId"] == chat["sessionId"]
        await request(alice, "Chat.accept", sessionId=chat["sessionId"])
        await request(alice, "Agent.setStatus", status="rest", restReason="Lunch")
        bob = await open_agent(live, "agent2@demo")
        await request(bob, "Agent.setStatus", status="notReady")
        groups = live.demo["skillGroups"]
        waiting = [live.api("POST", "/api/sessions", {"type": "phone", "skillGroupId": groups["phone"],
                                                      "callerPhoneNumber": "008613800000000"})["sessionId"],
                   live.api("POST", "/api/sessions", {"type": "im", "skillGroupId": groups["im"]})["sessionId"]]
        return [alice, bob], chat["sessionId"], waiting

    sockets, chat, waiting = loop.run_until_complete(script())
    yield {"chat": chat, "waiting": waiting}
    for socket in sockets:
        loop.run_until_complete(socket.ws.close())
    loop.close()


def board(live) -> dict:
    return json.loads(live_shell(live, BOARD.format(app=live.demo["SdkAppId"])).strip().splitlines()[-1])


def test_call_in_metrics_agree_with_the_wallboard(live, cloud, scripted):
    answer = call(cloud, "DescribeCallInMetrics", {"SdkAppId": app(live)})
    seen = board(live)
    assert abs(answer["Timestamp"] - time.time()) < 5
    groups = {row["SkillGroupId"]: row for row in answer["SkillGroupMetrics"]}
    assert set(groups) == {queue["id"] for queue in seen["queues"]}
    for queue in seen["queues"]:
        metrics = groups[queue["id"]]["Metrics"]
        assert groups[queue["id"]]["Name"] == queue["name"]
        assert (metrics["QueueCount"], metrics["RingCount"]) == (queue["waiting"], queue["ringing"]), queue["name"]
        if queue["longest_wait_since_ms"]:
            longest = (seen["now_ms"] - queue["longest_wait_since_ms"]) / 1000
            assert abs(metrics["MaxQueueDuration"] - longest) <= 3
    phone, im = groups[live.demo["skillGroups"]["phone"]]["Metrics"], groups[live.demo["skillGroups"]["im"]]["Metrics"]
    assert (phone["QueueCount"], im["QueueCount"], im["AcceptCount"]) == (1, 1, 1)
    total = answer["TotalMetrics"]
    assert total["QueueCount"] == sum(queue["waiting"] for queue in seen["queues"]) == 2
    assert total["AcceptCount"] == 1 and total["TransferOuterCount"] == 0
    assert answer["NumberMetrics"] == []


def test_call_in_metrics_filter_groups(live, cloud, scripted):
    phone = live.demo["skillGroups"]["phone"]
    answer = call(cloud, "DescribeCallInMetrics", {"SdkAppId": app(live), "GroupIdList": [phone]})
    assert [row["SkillGroupId"] for row in answer["SkillGroupMetrics"]] == [phone]
    without = call(cloud, "DescribeCallInMetrics", {"SdkAppId": app(live), "EnabledSkillGroup": False})
    assert without["SkillGroupMetrics"] == [] and without["TotalMetrics"]["QueueCount"] == 2


@pytest.mark.parametrize("params, code", [
    ({"EnabledSkillGroup": "yes"}, "InvalidParameter"),
    ({"GroupIdList": ["1"]}, "InvalidParameter"),
    ({"GroupIdList": [987654321]}, "ResourceNotFound"),
])
def test_call_in_metrics_bad_inputs(live, cloud, params, code):
    assert refused(cloud, "DescribeCallInMetrics", {"SdkAppId": app(live), **params}).code == code


def test_another_tenants_skill_group_is_not_found(live, cloud):
    theirs = int(live_shell(live, OTHER_TENANT).strip().splitlines()[-1])
    for action in ("DescribeCallInMetrics", "DescribeStaffStatusMetrics"):
        assert refused(cloud, action, {"SdkAppId": app(live), "GroupIdList": [theirs]}).code == "ResourceNotFound"


def test_staff_status_metrics_agree_with_the_wallboard(live, cloud, scripted):
    answer = call(cloud, "DescribeStaffStatusMetrics", {"SdkAppId": app(live)})
    seen = {row["user_id"]: row for row in board(live)["agents"]}
    metrics = {row["Email"]: row for row in answer["Metrics"]}
    assert set(metrics) == set(seen)
    tencent = {"free": "free", "onCall": "busy", "ringing": "busy", "rest": "rest", "notReady": "notReady",
               "arrange": "afterCallWork", "offline": "offline"}
    for user_id, row in seen.items():
        assert metrics[user_id]["Status"] == tencent[row["status"]], user_id
        assert metrics[user_id]["LastStatusTimestamp"] == row["status_since_ms"] // 1000
    alice, bob, chen = (metrics[f"agent{n}@demo"] for n in (1, 2, 3))
    assert (alice["Status"], alice["Reason"], bob["Status"], chen["Status"]) == ("rest", "Lunch", "notReady",
                                                                                  "offline")
    assert alice["LastOnlineTimestamp"] and abs(alice["LastOnlineTimestamp"] - time.time()) < 120
    assert alice["ClientInfo"] == [{"ClientType": "Web", "IsConnected": True}] and chen["ClientInfo"] == []
    assert alice["OnlineDuration"] >= alice["FreeDuration"] + alice["RestDuration"] - 1


def test_staff_status_metrics_filters(live, cloud, scripted):
    only = call(cloud, "DescribeStaffStatusMetrics", {"SdkAppId": app(live), "StaffList": ["agent2@demo"]})
    assert [row["Email"] for row in only["Metrics"]] == ["agent2@demo"]
    resting = call(cloud, "DescribeStaffStatusMetrics", {"SdkAppId": app(live), "StatusList": ["rest", "busy"]})
    assert [row["Email"] for row in resting["Metrics"]] == ["agent1@demo"]


@pytest.mark.parametrize("params, code", [
    ({"StaffList": "agent1@demo"}, "InvalidParameter"),
    ({"StaffList": ["nobody@demo"]}, "ResourceNotFound"),
    ({"StatusList": ["sleeping"]}, "InvalidParameterValue"),
    ({"GroupIdList": [987654321]}, "ResourceNotFound"),
])
def test_staff_status_metrics_bad_inputs(live, cloud, params, code):
    assert refused(cloud, "DescribeStaffStatusMetrics", {"SdkAppId": app(live), **params}).code == code


def test_staff_status_history_lists_the_changes_in_pages(live, cloud, scripted):
    now = int(time.time())
    window = {"SdkAppId": app(live), "StaffUserId": "agent1@demo", "StartTimestamp": now - 3600,
              "EndTimestamp": now + 60}
    history = call(cloud, "DescribeStaffStatusHistory", window)["Data"]
    assert [change["Status"] for change in history][-2:] == ["free", "rest"]
    assert history[-1]["Reason"] == "Lunch" and history[-1]["StaffEmail"] == "agent1@demo"
    assert history[-1]["StaffNo"] == "1001"
    assert all(now - 3600 <= change["Timestamp"] <= now + 60 for change in history)
    first = call(cloud, "DescribeStaffStatusHistory", {**window, "PageSize": 1})["Data"]
    rest = call(cloud, "DescribeStaffStatusHistory", {**window, "Cursor": first[0]["Cursor"]})["Data"]
    assert first + rest == history


@pytest.mark.parametrize("params, code", [
    ({"StaffUserId": "agent1@demo", "StartTimestamp": 0}, "MissingParameter"),
    ({"StaffUserId": "agent1@demo", "StartTimestamp": "1", "EndTimestamp": 2}, "InvalidParameter"),
    ({"StaffUserId": "agent1@demo", "StartTimestamp": 1000, "EndTimestamp": 2000}, "InvalidParameterValue"),
    ({"StaffUserId": "agent1@demo", "StartTimestamp": "now", "EndTimestamp": "now-8d"}, "InvalidParameterValue"),
    ({"StaffUserId": "agent1@demo", "StartTimestamp": "now", "EndTimestamp": "now+8d"}, "InvalidParameterValue"),
    ({"StaffUserId": "agent1@demo", "StartTimestamp": "now", "EndTimestamp": "now+1d", "PageSize": 101},
     "InvalidParameterValue"),
    ({"StaffUserId": "agent1@demo", "StartTimestamp": "now", "EndTimestamp": "now+1d", "Cursor": "abc"},
     "InvalidParameterValue"),
    ({"StaffUserId": "nobody@demo", "StartTimestamp": "now", "EndTimestamp": "now+1d"}, "ResourceNotFound"),
    ({"StartTimestamp": "now", "EndTimestamp": "now+1d"}, "MissingParameter"),
])
def test_staff_status_history_bad_inputs(live, cloud, params, code):
    now, day = int(time.time()), 86400
    moments = {"now": now - 60, "now-8d": now - 8 * day, "now+8d": now + 8 * day, "now+1d": now + day}
    params = {name: moments.get(value, value) if name.endswith("Timestamp") and value in moments else value
              for name, value in params.items()}
    assert refused(cloud, "DescribeStaffStatusHistory", {"SdkAppId": app(live), **params}).code == code


def test_another_tenants_agent_has_no_history_here(live, cloud):
    live_shell(live, """
from django.contrib.auth import get_user_model
from sessions_app.models import Agent, Tenant
tenant, _ = Tenant.objects.get_or_create(sdk_app_id="1400000078", defaults={"name": "Other company"})
user, _ = get_user_model().objects.get_or_create(username="other-figures-agent")
Agent.objects.get_or_create(account=user, defaults={"tenant": tenant, "user_id": "other@elsewhere"})
""")
    now = int(time.time())
    error = refused(cloud, "DescribeStaffStatusHistory", {"SdkAppId": app(live), "StaffUserId": "other@elsewhere",
                                                          "StartTimestamp": now - 60, "EndTimestamp": now})
    assert error.code == "ResourceNotFound"
