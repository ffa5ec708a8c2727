"""Consulting a phone number on a web call, end to end: the customer (440 Hz) calls from a shop's page, Alice
(agent1, 1000 Hz) takes it in her workbench and consults a number; the trunk is sipp, answering as the consulted
phone, whose media is a phone peer (an RTP endpoint speaking 2000 Hz, tests/phone_peer.py). During the consult
the customer hears only music while Alice and the phone hear each other; then Alice completes the transfer (the
customer and the phone hear each other, Alice is out) or cancels (the phone's call gets its BYE alone, the
customer hears Alice again); a conference lets all three hear each other; a busy number ends only the consult. The same on a phone call from sipp, the session
carrying two SIP calls: the caller is handed to the number, which hangs up and ends the call. Last, an orderly
stop BYEs the number. One server, one customer browser and one workbench for the module."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from playwright.sync_api import expect

from testing.liveserver import LiveServer, free_port
from testing.peers import tones_present
from testing.serving import running

from .browser import (  # noqa: F401 (fixtures)
    accept_offer, fresh_channel_layer, listening_context, live_shell, reset_center, sign_in_workbench,
    speaking_browsers,
)
from . import sipp_trunk
from .call_shop import shop_fixture
from .media_ears import TRACK_PEER_CONNECTIONS, is_music, wait_to_hear
from .phone_peer import PhonePeer
from .real_peers import needs, until
from .test_consult_browser import alice_takes_a_web_call as call_alice, voices_heard, wait_to_hear_voices
from .test_web_call_browser import customer_event, ok

pytestmark = [needs("sipp"), pytest.mark.browser]

CUSTOMER_HZ, ALICE_HZ, PHONE_HZ = 440, 1000, 2000
TRUNK_PORT = free_port()
WAIT = 8000


@pytest.fixture(scope="module")
def server():
    env = {"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1"}
    with running(LiveServer(env=env)) as live:
        reset_center(live)
        live_shell(live, "from sessions_app.models import SkillGroup, Tenant, Trunk\n"
                         "SkillGroup.objects.update(ring_timeout=30, wrap_up_seconds=600)\n"
                         "tenant = Tenant.objects.get(sdk_app_id='1400000001')\n"
                         "Tenant.objects.filter(pk=tenant.pk).update(outbound_per_5_minutes=100, outbound_per_day=100)\n"
                         "Trunk.objects.all().delete()\n"
                         f"Trunk.objects.create(tenant=tenant, name='sipp', host='127.0.0.1', port={TRUNK_PORT})")
        yield live


shop = shop_fixture("server")


@pytest.fixture(scope="module")
def people(server, shop, tmp_path_factory):
    """The customer's browser context and Alice's workbench tab (signed in once)."""
    with speaking_browsers(tmp_path_factory, (CUSTOMER_HZ, ALICE_HZ)) as browsers:
        customer = listening_context(browsers[0])
        alice = sign_in_workbench(browsers[1], server, "agent1@demo", init_script=TRACK_PEER_CONNECTIONS)
        alice.page.evaluate("() => { window.heard = []; tccc.on('transfer', (data) => window.heard.push(data)); }")
        yield customer, alice


@pytest.fixture
def phone(tmp_path):
    """The consulted phone: sipp answering one call on the trunk's port, its media a peer speaking 2000 Hz."""
    peer = PhonePeer()
    peer.speak(PHONE_HZ)
    peer.sipp = sipp_trunk.answers("consulted_phone.xml", TRUNK_PORT, peer, tmp_path)
    yield peer
    sipp_trunk.stop(peer.sipp)
    peer.close()


def hung_up(sipp: subprocess.Popen) -> None:
    """sipp got our BYE and answered it (it exits 0 after its one call)."""
    code = sipp.wait(15)
    assert code == 0, f"the consulted phone did not get its BYE: {sipp.stderr.read().decode(errors='replace')}"


def consult_the_phone(alice, phone: PhonePeer, number: str, shots: bool = False) -> None:
    """Alice consults `number` from the picker; the phone answers; Alice and the phone hear each other only."""
    page = alice.page
    page.click("#ctl-consult")
    picker = page.locator("#wb-consult")
    picker.locator("#wb-consult-number").fill(number)
    if shots:
        alice.shot("consult-number-picker")
    picker.get_by_role("button", name="Call").click()
    expect(picker.locator(".consult-title")).to_have_text(f"Consulting {number}", timeout=WAIT)
    until(lambda: abs(phone.hears() - ALICE_HZ) < 20, "the phone hears Alice", lambda: f"{phone.hears()} Hz")
    wait_to_hear_voices(page, {PHONE_HZ}, "Alice hears the phone (and not the customer)")
    if shots:
        alice.shot("consult-number-talking")


def test_a_consulted_number_is_handed_the_customer(people, shop, phone, server):
    customer_context, alice = people
    customer, session_id = call_alice(customer_context, alice, shop)
    consult_the_phone(alice, phone, "13800138000", shots=True)
    wait_to_hear(customer, is_music, "the customer hears hold music during the consult")
    for _ in range(3):
        assert voices_heard(customer) & {ALICE_HZ, PHONE_HZ} == set(), "the customer overhears the consult"

    alice.page.click("#ctl-consult-complete")
    wait_to_hear(customer, PHONE_HZ, "the customer hears the phone after the transfer")
    until(lambda: abs(phone.hears() - CUSTOMER_HZ) < 20, "the phone hears the customer", lambda: f"{phone.hears()} Hz")
    expect(alice.page.locator("#wb-detail .wrapup-sub")).to_contain_text("Transferred to 13800138000", timeout=WAIT)
    alice.page.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")
    assert alice.page.evaluate("() => window.heard") == [{"sessionId": session_id, "skillGroupId": "", "userId": ""}]
    alice.shot("consult-number-transferred")
    for _ in range(3):  # Alice is out: the phone hears the customer alone
        assert abs(phone.hears() - CUSTOMER_HZ) < 20

    customer.evaluate("() => tcccCall.hangUp()")  # the customer's end hangs up the number's call too
    customer_event(customer, "ended")
    hung_up(phone.sipp)
    customer.close()
    described = server.api("GET", f"/api/sessions/{session_id}")
    assert (described["state"], described["endStatus"]) == ("ended", "ok")
    assert [(p["userId"], p["outcome"], p["transferTo"]) for p in described["participants"]] == [
        ("agent1@demo", "transferred", "13800138000")]
    ok(alice.sdk("Agent.setStatus", {"status": "free"}))


def test_cancel_hangs_up_the_number_alone_and_the_customer_hears_alice_again(people, shop, phone, server):
    customer_context, alice = people
    customer, session_id = call_alice(customer_context, alice, shop)
    consult_the_phone(alice, phone, "13800138001")
    wait_to_hear(customer, is_music, "the customer hears hold music during the consult")

    alice.page.click("#ctl-consult-cancel")
    hung_up(phone.sipp)
    wait_to_hear(customer, ALICE_HZ, "the customer hears Alice again")
    wait_to_hear_voices(alice.page, {CUSTOMER_HZ}, "Alice hears the customer again")
    expect(alice.page.locator("#wb-consult")).to_be_hidden(timeout=WAIT)
    assert server.api("GET", f"/api/sessions/{session_id}")["state"] == "active"

    customer.evaluate("() => tcccCall.hangUp()")
    customer_event(customer, "ended")
    customer.close()
    ok(alice.sdk("Agent.setStatus", {"status": "free"}))


def phone_voices(phone: PhonePeer) -> set[int]:
    """The voices the phone hears now, by their tones (a mix names them all)."""
    recent = phone.recent[-25:]
    samples = np.concatenate(recent) if recent else np.zeros(0)
    return tones_present(samples, 8000, (CUSTOMER_HZ, ALICE_HZ, PHONE_HZ))


def test_a_conference_with_a_number_lets_all_three_hear_each_other(people, shop, phone, server):
    customer_context, alice = people
    customer, session_id = call_alice(customer_context, alice, shop)
    consult_the_phone(alice, phone, "13800138005")
    alice.page.click("#ctl-consult-conference")
    expect(alice.page.locator("#wb-consult .consult-title")).to_have_text("Conference with 13800138005", timeout=WAIT)
    wait_to_hear_voices(customer, {ALICE_HZ, PHONE_HZ}, "the customer hears Alice and the phone")
    wait_to_hear_voices(alice.page, {CUSTOMER_HZ, PHONE_HZ}, "Alice hears the customer and the phone")
    until(lambda: phone_voices(phone) == {CUSTOMER_HZ, ALICE_HZ}, "the phone hears the customer and Alice",
          lambda: phone_voices(phone))
    alice.shot("consult-number-conference")

    alice.page.click("#ctl-consult-cancel")  # the number leaves the conference; the two go on
    hung_up(phone.sipp)
    wait_to_hear_voices(customer, {ALICE_HZ}, "the customer hears Alice alone")
    customer.evaluate("() => tcccCall.hangUp()")
    customer_event(customer, "ended")
    customer.close()
    ok(alice.sdk("Agent.setStatus", {"status": "free"}))


def test_a_busy_number_ends_only_the_consult_and_alice_is_told(people, shop, server, tmp_path):
    customer_context, alice = people
    customer, session_id = call_alice(customer_context, alice, shop)
    busy = subprocess.Popen(
        ["sipp", "-sf", str(sipp_trunk.SCENARIOS / "uas_busy.xml"), "-p", str(TRUNK_PORT), "-i", "127.0.0.1", "-m",
         "1", "-nostdin", "-trace_err", "-timeout", "20s", "-timeout_error"], cwd=tmp_path, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        alice.page.click("#ctl-consult")
        picker = alice.page.locator("#wb-consult")
        picker.locator("#wb-consult-number").fill("13800138003")
        picker.get_by_role("button", name="Call").click()
        expect(picker.locator(".consult-title")).to_have_text("Consult with 13800138003: busy", timeout=WAIT)
        assert busy.wait(15) == 0, busy.stderr.read().decode(errors="replace")  # it got our ACK of its 486
    finally:
        if busy.poll() is None:
            busy.kill()
    alice.shot("consult-number-busy")
    wait_to_hear(customer, is_music, "the customer is still on hold, the call goes on")
    assert server.api("GET", f"/api/sessions/{session_id}")["state"] == "active"
    alice.page.click("#ctl-hold")  # Alice resumes
    wait_to_hear(customer, ALICE_HZ, "the customer hears Alice again")
    customer.evaluate("() => tcccCall.hangUp()")
    customer_event(customer, "ended")
    customer.close()
    ok(alice.sdk("Agent.setStatus", {"status": "free"}))


def test_a_phone_caller_is_handed_to_a_consulted_number_which_then_hangs_up(people, server, tmp_path):
    """Two SIP calls for one session: the caller on the trunk (sipp delivering it to the hotline, a phone peer at
    440 Hz) and the consulted number (a second sipp, a peer at 2000 Hz) that hangs up after the transfer: the
    session ends with it, and the caller gets its BYE."""
    _, alice = people
    caller, consulted = PhonePeer(), PhonePeer()
    consulted.speak(PHONE_HZ)
    trunk = number = None
    try:
        ok(alice.sdk("Agent.setStatus", {"status": "free"}))
        trunk = sipp_trunk.calls_hotline(server.env["SIP_PORT"], caller, tmp_path, timeout="60s")
        sipp_trunk.choose_support(caller, CUSTOMER_HZ)
        accept_offer(alice.page, "Incoming phone call", WAIT)
        until(lambda: abs(caller.hears() - ALICE_HZ) < 20, "the caller hears Alice", lambda: f"{caller.hears()} Hz")
        number = sipp_trunk.answers("consulted_phone_hangs_up.xml", TRUNK_PORT, consulted, tmp_path, "-d", "12000",
                                    timeout="40s")  # hangs up 12 s after answering
        consult_the_phone(alice, consulted, "13800138004")
        until(lambda: is_music(caller.hears()), "the caller hears music during the consult",
              lambda: f"{caller.hears()} Hz")
        session_id = alice.page.locator("#wb-detail").get_attribute("data-session")

        alice.page.click("#ctl-consult-complete")
        until(lambda: abs(caller.hears() - PHONE_HZ) < 20, "the caller hears the number",
              lambda: f"{caller.hears()} Hz")
        until(lambda: abs(consulted.hears() - CUSTOMER_HZ) < 20, "the number hears the caller",
              lambda: f"{consulted.hears()} Hz")
        assert number.wait(20) == 0, number.stderr.read().decode(errors="replace")  # its BYE was answered
        assert trunk.wait(15) == 0, f"the caller got no BYE: {trunk.stderr.read().decode(errors='replace')}"
        described = server.api("GET", f"/api/sessions/{session_id}")
        assert (described["endStatus"], described["closeBy"]) == ("ok", "seat")
        assert [(p["userId"], p["transferTo"]) for p in described["participants"]] == [("agent1@demo", "13800138004")]
    finally:
        for process in (trunk, number):
            sipp_trunk.stop(process)
        caller.close()
        consulted.close()
    ok(alice.sdk("Agent.setStatus", {"status": "free"}))


def test_a_server_stopping_in_order_hangs_up_the_consulted_number_with_bye(people, shop, phone, server):
    """Last in the module: it stops the module's server (SIGTERM, daphne stops in order) during a consult."""
    customer_context, alice = people
    customer, session_id = call_alice(customer_context, alice, shop)
    consult_the_phone(alice, phone, "13800138002")
    server.process.terminate()
    hung_up(phone.sipp)
    server.process.wait(15)
    customer.close()
    ended = live_shell(server, "from sessions_app.models import Consult, Session\n"
                               f"session = Session.objects.get(pk={session_id!r})\n"
                               "print(session.state, session.consults.get().outcome)").split()
    assert ended == ["ended", "ended"]  # the session ended with its media, the consult with it
