"""Guessing passwords and API keys is throttled per account and per address (sessions_app/views/credential_throttle.py),
through the ASGI application as daphne serves it, and across processes sharing the database."""
import datetime
import re

import httpx
import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.utils import timezone

from testing.liveserver import LiveServer

pytestmark = pytest.mark.service

LIMIT = 5  # AUTH_FAILURE_LIMIT's default


def client_at(address: str, **headers) -> httpx.AsyncClient:
    from workbench.asgi import application

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application, client=(address, 40000)),
                             base_url="http://testserver", headers=headers)


async def sign_in(client: httpx.AsyncClient, page: str, username: str, password: str) -> httpx.Response:
    form = await client.get(page)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return await client.post(page, data={"csrfmiddlewaretoken": token, "username": username, "password": password,
                                         "next": "/workbench/"})


def token_request(demo, key: str) -> dict:
    return {"json": {"SdkAppId": demo["SdkAppId"], "SeatUserId": "agent1@demo"},
            "headers": {"Authorization": f"Bearer {key}"}}


def locked_out(response: httpx.Response) -> bool:
    return (response.status_code == 429 and "Too many failed sign-ins" in response.text
            and 0 < int(response.headers["Retry-After"]) <= 900)


# API keys

async def test_wrong_api_keys_lock_the_address_out_with_429_and_retry_after_even_for_the_right_key(demo):
    async with client_at("198.51.100.1") as guesser, client_at("198.51.100.2") as other:
        for n in range(LIMIT):
            wrong = await guesser.post("/api/sdk-login-token", **token_request(demo, f"guess-{n}"))
            assert wrong.status_code == 401
        refused = await guesser.post("/api/sdk-login-token", **token_request(demo, "guess-again"))
        right_key = await guesser.post("/api/sdk-login-token", **token_request(demo, demo["apiKey"]))
        no_key = await guesser.get("/api/sessions/1")
        elsewhere = await other.post("/api/sdk-login-token", **token_request(demo, demo["apiKey"]))
        elsewhere_wrong = await other.post("/api/sdk-login-token", **token_request(demo, "guess"))
    for response in (refused, right_key, no_key):
        assert response.status_code == 429
        assert "too many wrong API keys from this address" in response.json()["error"]
        assert 0 < int(response.headers["Retry-After"]) <= 900
    assert elsewhere.status_code == 200 and elsewhere.json()["Token"]
    assert elsewhere_wrong.status_code == 401


async def test_wrong_keys_with_form_bodies_get_the_apis_json_answers(demo):
    """Form bodies, a malformed multipart one too, are answered as any other: 401, then 429, in JSON."""
    bodies = [(b"garbage", "multipart/form-data; boundary=x"), (b"x", "multipart/form-data"),
              (b"username=admin&password=x", "application/x-www-form-urlencoded")]
    async with client_at("198.51.100.4") as guesser:
        answers = [await guesser.post("/api/sdk-login-token", content=body,
                                      headers={"Authorization": "Bearer guess", "Content-Type": content_type})
                   for body, content_type in bodies * 2]
    assert [a.status_code for a in answers] == [401] * LIMIT + [429]
    assert all("API key" in a.json()["error"] for a in answers)


async def test_an_api_lockout_lasts_the_configured_time(demo, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(seconds=60)
    async with client_at("198.51.100.3") as guesser:
        for n in range(LIMIT):
            await guesser.post("/api/sessions/1/end", headers={"Authorization": f"Bearer guess-{n}"})
        await AccessAttempt.objects.aupdate(attempt_time=timezone.now() - datetime.timedelta(seconds=50))
        still = await guesser.post("/api/sdk-login-token", **token_request(demo, demo["apiKey"]))
        await AccessAttempt.objects.aupdate(attempt_time=timezone.now() - datetime.timedelta(seconds=61))
        over = await guesser.post("/api/sdk-login-token", **token_request(demo, demo["apiKey"]))
    assert still.status_code == 429 and 1 <= int(still.headers["Retry-After"]) <= 10
    assert over.status_code == 200


async def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(demo, settings):
    """A guesser cannot dodge the lockout by sending X-Forwarded-For entries of its own: the proxy appends the
    address it saw, and only that last entry counts. Without BEHIND_TLS_PROXY the header means nothing."""
    settings.BEHIND_TLS_PROXY = True
    body = {"SdkAppId": demo["SdkAppId"], "SeatUserId": "agent1@demo"}

    def via_proxy(key: str, forwarded_for: str) -> dict:
        return {"json": body, "headers": {"Authorization": f"Bearer {key}", "X-Forwarded-For": forwarded_for}}

    async with client_at("127.0.0.1") as proxy:
        for n in range(LIMIT):
            await proxy.post("/api/sdk-login-token", **via_proxy(f"guess-{n}", f"10.0.0.{n}, 203.0.113.9"))
        spoofing = await proxy.post("/api/sdk-login-token", **via_proxy(demo["apiKey"], "10.9.9.9, 203.0.113.9"))
        someone_else = await proxy.post("/api/sdk-login-token", **via_proxy(demo["apiKey"], "203.0.113.10"))
        not_an_address = await proxy.post("/api/sdk-login-token", **via_proxy("guess", "203.0.113.9, <script>"))
        settings.BEHIND_TLS_PROXY = False
        direct = await proxy.post("/api/sdk-login-token", **via_proxy(demo["apiKey"], "203.0.113.9"))
    assert spoofing.status_code == 429
    assert someone_else.status_code == 200
    assert not_an_address.status_code == 401  # counted for no address: a clear refusal, not an error
    assert direct.status_code == 200  # the connection's own address, 127.0.0.1, guessed nothing
    assert {a async for a in AccessAttempt.objects.values_list("ip_address", flat=True)} == {"203.0.113.9", None}


# Sign-ins

@pytest.mark.parametrize("page", ["/workbench/login/", "/admin/login/"])
async def test_wrong_passwords_lock_the_account_from_every_address(demo, page):
    username, colleague_name = ("admin", "agent2@demo") if page.startswith("/admin") else ("agent1@demo", "agent2@demo")
    await get_user_model().objects.filter(username=colleague_name).aupdate(is_staff=True)
    async with client_at("198.51.100.10") as guesser, client_at("198.51.100.11") as owner, \
            client_at("198.51.100.11") as colleague:
        for n in range(LIMIT - 1):
            wrong = await sign_in(guesser, page, username, f"guess-{n}")
            assert wrong.status_code == 200  # the form again, with its error
        assert locked_out(await sign_in(guesser, page, username, "guess-last"))
        assert locked_out(await sign_in(owner, page, username, "demo-password"))
        other_account = await sign_in(colleague, page, colleague_name, "demo-password")
    assert other_account.status_code == 302


@pytest.mark.parametrize("page", ["/workbench/login/", "/admin/login/"])
async def test_wrong_passwords_for_many_accounts_lock_the_address(demo, page):
    account = "admin" if page.startswith("/admin") else "agent3@demo"
    async with client_at("198.51.100.20") as guesser, client_at("198.51.100.21") as owner:
        for n in range(LIMIT):
            await sign_in(guesser, page, f"user{n}@demo", "guess")
        own_account = await sign_in(guesser, page, account, "demo-password")
        elsewhere = await sign_in(owner, page, account, "demo-password")
    assert locked_out(own_account)
    assert "Try again in 15 minutes" in own_account.text
    assert elsewhere.status_code == 302


async def test_a_sign_in_lockout_lasts_the_configured_time(demo, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(seconds=120)
    async with client_at("198.51.100.30") as agent:
        for n in range(LIMIT):
            await sign_in(agent, "/workbench/login/", "agent1@demo", f"guess-{n}")
        await AccessAttempt.objects.aupdate(attempt_time=timezone.now() - datetime.timedelta(seconds=100))
        still = await sign_in(agent, "/workbench/login/", "agent1@demo", "demo-password")
        await AccessAttempt.objects.aupdate(attempt_time=timezone.now() - datetime.timedelta(seconds=121))
        over = await sign_in(agent, "/workbench/login/", "agent1@demo", "demo-password")
    assert locked_out(still) and int(still.headers["Retry-After"]) <= 20 and "Try again in 1 minute" in still.text
    assert over.status_code == 302 and over.headers["Location"] == "/workbench/"


# Several processes

@pytest.mark.peer
def test_the_lockout_holds_across_processes_sharing_the_database(tmp_path):
    with LiveServer(workdir=str(tmp_path)) as first:
        second = LiveServer(workdir=str(tmp_path)).start(first.demo)
        try:
            for n in range(LIMIT):
                assert httpx.post(first.url + "/api/sdk-login-token", headers={"Authorization": f"Bearer guess-{n}"},
                                  json={}).status_code == 401
            on_second = httpx.post(second.url + "/api/sdk-login-token", headers={"Authorization": "Bearer guess"},
                                   json={})
        finally:
            second.stop()
    assert on_second.status_code == 429 and int(on_second.headers["Retry-After"]) > 0
