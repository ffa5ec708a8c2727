"""Ending an agent's logins: the workbench's logout, deactivating the user, a password change and a supervisor's
force offline each close the agent's open sockets (SDK and workbench) within a second and make its earlier login
and resume tokens fail; a deactivated user gets no token, no connection and no calls."""
import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from sessions_app.models import Agent, Session

from .conftest import SdkClient, api_session, login_token
from .test_workbench import Workbench, session_cookie

pytestmark = pytest.mark.service

ANY_REASON = {"refused": "the account of agent agent1@demo is deactivated",
              "tokenExpired": "the login is no longer valid: signed out, forced offline or the password changed"}


def user(username: str):
    return get_user_model().objects.get(username=username)


def sign_out(user_id: str) -> None:
    client = Client()
    client.force_login(user(user_id))
    assert client.post("/workbench/logout/").status_code == 302


def deactivate(user_id: str) -> None:
    account = user(user_id)
    account.is_active = False
    account.save()


def change_password(user_id: str) -> None:
    account = user(user_id)
    account.set_password("a-new-password")
    account.save()


def force_offline_in_admin(user_id: str) -> None:
    client = Client()
    client.force_login(user("admin"))
    agent = Agent.objects.get(user_id=user_id)
    response = client.post("/admin/sessions_app/agent/", {"action": "force_offline", "_selected_action": [agent.pk]})
    assert response.status_code == 302


ENDINGS = [sign_out, deactivate, change_password, force_offline_in_admin]
ENDING_IDS = ["logout", "deactivation", "password-change", "force-offline"]
REASONS = {sign_out: "signed out", deactivate: "deactivated", change_password: "password was changed",
           force_offline_in_admin: "a supervisor set the agent offline"}


async def closing(communicator, timeout: float = 1.0) -> tuple[list[dict | str], int]:
    """What a socket received until it closed (within `timeout`), and its close code."""
    received = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        message = await asyncio.wait_for(communicator.output_queue.get(),
                                         max(0.01, deadline - asyncio.get_running_loop().time()))
        if message["type"] == "websocket.close":
            return received, message.get("code")
        received.append(message["text"])


async def refused_with(query: str) -> tuple[dict, int]:
    client = await SdkClient.connect("agent1@demo", query=query)
    _, code = await closing(client.communicator)
    return client.welcome, code


@pytest.mark.parametrize("end_login", ENDINGS, ids=ENDING_IDS)
async def test_ending_a_login_closes_its_sockets_within_a_second_and_its_tokens_fail(demo, end_login):
    login = await database_sync_to_async(login_token)("agent1@demo")
    sdk = await SdkClient.connect("agent1@demo", token=login)
    resume = sdk.welcome["resumeToken"]
    embedded = await Workbench.open(resume=resume)
    standalone = await Workbench.open(cookie=await database_sync_to_async(session_cookie)("agent1@demo"))
    for page in (embedded, standalone):
        await page.until('id="wb-agent"')

    await database_sync_to_async(end_login)("agent1@demo")

    frames, code = await closing(sdk.communicator)
    assert code == 4001
    expired = json.loads(frames[-1])
    assert expired["type"] == "tokenExpired" and REASONS[end_login] in expired["errorMsg"], frames
    for page in (embedded, standalone):
        frames, code = await closing(page.communicator)
        assert code == 4001 and "You are signed out" in frames[-1] and REASONS[end_login] in frames[-1]
    # Neither the login token nor the resume token opens a socket again.
    # A deactivated account is refused; otherwise the tokens count as expired (the SDK fires tokenExpired).
    kind, code = ("refused", 4003) if end_login is deactivate else ("tokenExpired", 4001)
    for query in (f"token={login}&sdkAppId=1400000001&userId=agent1@demo", f"resume={resume}"):
        assert await refused_with(query) == ({"type": kind, "errorMsg": ANY_REASON[kind]}, code)
    page = await Workbench.open(resume=resume)
    assert (await closing(page.communicator))[1] == code


@pytest.mark.parametrize("end_login", ENDINGS[:2] + ENDINGS[3:], ids=ENDING_IDS[:2] + ENDING_IDS[3:])
async def test_a_login_ended_mid_call_ends_the_call_and_leaves_the_agent_offline(demo, end_login):
    sdk = await SdkClient.connect("agent1@demo")
    await database_sync_to_async(lambda: Agent.objects.exclude(user_id="agent1@demo").update(status="offline"))()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    await sdk.event("callIn")
    assert (await sdk.call("Call.accept", sessionId=session_id))["status"] == "success"
    await database_sync_to_async(end_login)("agent1@demo")
    frames, code = await closing(sdk.communicator)
    assert code == 4001
    received = [json.loads(frame) for frame in frames]
    assert "sessionEnded" in [frame.get("event") for frame in received], received
    assert received[-1]["type"] == "tokenExpired"  # the session's events first, then the close
    session = await database_sync_to_async(Session.objects.get)(pk=session_id)
    assert (session.state, session.end_status) == ("ended", "seatOffline")
    assert (await database_sync_to_async(Agent.objects.get)(user_id="agent1@demo")).status == "offline"


async def test_a_fresh_token_after_a_revocation_connects(demo):
    sdk = await SdkClient.connect("agent1@demo")
    await database_sync_to_async(force_offline_in_admin)("agent1@demo")
    await closing(sdk.communicator)
    again = await SdkClient.connect("agent1@demo")
    assert again.welcome["type"] == "welcome" and again.welcome["agent"]["status"] == "free"
    await again.close()


# An inactive user, however it became inactive (here without any signal: a bulk update).

@database_sync_to_async
def deactivate_quietly(user_id: str) -> None:
    get_user_model().objects.filter(username=user_id).update(is_active=False)


@pytest.mark.django_db
def test_no_login_token_for_an_inactive_user(demo):
    get_user_model().objects.filter(username="agent1@demo").update(is_active=False)
    client = Client()
    response = client.post("/api/sdk-login-token", {"SdkAppId": demo["SdkAppId"], "SeatUserId": "agent1@demo"},
                           content_type="application/json", headers={"Authorization": f"Bearer {demo['apiKey']}"})
    assert response.status_code == 400
    assert response.json() == {"error": "the account of agent 'agent1@demo' is deactivated: no token is issued for it"}
    with pytest.raises(CommandError, match="'agent1@demo' is deactivated"):
        call_command("sdk_token", "agent1@demo")


async def test_an_inactive_user_cannot_connect(demo):
    login = await database_sync_to_async(login_token)("agent1@demo")
    await deactivate_quietly("agent1@demo")
    welcome, code = await refused_with(f"token={login}&sdkAppId=1400000001&userId=agent1@demo")
    assert (welcome, code) == ({"type": "refused", "errorMsg": ANY_REASON["refused"]}, 4003)
    assert (await database_sync_to_async(Agent.objects.get)(user_id="agent1@demo")).status == "offline"


async def test_an_inactive_agent_still_shown_free_is_not_routed_to(demo):
    sdk = await SdkClient.connect("agent1@demo")
    await database_sync_to_async(lambda: Agent.objects.exclude(user_id="agent1@demo").update(status="offline"))()
    await deactivate_quietly("agent1@demo")
    session_id = await api_session(demo, "im", nickname="v")
    assert await sdk.no_event("callIn")
    assert (await database_sync_to_async(Session.objects.get)(pk=session_id)).agent_id is None
    await sdk.close()


@pytest.mark.django_db(transaction=True)
def test_a_connect_with_a_login_revoked_after_its_token_was_read_neither_comes_online_nor_stays(demo):
    """The race the second check closes: the token was read, then the login was revoked, then the agent
    connects (its row locked): refused, and the agent stays offline."""
    from sessions_app.services import agents, logins, tokens

    agent = Agent.objects.get(user_id="agent1@demo")
    logins.force_offline(agent.pk, supervisor_id=user("admin").pk)
    with pytest.raises(tokens.TokenRevoked):
        agents.connect(agent.pk, "specific..inmemory!race", agent.token_generation)
    agent.refresh_from_db()
    assert agent.status == "offline" and not agent.connections.exists()


@pytest.mark.django_db(transaction=True)
def test_upgrading_a_password_hash_as_the_agent_logs_in_is_no_password_change(demo):
    """Django rehashes a password stored with weaker parameters (here: a short salt) when the user logs in:
    the agent's other logins (its CRM page's SDK) stay valid."""
    from django.contrib.auth.hashers import make_password

    weak = make_password("demo-password", salt="ab", hasher="md5")
    get_user_model().objects.filter(username="agent1@demo").update(password=weak)
    assert Client().login(username="agent1@demo", password="demo-password")
    assert user("agent1@demo").password != weak  # rehashed and saved
    assert Agent.objects.get(user_id="agent1@demo").token_generation == 0
