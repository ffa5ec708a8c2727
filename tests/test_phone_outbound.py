"""Outbound phone calls through the trunk, with sipp as the far end: the agent dials, hears `callOuted` and,
when the far end answers, `calloutAccepted`; audio flows through the trunk (sipp echoes the RTP it gets, so
the agent hears its own tone come back); the agent's hang-up sends BYE. A busy far end ends the session as
`busy`."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from testing.peers import Peer

from .agent_leg import connect_leg
from .browser import live_shell, reset_center
from .engine_helpers import hears
from testing.liveserver import LiveServer, free_port
from .real_peers import needs
from .trunk_checks import dial, hear_the_echo_and_hang_up
from .ws_clients import open_agent, until

AGENT_HZ = 1000
SIPP = Path(__file__).parent / "sipp"
pytestmark = [needs("sipp"), pytest.mark.peer]


ENV_TRUNK_PORT = free_port()  # the trunk the environment describes, for when admin has none


@pytest.fixture(scope="module")
def server():
    live = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1",
                           "OUTBOUND_RING_SECONDS": "2", "SIP_TRUNK_HOST": "127.0.0.1",
                           "SIP_TRUNK_PORT": str(ENV_TRUNK_PORT)})
    live.start()
    yield live
    live.stop()


def far_end(server: LiveServer, tmp_path, *scenario: str) -> subprocess.Popen:
    """sipp answering one call on a free port, made the demo tenant's trunk."""
    port = free_port()
    live_shell(server, "from sessions_app.models import Tenant, Trunk\n"
                       "Trunk.objects.all().delete()\n"
                       f"Trunk.objects.create(tenant=Tenant.objects.get(sdk_app_id='1400000001'), name='sipp', "
                       f"host='127.0.0.1', port={port})")
    process = subprocess.Popen(
        ["sipp", *scenario, "-p", str(port), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(free_port()),
         "-m", "1", "-nostdin", "-trace_err", "-timeout", "30s", "-timeout_error"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process  # sipp binds within milliseconds, and an INVITE sent before that is retransmitted


def unanswered_call(server: LiveServer, number: str, timeout: float = 10, outed: bool = False) -> tuple[dict, str]:
    """agent1 dials `number` and the call ends before anyone answers (having heard `callOuted` first, if `outed`):
    the `sessionEnded` event's data and the session's endStatus."""
    async def scenario():
        agent, session_id = await dial(server, number)
        if outed:
            await agent.event("callOuted")
        ended = await agent.event("sessionEnded", timeout=timeout)
        await agent.ws.close()
        return session_id, ended

    session_id, ended = asyncio.run(scenario())
    assert ended["sessionId"] == session_id
    return ended, server.api("GET", f"/api/sessions/{session_id}")["endStatus"]


def test_an_answered_outbound_call_carries_audio_through_the_trunk_and_hangs_up_with_bye(server, tmp_path):
    reset_center(server)
    sipp = far_end(server, tmp_path, "-sn", "uas", "-rtp_echo")

    async def scenario():
        agent, session_id = await dial(server, "13800138000")
        outed = await agent.event("callOuted")
        assert outed["sessionId"] == session_id and outed["calleePhoneNumber"] == "13800138000"
        await hear_the_echo_and_hang_up(agent, session_id, AGENT_HZ)
        return session_id

    session_id = asyncio.run(scenario())
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")
    described = server.api("GET", f"/api/sessions/{session_id}")
    assert (described["endStatus"], described["closeBy"]) == ("ok", "seat")


def test_a_busy_far_end_ends_the_outbound_call_as_busy(server, tmp_path):
    reset_center(server)
    sipp = far_end(server, tmp_path, "-sf", str(SIPP / "uas_busy.xml"))
    ended, end_status = unanswered_call(server, "13800138001", outed=True)
    assert (ended["closeBy"], end_status) == ("client", "busy")
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")


def test_use_mobile_rings_the_colleagues_mobile_through_the_trunk(server, tmp_path):
    reset_center(server)
    live_shell(server, "from sessions_app.models import Agent\n"
                       "Agent.objects.filter(user_id='agent2@demo').update(mobile='13900000002')")
    sipp = far_end(server, tmp_path, "-sn", "uas", "-rtp_echo")

    async def scenario():
        agent = await open_agent(server, "agent1@demo")
        reply = await agent.request(method="Call.startInternalCall",
                                    params={"calleeUserId": "agent2@demo", "useMobile": True})
        assert reply["status"] == "success", reply
        session_id = reply["data"]["sessionId"]
        peer = Peer(AGENT_HZ, codec="audio/PCMU")
        await connect_leg(agent, session_id, peer)
        assert (await agent.event("userAccessed"))["sessionId"] == session_id
        await until(lambda: hears(peer, AGENT_HZ), "the call to the mobile carries audio")
        assert (await agent.request(method="Call.hungUp", params={"sessionId": session_id}))["status"] == "success"
        await peer.close()
        await agent.ws.close()

    asyncio.run(scenario())
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")


def test_a_declined_outbound_call_ends_as_user_reject(server, tmp_path):
    reset_center(server)
    sipp = far_end(server, tmp_path, "-sf", str(SIPP / "uas_decline.xml"))
    _, end_status = unanswered_call(server, "13800138002")
    assert end_status == "userReject"
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")


def test_a_trunk_nobody_answers_on_ends_the_call_as_unconnected(server):
    reset_center(server)
    live_shell(server, "from sessions_app.models import Tenant, Trunk\n"
                       "Trunk.objects.all().delete()\n"
                       f"Trunk.objects.create(tenant=Tenant.objects.get(sdk_app_id='1400000001'), name='gone', "
                       f"host='127.0.0.1', port={free_port()})")  # nothing listens there: ICMP port unreachable
    ended, end_status = unanswered_call(server, "13800138003", timeout=40)
    assert (ended["closeBy"], end_status) == ("admin", "unconnected")


def test_an_outbound_call_nobody_answers_is_cancelled_and_ends_as_not_answer(server, tmp_path):
    reset_center(server)
    sipp = far_end(server, tmp_path, "-sf", str(SIPP / "uas_no_answer.xml"))
    _, end_status = unanswered_call(server, "13800138004", timeout=15)
    assert end_status == "notAnswer"
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")  # it got our CANCEL and ACK


def test_without_a_trunk_in_admin_the_one_the_environment_describes_is_dialled(server, tmp_path):
    reset_center(server)
    live_shell(server, "from sessions_app.models import Trunk\nTrunk.objects.all().delete()")
    sipp = subprocess.Popen(
        ["sipp", "-sf", str(SIPP / "uas_busy.xml"), "-p", str(ENV_TRUNK_PORT), "-i", "127.0.0.1", "-m", "1",
         "-nostdin", "-timeout", "20s", "-timeout_error"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    _, end_status = unanswered_call(server, "13800138005", outed=True)
    assert end_status == "busy"
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")
