"""The IVR on real SIP and RTP (sipp as the trunk, tests/phone_peer.py as the caller's phone): a caller who
presses nothing hears the menu again and then goodbye, and the trunk gets BYE (ivrGiveUp, by the system);
a caller who hangs up in the IVR ends as ivrGiveUp by the customer, with the keys pressed so far."""
from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from .browser import live_shell, reset_center
from testing.liveserver import LiveServer, free_port
from .phone_peer import PhonePeer
from .real_peers import needs, until

HOTLINE = "008675586013388"
SIPP = Path(__file__).parent / "sipp"
pytestmark = [needs("sipp"), pytest.mark.peer]


@pytest.fixture(scope="module")
def server():
    live = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1"})
    live.start()
    live_shell(live, "from sessions_app.models import IvrMenu\n"
                     "IvrMenu.objects.update(prompt_text='Press 1 for support.', timeout_seconds=1, max_retries=1)")
    yield live
    live.stop()


def call(server: LiveServer, tmp_path, scenario: str, peer: PhonePeer) -> subprocess.Popen:
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{server.env['SIP_PORT']}", "-sf", str(SIPP / scenario), "-s", HOTLINE, "-key",
         "peer_port", str(peer.port), "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-nostdin", "-trace_err",
         "-timeout", "40s", "-timeout_error"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@contextmanager
def trunk_call(server: LiveServer, tmp_path, scenario: str, seconds: float):
    """sipp, as the trunk, calls the hotline with `scenario`, the caller's phone at the far end of its RTP; the
    block plays the caller's part, and on leaving it sipp must finish its scenario within `seconds`."""
    phone = PhonePeer()
    try:
        sipp = call(server, tmp_path, scenario, phone)
        yield phone
        assert sipp.wait(seconds) == 0, sipp.stderr.read().decode(errors="replace")
    finally:
        phone.close()


def last_phone_session(server: LiveServer) -> dict:
    session_id = live_shell(server, "from sessions_app.models import Session\n"
                                    "print(Session.objects.filter(type='phone').latest('created_at').pk)").split()[-1]
    return server.api("GET", f"/api/sessions/{session_id}")



def test_a_caller_who_presses_nothing_hears_the_menu_again_then_goodbye_and_is_hung_up(server, tmp_path):
    reset_center(server)
    with trunk_call(server, tmp_path, "trunk_calls_hotline.xml", 30) as phone:  # sipp waits for our BYE
        until(phone.heard_from_us, "the prompt reaches the caller")
    session = last_phone_session(server)
    assert (session["endStatus"], session["closeBy"]) == ("ivrGiveUp", "admin")


def test_a_caller_who_hangs_up_in_the_ivr_ends_as_ivr_give_up_by_the_customer(server, tmp_path):
    reset_center(server)
    with trunk_call(server, tmp_path, "caller_hangs_up.xml", 20) as phone:
        until(phone.heard_from_us, "the prompt reaches the caller")
        phone.press("7")  # not a choice: the menu apologises and asks again
    session = last_phone_session(server)
    assert (session["endStatus"], session["closeBy"], session["state"]) == ("ivrGiveUp", "client", "ended")


def test_the_trunk_putting_the_caller_on_hold_is_answered_recvonly_and_the_call_goes_on(server, tmp_path):
    reset_center(server)
    with trunk_call(server, tmp_path, "trunk_holds_call.xml", 20):  # sipp checks that we answer recvonly
        pass
    session = last_phone_session(server)
    assert (session["endStatus"], session["closeBy"]) == ("ivrGiveUp", "client")


def test_a_server_stopping_in_order_hangs_up_its_phone_calls_with_bye(tmp_path):
    stopping = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1",
                               "MEDIA_HOST_ADDRESSES": "127.0.0.1"}).start()
    try:
        with trunk_call(stopping, tmp_path, "trunk_calls_hotline.xml", 15) as phone:  # sipp waits for our BYE
            until(phone.heard_from_us, "the call is up (the IVR speaks)")
            stopping.process.terminate()  # SIGTERM: daphne stops in order
        stopping.process.wait(15)
        ended = live_shell(stopping, "from sessions_app.models import Session\n"
                                     "print(Session.objects.get(type='phone').end_status)").split()[-1]
        assert ended == "mediaError"  # the session ended with its media, and has its CDR
    finally:
        stopping.stop()
