"""The server-to-server HTTP API (README, "Server API"), the demo seed and the SDK script's CORS."""
import json
import threading
import time
from io import StringIO

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory

from sessions_app.models import Agent, AgentSkill, Cdr, NumberGroup, Session, SkillGroup, Tenant
from sessions_app.services import chat, media, sessions, tokens
from sessions_app.services.errors import LimitReached, NotFound, ServiceError
from sessions_app.views.api import api_view

pytestmark = pytest.mark.service

DEMO_KEY = "demo-api-key-change-me"


@pytest.fixture
def api(demo):
    """A test client that sends the demo tenant's API key, and no CSRF token, as a server-to-server caller does."""
    return Client(HTTP_AUTHORIZATION=f"Bearer {demo['apiKey']}", enforce_csrf_checks=True)


def post_json(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def end(client, path):
    """POST with no body, as `curl -X POST` sends it."""
    return client.post(path, "", content_type="application/json")


def put_online(*user_ids):
    Agent.objects.filter(user_id__in=user_ids).update(status="free")


def other_tenant():
    """A second company with its own key, one phone skill group and one agent who is online."""
    tenant = Tenant.objects.create(name="Other company", sdk_app_id="1400000999", api_key="other-api-key")
    group = SkillGroup.objects.create(tenant=tenant, name="Other phones", kind="phone")
    user = get_user_model().objects.create(username="agent@other")
    agent = Agent.objects.create(account=user, tenant=tenant, user_id="agent@other", status="free")
    AgentSkill.objects.create(agent=agent, skill_group=group)
    return tenant, group


# POST /api/sdk-login-token

def test_login_token_answers_token_expiry_and_sdk_url(api, demo):
    response = post_json(api, "/api/sdk-login-token", {"SdkAppId": demo["SdkAppId"], "SeatUserId": "agent1@demo"})
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"Token", "ExpiredTime", "SdkURL"}
    assert answer["SdkURL"].startswith("http") and answer["SdkURL"].endswith("/sdk/tccc.js")
    assert 60 <= answer["ExpiredTime"] - time.time() <= 3600
    claims = tokens.read(answer["Token"])
    assert (claims.sdk_app_id, claims.user_id) == (demo["SdkAppId"], "agent1@demo")


def test_login_token_accepts_sdk_app_id_as_a_number(api, demo):
    response = post_json(api, "/api/sdk-login-token", {"SdkAppId": int(demo["SdkAppId"]), "SeatUserId": "agent2@demo"})
    assert response.status_code == 200
    assert tokens.read(response.json()["Token"]).user_id == "agent2@demo"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Bearer ", f"Basic {DEMO_KEY}", DEMO_KEY])
def test_login_token_without_the_right_api_key_is_401(demo, authorization):
    client = Client(enforce_csrf_checks=True, **({"HTTP_AUTHORIZATION": authorization} if authorization else {}))
    response = post_json(client, "/api/sdk-login-token", {"SdkAppId": demo["SdkAppId"], "SeatUserId": "agent1@demo"})
    assert response.status_code == 401
    assert "API key" in response.json()["error"]


@pytest.mark.parametrize("body, problem", [
    ({"SdkAppId": "1400000999", "SeatUserId": "agent1@demo"}, "SdkAppId"),
    ({"SeatUserId": "agent1@demo"}, "SdkAppId"),
    ({"SdkAppId": "1400000001"}, "SeatUserId"),
    ({"SdkAppId": "1400000001", "SeatUserId": ""}, "SeatUserId"),
    ({"SdkAppId": "1400000001", "SeatUserId": 7}, "SeatUserId"),
    ({"SdkAppId": "1400000001", "SeatUserId": "nobody@demo"}, "nobody@demo"),
])
def test_login_token_refuses_bad_request_with_a_clear_error(api, body, problem):
    response = post_json(api, "/api/sdk-login-token", body)
    assert response.status_code == 400
    assert problem in response.json()["error"]


def test_login_token_for_an_agent_of_another_tenant_is_refused(api, demo):
    other_tenant()
    response = post_json(api, "/api/sdk-login-token", {"SdkAppId": demo["SdkAppId"], "SeatUserId": "agent@other"})
    assert response.status_code == 400
    assert "agent@other" in response.json()["error"]


def test_login_token_by_get_is_405(api):
    response = api.get("/api/sdk-login-token")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


# manage.py sdk_token and seed_demo

def test_sdk_token_command_prints_the_same_json_as_the_api(demo):
    out = StringIO()
    call_command("sdk_token", "agent1@demo", stdout=out)
    answer = json.loads(out.getvalue())
    assert set(answer) == {"Token", "ExpiredTime", "SdkURL"}
    assert answer["SdkURL"].endswith("/sdk/tccc.js")
    assert 60 <= answer["ExpiredTime"] - time.time() <= 3600
    assert tokens.read(answer["Token"]).user_id == "agent1@demo"


def test_sdk_token_command_for_unknown_agent_fails(demo):
    with pytest.raises(CommandError, match="nobody@demo"):
        call_command("sdk_token", "nobody@demo", stdout=StringIO())


def demo_counts():
    return [model.objects.count() for model in (Tenant, SkillGroup, NumberGroup, Agent, AgentSkill, get_user_model())]


def test_seed_demo_twice_is_idempotent_and_ends_with_json(demo):
    before = demo_counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    again = json.loads(out.getvalue().strip().splitlines()[-1])
    assert demo_counts() == before
    assert again == demo
    assert set(again) >= {"SdkAppId", "apiKey", "agents", "skillGroups", "hotline"}
    assert set(again["skillGroups"]) == {"phone", "im", "voip", "video"}
    assert {kind: SkillGroup.objects.get(pk=pk).kind for kind, pk in again["skillGroups"].items()} == {
        "phone": "phone", "im": "im", "voip": "voip", "video": "video"}
    assert set(again["agents"]) == set(Agent.objects.values_list("user_id", flat=True))
    assert Tenant.objects.get(sdk_app_id=again["SdkAppId"]).api_key == again["apiKey"]
    assert again["hotline"]


# POST /api/sessions, GET /api/sessions/{id}, POST /api/sessions/{id}/end

CALL_IN = {
    "phone": ({"calleePhoneNumber": "008675586013388", "callerPhoneNumber": "008613800000000",
               "callerLocation": "Shenzhen", "remark": "VIP", "ivrPath": [{"key": "1", "label": "Sales"}],
               "protectedCallee": "pc-1", "protectedCaller": "pr-1"},
              {"callee_phone_number": "008675586013388", "caller_phone_number": "008613800000000",
               "caller_location": "Shenzhen", "remark": "VIP", "ivr_path": [{"key": "1", "label": "Sales"}],
               "protected_callee": "pc-1", "protected_caller": "pr-1"}),
    "im": ({"nickname": "Ann", "avatar": "https://example.com/a.png", "remark": "from the shop",
            "peerSource": "web", "channelName": "shop", "clientData": "order=42"},
           {"nickname": "Ann", "avatar": "https://example.com/a.png", "remark": "from the shop",
            "peer_source": "web", "channel_name": "shop", "client_data": "order=42"}),
    "voip": ({"callee": "support", "calleeRemark": "line 1", "userId": "openid-1", "nickname": "Ann",
              "avatar": "https://example.com/a.png", "remark": "app", "peerSource": "miniprogram",
              "ivrPath": [{"key": "2", "label": "Billing"}]},
             {"callee": "support", "callee_remark": "line 1", "customer_user_id": "openid-1", "nickname": "Ann",
              "avatar": "https://example.com/a.png", "remark": "app", "peer_source": "miniprogram",
              "ivr_path": [{"key": "2", "label": "Billing"}]}),
    "video": ({"userId": "openid-2", "nickname": "Bo", "avatar": "https://example.com/b.png", "remark": "kyc"},
              {"customer_user_id": "openid-2", "nickname": "Bo", "avatar": "https://example.com/b.png",
               "remark": "kyc"}),
}


@pytest.mark.parametrize("session_type", list(CALL_IN))
def test_create_session_stores_call_in_fields_and_offers_it(api, demo, session_type):
    put_online("agent1@demo")
    fields, columns = CALL_IN[session_type]
    response = post_json(api, "/api/sessions", {"type": session_type, "skillGroupId": demo["skillGroups"][session_type],
                                                 "uui": "ticket-7", **fields})
    assert response.status_code == 200
    session_id = response.json()["sessionId"]
    assert set(response.json()) == {"sessionId"}
    session = Session.objects.get(pk=session_id)
    assert (session.type, session.direction, session.uui) == (session_type, "in", "ticket-7")
    assert session.skill_group_id == demo["skillGroups"][session_type]
    assert {column: getattr(session, column) for column in columns} == columns
    assert session.state == "ringing" and session.agent.user_id == "agent1@demo"

    read = api.get(f"/api/sessions/{session_id}")
    assert read.status_code == 200
    shown = read.json()
    assert shown["sessionId"] == session_id and shown["type"] == session_type
    assert (shown["state"], shown["direction"], shown["userId"]) == ("ringing", "in", "agent1@demo")
    assert shown["skillGroupId"] == str(demo["skillGroups"][session_type]) and shown["uui"] == "ticket-7"


def test_create_session_accepts_skill_group_id_as_a_string(api, demo):
    put_online("agent1@demo")
    response = post_json(api, "/api/sessions", {"type": "im", "skillGroupId": str(demo["skillGroups"]["im"])})
    assert response.status_code == 200
    assert Session.objects.get(pk=response.json()["sessionId"]).skill_group_id == demo["skillGroups"]["im"]


def test_create_session_with_nobody_online_ends_as_no_seat_online(api, demo):
    response = post_json(api, "/api/sessions", {"type": "phone", "skillGroupId": demo["skillGroups"]["phone"]})
    assert response.status_code == 200
    shown = api.get(f"/api/sessions/{response.json()['sessionId']}").json()
    assert (shown["state"], shown["endStatus"], shown["closeBy"]) == ("ended", "noSeatOnline", "admin")


def create_ringing_session(api, demo, session_type="phone"):
    put_online("agent1@demo")
    response = post_json(api, "/api/sessions", {"type": session_type, "skillGroupId": demo["skillGroups"][session_type],
                                                 "callerPhoneNumber": "008613800000000"})
    assert response.status_code == 200
    return response.json()["sessionId"]


def test_end_session_ends_it_as_the_customer_and_writes_the_cdr(api, demo):
    session_id = create_ringing_session(api, demo)
    response = end(api, f"/api/sessions/{session_id}/end")
    assert response.status_code == 200
    assert response.json() == {"sessionId": session_id, "state": "ended"}
    session = Session.objects.get(pk=session_id)
    assert (session.state, session.close_by) == ("ended", "client")
    assert session.ended_at is not None
    assert Cdr.objects.get(session=session).payload["SessionId"] == session_id
    shown = api.get(f"/api/sessions/{session_id}").json()
    assert (shown["state"], shown["closeBy"]) == ("ended", "client")
    assert shown["endedAt"] is not None


def test_ending_a_session_twice_is_400(api, demo):
    session_id = create_ringing_session(api, demo)
    assert end(api, f"/api/sessions/{session_id}/end").status_code == 200
    again = end(api, f"/api/sessions/{session_id}/end")
    assert again.status_code == 400
    assert "already ended" in again.json()["error"]
    assert Cdr.objects.filter(session_id=session_id).count() == 1


def test_unknown_session_is_404(api):
    assert api.get("/api/sessions/no-such-session").status_code == 404
    response = end(api, "/api/sessions/no-such-session/end")
    assert response.status_code == 404
    assert "no-such-session" in response.json()["error"]


def test_a_missing_skill_group_named_in_the_body_is_400_not_404(api, demo):
    """404 says the URL names nothing; a skill group that the body names and that is not there makes the
    request itself wrong."""
    response = post_json(api, "/api/sessions", {"type": "im", "skillGroupId": 999999})
    assert response.status_code == 400
    assert response.json()["error"] == "no skill group 999999"


def test_services_say_what_is_missing_by_the_not_found_type_with_their_words_unchanged(demo):
    tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
    lookups = [
        (lambda: sessions.describe(tenant, "nope"), "no session 'nope'"),
        (lambda: sessions.end_by_customer(tenant, "nope"), "no session 'nope'"),
        (lambda: media.media_session("nope", tenant_id=tenant.pk), "no session 'nope'"),
        (lambda: sessions.create_inbound(tenant, "im", "999999", {}, ""), "no skill group '999999'"),
        (lambda: tokens.login_token_response(tenant, "ghost@demo", "http://x/sdk.js"),
         "no agent 'ghost@demo' in SdkAppId 1400000001"),
        (lambda: chat.visitor_chat("nope"), "no chat 'nope'"),
    ]
    for lookup, message in lookups:
        with pytest.raises(NotFound) as missing:
            lookup()
        assert str(missing.value) == message

def ask(view, **url_kwargs):
    request = RequestFactory().get("/api/anything", HTTP_AUTHORIZATION=f"Bearer {DEMO_KEY}")
    response = async_to_sync(view)(request, **url_kwargs)
    return response.status_code, json.loads(response.content)["error"]


def test_the_api_picks_404_by_the_refusals_type_never_by_its_words(demo):
    """A NotFound about what the URL names is a 404 whatever it says; any other refusal is a 400, even one
    worded like a missing session; a NotFound with nothing named in the URL is a 400 (a bad reference)."""
    def refusing(error):
        def handler(request, tenant, body, **url_kwargs):
            raise error
        return api_view("GET")(handler)

    assert ask(refusing(NotFound("the record is gone")), session_id="s1") == (404, "the record is gone")
    assert ask(refusing(ServiceError("no session 's1'")), session_id="s1") == (400, "no session 's1'")
    assert ask(refusing(LimitReached("no session for a while")), session_id="s1") == (400, "no session for a while")
    assert ask(refusing(NotFound("no agent 'ghost'"))) == (400, "no agent 'ghost'")


def test_session_api_without_api_key_is_401(demo):
    anonymous = Client(enforce_csrf_checks=True)
    assert anonymous.post("/api/sessions", "{}", content_type="application/json").status_code == 401
    assert anonymous.get("/api/sessions/anything").status_code == 401
    assert anonymous.post("/api/sessions/anything/end").status_code == 401


def test_another_tenants_session_is_invisible(api, demo):
    tenant, group = other_tenant()
    theirs = Client(HTTP_AUTHORIZATION=f"Bearer {tenant.api_key}", enforce_csrf_checks=True)
    response = post_json(theirs, "/api/sessions", {"type": "phone", "skillGroupId": group.pk})
    assert response.status_code == 200
    session_id = response.json()["sessionId"]
    assert Session.objects.get(pk=session_id).tenant == tenant

    assert api.get(f"/api/sessions/{session_id}").status_code == 404
    assert end(api, f"/api/sessions/{session_id}/end").status_code == 404
    assert Session.objects.get(pk=session_id).state == "ringing"
    assert theirs.get(f"/api/sessions/{session_id}").json()["state"] == "ringing"


def test_session_endpoints_refuse_wrong_methods(api, demo):
    session_id = create_ringing_session(api, demo)
    assert api.get("/api/sessions").status_code == 405
    assert api.post(f"/api/sessions/{session_id}").status_code == 405
    assert api.get(f"/api/sessions/{session_id}/end").status_code == 405


def phone(demo, **extra):
    return {"type": "phone", "skillGroupId": demo["skillGroups"]["phone"], **extra}


BAD_BODIES = {
    "not json": (lambda demo: b"{type: phone", "JSON"),
    "json array": (lambda demo: json.dumps([phone(demo)]), "JSON object"),
    "body over 64 KiB": (lambda demo: json.dumps(phone(demo, remark="x" * (64 * 1024))), "larger than"),
    "unknown type": (lambda demo: json.dumps(phone(demo, type="fax")), "type"),
    "missing type": (lambda demo: json.dumps({"skillGroupId": demo["skillGroups"]["phone"]}), "type"),
    "internal type": (lambda demo: json.dumps(phone(demo, type="internal")), "type"),
    "missing skill group": (lambda demo: json.dumps({"type": "phone"}), "skill group"),
    "unknown skill group": (lambda demo: json.dumps(phone(demo, skillGroupId=987654)), "987654"),
    "non-numeric skill group": (lambda demo: json.dumps(phone(demo, skillGroupId="phone")), "skill group"),
    "other tenant's skill group": (lambda demo: json.dumps(phone(demo, skillGroupId=other_tenant()[1].pk)),
                                   "skill group"),
    "skill group of another kind": (lambda demo: json.dumps(phone(demo, skillGroupId=demo["skillGroups"]["im"])),
                                    "im"),
    "unknown field": (lambda demo: json.dumps(phone(demo, color="red")), "color"),
    "field of another type": (lambda demo: json.dumps(phone(demo, nickname="Ann")), "nickname"),
    "ivrPath not a list": (lambda demo: json.dumps(phone(demo, ivrPath="1")), "ivrPath"),
    "ivrPath item without label": (lambda demo: json.dumps(phone(demo, ivrPath=[{"key": "1"}])), "ivrPath"),
    "ivrPath item with extra key": (lambda demo: json.dumps(
        phone(demo, ivrPath=[{"key": "1", "label": "Sales", "x": "y"}])), "ivrPath"),
    "ivrPath item not strings": (lambda demo: json.dumps(phone(demo, ivrPath=[{"key": 1, "label": "Sales"}])),
                                 "ivrPath"),
    "non-string field": (lambda demo: json.dumps(phone(demo, remark=5)), "remark"),
    "null field": (lambda demo: json.dumps(phone(demo, callerPhoneNumber=None)), "callerPhoneNumber"),
    "field too long": (lambda demo: json.dumps(phone(demo, remark="x" * 1025)), "remark"),
    "uui too long": (lambda demo: json.dumps(phone(demo, uui="u" * 1025)), "uui"),
    "uui not a string": (lambda demo: json.dumps(phone(demo, uui=42)), "uui"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_create_session_refuses_bad_input_and_creates_nothing(api, demo, case):
    put_online("agent1@demo")
    make_body, problem = BAD_BODIES[case]
    body = make_body(demo)
    sessions_before = Session.objects.count()
    response = api.post("/api/sessions", body, content_type="application/json")
    assert response.status_code == 400
    assert problem in response.json()["error"]
    assert Session.objects.count() == sessions_before


def test_create_session_refuses_a_body_of_megabytes_with_a_json_error(api, demo):
    """Past Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) the answer must still be the API's JSON error."""
    put_online("agent1@demo")
    body = json.dumps(phone(demo, remark="x" * 3_000_000))
    sessions_before = Session.objects.count()
    response = api.post("/api/sessions", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "larger than" in response.json()["error"]
    assert Session.objects.count() == sessions_before


LONE_SURROGATE = "a\\ud800b"  # valid JSON escaping a UTF-16 half that no UTF-8 database or body can carry


@pytest.mark.parametrize("path, raw_body", [
    ("/api/sessions", '{"type": "phone", "skillGroupId": %(phone)d, "remark": "%(bad)s"}'),
    ("/api/sessions", '{"type": "phone", "skillGroupId": %(phone)d, "uui": "%(bad)s"}'),
    ("/api/sdk-login-token", '{"SdkAppId": "1400000001", "SeatUserId": "%(bad)s"}'),
], ids=["callIn field", "uui", "SeatUserId"])
def test_lone_surrogate_in_the_body_is_a_400_not_an_internal_error(api, demo, path, raw_body):
    put_online("agent1@demo")
    sessions_before = Session.objects.count()
    response = api.post(path, raw_body % {"phone": demo["skillGroups"]["phone"], "bad": LONE_SURROGATE},
                        content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]
    assert Session.objects.count() == sessions_before


# GET /sdk/tccc.js and /api/openapi.yaml

def test_sdk_script_is_javascript_with_the_protocol_injected(demo):
    response = Client().get("/sdk/tccc.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    source = response.content.decode()
    assert "const PROTOCOL = {" in source
    assert "Call.accept" in source


def test_sdk_script_allows_an_origin_on_the_allow_list(demo):
    response = Client().get("/sdk/tccc.js", HTTP_ORIGIN="http://127.0.0.1:5555")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:5555"


def test_sdk_script_has_no_cors_header_for_other_origins(demo):
    response = Client().get("/sdk/tccc.js", HTTP_ORIGIN="http://evil.example")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_openapi_description_is_served(demo):
    response = Client().get("/api/openapi.yaml")
    assert response.status_code == 200
    assert "yaml" in response["Content-Type"]
    description = response.content.decode()
    assert description.startswith("openapi: 3")
    for path in ("/api/sdk-login-token:", "/api/sessions:", "/api/sessions/{sessionId}:",
                 "/api/sessions/{sessionId}/end:"):
        assert path in description


def test_callin_field_longer_than_its_column_is_a_400(api, demo):
    put_online("agent1@demo")
    before = Session.objects.count()
    response = api.post("/api/sessions", json.dumps({"type": "im", "skillGroupId": str(demo["skillGroups"]["im"]),
                                                     "nickname": "n" * 129}), content_type="application/json")
    assert response.status_code == 400 and "nickname must be a string of at most 128" in response.json()["error"]
    assert Session.objects.count() == before


async def test_the_servers_api_handler_refuses_bad_bodies_clearly_and_serves_the_next_request(demo):
    """Through the ASGI application (the API's own handler, as daphne serves it): a body too large, one that is
    not JSON and a request without a key get their errors and store nothing; the next request is served."""
    from workbench.asgi import application

    key = {"Authorization": f"Bearer {demo['apiKey']}"}
    body = {"type": "phone", "skillGroupId": demo["skillGroups"]["phone"], "callerPhoneNumber": "13800000000"}
    before = await Session.objects.acount()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://testserver") as client:
        too_big = await client.post("/api/sessions", content=b"x" * (3 * 1024 * 1024), headers=key)
        not_json = await client.post("/api/sessions", content=b"{not json", headers=key)
        no_key = await client.post("/api/sessions", json=body)
        assert await Session.objects.acount() == before
        created = await client.post("/api/sessions", json=body, headers=key)
    assert too_big.status_code == 400 and "larger than" in too_big.json()["error"]
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]
    assert no_key.status_code == 401 and "API key" in no_key.json()["error"]
    for response in (too_big, not_json, no_key):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert created.status_code == 200 and created.json()["sessionId"]


async def test_the_server_serves_the_api_without_the_browser_pages_middleware(demo):
    """Through the ASGI application (as daphne serves it): the API answers with the security headers but
    none of the pages' middleware (no X-Frame-Options, no CSRF or session cookie); the pages keep theirs."""
    from workbench.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        created = await client.post("/api/sessions", json={"type": "phone", "skillGroupId": demo["skillGroups"]["phone"],
                                                           "callerPhoneNumber": "13800000000"},
                                    headers={"Authorization": f"Bearer {demo['apiKey']}"})
        spec = await client.get("/api/openapi.yaml")
        page = await client.get("/admin/login/")
    assert created.status_code == 200 and created.json()["sessionId"]
    assert spec.status_code == 200 and spec.text.startswith("openapi: 3")
    for response in (created, spec):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Frame-Options" not in response.headers and "set-cookie" not in response.headers
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY" and "csrftoken" in page.cookies


async def test_an_api_request_is_one_trip_to_the_database_thread(demo, monkeypatch):
    """Django's handler sends a request's signals and calls each sync middleware hook through `sync_to_async`
    (each a trip to a thread, queued there behind other work); an API request makes one trip, its view's, and
    all of them to the process's one database thread. Pages keep Django's way."""
    from asgiref.sync import SyncToAsync

    from workbench.asgi import application

    trips = []
    trip = SyncToAsync.thread_handler

    def noting(self, loop, *args, **kwargs):
        trips.append(threading.current_thread())
        return trip(self, loop, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "thread_handler", noting)
    body = {"type": "phone", "skillGroupId": demo["skillGroups"]["phone"], "callerPhoneNumber": "13800000000"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application),
                                 base_url="http://testserver") as client:
        for _ in range(3):
            created = await client.post("/api/sessions", json=body,
                                        headers={"Authorization": f"Bearer {demo['apiKey']}"})
            assert created.status_code == 200
        api = trips[:]
        trips.clear()
        for _ in range(2):
            assert (await client.get("/admin/login/")).status_code == 200
    assert len(api) == 3 and api[0] is api[1] is api[2]
    assert len(trips) > 2 and api[0] not in trips
