"""A consult on a phone call, end to end: sipp is the trunk delivering a caller to the hotline, a phone peer (an
RTP endpoint speaking 440 Hz) is the caller's media; Alice (1000 Hz) and Bob (2000 Hz) work in their workbench
tabs in Chromium. Alice consults Bob (the caller hears music, the agents each other), completes the transfer
(the caller hears Bob), Bob hangs up and the trunk gets its BYE."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from testing.liveserver import LiveServer, free_port

from . import sipp_trunk
from .browser import (  # noqa: F401 (fixtures)
    accept_offer, fresh_channel_layer, reset_center, sign_in_workbench, speaking_browsers,
)
from .media_ears import TRACK_PEER_CONNECTIONS, is_music, wait_to_hear
from .phone_peer import PhonePeer
from .real_peers import needs, until

CALLER_HZ, ALICE_HZ, BOB_HZ = 440, 1000, 2000
WAIT = 10000
pytestmark = [needs("sipp"), pytest.mark.browser]


def test_a_phone_caller_is_held_while_alice_consults_bob_then_handed_to_bob(tmp_path, tmp_path_factory):
    sip_port = free_port()
    server = LiveServer(env={"SIP_PORT": str(sip_port), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1"})
    server.start()
    peer = PhonePeer()
    sipp = None
    try:
        reset_center(server)
        with speaking_browsers(tmp_path_factory, (ALICE_HZ, BOB_HZ)) as browsers:
            alice, bob = (sign_in_workbench(browser, server, user_id, init_script=TRACK_PEER_CONNECTIONS)
                          for browser, user_id in zip(browsers, ("agent1@demo", "agent2@demo")))
            assert bob.sdk("Agent.setStatus", {"status": "notReady"})["status"] == "success"
            sipp = sipp_trunk.calls_hotline(sip_port, peer, tmp_path)
            sipp_trunk.choose_support(peer, CALLER_HZ)
            accept_offer(alice.page, "Incoming phone call", WAIT)
            wait_to_hear(alice.page, CALLER_HZ, "Alice hears the caller")
            until(lambda: abs(peer.hears() - ALICE_HZ) < 20, "the caller hears Alice", lambda: f"{peer.hears()} Hz")
            assert bob.sdk("Agent.setStatus", {"status": "free"})["status"] == "success"

            alice.page.click("#ctl-consult")
            alice.page.locator("#wb-consult").get_by_role("button", name=re.compile(r"^Consult Bob")).click()
            accept_offer(bob.page, "Incoming consult", WAIT)
            until(lambda: is_music(peer.hears()), "the caller hears music during the consult",
                  lambda: f"{peer.hears()} Hz")
            wait_to_hear(alice.page, BOB_HZ, "Alice hears Bob")
            wait_to_hear(bob.page, ALICE_HZ, "Bob hears Alice")
            alice.shot("consult-phone-talking")

            alice.page.click("#ctl-consult-complete")
            until(lambda: abs(peer.hears() - BOB_HZ) < 20, "the caller hears Bob after the transfer",
                  lambda: f"{peer.hears()} Hz")
            wait_to_hear(bob.page, CALLER_HZ, "Bob hears the caller")
            expect(alice.page.locator("#wb-detail .wrapup-sub")).to_contain_text("Transferred to agent2@demo",
                                                                                  timeout=WAIT)
            session_id = bob.page.locator("#wb-detail").get_attribute("data-session")
            bob.page.click("#ctl-end")
            code = sipp.wait(15)
            errors = sipp.stderr.read().decode(errors="replace")
            assert code == 0, f"sipp (the trunk) did not get its BYE: {errors}"
            described = server.api("GET", f"/api/sessions/{session_id}")
            assert [(p["userId"], p["transferFrom"], p["transferTo"]) for p in described["participants"]] == [
                ("agent1@demo", "", "agent2@demo"), ("agent2@demo", "agent1@demo", "")]
    finally:
        sipp_trunk.stop(sipp)
        peer.close()
        server.stop()
