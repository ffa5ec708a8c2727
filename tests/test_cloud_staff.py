"""Agents, skill groups and numbers through Tencent's cloud API (sessions_app/cloud/staff.py, skill_groups.py),
with Tencent's own client against a live daphne: what is made is listed, signs in, is routed to; another
tenant's agents, groups and numbers are never seen."""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from testing.serving import running
from .cloud_client import TencentCloudSDKException, call, client, cloud_server, refused
from .ws_clients import open_agent

pytestmark = pytest.mark.peer

HOTLINE = "008675586013388"
OTHER_NUMBER = "008610999000111"
PASSWORD = "Correct-horse-42"
_serial = itertools.count(1)

OTHER_TENANT = f"""
from django.contrib.auth import get_user_model
from sessions_app.models import Agent, Hotline, SkillGroup, Tenant
import json
tenant = Tenant.objects.create(name="Other", sdk_app_id="1400000077")
group = SkillGroup.objects.create(tenant=tenant, name="Theirs", kind="phone", caller_numbers="{OTHER_NUMBER}")
user = get_user_model().objects.create_user("theirs@other.example")
Agent.objects.create(account=user, tenant=tenant, user_id="theirs@other.example")
Hotline.objects.create(tenant=tenant, number="{OTHER_NUMBER}", skill_group=group)
boss = get_user_model().objects.create_user("boss@corp.example", password="Boss-password-1", is_staff=True)
Agent.objects.create(account=boss, tenant=Tenant.objects.get(sdk_app_id="1400000001"), user_id="boss@corp.example")
print(json.dumps({{"group": group.pk}}))
"""


@pytest.fixture(scope="module")
def live():
    with running(cloud_server()) as server:
        server.other = json.loads(server.manage("shell", "-c", OTHER_TENANT).strip().splitlines()[-1])
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)


@pytest.fixture(scope="module")
def app(live) -> int:
    return int(live.demo["SdkAppId"])


def new_mail() -> str:
    return f"staff{next(_serial)}@corp.example"


def make_staff(cloud, app, **fields) -> str:
    mail = fields.pop("Mail", None) or new_mail()
    answer = call(cloud, "CreateStaff", {"SdkAppId": app, "Staffs": [{"Name": "Ann Lee", "Mail": mail, **fields}]})
    assert answer["ErrorStaffList"] == []
    return mail


def make_group(cloud, app, kind: int = 1, name: str | None = None) -> int:
    name = name or f"Group {next(_serial)}"
    return call(cloud, "CreateCCCSkillGroup", {"SdkAppId": app, "SkillGroupName": name, "SkillGroupType": kind,
                                               "MaxConcurrency": 1})["SkillGroupId"]


def staff_info(cloud, app, mail: str) -> dict | None:
    answer = call(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                   "StaffMail": mail})
    return answer["StaffList"][0] if answer["StaffList"] else None


def group_info(cloud, app, group_id: int) -> dict:
    answer = call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                        "SkillGroupId": group_id})
    return answer["SkillGroupList"][0]


def refused_as_sent(cloud, action: str, params: dict) -> TencentCloudSDKException:
    """The refusal of a request the client's models could not even build (a nested value of the wrong JSON
    type): sent as it is, signed by the client."""
    try:
        cloud.call_json(action, params)
    except TencentCloudSDKException as error:
        assert error.requestId
        return error
    raise AssertionError(f"{action} {params} was not refused")


def sign_in(live, username: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=live.url) as browser:
        form = browser.get("/workbench/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        return browser.post("/workbench/login/", data={"csrfmiddlewaretoken": token, "username": username,
                                                       "password": password, "next": "/workbench/"})


# Agents

def test_a_staff_made_by_the_api_is_listed_gets_a_token_and_signs_in_with_the_password_set(live, cloud, app):
    groups = call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 100, "PageNumber": 0,
                                                        "SkillGroupName": "Web chat"})["SkillGroupList"]
    mail = make_staff(cloud, app, Nick="Ann", StaffNumber="0042", Phone="008613800000001",
                      SkillGroupNameList=["Web chat"], Role=3)
    shown = staff_info(cloud, app, mail)
    assert shown["Mail"] == mail and shown["Name"] == "Ann Lee" and shown["Nick"] == "Ann"
    assert (shown["StaffNumber"], shown["Phone"], shown["RoleId"], shown["RoleList"]) == (
        "0042", "008613800000001", 3, [3])
    assert [g["SkillGroupId"] for g in shown["SkillGroupList"]] == [groups[0]["SkillGroupId"]]
    assert shown["SkillGroupList"][0]["Priority"] == 3 and shown["SkillGroupList"][0]["Type"] == "IM"
    assert abs(shown["LastModifyTimestamp"] - time.time()) < 60
    token = call(cloud, "CreateSDKLoginToken", {"SdkAppId": app, "SeatUserId": mail})["Token"]

    async def sdk_login():
        url = live.url.replace("http", "ws") + f"/ws/sdk/?token={token}&sdkAppId={app}&userId={mail}"
        async with connect(url, origin=live.url) as ws:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert welcome["type"] == "welcome" and welcome["agent"]["userId"] == mail, welcome

    asyncio.run(sdk_login())

    assert sign_in(live, mail, PASSWORD).status_code == 200  # no password yet: the form again
    call(cloud, "ModifyStaffPassword", {"SdkAppId": app, "Email": mail, "Password": PASSWORD})
    signed_in = sign_in(live, mail, PASSWORD)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/workbench/"


def test_create_staff_answers_per_staff_and_makes_the_others(cloud, app):
    fresh, unknown_group = new_mail(), new_mail()
    answer = call(cloud, "CreateStaff", {"SdkAppId": app, "Staffs": [
        {"Name": "Taken", "Mail": "agent1@demo"}, {"Name": "Fresh", "Mail": fresh},
        {"Name": "Lost", "Mail": unknown_group, "SkillGroupNameList": ["No such group"]},
        {"Name": "Other tenant's", "Mail": "theirs@other.example"}, {"Name": "Twice", "Mail": fresh}]})
    errors = {e["StaffEmail"]: e for e in answer["ErrorStaffList"]}
    assert set(errors) == {"agent1@demo", unknown_group, "theirs@other.example", fresh}
    assert errors["agent1@demo"]["Code"] == "FailedOperation" and "exists" in errors["agent1@demo"]["Message"]
    assert errors[unknown_group]["Code"] == "ResourceNotFound" and "No such group" in errors[unknown_group]["Message"]
    assert errors["theirs@other.example"]["Code"] == "FailedOperation"
    assert staff_info(cloud, app, fresh)["Name"] == "Fresh"
    assert staff_info(cloud, app, unknown_group) is None
    assert staff_info(cloud, app, "theirs@other.example") is None


@pytest.mark.parametrize("staffs, code", [
    (None, "MissingParameter"),
    ("x", "InvalidParameter"),
    ([], "InvalidParameterValue"),
    ([{"Name": "A", "Mail": f"a{n}@corp.example"} for n in range(11)], "InvalidParameterValue"),
    (["x"], "InvalidParameter"),
    ([{"Name": "A"}], "MissingParameter"),
    ([{"Mail": "a@corp.example"}], "MissingParameter"),
    ([{"Name": "A", "Mail": 7}], "InvalidParameter"),
    ([{"Name": "A", "Mail": "not an address"}], "InvalidParameterValue"),
    ([{"Name": "A", "Mail": "a@corp.example", "Role": 1}], "InvalidParameterValue"),
    ([{"Name": "A", "Mail": "a@corp.example", "ExtensionNumber": "1001"}], "InvalidParameterValue"),
    ([{"Name": "A", "Mail": "a@corp.example", "SkillGroupNameList": "Web chat"}], "InvalidParameter"),
])
def test_create_staff_refuses_bad_parameters_and_makes_nobody(cloud, app, staffs, code):
    params = {"SdkAppId": app} if staffs is None else {"SdkAppId": app, "Staffs": staffs}
    assert refused_as_sent(cloud, "CreateStaff", params).code == code
    assert staff_info(cloud, app, "a@corp.example") is None


def test_staff_pages_cover_everyone_once_and_filters_narrow(cloud, app):
    make_staff(cloud, app)
    total = call(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 9999, "PageNumber": 0})["TotalCount"]
    seen = []
    for number in range(total // 2 + 1):
        page = call(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 2, "PageNumber": number})
        assert page["TotalCount"] == total
        seen += [s["Mail"] for s in page["StaffList"]]
    assert len(seen) == len(set(seen)) == total and "theirs@other.example" not in seen
    beyond = call(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 9999,
                                                   "PageNumber": (2**63 - 1) // 9999})
    assert (beyond["TotalCount"], beyond["StaffList"]) == (total, [])
    future = call(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                   "ModifiedTime": int(time.time()) + 3600})
    assert future == {**future, "TotalCount": 0, "StaffList": []}

    group = make_group(cloud, app)
    mail = make_staff(cloud, app)
    call(cloud, "BindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail, "SkillGroupList": [group]})
    members = call(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                    "SkillGroupId": group})
    assert [s["Mail"] for s in members["StaffList"]] == [mail] and members["TotalCount"] == 1


@pytest.mark.parametrize("params, code", [
    ({"PageNumber": 0}, "MissingParameter"),
    ({"PageSize": 10}, "MissingParameter"),
    ({"PageSize": 10000, "PageNumber": 0}, "InvalidParameterValue"),
    ({"PageSize": 0, "PageNumber": 0}, "InvalidParameterValue"),
    ({"PageSize": 10, "PageNumber": -1}, "InvalidParameterValue"),
    ({"PageSize": "10", "PageNumber": 0}, "InvalidParameter"),
    ({"PageSize": 10, "PageNumber": 0, "SkillGroupId": 999999}, "ResourceNotFound"),
    ({"PageSize": 10, "PageNumber": 0, "ModifiedTime": "yesterday"}, "InvalidParameter"),
])
def test_describe_staff_refuses_bad_parameters(cloud, app, params, code):
    assert refused(cloud, "DescribeStaffInfoList", {"SdkAppId": app, **params}).code == code


def test_another_tenants_group_filters_nothing_of_theirs(live, cloud, app):
    error = refused(cloud, "DescribeStaffInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                     "SkillGroupId": live.other["group"]})
    assert error.code == "ResourceNotFound"


def test_modify_staff_changes_what_is_given_and_keeps_the_rest(cloud, app):
    first, second = make_group(cloud, app), make_group(cloud, app)
    mail = make_staff(cloud, app, Nick="Before", StaffNumber="1")
    call(cloud, "BindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail,
                                            "StaffSkillGroupList": [{"SkillGroupId": first, "Priority": 1}]})
    call(cloud, "ModifyStaff", {"SdkAppId": app, "Email": mail, "Name": "Ann Changed", "Nick": "After",
                                "Phone": "008613800000002", "SkillGroupIds": [first, second],
                                "UseMobileCallOut": False, "UseMobileAccept": 0})
    shown = staff_info(cloud, app, mail)
    assert (shown["Name"], shown["Nick"], shown["StaffNumber"], shown["Phone"]) == (
        "Ann Changed", "After", "1", "008613800000002")
    assert [(g["SkillGroupId"], g["Priority"]) for g in shown["SkillGroupList"]] == [(first, 1), (second, 3)]
    call(cloud, "ModifyStaff", {"SdkAppId": app, "Email": mail, "SkillGroupIds": [second]})
    assert [g["SkillGroupId"] for g in staff_info(cloud, app, mail)["SkillGroupList"]] == [second]


@pytest.mark.parametrize("params, code", [
    ({}, "MissingParameter"),
    ({"Email": 1}, "InvalidParameter"),
    ({"Email": "nobody@corp.example"}, "ResourceNotFound"),
    ({"Email": "theirs@other.example", "Nick": "Mine now"}, "ResourceNotFound"),
    ({"Email": "agent1@demo", "SkillGroupIds": [999999]}, "ResourceNotFound"),
    ({"Email": "agent1@demo", "SkillGroupIds": ["1"]}, "InvalidParameter"),
    ({"Email": "agent1@demo", "UseMobileAccept": 2}, "InvalidParameterValue"),
    ({"Email": "agent1@demo", "UseMobileCallOut": True}, "InvalidParameterValue"),
    ({"Email": "agent1@demo", "ExtensionNumber": "1001"}, "InvalidParameterValue"),
    ({"Email": "agent1@demo", "ForwardingConfig": {"Enabled": True}}, "InvalidParameterValue"),
    ({"Email": "agent1@demo", "Name": " "}, "InvalidParameterValue"),
    ({"Email": "agent1@demo", "Nick": "x" * 101}, "InvalidParameterValue"),
])
def test_modify_staff_refuses_bad_parameters(cloud, app, params, code):
    before = staff_info(cloud, app, "agent1@demo")
    assert refused_as_sent(cloud, "ModifyStaff", {"SdkAppId": app, **params}).code == code
    assert staff_info(cloud, app, "agent1@demo") == before


def test_binding_and_unbinding_skill_groups_shows_in_the_staff_list(live, cloud, app):
    first, second = make_group(cloud, app), make_group(cloud, app)
    mail = make_staff(cloud, app)
    call(cloud, "BindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail, "SkillGroupList": [second],
                                            "StaffSkillGroupList": [{"SkillGroupId": first, "Priority": 5}]})
    assert [(g["SkillGroupId"], g["Priority"]) for g in staff_info(cloud, app, mail)["SkillGroupList"]] == [
        (second, 3), (first, 5)]
    for refusal, code in [({"SkillGroupList": [first, 999999]}, "ResourceNotFound"),
                          ({"SkillGroupList": [live.other["group"]]}, "ResourceNotFound"),
                          ({"StaffSkillGroupList": [{"SkillGroupId": first, "Priority": 6}]}, "InvalidParameterValue"),
                          ({"StaffSkillGroupList": [{"Priority": 1}]}, "MissingParameter"),
                          ({}, "MissingParameter"), ({"SkillGroupList": []}, "InvalidParameterValue")]:
        assert refused_as_sent(cloud, "BindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail, **refusal}).code == code
    assert refused(cloud, "UnbindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail,
                                                        "SkillGroupList": [first, 999999]}).code == "ResourceNotFound"
    assert len(staff_info(cloud, app, mail)["SkillGroupList"]) == 2  # nothing done by the refusals
    call(cloud, "UnbindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail, "SkillGroupList": [first]})
    assert [g["SkillGroupId"] for g in staff_info(cloud, app, mail)["SkillGroupList"]] == [second]
    for action in ("BindStaffSkillGroupList", "UnbindStaffSkillGroupList"):
        assert refused(cloud, action, {"SdkAppId": app, "StaffEmail": "theirs@other.example",
                                       "SkillGroupList": [first]}).code == "ResourceNotFound"
        assert refused(cloud, action, {"SdkAppId": app, "SkillGroupList": [first]}).code == "MissingParameter"
    assert refused(cloud, "UnbindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail}).code == "MissingParameter"


@pytest.mark.parametrize("params, code", [
    ({"Email": "agent1@demo"}, "MissingParameter"),
    ({"Password": PASSWORD}, "MissingParameter"),
    ({"Email": "agent1@demo", "Password": 12345678}, "InvalidParameter"),
    ({"Email": "agent1@demo", "Password": "short"}, "InvalidParameterValue"),
    ({"Email": "agent1@demo", "Password": "1234567890"}, "InvalidParameterValue"),
    ({"Email": "nobody@corp.example", "Password": PASSWORD}, "ResourceNotFound"),
    ({"Email": "theirs@other.example", "Password": PASSWORD}, "ResourceNotFound"),
])
def test_modify_staff_password_refuses_bad_parameters(cloud, app, params, code):
    assert refused(cloud, "ModifyStaffPassword", {"SdkAppId": app, **params}).code == code


def test_a_password_change_closes_the_agents_open_sdk_socket(live, cloud, app):
    mail = make_staff(cloud, app)

    async def scenario():
        socket = await open_agent(live, mail)
        call(cloud, "ModifyStaffPassword", {"SdkAppId": app, "Email": mail, "Password": PASSWORD})
        frames = []
        with pytest.raises(ConnectionClosedError):  # the server closes it, with a code of its own
            while True:
                frames.append(json.loads(await asyncio.wait_for(socket.ws.recv(), 10)))
        assert frames[-1]["type"] == "tokenExpired" and socket.ws.close_code == 4001

    asyncio.run(scenario())


def test_delete_staff_deletes_the_offline_and_leaves_the_online_as_they_are(live, cloud, app):
    offline, online = make_staff(cloud, app), make_staff(cloud, app)

    async def scenario():
        socket = await open_agent(live, online)
        answer = call(cloud, "DeleteStaff", {"SdkAppId": app, "StaffList": [offline, online]})
        assert answer["OnlineStaffList"] == [online] and online in answer["DeleteStatusInfo"]
        assert (await socket.request(method="Agent.getStatus"))["status"] == "success"
        await socket.ws.close()

    asyncio.run(scenario())
    assert staff_info(cloud, app, offline) is None and staff_info(cloud, app, online)["Mail"] == online
    assert refused(cloud, "CreateSDKLoginToken", {"SdkAppId": app, "SeatUserId": offline}).code == "ResourceNotFound"
    assert make_staff(cloud, app, Mail=offline) == offline  # the address is free again


def test_an_agent_who_is_also_staff_keeps_the_admin_password_and_account(live, cloud, app):
    error = refused(cloud, "ModifyStaffPassword", {"SdkAppId": app, "Email": "boss@corp.example",
                                                   "Password": PASSWORD})
    assert error.code == "FailedOperation" and "admin" in error.message
    assert call(cloud, "DeleteStaff", {"SdkAppId": app, "StaffList": ["boss@corp.example"]})["OnlineStaffList"] == []
    assert staff_info(cloud, app, "boss@corp.example") is None
    still = live.manage("shell", "-c", "from django.contrib.auth import get_user_model; "
                                       "print(get_user_model().objects.get(username='boss@corp.example')"
                                       ".check_password('Boss-password-1'))")
    assert still.strip().splitlines()[-1] == "True"


@pytest.mark.parametrize("staff_list, code", [
    (None, "MissingParameter"), ("x", "InvalidParameter"), ([], "InvalidParameterValue"),
    ([1], "InvalidParameter"), (["x@corp.example"] * 201, "InvalidParameterValue"),
    (["KEEP", "nobody@corp.example"], "ResourceNotFound"), (["KEEP", "theirs@other.example"], "ResourceNotFound"),
])
def test_delete_staff_refuses_bad_parameters_and_deletes_nobody(cloud, app, staff_list, code):
    keep = make_staff(cloud, app)
    staff_list = [keep if s == "KEEP" else s for s in staff_list] if isinstance(staff_list, list) else staff_list
    params = {"SdkAppId": app} if staff_list is None else {"SdkAppId": app, "StaffList": staff_list}
    assert refused_as_sent(cloud, "DeleteStaff", params).code == code
    assert staff_info(cloud, app, keep) is not None


# Skill groups

def test_a_skill_group_made_is_listed_and_routable_and_deleted_once_its_session_ends(live, cloud, app):
    group = make_group(cloud, app, kind=1)
    shown = group_info(cloud, app, group)
    assert (shown["SkillGroupType"], shown["Type"], shown["MaxConcurrency"], shown["RingAll"]) == (1, "IM", 5, False)
    mail = make_staff(cloud, app)
    call(cloud, "BindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail, "SkillGroupList": [group]})
    assert [g["SkillGroupId"] for g in staff_info(cloud, app, mail)["SkillGroupList"]] == [group]

    async def scenario():
        socket = await open_agent(live, mail)
        session_id = live.api("POST", "/api/sessions", {"type": "im", "skillGroupId": group})["sessionId"]
        assert (await socket.event("callIn"))["sessionId"] == session_id
        error = refused(cloud, "DeleteCCCSkillGroup", {"SdkAppId": app, "SkillGroupId": group})
        assert error.code == "FailedOperation" and "open session" in error.message
        live.api("POST", f"/api/sessions/{session_id}/end", {})
        await socket.event("sessionEnded")
        await socket.ws.close()

    asyncio.run(scenario())
    call(cloud, "DeleteCCCSkillGroup", {"SdkAppId": app, "SkillGroupId": group})
    assert staff_info(cloud, app, mail)["SkillGroupList"] == []
    assert refused(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                         "SkillGroupId": group}).code == "ResourceNotFound"


def test_a_group_callers_reach_through_the_ivr_is_not_deleted(live, cloud, app):
    phone = live.demo["skillGroups"]["phone"]
    error = refused(cloud, "DeleteCCCSkillGroup", {"SdkAppId": app, "SkillGroupId": phone})
    assert error.code == "FailedOperation" and "Main menu" in error.message
    assert group_info(cloud, app, phone)["SkillGroupName"] == "Phone support"


@pytest.mark.parametrize("params, code", [
    ({}, "MissingParameter"), ({"SkillGroupId": "1"}, "InvalidParameter"),
    ({"SkillGroupId": 999999}, "ResourceNotFound"), ({"SkillGroupId": "OTHER"}, "ResourceNotFound"),
])
def test_delete_skill_group_refuses_bad_parameters(live, cloud, app, params, code):
    if params.get("SkillGroupId") == "OTHER":
        params = {"SkillGroupId": live.other["group"]}
    assert refused(cloud, "DeleteCCCSkillGroup", {"SdkAppId": app, **params}).code == code


def test_skill_group_pages_filters_and_kinds(cloud, app):
    made = {kind: make_group(cloud, app, kind=kind) for kind in (0, 1, 3, 4)}
    total = call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 100,
                                                       "PageNumber": 0})["TotalCount"]
    seen = []
    for number in range(total // 3 + 1):
        seen += call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 3,
                                                           "PageNumber": number})["SkillGroupList"]
    assert len({g["SkillGroupId"] for g in seen}) == len(seen) == total and "Theirs" not in {
        g["SkillGroupName"] for g in seen}
    for kind, group in made.items():
        shown = group_info(cloud, app, group)
        assert shown["SkillGroupType"] == kind and shown["Type"] == ("IM" if kind == 1 else "TEL")
    named = call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 100, "PageNumber": 0,
                                                       "SkillGroupName": "web vid"})["SkillGroupList"]
    assert [g["SkillGroupName"] for g in named] == ["Web video"]
    beyond = call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 100,
                                                        "PageNumber": (2**63 - 1) // 100})
    assert (beyond["TotalCount"], beyond["SkillGroupList"]) == (total, [])
    later = call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 100, "PageNumber": 0,
                                                       "ModifiedTime": int(time.time()) + 3600})
    assert later["TotalCount"] == 0


@pytest.mark.parametrize("params, code", [
    ({"SkillGroupType": 1}, "MissingParameter"),
    ({"SkillGroupName": "New"}, "MissingParameter"),
    ({"SkillGroupName": "New", "SkillGroupType": 2}, "InvalidParameterValue"),
    ({"SkillGroupName": "New", "SkillGroupType": "1"}, "InvalidParameter"),
    ({"SkillGroupName": "New", "SkillGroupType": 0, "MaxConcurrency": 2}, "InvalidParameterValue"),
    ({"SkillGroupName": "New", "SkillGroupType": 1, "MaxConcurrency": 0}, "InvalidParameterValue"),
    ({"SkillGroupName": "x" * 101, "SkillGroupType": 1}, "InvalidParameterValue"),
    ({"SkillGroupName": "Web chat", "SkillGroupType": 1}, "FailedOperation"),
])
def test_create_skill_group_refuses_bad_parameters(cloud, app, params, code):
    assert refused(cloud, "CreateCCCSkillGroup", {"SdkAppId": app, **params}).code == code
    assert call(cloud, "DescribeSkillGroupInfoList", {"SdkAppId": app, "PageSize": 10, "PageNumber": 0,
                                                      "SkillGroupName": "New"})["TotalCount"] == 0


def test_update_skill_group_renames_it(cloud, app):
    group = make_group(cloud, app, kind=1)
    before = group_info(cloud, app, group)
    call(cloud, "UpdateCCCSkillGroup", {"SdkAppId": app, "SkillGroupID": group, "SkillGroupName": "Renamed chat",
                                        "MaxConcurrency": 3, "RingAll": False})
    after = group_info(cloud, app, group)
    assert after["SkillGroupName"] == "Renamed chat" and after["LastModifyTimestamp"] >= before["LastModifyTimestamp"]


@pytest.mark.parametrize("params, code", [
    ({}, "MissingParameter"), ({"SkillGroupID": 999999}, "ResourceNotFound"),
    ({"SkillGroupID": "OTHER", "SkillGroupName": "Mine"}, "ResourceNotFound"),
    ({"SkillGroupID": "PHONE", "SkillGroupName": "Web chat"}, "FailedOperation"),
    ({"SkillGroupID": "PHONE", "RingAll": True}, "InvalidParameterValue"),
    ({"SkillGroupID": "PHONE", "MaxConcurrency": 2}, "InvalidParameterValue"),
    ({"SkillGroupID": "PHONE", "SkillGroupName": ""}, "InvalidParameterValue"),
    ({"SkillGroupID": "PHONE", "SkillGroupName": 5}, "InvalidParameter"),
])
def test_update_skill_group_refuses_bad_parameters(live, cloud, app, params, code):
    ids = {"OTHER": live.other["group"], "PHONE": live.demo["skillGroups"]["phone"]}
    params = {name: ids.get(value, value) if name == "SkillGroupID" else value for name, value in params.items()}
    assert refused(cloud, "UpdateCCCSkillGroup", {"SdkAppId": app, **params}).code == code
    assert group_info(cloud, app, ids["PHONE"])["SkillGroupName"] == "Phone support"


# Numbers

def numbers(cloud, app) -> dict[str, dict]:
    answer = call(cloud, "DescribeNumbers", {"SdkAppId": app, "PageNumber": 0, "PageSize": 100})
    return {n["Number"]: n for n in answer["Numbers"]}


def test_numbers_are_the_tenants_with_the_groups_calling_out_from_them(live, cloud, app):
    listed = numbers(cloud, app)
    assert OTHER_NUMBER not in listed
    calling_out = listed[HOTLINE]["CallOutSkillGroupIds"]
    assert listed[HOTLINE] == {"Number": HOTLINE, "CallOutSkillGroupIds": calling_out, "State": 1, "CostType": 0}
    assert live.demo["skillGroups"]["phone"] in calling_out
    group = make_group(cloud, app, kind=0)
    call(cloud, "BindNumberCallOutSkillGroup", {"SdkAppId": app, "Number": HOTLINE, "SkillGroupIds": [group]})
    assert numbers(cloud, app)[HOTLINE]["CallOutSkillGroupIds"] == [*calling_out, group]
    call(cloud, "UnbindNumberCallOutSkillGroup", {"SdkAppId": app, "Number": HOTLINE, "SkillGroupIds": [group]})
    assert numbers(cloud, app)[HOTLINE]["CallOutSkillGroupIds"] == calling_out
    default = call(cloud, "DescribeNumbers", {"SdkAppId": app})
    assert default["TotalCount"] == len(listed) and len(default["Numbers"]) == min(20, len(listed))


def test_a_number_bound_to_a_group_is_what_its_agents_call_out_from(live, cloud, app):
    group = make_group(cloud, app, kind=0)
    mail = make_staff(cloud, app)
    call(cloud, "BindStaffSkillGroupList", {"SdkAppId": app, "StaffEmail": mail, "SkillGroupList": [group]})

    async def call_out(callee: str) -> dict:
        socket = await open_agent(live, mail)
        try:
            return await socket.request(method="Call.startOutboundCall",
                                        params={"phoneNumber": callee, "skillGroupId": str(group)})
        finally:
            await socket.ws.close()

    unbound = asyncio.run(call_out("008613900000001"))
    assert unbound["status"] == "error" and "no outbound numbers" in unbound["errorMsg"]
    call(cloud, "BindNumberCallOutSkillGroup", {"SdkAppId": app, "Number": HOTLINE, "SkillGroupIds": [group]})
    bound = asyncio.run(call_out("008613900000002"))
    assert bound["status"] == "success" and bound["data"]["callerPhoneNumber"] == HOTLINE, bound


@pytest.mark.parametrize("action", ["BindNumberCallOutSkillGroup", "UnbindNumberCallOutSkillGroup"])
@pytest.mark.parametrize("params, code", [
    ({"SkillGroupIds": ["PHONE"]}, "MissingParameter"),
    ({"Number": HOTLINE}, "MissingParameter"),
    ({"Number": HOTLINE, "SkillGroupIds": []}, "InvalidParameterValue"),
    ({"Number": HOTLINE, "SkillGroupIds": "1"}, "InvalidParameter"),
    ({"Number": "0086000", "SkillGroupIds": ["PHONE"]}, "ResourceNotFound"),
    ({"Number": OTHER_NUMBER, "SkillGroupIds": ["PHONE"]}, "ResourceNotFound"),
    ({"Number": HOTLINE, "SkillGroupIds": ["OTHER"]}, "ResourceNotFound"),
    ({"Number": HOTLINE, "SkillGroupIds": ["IM"]}, "FailedOperation"),
])
def test_number_binding_refuses_bad_parameters(live, cloud, app, action, params, code):
    ids = {"OTHER": live.other["group"], "PHONE": live.demo["skillGroups"]["phone"], "IM": live.demo["skillGroups"]["im"]}
    if isinstance(params.get("SkillGroupIds"), list):
        params = {**params, "SkillGroupIds": [ids[g] for g in params["SkillGroupIds"]]}
    before = numbers(cloud, app)
    assert refused_as_sent(cloud, action, {"SdkAppId": app, **params}).code == code
    assert numbers(cloud, app) == before


@pytest.mark.parametrize("params, code", [
    ({"PageSize": 101}, "InvalidParameterValue"), ({"PageSize": 0}, "InvalidParameterValue"),
    ({"PageNumber": -1}, "InvalidParameterValue"), ({"PageNumber": "0"}, "InvalidParameter"),
])
def test_describe_numbers_refuses_bad_paging(cloud, app, params, code):
    assert refused(cloud, "DescribeNumbers", {"SdkAppId": app, **params}).code == code
