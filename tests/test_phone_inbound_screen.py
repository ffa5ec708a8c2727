"""Who may call in, on real SIP (sipp and a raw socket as the trunk, from addresses of 127.0.0.0/8): a source
outside every allowed list gets 403 and costs no session and no port; a CIDR's members are taken; a trunk with
credentials challenges with 401, takes the right digest answer and refuses a wrong one; a burst past a
source's INVITE rate gets 503 with Retry-After, cheaply; a source added in admin is taken without a restart."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from .browser import live_shell
from testing.liveserver import LiveServer, free_port
from .real_peers import needs, until

HOTLINE = "008675586013388"
SIPP = Path(__file__).parent / "sipp"
RATE, BURST = 5, 10
pytestmark = [needs("sipp"), pytest.mark.peer]

# The demo tenant's trunks: one calling from 127.0.0.8/29, one from 127.0.0.16/29 that must prove credentials.
TRUNKS = """
from sessions_app.models import IvrMenu, Tenant, Trunk
tenant = Tenant.objects.get()
Trunk.objects.create(tenant=tenant, name="carrier", host="127.0.0.8", allowed_sources="127.0.0.8/29")
Trunk.objects.create(tenant=tenant, name="carrier with digest", host="127.0.0.16",
                     allowed_sources="127.0.0.16/29", inbound_username="trunk", inbound_password="s3cret")
IvrMenu.objects.update(prompt_text="Press 1.", timeout_seconds=1, max_retries=0)
"""
OUTSIDE, IN_CIDR, WITH_DIGEST = "127.0.0.3", "127.0.0.13", "127.0.0.17"


@pytest.fixture(scope="module")
def server():
    live = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1",
                           "SIP_INVITE_RATE": str(RATE), "SIP_INVITE_BURST": str(BURST), "LOG_LEVEL": "INFO"})
    live.manage("migrate", "--noinput", "-v0")
    live.manage("seed_demo")
    live_shell(live, TRUNKS)  # before the gateway starts: its first read of who may call has them
    live.start()
    live.idle_udp_sockets = udp_sockets(live.process.pid)  # with no call up: the SIP listener's
    yield live
    live.stop()


def sipp(server: LiveServer, tmp_path, scenario: str, source: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sipp", f"127.0.0.1:{server.env['SIP_PORT']}", "-sf", str(SIPP / scenario), "-s", HOTLINE, "-i", source,
         "-p", str(free_port()), "-m", "1", "-nostdin", "-trace_err", "-timeout", "20s", "-timeout_error", *args],
        cwd=tmp_path, capture_output=True, timeout=30)


def passed(run: subprocess.CompletedProcess, tmp_path) -> bool:
    errors = "".join(path.read_text(errors="replace") for path in tmp_path.glob("*_errors.log"))
    assert run.returncode == 0, f"sipp failed ({run.returncode}): {errors[-1500:]}"
    return True


def phone_sessions(server: LiveServer) -> int:
    return int(live_shell(server, "from sessions_app.models import Session\n"
                                  "print(Session.objects.filter(type='phone').count())").split()[-1])


def udp_sockets(pid: int) -> int:
    """How many UDP sockets the process holds: the SIP listener and one per RTP leg open."""
    owned = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
             if _link(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    listed = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as rows:
            listed.update(row.split()[9] for row in list(rows)[1:])
    return len(owned & listed)


def no_rtp_port_open(server: LiveServer) -> bool:
    return udp_sockets(server.process.pid) == server.idle_udp_sockets


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:  # the descriptor closed while we looked
        return ""


def test_a_source_outside_every_list_gets_403_and_costs_no_session_and_no_port(server, tmp_path):
    until(lambda: no_rtp_port_open(server), "the calls of the tests before have closed their RTP legs")
    sessions = phone_sessions(server)
    for _ in range(3):
        assert passed(sipp(server, tmp_path, "invite_refused.xml", OUTSIDE), tmp_path)
    assert phone_sessions(server) == sessions
    assert no_rtp_port_open(server)


def test_a_member_of_a_trunks_cidr_is_taken_and_its_neighbour_outside_refused(server, tmp_path):
    sessions = phone_sessions(server)
    assert passed(sipp(server, tmp_path, "caller_hangs_up.xml", IN_CIDR, "-key", "peer_port", "9"), tmp_path)
    assert passed(sipp(server, tmp_path, "invite_refused.xml", "127.0.0.7"), tmp_path)  # just below the /29
    assert phone_sessions(server) == sessions + 1


def test_a_trunk_with_credentials_is_challenged_and_taken_with_the_right_ones(server, tmp_path):
    sessions = phone_sessions(server)
    assert passed(sipp(server, tmp_path, "invite_with_digest.xml", WITH_DIGEST, "-au", "trunk", "-ap", "s3cret"),
                  tmp_path)
    assert phone_sessions(server) == sessions + 1


@pytest.mark.parametrize("username, password", [("trunk", "guess"), ("someone", "s3cret")])
def test_wrong_credentials_are_refused_with_403_and_cost_no_session(server, tmp_path, username, password):
    until(lambda: no_rtp_port_open(server), "the calls of the tests before have closed their RTP legs")
    sessions = phone_sessions(server)
    assert passed(sipp(server, tmp_path, "invite_with_wrong_digest.xml", WITH_DIGEST, "-au", username, "-ap", password),
                  tmp_path)
    assert phone_sessions(server) == sessions
    assert no_rtp_port_open(server)


def test_a_source_added_to_a_trunk_is_taken_without_a_restart(server, tmp_path):
    assert passed(sipp(server, tmp_path, "invite_refused.xml", "127.0.0.40"), tmp_path)
    live_shell(server, "from sessions_app.models import Trunk\n"
                       "Trunk.objects.filter(name='carrier').update(allowed_sources='127.0.0.8/29, 127.0.0.40')")
    until(lambda: "127.0.0.40/32" in server.log_path.read_text(), "the gateway reads the new list", timeout=15)
    assert passed(sipp(server, tmp_path, "caller_hangs_up.xml", "127.0.0.40", "-key", "peer_port", "9"), tmp_path)


def raw_invite(number: str, port: int, index: int, to_port: int) -> bytes:
    return (f"INVITE sip:{number}@127.0.0.1:{to_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {IN_CIDR}:{port};branch=z9hG4bKburst{index}\r\n"
            f"From: <sip:0086138@{IN_CIDR}>;tag=burst{index}\r\nTo: <sip:{number}@127.0.0.1>\r\n"
            f"Call-ID: burst-{index}@{IN_CIDR}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:trunk@{IN_CIDR}:{port}>\r\nContent-Length: 0\r\n\r\n").encode()


def test_a_burst_past_the_sources_rate_gets_503_with_retry_after_and_costs_nothing(server):
    until(lambda: no_rtp_port_open(server), "the calls of the tests before have closed their RTP legs")
    sessions = phone_sessions(server)
    trunk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trunk.bind((IN_CIDR, 0))
    trunk.settimeout(5)
    try:
        port, to_port, count = trunk.getsockname()[1], int(server.env["SIP_PORT"]), 4 * BURST
        started = time.monotonic()
        for index in range(count):  # without an offer: what gets through is answered 488
            trunk.sendto(raw_invite(HOTLINE, port, index, to_port), ("127.0.0.1", to_port))
        finals: dict[str, list[str]] = {}
        while sum(map(len, finals.values())) < count:
            response = trunk.recv(65535).decode()
            status = response.split(" ", 2)[1]
            if status != "100":
                finals.setdefault(status, []).append(response)
        elapsed = time.monotonic() - started
    finally:
        trunk.close()
    assert set(finals) == {"488", "503"}
    assert BURST <= len(finals["488"]) <= BURST + RATE * elapsed + 1
    assert all("\r\nRetry-After: " in response for response in finals["503"])
    assert phone_sessions(server) == sessions
    assert no_rtp_port_open(server)
