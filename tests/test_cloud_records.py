"""The cloud API's records (sessions_app/cloud/records.py) through Tencent's own client against a live daphne:
CDRs paged and filtered, the CDR of a call made and ended through the server equal to the CDR push it sent, web
chats' records and messages, one call's detail, the calls in progress, the minutes used; another tenant's
records never show, and its session ids are unknown."""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest

from testing.serving import running
from .cloud_client import app, call, client, cloud_server, refused
from .webhook_receiver import Receiver
from .ws_clients import open_agent, until

pytestmark = pytest.mark.peer

PAGED_CALLER = "008613900000555"
SEED = """
import json
from django.utils import timezone
from sessions_app.models import Agent, Session, Tenant
from sessions_app.services import chat, phone, sessions
from tests import factories

demo = Tenant.objects.get(sdk_app_id="1400000001")
groups = {group.kind: group.pk for group in demo.skill_groups.all()}
agent1 = Agent.objects.get(tenant=demo, user_id="agent1@demo")
made = {"paged": [], "protected": ""}

def free(agent):
    Agent.objects.filter(pk=agent.pk).update(status="free")

for n in range(5):  # five phone calls of one caller, answered by nobody: ended as the customer hung up
    free(agent1)
    session_id = sessions.create_inbound(demo, "phone", groups["phone"], {"callerPhoneNumber": "%(paged)s"})
    sessions.end_by_customer(demo, session_id)
    made["paged"].append(session_id)

Tenant.objects.filter(pk=demo.pk).update(protect_numbers=True)
demo.refresh_from_db()
free(agent1)
made["protected"] = sessions.create_inbound(demo, "phone", groups["phone"], {"callerPhoneNumber": "008613900000777"})
sessions.end_by_customer(demo, made["protected"])
Tenant.objects.filter(pk=demo.pk).update(protect_numbers=False)

free(agent1)  # a web chat: the visitor writes, agent1 answers, agent1 ends it
chat_id = sessions.create_inbound(demo, "im", groups["im"], {"nickname": "Ann"})
Session.objects.filter(pk=chat_id).update(customer_user_id="openid-9")
sessions.accept(agent1.pk, chat_id, "Chat")
chat.post_message(chat_id, sender="visitor", text="hello")
chat.post_message(chat_id, sender="agent", agent_id=agent1.pk, text="hi Ann")
chat.post_message(chat_id, sender="visitor", text="bye")
sessions.hang_up(agent1.pk, chat_id, "Chat")
made["chat"] = chat_id

free(agent1)  # a phone call agent1 answers and hangs up: connected, so it costs a minute
made["answered"] = sessions.create_inbound(demo, "phone", groups["phone"], {"callerPhoneNumber": "008613900000888"})
sessions.accept(agent1.pk, made["answered"], "Call")
sessions.hang_up(agent1.pk, made["answered"], "Call")

other = factories.tenant(sdk_app_id="1400000077")
group = factories.skill_group(other, "phone")
factories.agent(other, group, status="free")
made["other"] = sessions.create_inbound(other, "phone", str(group.pk), {"callerPhoneNumber": "%(paged)s"})
sessions.end_by_customer(other, made["other"])
print(json.dumps(made))
""" % {"paged": PAGED_CALLER}


@pytest.fixture(scope="module")
def live():
    with running(cloud_server(**{"CDR_RETRY_BASE": "1"})) as server:
        server.made = json.loads(server.manage("shell", "-c", SEED).strip().splitlines()[-1])
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)



def today() -> dict:
    now = int(time.time())
    return {"StartTimeStamp": now - 3600, "EndTimeStamp": now + 60}


def im_today() -> dict:
    now = int(time.time())
    return {"StartTimestamp": now - 3600, "EndTimestamp": now + 60}


def set_webhook(live, url: str) -> None:
    live.manage("shell", "-c", "from sessions_app.models import Tenant; "
                f"Tenant.objects.filter(sdk_app_id='1400000001').update(cdr_webhook_url={url!r})")


async def answered_and_hung_up(live) -> str:
    """A phone call made through the Bearer API, accepted on agent1's SDK socket and hung up by agent1."""
    agent = await open_agent(live, "agent1@demo")
    assert (await agent.request(method="Agent.setStatus", params={"status": "free"}))["status"] == "success"
    session_id = live.api("POST", "/api/sessions", {"type": "phone", "skillGroupId": live.demo["skillGroups"]["phone"],
                                                    "callerPhoneNumber": "008613800000123", "uui": "ticket-18"})[
        "sessionId"]
    assert (await agent.event("callIn"))["sessionId"] == session_id
    assert (await agent.request(method="Call.accept", params={"sessionId": session_id}))["status"] == "success"
    await asyncio.sleep(1.1)  # a call of at least a second
    assert (await agent.request(method="Call.hungUp", params={"sessionId": session_id}))["status"] == "success"
    await agent.ws.close()
    return session_id


# DescribeTelCdr


def test_the_cdr_of_a_call_ended_through_the_server_is_the_one_the_push_sent(live, cloud):
    with Receiver() as receiver:
        set_webhook(live, receiver.url)
        try:
            session_id = asyncio.run(answered_and_hung_up(live))
            asyncio.run(until(lambda: receiver.requests, "the CDR push", timeout=20))
        finally:
            set_webhook(live, "")
    pushed = json.loads(receiver.requests[0]["body"])
    assert pushed["SessionId"] == session_id and pushed["Duration"] >= 1 and pushed["SeatUser"] == "agent1@demo"

    answer = call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **today(), "PageSize": 10, "PageNumber": 0,
                                            "SessionIds": [session_id]})
    assert answer["TotalCount"] == 1 and answer["TelCdrs"] == answer["TelCdrList"]
    [cdr] = answer["TelCdrs"]
    same = {name for name in pushed if name in cdr and name not in ("SeatUser", "ServeParticipants",
                                                                     "IVRKeyPressedEx", "RecordURL")}
    assert same >= {"SessionId", "Caller", "Callee", "Direction", "CallType", "Duration", "EndStatus",
                    "EndStatusString", "StartTimestamp", "RingTimestamp", "AcceptTimestamp", "EndedTimestamp",
                    "QueuedTimestamp", "HungUpSide", "QueuedSkillGroupId", "QueuedSkillGroupName", "Uui",
                    "CallerLocation", "IVRDuration", "IVRKeyPressed"}
    assert {name: cdr[name] for name in same} == {name: pushed[name] for name in same}
    assert cdr["UUI"] == pushed["Uui"] == "ticket-18" and cdr["Time"] == pushed["StartTimestamp"]
    assert cdr["SeatUser"]["UserId"] == pushed["SeatUser"] and cdr["SeatUser"]["Mail"] == "agent1@demo"
    assert [(p["Mail"], p["Sequence"], p["RingTimestamp"], p["AcceptTimestamp"], p["EndedTimestamp"],
             p["SkillGroupId"], p["SkillGroupName"], p["TransferFrom"], p["TransferTo"], p["EndStatusString"])
            for p in cdr["ServeParticipants"]] == [
        (p["SeatUser"], p["Sequence"], p["RingTimestamp"], p["AcceptTimestamp"], p["EndedTimestamp"],
         p["SkillGroupId"], p["SkillGroupName"], p["TransferFrom"], p["TransferTo"], p["Outcome"])
        for p in pushed["ServeParticipants"]]
    assert (cdr["SkillGroupId"], cdr["SkillGroup"]) == (pushed["QueuedSkillGroupId"], pushed["QueuedSkillGroupName"])
    assert (cdr["HungUpSide"], cdr["EndStatusString"]) == ("seat", "ok")
    # The demo tenant records calls: the same recording, by a link made fresh (the push's expires).
    assert cdr["RecordId"] == pushed["RecordId"] != ""
    assert urlsplit(cdr["RecordURL"]).path == urlsplit(pushed["RecordURL"]).path != ""
    assert (cdr["AsrUrl"], cdr["PostIVRKeyPressed"], cdr["AIAgentId"]) == ("", [], 0)

    detail = call(cloud, "DescribeSessionDetail", {"SdkAppId": app(live), "SessionId": session_id})
    assert (detail["Caller"], detail["StaffUserId"], detail["AcceptTimestamp"], detail["EndedTimestamp"],
            detail["UUI"]) == (pushed["Caller"], "agent1@demo", pushed["AcceptTimestamp"], pushed["EndedTimestamp"],
                               "ticket-18")
    assert call(cloud, "DescribeTelSession", {"SdkAppId": app(live), "SessionId": session_id})["Session"][
        "SessionStatus"] == "ended"


def test_pages_are_stable_complete_and_counted(live, cloud):
    pages = [call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **today(), "PageSize": 2, "PageNumber": n,
                                            "Phones": [PAGED_CALLER]}) for n in range(4)]
    assert [page["TotalCount"] for page in pages] == [5] * 4
    assert [len(page["TelCdrs"]) for page in pages] == [2, 2, 1, 0]
    listed = [cdr["SessionId"] for page in pages for cdr in page["TelCdrs"]]
    assert sorted(listed) == sorted(live.made["paged"]) and live.made["other"] not in listed
    starts = [cdr["StartTimestamp"] for page in pages for cdr in page["TelCdrs"]]
    assert starts == sorted(starts)
    older = call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **today(), "Limit": 3, "Offset": 2,
                                           "Phones": [PAGED_CALLER]})
    assert [cdr["SessionId"] for cdr in older["TelCdrs"]] == listed[2:5]
    everything = call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **today(), "PageSize": 100, "PageNumber": 0})
    ids = {cdr["SessionId"] for cdr in everything["TelCdrs"]}
    assert set(live.made["paged"]) <= ids and live.made["chat"] not in ids and live.made["other"] not in ids
    assert everything["TotalCount"] == len(ids)
    yesterday = call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), "StartTimeStamp": int(time.time()) - 86400 * 2,
                                               "EndTimeStamp": int(time.time()) - 86400, "PageSize": 10,
                                               "PageNumber": 0})
    assert (yesterday["TotalCount"], yesterday["TelCdrs"]) == (0, [])


def test_another_tenants_session_id_finds_nothing(live, cloud):
    other = live.made["other"]
    answer = call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **today(), "PageSize": 10, "PageNumber": 0,
                                            "SessionIds": [other]})
    assert (answer["TotalCount"], answer["TelCdrs"]) == (0, [])
    for action in ("DescribeSessionDetail", "DescribeTelSession"):
        assert refused(cloud, action, {"SdkAppId": app(live), "SessionId": other}).code == "ResourceNotFound"
    assert refused(cloud, "DescribeChatMessages", {"SdkAppId": app(live), "SessionId": other}).code == \
        "ResourceNotFound"
    assert refused(cloud, "DescribeTelCdr", {"SdkAppId": 1400000077, **today(), "PageSize": 10,
                                             "PageNumber": 0}).code == "UnauthorizedOperation"


@pytest.mark.parametrize("params, code", [
    ({"EndTimeStamp": 2, "PageSize": 10, "PageNumber": 0}, "MissingParameter"),
    ({"StartTimeStamp": 1, "PageSize": 10, "PageNumber": 0}, "MissingParameter"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2}, "MissingParameter"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "PageSize": 10}, "MissingParameter"),
    ({"StartTimeStamp": "1", "EndTimeStamp": 2, "PageSize": 10, "PageNumber": 0}, "InvalidParameter"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "PageSize": 101, "PageNumber": 0}, "InvalidParameterValue"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "PageSize": 0, "PageNumber": 0}, "InvalidParameterValue"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "PageSize": 10, "PageNumber": -1}, "InvalidParameterValue"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "Limit": 101, "Offset": 0}, "InvalidParameterValue"),
    ({"StartTimeStamp": 5, "EndTimeStamp": 2, "PageSize": 10, "PageNumber": 0}, "InvalidParameterValue"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 1 + 90 * 86400, "PageSize": 10, "PageNumber": 0}, "InvalidParameterValue"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "PageSize": 10, "PageNumber": 0, "Phones": "x"}, "InvalidParameter"),
    ({"StartTimeStamp": 1, "EndTimeStamp": 2, "PageSize": 10, "PageNumber": 0, "SessionIds": [1]},
     "InvalidParameter"),
])
def test_bad_tel_cdr_requests_get_tencents_codes(live, cloud, params, code):
    assert refused(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **params}).code == code


# DescribeProtectedTelCdr


def test_protected_cdrs_are_those_with_a_protected_number_and_hide_it(live, cloud):
    answer = call(cloud, "DescribeProtectedTelCdr", {"SdkAppId": app(live), **today(), "PageSize": 100,
                                                     "PageNumber": 0})
    [cdr] = [cdr for cdr in answer["TelCdrs"] if cdr["SessionId"] == live.made["protected"]]
    assert answer["TotalCount"] == len(answer["TelCdrs"]) and all(c["ProtectedCaller"] or c["ProtectedCallee"]
                                                                 for c in answer["TelCdrs"])
    assert cdr["Caller"] == "" and cdr["ProtectedCaller"].startswith("PN")
    plain = call(cloud, "DescribeTelCdr", {"SdkAppId": app(live), **today(), "PageSize": 10, "PageNumber": 0,
                                           "SessionIds": [live.made["protected"]]})["TelCdrs"][0]
    assert plain["Caller"] == "008613900000777" and plain["ProtectedCaller"] == cdr["ProtectedCaller"]
    assert refused(cloud, "DescribeProtectedTelCdr", {"SdkAppId": app(live), **today()}).code == "MissingParameter"


# Web chats


def test_web_chat_records_and_messages(live, cloud):
    chat_id = live.made["chat"]
    for action, list_name in (("DescribeIMCdrs", "IMCdrs"), ("DescribeIMCdrList", "IMCdrList")):
        answer = call(cloud, action, {"SdkAppId": app(live), **im_today()})
        [record] = [r for r in answer[list_name] if r["SessionId"] == chat_id]
        assert answer["TotalCount"] == len(answer[list_name])
        assert (record["Id"], record["Nickname"], record["StaffId"], record["Type"], record["ClientUserId"]) == (
            chat_id, "Ann", "agent1@demo", 2, "openid-9")
        assert record["SkillGroupId"] == str(live.demo["skillGroups"]["im"]) and record["Satisfaction"] is None
        assert call(cloud, action, {"SdkAppId": app(live), **im_today(), "Type": 1})["TotalCount"] == 0
    oldest = call(cloud, "DescribeChatMessages", {"SdkAppId": app(live), "SessionId": chat_id, "Order": 1})
    assert oldest["TotalCount"] == 3
    assert [(m["From"], m["Messages"]) for m in oldest["Messages"]] == [
        ("openid-9", [{"Type": "text", "Content": "hello"}]), ("agent1@demo", [{"Type": "text", "Content": "hi Ann"}]),
        ("openid-9", [{"Type": "text", "Content": "bye"}])]
    newest = call(cloud, "DescribeChatMessages", {"SdkAppId": app(live), "SessionId": chat_id, "Limit": 1,
                                                  "Offset": 1})
    assert [m["Messages"][0]["Content"] for m in newest["Messages"]] == ["hi Ann"]


@pytest.mark.parametrize("action, params, code", [
    ("DescribeIMCdrs", {"EndTimestamp": 2}, "MissingParameter"),
    ("DescribeIMCdrList", {"StartTimestamp": 1, "EndTimestamp": 2, "Limit": 101}, "InvalidParameterValue"),
    ("DescribeIMCdrs", {"StartTimestamp": 1, "EndTimestamp": 2, "Type": 3}, "InvalidParameterValue"),
    ("DescribeIMCdrList", {"StartTimestamp": 1, "EndTimestamp": "2"}, "InvalidParameter"),
    ("DescribeChatMessages", {}, "MissingParameter"),
    ("DescribeChatMessages", {"SessionId": "nope"}, "ResourceNotFound"),
    ("DescribeChatMessages", {"SessionId": 7}, "InvalidParameter"),
    ("DescribeChatMessages", {"SessionId": "x", "Order": 3}, "InvalidParameterValue"),
    ("DescribeSessionDetail", {}, "MissingParameter"),
    ("DescribeSessionDetail", {"SessionId": "nope"}, "ResourceNotFound"),
    ("DescribeTelSession", {"SessionId": 5}, "InvalidParameter"),
    ("DescribeTelSession", {"SessionId": "nope"}, "ResourceNotFound"),
    ("DescribePSTNActiveSessionList", {"Limit": 26}, "InvalidParameterValue"),
    ("DescribePSTNActiveSessionList", {"Offset": -1}, "InvalidParameterValue"),
])
def test_bad_record_requests_get_tencents_codes(live, cloud, action, params, code):
    assert refused(cloud, action, {"SdkAppId": app(live), **params}).code == code


def test_a_chat_is_not_a_tel_session_and_a_call_has_no_chat(live, cloud):
    assert refused(cloud, "DescribeTelSession", {"SdkAppId": app(live), "SessionId": live.made["chat"]}).code == \
        "ResourceNotFound"
    assert refused(cloud, "DescribeChatMessages", {"SdkAppId": app(live), "SessionId": live.made["paged"][0]}).code \
        == "ResourceNotFound"


# Calls in progress, minutes used


def test_a_ringing_call_is_active_until_it_ends(live, cloud):
    async def ringing_then_ended():
        agent = await open_agent(live, "agent2@demo")
        await agent.request(method="Agent.setStatus", params={"status": "free"})
        session_id = live.api("POST", "/api/sessions", {"type": "phone", "callerPhoneNumber": "008613800000999",
                                                        "skillGroupId": live.demo["skillGroups"]["phone"]})["sessionId"]
        await agent.event("callIn")
        active = call(cloud, "DescribePSTNActiveSessionList", {"SdkAppId": app(live)})
        live.api("POST", f"/api/sessions/{session_id}/end", {})
        after = call(cloud, "DescribePSTNActiveSessionList", {"SdkAppId": app(live), "Limit": 25})
        await agent.ws.close()
        return session_id, active, after
    session_id, active, after = asyncio.run(ringing_then_ended())
    [listed] = [s for s in active["Sessions"] if s["SessionID"] == session_id]
    assert active["Total"] >= 1 and listed["Caller"] == "008613800000999" and listed["SessionStatus"] == "inProgress"
    assert listed["StaffEmail"] == "agent2@demo" and listed["StartTimestamp"].isdigit()
    assert session_id not in [s["SessionID"] for s in after["Sessions"]] and after["Total"] == len(after["Sessions"])


def test_minutes_used_count_connected_calls(live, cloud):
    answer = call(cloud, "DescribeTelCallInfo", {"SdkAppIdList": [app(live)], **today()})
    assert answer["TelCallInCount"] >= 1 and answer["SeatUsedCount"] >= 1  # the answered call: unanswered cost none
    nothing = call(cloud, "DescribeTelCallInfo", {"SdkAppIdList": [app(live)], "StartTimeStamp": 86400,
                                                  "EndTimeStamp": 86400 * 2})
    assert (nothing["TelCallInCount"], nothing["TelCallOutCount"], nothing["SeatUsedCount"]) == (0, 0, 0)
    assert answer["VoipCallInCount"] == answer["VOIPCallInCount"] and answer["AsrOfflineCount"] == 0
    assert refused(cloud, "DescribeTelCallInfo", {"SdkAppIdList": [app(live), 1400000077], **today()}).code == \
        "UnauthorizedOperation"
    assert refused(cloud, "DescribeTelCallInfo", {**today()}).code == "MissingParameter"
    assert refused(cloud, "DescribeTelCallInfo", {"SdkAppIdList": [app(live)], "StartTimeStamp": 1}).code == \
        "MissingParameter"
