"""A trunk call that ends on our side of the SIP stack takes its session, its RTP leg and its port with it.

sipp INVITEs the hotline and never ACKs our 200 OK, which anyone can do with one UDP packet and a forged source
address: the SDP then names the victim our RTP would be reflected to (here, a counting UDP port). After 64*T1
(`SIP_T1` shrunk to 25 ms: 1.6 s) the gateway sends BYE; the session must end as `operatorError`, the leg's port
must be free and no RTP may flow any more, for one call and for a burst. The IVR's own timeout is made long, so
only the lost line can end these calls within a test. A call outlives its line's lease (`SIP_LINE_LEASE`,
shrunk to 3 s) while the gateway carries it; still in the IVR at its stored deadline it is hung up (BYE) and the
session ends as `error`, the same way. A call that nobody could take is refused before it costs a leg.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .browser import live_shell, reset_center
from testing.liveserver import LiveServer, free_port
from .real_peers import needs, until
from .trunk_checks import RtpSink, phone_sessions, port_free

HOTLINE = "008675586013388"
SIPP = Path(__file__).parent / "sipp"
BURST, BURST_RATE = 200, 50  # INVITEs, and INVITEs per second
LINE_LEASE = 3  # seconds; the gateway renews the lease of the calls it carries every quarter of it
pytestmark = [needs("sipp"), pytest.mark.peer]


@pytest.fixture(scope="module")
def server():
    live = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1",
                           "SIP_T1": "0.025", "SIP_LINE_LEASE": str(LINE_LEASE),
                           # The burst below is a trunk's load, not a flood: the per-source limit is not its subject.
                           "SIP_INVITE_RATE": "1000", "SIP_INVITE_BURST": "1000"})
    live.start()
    live_shell(live, "from sessions_app.models import IvrMenu\nIvrMenu.objects.update(timeout_seconds=120)")
    yield live
    live.stop()


def trunk_call(server: LiveServer, tmp_path, sink: RtpSink, scenario: str, calls: int = 1,
               rate: int = 10) -> subprocess.Popen:
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{server.env['SIP_PORT']}", "-sf", str(SIPP / scenario), "-s", HOTLINE,
         "-key", "peer_port", str(sink.port), "-i", "127.0.0.1", "-p", str(free_port()), "-m", str(calls),
         "-r", str(rate), "-l", str(calls), "-nostdin", "-trace_err", "-timeout", "90s", "-timeout_error"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finished(sipp: subprocess.Popen, tmp_path, timeout: float) -> tuple[int, str]:
    """sipp's exit status (0: every call got our BYE) and what it complained of."""
    code = sipp.wait(timeout)
    errors = sipp.stderr.read().decode(errors="replace")
    return code, errors + "".join(path.read_text(errors="replace")[-2000:] for path in tmp_path.glob("*_errors.log"))


def sockets_of(process: subprocess.Popen) -> int:
    """The sockets the server process holds (each RTP leg holds one)."""
    fds = Path(f"/proc/{process.pid}/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:  # closed while we looked
            pass
    return count


def test_an_invite_never_acked_ends_its_session_as_operator_error_and_its_leg_and_port_go(server, tmp_path):
    reset_center(server)
    sink = RtpSink()
    try:
        sipp = trunk_call(server, tmp_path, sink, "trunk_never_acks.xml")
        until(lambda: sink.sources, "our RTP reaches the address the INVITE's SDP named")
        code, errors = finished(sipp, tmp_path, 20)
        assert code == 0, f"sipp did not get our BYE: {errors}"
        (rtp_port,) = sink.sources
        until(lambda: port_free(rtp_port), "the leg's RTP port is free", lambda: f"{sink.packets} packets so far")
        until(lambda: sink.quiet_for(1.0), "no more RTP toward the SDP's address",
              lambda: f"{sink.packets} packets so far", timeout=5)
    finally:
        sink.close()
    until(lambda: phone_sessions(server, 1)[0][0] == "ended", "the session ends", lambda: phone_sessions(server, 1))
    assert phone_sessions(server, 1) == [("ended", "operatorError", "admin")]


def test_a_burst_of_invites_never_acked_leaves_no_session_open_and_no_leg_running(server, tmp_path):
    reset_center(server)
    idle = sockets_of(server.process)
    sink = RtpSink()
    try:
        sipp = trunk_call(server, tmp_path, sink, "trunk_never_acks.xml", BURST, BURST_RATE)
        code, errors = finished(sipp, tmp_path, 90)
        assert code == 0, f"some INVITE of the burst never got our BYE: {errors}"
        until(lambda: sockets_of(server.process) <= idle, "every leg's socket is closed",
              lambda: f"{sockets_of(server.process)} sockets, {idle} when idle", timeout=15)
        until(lambda: sink.quiet_for(1.0), "no more RTP toward the SDP's address",
              lambda: f"{sink.packets} packets from {len(sink.sources)} ports", timeout=5)
    finally:
        sink.close()
    assert sink.packets  # the calls were answered: their legs sent RTP before they were lost
    assert phone_sessions(server, BURST) == [("ended", "operatorError", "admin")] * BURST


def lease_outlived(server: LiveServer) -> tuple[str, float]:
    """The last phone session's state, and how far its line's lease now reaches past its creation (seconds)."""
    printed = live_shell(server, "from sessions_app.models import Session\n"
                                 "s = Session.objects.filter(type='phone').latest('created_at')\n"
                                 "print(s.state, (s.line_deadline - s.created_at).total_seconds() if s.line_deadline "
                                 "else 0)")
    state, reach = printed.split()[-2:]
    return state, float(reach)


def test_a_call_outlives_its_lease_while_the_gateway_carries_it_and_past_the_ivr_deadline_is_hung_up(server,
                                                                                                      tmp_path):
    reset_center(server)
    sink = RtpSink()
    try:
        sipp = trunk_call(server, tmp_path, sink, "trunk_calls_hotline.xml")
        until(lambda: sink.sources, "the IVR speaks to the caller")
        until(lambda: lease_outlived(server)[1] > 2 * LINE_LEASE, "the gateway renews the call's lease",
              lambda: lease_outlived(server), timeout=4 * LINE_LEASE)
        assert lease_outlived(server)[0] == "ivr"  # still up, well past its first lease
        live_shell(server, "from django.utils import timezone\nfrom sessions_app.models import Session\n"
                           "Session.objects.filter(state='ivr').update(ivr_deadline=timezone.now())")  # time is up
        code, errors = finished(sipp, tmp_path, 20)
        assert code == 0, f"the trunk did not get our BYE: {errors}"
        (rtp_port,) = sink.sources
        until(lambda: port_free(rtp_port), "the leg's RTP port is free")
        until(lambda: sink.quiet_for(1.0), "no more RTP toward the caller", timeout=5)
    finally:
        sink.close()
    assert phone_sessions(server, 1) == [("ended", "error", "admin")]


def test_a_call_nobody_of_the_hotlines_group_can_take_is_refused_and_costs_no_leg(server, tmp_path):
    reset_center(server)  # every agent offline
    live_shell(server, "from sessions_app.models import Hotline, SkillGroup\n"
                       "group = SkillGroup.objects.get(kind='phone')\n"
                       "Hotline.objects.get_or_create(number='4008001234', tenant=group.tenant, skill_group=group)")
    idle = sockets_of(server.process)
    sink = RtpSink()
    try:
        sipp = subprocess.Popen(
            ["sipp", f"127.0.0.1:{server.env['SIP_PORT']}", "-sf", str(SIPP / "trunk_call_refused.xml"), "-s",
             "4008001234", "-key", "peer_port", str(sink.port), "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1",
             "-nostdin", "-trace_err", "-timeout", "20s", "-timeout_error"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        code, errors = finished(sipp, tmp_path, 20)
        assert code == 0, f"the call was not refused 480: {errors}"
        assert sockets_of(server.process) <= idle and sink.packets == 0
    finally:
        sink.close()
    assert phone_sessions(server, 1) == [("ended", "noSeatOnline", "admin")]
