"""Consult, then complete the transfer, make a conference, or cancel: in Chromium, with real audio, as agents do
it in their workbench tabs and a customer calls from a shop's page.

One browser per voice (the fake microphone is browser-wide): the customer (440 Hz, the web call widget), Alice
(agent1, 1000 Hz) and Bob (agent2, 2000 Hz), each signed in once to their standalone workbench for the whole
module, against one server. What a page hears is read from its newest open WebRTC connection: the level at each
voice's frequency (a mix carries several), or the music on hold. Screenshots: test-artifacts/consult-*.png.
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from testing.liveserver import LiveServer
from testing.serving import running

from .browser import (  # noqa: F401 (fixtures)
    accept_offer, fresh_channel_layer, listening_context, live_shell, reset_center, sign_in_workbench,
    speaking_browsers, wait_until,
)
from .media_ears import TRACK_PEER_CONNECTIONS, VOICE_LEVELS, hears, is_music, open_connections, wait_to_hear
from .call_shop import shop_fixture
from .recordings import Decoded
from .test_web_call_browser import customer_event, ok, start_call

pytestmark = pytest.mark.browser

CUSTOMER_HZ, ALICE_HZ, BOB_HZ = 440, 1000, 2000
VOICES = (CUSTOMER_HZ, ALICE_HZ, BOB_HZ)
WAIT = 8000  # ms: a fragment follows an action or an event well within this

HEARD_DB = -60.0  # a voice this loud at its frequency is heard (silence and the others' leakage are far below)


def voices_heard(page) -> set[int]:
    levels = page.evaluate(VOICE_LEVELS, [400, list(VOICES)])
    return {int(hz) for hz, db in (levels or {}).items() if db > HEARD_DB}


def wait_to_hear_voices(page, expected: set[int], what: str, timeout: float = 8.0) -> None:
    """Wait until the page hears exactly the voices `expected` (by their tones)."""
    deadline = time.monotonic() + timeout
    heard = []
    while True:
        heard.append(voices_heard(page))
        if heard[-1] == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not heard within {timeout} s; heard {heard[-6:]}")


@pytest.fixture(scope="module")
def server():
    with running(LiveServer(env={"MEDIA_HOST_ADDRESSES": "127.0.0.1"})) as live:
        reset_center(live)
        live.manage("shell", "-v", "0", "-c", "from sessions_app.models import SkillGroup\n"
                    "SkillGroup.objects.update(ring_timeout=30, wrap_up_seconds=600)")
        yield live


shop = shop_fixture("server")


@pytest.fixture(scope="module")
def people(server, shop, tmp_path_factory):
    """The three voices: the customer's browser context, Alice's and Bob's workbench tabs (signed in once)."""
    with speaking_browsers(tmp_path_factory, VOICES) as browsers:
        customer = listening_context(browsers[0])
        alice, bob = (sign_in_workbench(browser, server, user_id, init_script=TRACK_PEER_CONNECTIONS)
                      for browser, user_id in ((browsers[1], "agent1@demo"), (browsers[2], "agent2@demo")))
        for tab in (alice, bob):  # the SDK's events the page hears, for the test to read
            tab.page.evaluate("() => { window.heard = []; for (const name of ['transfer', 'sessionEnded', 'callIn'])"
                              " tccc.on(name, (data) => window.heard.push({ name, data })); }")
        yield customer, alice, bob


def sdk_events(tab, name: str) -> list[dict]:
    return [entry["data"] for entry in tab.page.evaluate("() => window.heard") if entry["name"] == name]


def alice_takes_a_web_call(customer_context, alice, shop) -> tuple:
    """Alice is free; the customer calls from the shop's page (a new page of `customer_context`); Alice accepts
    in her workbench and the customer hears her. (the customer's page, the session id)"""
    ok(alice.sdk("Agent.setStatus", {"status": "free"}))
    customer = customer_context.new_page()
    customer.goto(shop)
    customer.wait_for_function("() => window.tcccCall")
    session_id = start_call(customer)
    accept_offer(alice.page, "Incoming web audio call", WAIT)
    customer_event(customer, "accepted")
    wait_to_hear(customer, ALICE_HZ, "the customer hears Alice")
    return customer, session_id


def call_alice(people, shop) -> tuple:
    """The customer calls; Alice takes it in her workbench (Bob is kept out of routing meanwhile, then free)."""
    customer_context, alice, bob = people
    ok(bob.sdk("Agent.setStatus", {"status": "notReady"}))
    customer, session_id = alice_takes_a_web_call(customer_context, alice, shop)
    ok(bob.sdk("Agent.setStatus", {"status": "free"}))
    return customer, session_id


def consult_bob(alice, bob, shots: bool = False) -> None:
    """Alice consults Bob from the picker; Bob accepts the consult in his workbench."""
    page = alice.page
    page.click("#ctl-consult")
    picker = page.locator("#wb-consult")
    consult_button = picker.get_by_role("button", name=re.compile(r"^Consult Bob"))
    expect(consult_button).to_be_enabled(timeout=WAIT)
    if shots:
        alice.shot("consult-picker")
    consult_button.click()
    expect(picker.locator(".consult-title")).to_have_text("Calling Bob…", timeout=WAIT)
    offer = bob.page.locator(".offer-card")
    expect(offer).to_contain_text("Incoming consult", timeout=WAIT)
    expect(offer).to_contain_text("Alice")
    if shots:
        alice.shot("consult-ringing")
        bob.shot("consult-offer")
    offer.get_by_role("button", name=re.compile("^Accept")).click()
    expect(picker.locator(".consult-title")).to_have_text("Consulting Bob", timeout=WAIT)
    expect(bob.page.locator("#wb-detail .consult-bar")).to_contain_text("Alice is consulting you", timeout=WAIT)


def test_consult_then_complete_transfer_hands_the_customer_to_bob(people, shop, server):
    customer_context, alice, bob = people
    customer, session_id = call_alice(people, shop)
    consult_bob(alice, bob, shots=True)

    wait_to_hear(customer, is_music, "the customer hears hold music while Alice consults")
    wait_to_hear_voices(alice.page, {BOB_HZ}, "Alice hears Bob (and not the customer)")
    wait_to_hear_voices(bob.page, {ALICE_HZ}, "Bob hears Alice (and not the customer)")
    for _ in range(4):  # the customer overhears neither agent
        assert voices_heard(customer) & {ALICE_HZ, BOB_HZ} == set()
    alice.shot("consult-talking")
    bob.shot("consult-consulted")

    alice.page.click("#ctl-consult-complete")
    wait_to_hear(customer, BOB_HZ, "the customer hears Bob after the transfer")
    wait_to_hear_voices(bob.page, {CUSTOMER_HZ}, "Bob hears the customer")
    alice.page.wait_for_function("() => window.heard.some((e) => e.name === 'transfer')")
    assert sdk_events(alice, "transfer") == [{"sessionId": session_id, "skillGroupId": "", "userId": "agent2@demo"}]
    expect(alice.page.locator("#wb-detail .wrapup-sub")).to_contain_text("Transferred to agent2@demo", timeout=WAIT)
    alice.page.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")
    assert customer.evaluate("() => [window.__pcs.length, window.__offersTaken]") == [1, 1]  # not renegotiated
    expect(bob.page.locator("#wb-detail .detail-who")).to_have_text("Li Wei", timeout=WAIT)
    accepted = customer.wait_for_function(  # the customer's widget hears who serves the call now
        "() => { const a = window.callEvents.filter((e) => e.name === 'accepted'); return a.length === 2 && a; }")
    assert [event["data"]["agentNickname"] for event in accepted.json_value()] == ["Alice", "Bob"]
    alice.shot("consult-transferred")
    bob.shot("consult-bob-serves")

    customer.evaluate("() => tcccCall.hangUp()")
    customer_event(customer, "ended")
    customer.close()
    ok(bob.sdk("Agent.setStatus", {"status": "free"}))

    # The recording follows the customer through the transfer: their voice on the left; on the right what they
    # heard, Alice first, then (after the music of the consult) Bob.
    recording = Decoded(stored_recording(server, session_id))
    heard = [recording.right_hz(start / 4, start / 4 + 0.25) for start in range(int(recording.seconds * 4))]
    near = lambda hz: [i for i, got in enumerate(heard) if abs(got - hz) <= 15]  # noqa: E731
    assert near(ALICE_HZ) and near(BOB_HZ), heard
    assert max(near(ALICE_HZ)) < min(near(BOB_HZ)), heard
    assert any(is_music(hz) for hz in heard[max(near(ALICE_HZ)):min(near(BOB_HZ))]), heard
    assert abs(recording.left_hz(0, recording.seconds) - CUSTOMER_HZ) <= 15


def stored_recording(server, session_id: str) -> str:
    """The path of the call's recording once the live server's sweeper stored it."""
    read = lambda: live_shell(server, (  # noqa: E731
        "from sessions_app.models import Recording\n"
        f"r = Recording.objects.filter(session_id={session_id!r}, stored_at__isnull=False).first()\n"
        "print('path=' + (r.file.path if r and r.file else ''))")).strip().splitlines()[-1]
    return wait_until(read, lambda line: line != "path=", 20, "the recording stored")[len("path="):]


def test_conference_lets_all_three_hear_each_other_and_goes_on_when_alice_leaves(people, shop):
    customer_context, alice, bob = people
    customer, session_id = call_alice(people, shop)
    consult_bob(alice, bob)
    alice.page.click("#ctl-consult-conference")
    expect(alice.page.locator("#wb-consult .consult-title")).to_have_text("Conference with Bob", timeout=WAIT)
    wait_to_hear_voices(customer, {ALICE_HZ, BOB_HZ}, "the customer hears both agents")
    wait_to_hear_voices(alice.page, {CUSTOMER_HZ, BOB_HZ}, "Alice hears the customer and Bob")
    wait_to_hear_voices(bob.page, {CUSTOMER_HZ, ALICE_HZ}, "Bob hears the customer and Alice")
    alice.shot("consult-conference")
    bob.page.click("#ctl-mute")  # Bob's own microphone: the other two stop hearing him
    wait_to_hear_voices(customer, {ALICE_HZ}, "the customer hears Alice alone while Bob is muted")
    bob.page.click("#ctl-mute")
    wait_to_hear_voices(customer, {ALICE_HZ, BOB_HZ}, "the customer hears Bob again")

    alice.page.click("#ctl-end")  # Alice leaves: the customer and Bob go on
    wait_to_hear_voices(customer, {BOB_HZ}, "the customer hears Bob alone")
    wait_to_hear_voices(bob.page, {CUSTOMER_HZ}, "Bob hears the customer alone")
    assert sdk_events(alice, "transfer")[-1]["userId"] == "agent2@demo"

    customer.evaluate("() => tcccCall.hangUp()")
    customer_event(customer, "ended")
    customer.close()
    ok(bob.sdk("Agent.setStatus", {"status": "free"}))


def test_cancel_goes_back_to_the_customer_and_bobs_leg_leaves(people, shop):
    customer_context, alice, bob = people
    customer, session_id = call_alice(people, shop)
    consult_bob(alice, bob)
    wait_to_hear_voices(alice.page, {BOB_HZ}, "Alice hears Bob")
    alice.page.click("#ctl-consult-cancel")
    wait_to_hear(customer, ALICE_HZ, "the customer hears Alice again")
    wait_to_hear_voices(alice.page, {CUSTOMER_HZ}, "Alice hears the customer again")
    bob.page.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")
    assert open_connections(bob.page) == 0
    assert sdk_events(bob, "sessionEnded")[-1]["sessionId"] == session_id
    expect(alice.page.locator("#wb-consult")).to_be_hidden(timeout=WAIT)
    assert hears(customer) != BOB_HZ

    ok(alice.sdk("Call.hungUp", {"sessionId": session_id}))
    customer_event(customer, "ended")
    customer.close()


def test_bob_declining_leaves_the_customer_on_hold_and_alice_is_told(people, shop):
    customer_context, alice, bob = people
    customer, session_id = call_alice(people, shop)
    alice.page.click("#ctl-consult")
    alice.page.locator("#wb-consult").get_by_role("button", name=re.compile(r"^Consult Bob")).click()
    offer = bob.page.locator(".offer-card")
    expect(offer).to_contain_text("Incoming consult", timeout=WAIT)
    offer.get_by_role("button", name=re.compile("^Reject")).click()
    notice = alice.page.locator("#wb-consult [role=alert]")
    expect(notice).to_contain_text("Consult with Bob: declined", timeout=WAIT)
    expect(alice.page.locator("#ctl-hold")).to_have_text("Resume")
    wait_to_hear(customer, is_music, "the customer is still on hold")
    alice.shot("consult-declined")
    alice.page.click("#ctl-hold")
    wait_to_hear(customer, ALICE_HZ, "the customer hears Alice after she resumes")
    alice.page.click("#wb-consult-dismiss")
    expect(notice).to_be_hidden(timeout=WAIT)

    ok(alice.sdk("Call.hungUp", {"sessionId": session_id}))
    customer_event(customer, "ended")
    customer.close()
