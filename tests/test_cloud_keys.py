"""The cloud API's keys, one-use tokens and sign-in links, and its wire protocol's unhappy paths, against a live
daphne: Tencent's own client where it can say it, hand-signed requests (cloud_raw.py) where it cannot."""
from __future__ import annotations

import re

import asyncio
import json
import time
from types import SimpleNamespace

import httpx
import pytest
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ccc.v20200210 import ccc_client
from tencentcloud.common import credential
from django.contrib.auth import get_user_model
from websockets.asyncio.client import connect

from sessions_app.models import SpentToken, Supervisor
from sessions_app.services import admin_links, deadlines, tokens
from sessions_app.services.errors import ServiceError

from testing.serving import running
from . import factories
from .cloud_client import app, call, client, cloud_server, refused
from .cloud_raw import code, signed

pytestmark = pytest.mark.peer

SETUP = """
import json
from django.contrib.auth import get_user_model
from sessions_app.models import Agent, Supervisor, Tenant
from sessions_app.services import cloud_keys
users, demo = get_user_model(), Tenant.objects.get(sdk_app_id=%(app)r)
other = Tenant.objects.create(name="Other", sdk_app_id="1400000077")
def supervisor(name, tenant, **flags):
    account = users.objects.create_user(name, password="a long password 4711", is_staff=True, **flags)
    Supervisor.objects.create(account=account, tenant=tenant)
supervisor("boss@other", other)
supervisor("ceo@demo", demo, is_superuser=True)
supervisor("gone@demo", demo, is_active=False)
users.objects.filter(agent__tenant=demo, agent__user_id="agent2@demo").update(is_staff=True)
revoked, revoked_secret = cloud_keys.make(demo, "old")
cloud_keys.revoke(key_id=revoked.pk)
print(json.dumps({"revokedId": revoked.secret_id, "revokedKey": revoked_secret}))
"""


@pytest.fixture(scope="module")
def live():
    with running(cloud_server()) as server:
        server.extra = json.loads(server.manage("shell", "-c", SETUP % {"app": server.demo["SdkAppId"]})
                                  .strip().splitlines()[-1])
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)



async def sdk_socket(live, token: str, user_id: str = "agent1@demo") -> dict:
    """The first frame the SDK's socket answers a token with (welcome, tokenExpired, refused)."""
    url = (live.url.replace("http", "ws") + f"/ws/sdk/?token={token}&sdkAppId={live.demo['SdkAppId']}"
           f"&userId={user_id}")
    async with connect(url, origin=live.url) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 10))


# --- CreateSDKLoginToken's OnlyOnce ---

def test_an_only_once_token_opens_one_sdk_socket_and_a_second_use_is_refused_as_expired(live, cloud):
    token = call(cloud, "CreateSDKLoginToken", {"SdkAppId": app(live), "SeatUserId": "agent1@demo",
                                                "OnlyOnce": True})["Token"]
    first = asyncio.run(sdk_socket(live, token))
    assert first["type"] == "welcome" and first["resumeToken"]
    second = asyncio.run(sdk_socket(live, token))
    assert second["type"] == "tokenExpired" and "one use" in second["errorMsg"]


def test_a_token_of_many_uses_opens_sockets_again(live, cloud):
    for once in ({}, {"OnlyOnce": False}):
        token = call(cloud, "CreateSDKLoginToken", {"SdkAppId": app(live), "SeatUserId": "agent1@demo",
                                                    **once})["Token"]
        assert [asyncio.run(sdk_socket(live, token))["type"] for _ in range(2)] == ["welcome", "welcome"]


def test_only_once_must_be_a_boolean(live, cloud):
    params = {"SdkAppId": app(live), "SeatUserId": "agent1@demo", "OnlyOnce": "yes"}
    assert refused(cloud, "CreateSDKLoginToken", params).code == "InvalidParameter"


# --- CreateAdminURL ---

def admin_url(live, cloud, seat_user_id: str) -> str:
    url = call(cloud, "CreateAdminURL", {"SdkAppId": app(live), "SeatUserId": seat_user_id})["URL"]
    assert url.startswith(f"http://127.0.0.1:{live.port}/admin/link/")
    return url


def confirm(browser: httpx.Client, url: str) -> httpx.Response:
    """Open the link, then press its page's button."""
    page = browser.get(url)
    assert page.status_code == 200 and "sessionid" not in browser.cookies, page.text[-2000:]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return browser.post(url, data={"csrfmiddlewaretoken": token}, follow_redirects=True)


@pytest.mark.parametrize("seat_user_id", ["supervisor@demo", "agent2@demo"])
def test_an_admin_url_signs_a_supervisor_in_once_and_lands_on_the_admin_index(live, cloud, seat_user_id):
    url = admin_url(live, cloud, seat_user_id)
    assert httpx.head(url).status_code == 405  # a link preview's HEAD spends nothing
    assert httpx.get(url).status_code == 200  # nor does opening it: it asks first
    with httpx.Client() as browser:
        landed = confirm(browser, url)
        assert landed.status_code == 200 and str(landed.url) == f"{live.url}/admin/"
        assert 'id="logout-form"' in landed.text and "Wallboard" in landed.text, landed.text[-3000:]
    again = httpx.get(url)
    assert again.status_code == 403 and "used already" in again.text and "sessionid" not in again.cookies


def test_an_admin_url_signs_in_only_from_its_own_page(live, cloud):
    """Another site cannot post the button for a visitor: no CSRF token, no sign-in, and the link stays unspent."""
    url = admin_url(live, cloud, "supervisor@demo")
    with httpx.Client() as stranger:
        posted = stranger.post(url, data={}, headers={"Origin": "https://evil.example"})
        assert posted.status_code == 403 and "sessionid" not in stranger.cookies
    with httpx.Client() as browser:
        assert str(confirm(browser, url).url) == f"{live.url}/admin/"


def test_a_forged_admin_url_signs_nobody_in(live, cloud):
    url = admin_url(live, cloud, "supervisor@demo")
    forged = httpx.get(url[:-3] + ("A/" if url[-2] != "A" else "B/"))
    assert forged.status_code == 403 and "not valid" in forged.text and "sessionid" not in forged.cookies


@pytest.mark.parametrize("params, expected", [
    ({"SeatUserId": "boss@other"}, "ResourceNotFound"),  # another tenant's supervisor
    ({"SeatUserId": "nobody@demo"}, "ResourceNotFound"),
    ({"SeatUserId": "ceo@demo"}, "FailedOperation"),  # a superuser, even one with a supervisor row here
    ({"SeatUserId": "gone@demo"}, "FailedOperation"),  # deactivated
    ({"SeatUserId": "agent1@demo"}, "FailedOperation"),  # an agent whose account is not staff
    ({}, "MissingParameter"),
    ({"SeatUserId": 5}, "InvalidParameter"),
])
def test_an_admin_url_is_refused_for_anyone_but_an_active_supervisor_of_the_tenant(live, cloud, params, expected):
    assert refused(cloud, "CreateAdminURL", {"SdkAppId": app(live), **params}).code == expected


def test_an_admin_url_of_another_application_is_unauthorized(cloud):
    assert refused(cloud, "CreateAdminURL", {"SdkAppId": 1400000077, "SeatUserId": "boss@other"}).code == \
        "UnauthorizedOperation"


# --- the wire protocol's unhappy paths ---

BODY = {"SdkAppId": 0, "SeatUserId": "agent1@demo"}


def body(live) -> dict:
    return {**BODY, "SdkAppId": app(live)}


def test_a_hand_signed_request_is_answered_as_the_clients(live):
    answer = signed(live, "CreateSDKLoginToken", body(live))
    assert answer["Token"] and answer["RequestId"]


@pytest.mark.parametrize("skew", [-301, 301, -3600 * 24])
def test_a_timestamp_more_than_five_minutes_off_either_way_is_expired(live, skew):
    answer = signed(live, "CreateSDKLoginToken", body(live), timestamp=int(time.time()) + skew)
    assert code(answer) == "AuthFailure.SignatureExpire" and answer["RequestId"]


def test_another_version_is_no_such_version(live):
    assert code(signed(live, "CreateSDKLoginToken", body(live), version="2017-03-12")) == "NoSuchVersion"


def test_a_get_with_an_action_is_refused_and_get_slash_is_still_the_home_page(live):
    assert code(signed(live, "CreateSDKLoginToken", b"", method="GET")) == "UnsupportedProtocol"
    home = httpx.get(live.url + "/")
    assert home.status_code == 200 and home.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("authorization", [
    "Bearer abc", "TC3-HMAC-SHA256 Credential=AKIDx/2026-01-01/ccc/tc3_request", "",
    "TC3-HMAC-SHA256 Credential=AKIDx/2026-01-01/ccc/tc3_request, SignedHeaders=host, Signature=" + "0" * 64,
])
def test_a_malformed_authorization_is_invalid(live, authorization):
    assert code(signed(live, "CreateSDKLoginToken", body(live), authorization=authorization)) == \
        "AuthFailure.InvalidAuthorization"


@pytest.mark.parametrize("scope", [{"date": "2020-02-10"}, {"service": "cvm"}])
def test_a_credential_scope_of_another_date_or_service_fails_the_signature(live, scope):
    assert code(signed(live, "CreateSDKLoginToken", body(live), **scope)) == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_an_invalid_parameter(live, raw):
    assert code(signed(live, "CreateSDKLoginToken", raw)) == "InvalidParameter"


def test_a_body_too_large_is_an_invalid_parameter(live):
    huge = json.dumps({**body(live), "Padding": "x" * (1024 * 1024)}).encode()
    assert code(signed(live, "CreateSDKLoginToken", huge)) == "InvalidParameter"


def test_an_unsigned_payload_works_with_the_real_client(live):
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{live.port}"))
    profile.unsignedPayload = True
    unsigned = ccc_client.CccClient(credential.Credential(live.demo["secretId"], live.demo["secretKey"]),
                                    "ap-guangzhou", profile)
    assert call(unsigned, "CreateSDKLoginToken", body(live))["Token"]
    assert code(signed(live, "CreateSDKLoginToken", body(live), unsigned_payload=True)) == "ok"


def test_a_revoked_key_is_not_found(live):
    error = refused(client(live, live.extra["revokedId"], live.extra["revokedKey"]), "CreateSDKLoginToken",
                    body(live))
    assert error.code == "AuthFailure.SecretIdNotFound"


def test_a_key_made_and_revoked_with_manage_py_signs_until_revoked(live):
    made = json.loads(live.manage("cloud_key", "make", live.demo["SdkAppId"], "--name", "script").strip())
    assert made["SdkAppId"] == live.demo["SdkAppId"] and made["secretId"].startswith("AKID")
    assert len(made["secretKey"]) == 32
    cloud = client(live, made["secretId"], made["secretKey"])
    assert call(cloud, "CreateSDKLoginToken", body(live))["Token"]
    assert json.loads(live.manage("cloud_key", "revoke", made["secretId"])) == {"secretId": made["secretId"],
                                                                                 "revoked": True}
    assert refused(cloud, "CreateSDKLoginToken", body(live)).code == "AuthFailure.SecretIdNotFound"


def test_every_request_is_logged_once_with_its_secret_id_and_never_the_secret(live, cloud):
    answers = [signed(live, "CreateSDKLoginToken", body(live)),
               signed(live, "CreateSDKLoginToken", body(live), version="1999-01-01"),
               signed(live, "CreateSDKLoginToken", body(live), secret_key="y" * 32)]
    ids = [answer["RequestId"] for answer in answers]
    logged = json.loads(live.manage("shell", "-c", f"""
import json
from django.core import serializers
from sessions_app.models import CloudApiCall
rows = CloudApiCall.objects.filter(request_id__in={ids!r}).order_by("at", "id")
print(serializers.serialize("json", rows))""").strip().splitlines()[-1])
    assert [row["fields"]["request_id"] for row in logged] == ids
    assert [row["fields"]["outcome"] for row in logged] == ["ok", "NoSuchVersion", "AuthFailure.SignatureFailure"]
    assert logged[0]["fields"]["secret_id"] == live.demo["secretId"] and logged[0]["fields"]["key"]
    assert logged[2]["fields"]["secret_id"] == live.demo["secretId"]
    everything = json.dumps(logged)
    assert live.demo["secretKey"] not in everything and "y" * 32 not in everything


# --- what the live server cannot show quickly: expiry and the sweep ---

def test_a_spent_token_is_refused_again_and_swept_once_it_has_expired(db):
    now = int(time.time())
    tokens.spend("a" * 32, now - 1)
    tokens.spend("b" * 32, now + 600)
    with pytest.raises(tokens.TokenRevoked):
        tokens.spend("b" * 32, now + 600)
    tokens.spend("", now)  # a token of many uses spends nothing
    deadlines.sweep_once()
    assert list(SpentToken.objects.values_list("id", flat=True)) == ["b" * 32]


def test_an_admin_link_expires_after_a_few_minutes_unspent(db, monkeypatch):
    tenant = factories.tenant(name="Links")
    account = get_user_model().objects.create_user("sue", password="a long password 4711", is_staff=True)
    Supervisor.objects.create(account=account, tenant=tenant)
    token = admin_links.issue(tenant, "sue")
    later = time.time() + admin_links.LINK_TTL + 1
    monkeypatch.setattr(admin_links, "time", SimpleNamespace(time=lambda: later))
    with pytest.raises(tokens.TokenExpired):
        admin_links.redeem(token)
    monkeypatch.undo()
    assert admin_links.redeem(token) == account
    account.is_active = False
    account.save()
    with pytest.raises(ServiceError):
        admin_links.issue(tenant, "sue")
