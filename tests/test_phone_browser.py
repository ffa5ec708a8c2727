"""The phone channel end to end, with real peers: sipp is the SIP trunk delivering a caller to the hotline,
a phone peer (an RTP endpoint with a 440 Hz voice and a keypad) is the caller's media, and the agent answers
in headless Chromium (fake microphone at 1000 Hz).

The caller hears the IVR, presses 1, the agent gets callIn with the ivrPath, accepts; each hears the other's
tone; the agent's sendDigits reaches the caller as RFC 4733 keys; the agent hangs up and the trunk gets BYE.
"""
from __future__ import annotations

import pytest

from .browser import (  # noqa: F401 (fixtures)
    AgentPages, HostPageServer, fresh_channel_layer, reset_center, speaking_browsers,
)
from testing.liveserver import LiveServer, free_port
from .media_ears import TRACK_PEER_CONNECTIONS, wait_to_hear
from .real_peers import needs, until
from .sipp_trunk import HOTLINE, hotline_caller as caller  # noqa: F401 (a fixture)

CALLER_HZ, AGENT_HZ = 440, 1000
pytestmark = [needs("sipp"), pytest.mark.browser]


@pytest.fixture(scope="module")
def sip_port():
    return free_port()


@pytest.fixture(scope="module")
def server(sip_port):
    live = LiveServer(env={"SIP_PORT": str(sip_port), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1"})
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def agent_browser(tmp_path_factory):
    with speaking_browsers(tmp_path_factory, [AGENT_HZ]) as (browser,):
        yield browser


@pytest.fixture
def agent(agent_browser, server):
    reset_center(server)
    host = HostPageServer().start()
    pages = AgentPages(agent_browser, host, server, init_script=TRACK_PEER_CONNECTIONS)
    yield pages.open("agent1@demo")
    pages.close()
    host.stop()



def test_a_trunk_call_goes_through_the_ivr_to_an_agent_with_audio_and_keys_both_ways(agent, caller, server,
                                                                                      tmp_path):
    until(caller.heard_from_us, "the IVR's prompt reaches the caller")
    caller.press("1")
    offer = agent.event("callIn", timeout=10)
    assert offer["type"] == "phone" and offer["ivrPath"] == [{"key": "1", "label": "Support"}]
    assert offer["callerPhoneNumber"] == "008613800001234" and offer["calleePhoneNumber"] == HOTLINE
    assert offer["callerLocation"] == "China Mobile"
    session_id = offer["sessionId"]

    caller.speak(CALLER_HZ)
    assert agent.call("Call.accept", {"sessionId": session_id})["status"] == "success"
    wait_to_hear(agent, CALLER_HZ, "the agent hears the phone caller")
    until(lambda: abs(caller.hears() - AGENT_HZ) < 20, "the caller hears the agent",
          lambda: f"hears {caller.hears()} Hz; phone {caller.leg.stats()}")

    assert agent.call("Call.sendDigits", {"sessionId": session_id, "dtmfText": "123#"})["status"] == "success"
    until(lambda: caller.digits == "123#", "the caller's phone receives the keys", lambda: f"got {caller.digits!r}")

    assert agent.call("Call.hungUp", {"sessionId": session_id})["status"] == "success"
    code = caller.sipp.wait(15)
    errors = caller.sipp.stderr.read().decode(errors="replace")
    errors += "".join(path.read_text(errors="replace") for path in tmp_path.glob("*_errors.log"))
    assert code == 0, f"sipp (the trunk) did not get its BYE: {errors}"
    described = server.api("GET", f"/api/sessions/{session_id}")
    assert (described["endStatus"], described["closeBy"]) == ("ok", "seat")
