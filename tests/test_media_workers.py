"""Media in worker processes (Redis and PostgreSQL configured): a web call's legs live in `manage.py
media_worker`, driven by daphne over the channel layer; a worker killed with kill -9 has its calls ended cleanly.

Both ends are real: the customer's and the agent's legs are aiortc peers (testing/peers.py) sending tones over
real websockets (the call widget's socket and the SDK's), against a real redis-server and daphne.
"""
from __future__ import annotations

import asyncio
import subprocess
from contextlib import asynccontextmanager

import psycopg
import pytest

from testing.peers import Peer

from .agent_leg import accept_hearing
from .browser import live_shell
from .engine_helpers import hears
from testing.liveserver import ROOT, LiveServer, free_port
from testing.media_worker import Worker
from .phone_peer import PhonePeer
from .recordings import Decoded, stored_recording
from .ws_clients import open_agent, open_customer, until

pytestmark = pytest.mark.peer

CUSTOMER_HZ, AGENT_HZ = 440, 1000
QUEUE_HOTLINE = "4008007777"  # a hotline without an IVR: straight to the phone group
SCENARIO = ROOT / "tests" / "sipp" / "trunk_calls_hotline.xml"


@pytest.fixture(scope="module")
def server(redis, postgres):
    live = LiveServer(env={"REDIS_URL": redis.url, "DATABASE_URL": postgres.create_database("media_workers"),
                           "MEDIA_HOST_ADDRESSES": "127.0.0.1", "PROCESS_DEAD_AFTER": "3",
                           "SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1"})
    live.start()
    live_shell(live, "from sessions_app.models import Hotline, SkillGroup\n"
                     "group = SkillGroup.objects.get(kind='phone')\n"
                     f"Hotline.objects.create(tenant=group.tenant, number='{QUEUE_HOTLINE}', skill_group=group)")
    yield live
    live.stop()


@pytest.fixture
def worker(server):
    started = Worker(server)
    yield started
    started.stop()


def reset(live: LiveServer) -> None:
    from .browser import reset_center

    reset_center(live)


@asynccontextmanager
async def bridged_call(live: LiveServer):
    """A web audio call from a customer to agent1, accepted, with both peers hearing each other; the peers and
    sockets are closed when the block is left."""
    agent = await open_agent(live, "agent1@demo")
    customer, customer_peer, agent_peer = await open_customer(live), Peer(CUSTOMER_HZ), Peer(AGENT_HZ)
    try:
        assert (await agent.request(method="Agent.setStatus", params={"status": "free"}))["status"] == "success"
        started = await customer.request(action="start", kind="audio", sdp=await customer_peer.offer(), nickname="Li")
        assert started["status"] == "success", started
        session_id = started["data"]["sessionId"]
        await customer_peer.accept_answer(started["data"]["sdp"])
        assert (await agent.event("callIn"))["sessionId"] == session_id
        await accept_hearing(agent, session_id, agent_peer, CUSTOMER_HZ, "agent hears customer")
        await until(lambda: hears(customer_peer, AGENT_HZ), "customer hears agent")
        yield agent, customer, agent_peer, session_id
    finally:
        for peer in (customer_peer, agent_peer):
            await peer.close()
        await agent.ws.close()
        await customer.ws.close()


def test_a_web_call_is_bridged_by_a_media_worker_process(server, worker):
    reset(server)

    async def scenario():
        async with bridged_call(server) as (agent, customer, agent_peer, session_id):
            assert (await agent.request(method="Call.hold", params={"sessionId": session_id}))["status"] == "success"
            await until(lambda: hears(agent_peer, 0), "silence for the agent on hold")
            assert (await customer.request(action="hangUp"))["status"] == "success"
            assert (await agent.event("sessionEnded"))["closeBy"] == "client"
        return session_id

    session_id = asyncio.run(scenario())
    assert server.api("GET", f"/api/sessions/{session_id}")["endStatus"] == "ok"
    # The demo tenant records its calls: the worker wrote the file, the web side stored it, whole.
    recording = stored_recording(server.env["DATABASE_URL"], session_id)
    decoded = Decoded(recording["file"])
    assert not recording["partial"] and abs(recording["duration"] - decoded.seconds) < 0.1
    assert abs(decoded.left_hz(0.0, decoded.seconds) - CUSTOMER_HZ) < 15


def test_a_killed_media_worker_ends_its_calls_with_media_error_and_tells_the_agent(server, worker):
    reset(server)

    async def scenario():
        async with bridged_call(server) as (agent, customer, _, session_id):
            await asyncio.sleep(1.5)  # a stretch of the call, recorded before the worker dies
            worker.kill()
            ended = await agent.event("sessionEnded", timeout=15)
            assert ended["sessionId"] == session_id and ended["closeBy"] == "admin"
            assert (await customer.event("ended"))["endStatus"] == "mediaError"
        return session_id

    session_id = asyncio.run(scenario())
    described = server.api("GET", f"/api/sessions/{session_id}")
    assert described["state"] == "ended" and described["endStatus"] == "mediaError"
    with psycopg.connect(server.env["DATABASE_URL"]) as database:
        (payload,), = database.execute("SELECT payload FROM sessions_app_cdr WHERE session_id = %s",
                                       (session_id,)).fetchall()
    assert payload["RecordPartial"] is True and payload["RecordId"]  # in the CDR, whenever it is pushed
    # What the killed worker had written of its recording is kept, playable, and marked partial.
    recording = stored_recording(server.env["DATABASE_URL"], session_id)
    decoded = Decoded(recording["file"])
    assert recording["partial"] and 0.8 < decoded.seconds < 2.0
    assert abs(decoded.left_hz(0.0, decoded.seconds) - CUSTOMER_HZ) < 15


def test_without_a_running_media_worker_a_web_call_is_refused_clearly(server):
    reset(server)

    async def scenario():
        agent = await open_agent(server, "agent1@demo")
        customer = await open_customer(server)
        peer = Peer(CUSTOMER_HZ)
        started = await customer.request(action="start", kind="audio", sdp=await peer.offer())
        await peer.close()
        await agent.ws.close()
        await customer.ws.close()
        return started

    started = asyncio.run(scenario())
    assert started["status"] == "error" and "no media worker is running" in started["errorMsg"]


def test_a_media_worker_with_sip_carries_phone_calls_and_their_agents(server, tmp_path):
    reset(server)
    sip_worker = Worker(server, "--sip")
    phone = PhonePeer()
    sipp = subprocess.Popen(
        ["sipp", f"127.0.0.1:{server.env['SIP_PORT']}", "-sf", str(SCENARIO), "-s", QUEUE_HOTLINE, "-key",
         "peer_port", str(phone.port), "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-nostdin",
         "-timeout", "30s", "-timeout_error"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    async def scenario():
        agent = await open_agent(server, "agent1@demo")
        offer = await agent.event("callIn")
        assert offer["type"] == "phone" and offer["calleePhoneNumber"] == QUEUE_HOTLINE
        phone.speak(CUSTOMER_HZ)
        peer = Peer(AGENT_HZ, codec="audio/PCMU")
        await accept_hearing(agent, offer["sessionId"], peer, CUSTOMER_HZ, "the agent hears the phone")
        await until(lambda: abs(phone.hears() - AGENT_HZ) < 20, "the phone hears the agent")
        assert (await agent.request(method="Call.hungUp", params={"sessionId": offer["sessionId"]}))["status"] == "success"
        await peer.close()
        await agent.ws.close()

    try:
        asyncio.run(scenario())
        assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")
    finally:
        if sipp.poll() is None:
            sipp.kill()
        phone.close()
        sip_worker.stop()
