"""SIP over TCP both ways, with sipp on TCP (`-t t1`) as the trunk.

In: the trunk calls the hotline over TCP; the caller (tests/phone_peer.py) hears the IVR, presses 1, an agent gets
callIn, accepts and hears the caller; the agent hangs up and our BYE reaches the trunk over TCP.
Out: the trunk is configured for TCP (admin's Trunk, or SIP_TRUNK_TRANSPORT when admin has none) and sipp listens
on TCP alone: the agent's call reaches it, is answered, carries audio (sipp echoes it) and is hung up with BYE.
A caller whose TCP connection is gone before our answer can be sent is lost at once (`operatorError`), not after
the 32 s an ACK is waited for.
"""
from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from testing.peers import Peer

from .agent_leg import accept_hearing
from .browser import live_shell, reset_center
from testing.liveserver import LiveServer, free_port
from .phone_peer import PhonePeer
from .real_peers import needs
from .real_peers import until as until_sync
from .trunk_checks import RtpSink, dial, hear_the_echo_and_hang_up, phone_sessions
from .ws_clients import open_agent, until

HOTLINE = "008675586013388"
CALLER_HZ, AGENT_HZ = 440, 1000
SIPP = Path(__file__).parent / "sipp"
ENV_TRUNK_PORT = free_port()  # the trunk the environment describes (TCP), for when admin has none
pytestmark = [needs("sipp"), pytest.mark.peer]


@pytest.fixture(scope="module")
def server():
    live = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1",
                           "SIP_TRUNK_HOST": "127.0.0.1", "SIP_TRUNK_PORT": str(ENV_TRUNK_PORT),
                           "SIP_TRUNK_TRANSPORT": "TCP"})
    live.start()
    yield live
    live.stop()


def sipp(tmp_path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(["sipp", *arguments, "-t", "t1", "-i", "127.0.0.1", "-m", "1", "-nostdin", "-trace_err",
                             "-timeout", "40s", "-timeout_error"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def succeeded(process: subprocess.Popen, tmp_path) -> None:
    code = process.wait(15)
    errors = process.stderr.read().decode(errors="replace")
    errors += "".join(path.read_text(errors="replace")[-2000:] for path in tmp_path.glob("*_errors.log"))
    assert code == 0, f"sipp failed ({code}): {errors}"


def admin_trunk(server: LiveServer, port: int | None) -> None:
    """The demo tenant's trunk in admin: sipp on TCP at `port`, or none (the environment's then)."""
    create = (f"Trunk.objects.create(tenant=Tenant.objects.get(sdk_app_id='1400000001'), name='sipp', "
              f"host='127.0.0.1', port={port}, transport='tcp')") if port else ""
    live_shell(server, f"from sessions_app.models import Tenant, Trunk\nTrunk.objects.all().delete()\n{create}")


def test_a_call_over_tcp_goes_through_the_ivr_to_an_agent_and_is_hung_up_over_tcp(server, tmp_path):
    reset_center(server)
    phone = PhonePeer()
    trunk = sipp(tmp_path, f"127.0.0.1:{server.env['SIP_PORT']}", "-sf", str(SIPP / "trunk_calls_hotline.xml"),
                 "-s", HOTLINE, "-key", "peer_port", str(phone.port), "-p", str(free_port()))

    async def scenario():
        agent = await open_agent(server, "agent1@demo")
        await asyncio.to_thread(until_sync, phone.heard_from_us, "the IVR's prompt reaches the caller")
        await asyncio.to_thread(phone.press, "1")
        offer = await agent.event("callIn")
        assert offer["type"] == "phone" and offer["ivrPath"] == [{"key": "1", "label": "Support"}]
        phone.speak(CALLER_HZ)
        peer = Peer(AGENT_HZ, codec="audio/PCMU")
        session_id = offer["sessionId"]
        await accept_hearing(agent, session_id, peer, CALLER_HZ, "the agent hears the caller")
        await until(lambda: abs(phone.hears() - AGENT_HZ) < 20, "the caller hears the agent")
        assert (await agent.request(method="Call.hungUp", params={"sessionId": session_id}))["status"] == "success"
        await peer.close()
        await agent.ws.close()
        return session_id

    try:
        session_id = asyncio.run(scenario())
        succeeded(trunk, tmp_path)  # it got our BYE, over TCP
    finally:
        if trunk.poll() is None:
            trunk.kill()
        phone.close()
    described = server.api("GET", f"/api/sessions/{session_id}")
    assert (described["endStatus"], described["closeBy"]) == ("ok", "seat")


def test_an_outbound_call_reaches_a_trunk_configured_for_tcp_and_carries_audio(server, tmp_path):
    reset_center(server)
    port = free_port()
    admin_trunk(server, port)
    far_end = sipp(tmp_path, "-sn", "uas", "-rtp_echo", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(free_port()))

    async def scenario():
        agent, session_id = await dial(server, "13800138000")
        await hear_the_echo_and_hang_up(agent, session_id, AGENT_HZ)
        return session_id

    try:
        session_id = asyncio.run(scenario())
        succeeded(far_end, tmp_path)  # answered and hung up with BYE, over TCP
    finally:
        if far_end.poll() is None:
            far_end.kill()
    described = server.api("GET", f"/api/sessions/{session_id}")
    assert (described["endStatus"], described["closeBy"]) == ("ok", "seat")


def test_without_an_admin_trunk_the_environments_tcp_trunk_is_dialled_over_tcp(server, tmp_path):
    reset_center(server)
    admin_trunk(server, None)
    far_end = sipp(tmp_path, "-sf", str(SIPP / "uas_busy.xml"), "-p", str(ENV_TRUNK_PORT))

    async def scenario():
        agent, session_id = await dial(server, "13800138001")
        ended = await agent.event("sessionEnded")
        await agent.ws.close()
        return session_id, ended

    try:
        session_id, ended = asyncio.run(scenario())
        succeeded(far_end, tmp_path)  # it got the INVITE over TCP, and our ACK of its 486
    finally:
        if far_end.poll() is None:
            far_end.kill()
    assert ended["sessionId"] == session_id
    assert server.api("GET", f"/api/sessions/{session_id}")["endStatus"] == "busy"


def invite(sip_port: int, client_port: int, caller: str, rtp_port: int) -> bytes:
    """An INVITE to the hotline over TCP from `caller` whose SDP names `rtp_port`."""
    sdp = ("v=0\r\no=trunk 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
    head = (f"INVITE sip:{HOTLINE}@127.0.0.1:{sip_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP 127.0.0.1:{client_port};branch=z9hG4bK{uuid.uuid4().hex}\r\n"
            f"From: <sip:{caller}@127.0.0.1>;tag=gone\r\n"
            f"To: <sip:{HOTLINE}@127.0.0.1>\r\nCall-ID: {uuid.uuid4().hex}@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:trunk@127.0.0.1:{client_port};transport=tcp>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n")
    return (head + sdp).encode()


def test_a_caller_whose_tcp_connection_is_gone_before_our_answer_is_lost_at_once(server):
    reset_center(server)
    sink, caller = RtpSink(), f"0086138{uuid.uuid4().int % 10**8:08d}"
    sip_port = int(server.env["SIP_PORT"])
    try:
        with socket.create_connection(("127.0.0.1", sip_port)) as trunk:
            trunk.sendall(invite(sip_port, trunk.getsockname()[1], caller, sink.port))
        # Long before the ACK would be given up on (64*T1 = 32 s):
        until_sync(lambda: [s[0] for s in phone_sessions(server, 1, caller)] == ["ended"], "the session ends",
                   lambda: phone_sessions(server, 1, caller), timeout=8)
        until_sync(lambda: sink.quiet_for(1.0), "no RTP toward the SDP's address", timeout=5)
    finally:
        sink.close()
    assert phone_sessions(server, 1, caller) == [("ended", "operatorError", "admin")]
