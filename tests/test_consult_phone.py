"""A consult on a phone call, end to end: sipp is the trunk delivering a caller to the hotline, a phone peer (an
RTP endpoint speaking 440 Hz) is the caller's media; Alice (1000 Hz) and Bob (2000 Hz) work in their workbench
tabs in Chromium. Alice consults Bob (the caller hears music, the agents each other), completes the transfer
(the caller hears Bob), Bob hangs up and the trunk gets its BYE."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from testing.liveserver import LiveServer, free_port

from .browser import fresh_channel_layer, launch_speaking, reset_center, sign_in_workbench  # noqa: F401
from .media_ears import TRACK_PEER_CONNECTIONS, is_music, wait_to_hear
from .phone_peer import PhonePeer
from .real_peers import needs, until

HOTLINE = "008675586013388"
CALLER_HZ, ALICE_HZ, BOB_HZ = 440, 1000, 2000
SCENARIO = Path(__file__).parent / "sipp" / "trunk_calls_hotline.xml"
WAIT = 10000
pytestmark = [needs("sipp"), pytest.mark.browser]


def test_a_phone_caller_is_held_while_alice_consults_bob_then_handed_to_bob(tmp_path, tmp_path_factory):
    sip_port = free_port()
    server = LiveServer(env={"SIP_PORT": str(sip_port), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1"})
    server.start()
    folder = tmp_path_factory.mktemp("tones")
    peer = PhonePeer()
    sipp = None
    try:
        reset_center(server)
        with sync_playwright() as playwright:
            browsers = [launch_speaking(playwright, folder, hz) for hz in (ALICE_HZ, BOB_HZ)]
            alice, bob = (sign_in_workbench(browser, server, user_id, init_script=TRACK_PEER_CONNECTIONS)
                          for browser, user_id in zip(browsers, ("agent1@demo", "agent2@demo")))
            assert bob.sdk("Agent.setStatus", {"status": "notReady"})["status"] == "success"
            sipp = subprocess.Popen(
                ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(SCENARIO), "-s", HOTLINE, "-key", "peer_port",
                 str(peer.port), "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-nostdin", "-trace_err",
                 "-timeout", "80s", "-timeout_error"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            until(peer.heard_from_us, "the IVR's prompt reaches the caller")
            peer.press("1")
            peer.speak(CALLER_HZ)
            offer = alice.page.locator(".offer-card")
            expect(offer).to_contain_text("Incoming phone call", timeout=WAIT)
            offer.get_by_role("button", name=re.compile("^Accept")).click()
            wait_to_hear(alice.page, CALLER_HZ, "Alice hears the caller")
            until(lambda: abs(peer.hears() - ALICE_HZ) < 20, "the caller hears Alice", lambda: f"{peer.hears()} Hz")
            assert bob.sdk("Agent.setStatus", {"status": "free"})["status"] == "success"

            alice.page.click("#ctl-consult")
            alice.page.locator("#wb-consult").get_by_role("button", name=re.compile(r"^Consult Bob")).click()
            bob_offer = bob.page.locator(".offer-card")
            expect(bob_offer).to_contain_text("Incoming consult", timeout=WAIT)
            bob_offer.get_by_role("button", name=re.compile("^Accept")).click()
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
            for browser in browsers:
                browser.close()
    finally:
        if sipp is not None and sipp.poll() is None:
            sipp.kill()
            sipp.wait(5)
        peer.close()
        server.stop()
