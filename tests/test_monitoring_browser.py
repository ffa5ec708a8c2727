"""A supervisor monitoring a web call in Chromium, with real audio through the server's media engine.

One Chromium per voice, since the fake microphone is browser-wide: the customer (440 Hz) calls from a shop's page
with the call widget, the agent (1000 Hz) serves in the workbench, the supervisor (1500 Hz) monitors from admin.
Each page analyses what its WebRTC connection receives and names the tones it hears (FFT peaks within 25 dB of
the strongest), so "hears 1500" means the supervisor's voice reached it. One live server and one browser context
per voice for the whole module; each test is one call, which the customer hangs up at the end. Also: the call's
recording (a whisper is not in it, a barge is) and a phone call from the trunk (sipp, with an RTP peer speaking
440 Hz as the caller), monitored the same way.
"""
from __future__ import annotations

import re
import time

import numpy as np

import pytest
from playwright.sync_api import expect

from testing.liveserver import LiveServer, free_port
from testing.peers import tones_present
from testing.serving import running

from .browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, CALL_TIMEOUT, fresh_channel_layer, listening_context, live_shell, speaking_browsers, wait_until,
)
from .call_shop import shop_fixture
from .media_ears import TONES_PRESENT
from .phone_peer import PhonePeer
from .real_peers import needs, until
from .recordings import RATE, Decoded
from . import sipp_trunk
from .sipp_trunk import hotline_caller as phone_caller  # noqa: F401 (a fixture)
from .test_web_call_browser import customer_event, start_call

pytestmark = pytest.mark.browser

CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ = 440, 1000, 1500
VOICES = (CUSTOMER_HZ, AGENT_HZ, SUPERVISOR_HZ)
WAIT = CALL_TIMEOUT * 1000

def tones(page, ms: int = 300) -> set[int]:
    return set(page.evaluate(TONES_PRESENT, [ms, list(VOICES)]))


def wait_for_tones(page, expected: set[int], who: str, timeout: float = 10.0) -> None:
    """Wait until `page` hears exactly the voices `expected`."""
    deadline = time.monotonic() + timeout
    heard = []
    while True:
        now = tones(page)
        heard.append(sorted(now))
        if now == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{who} should hear {sorted(expected)}; heard {heard[-6:]}")


def never_hears(page, hz: int, who: str, reads: int = 5) -> None:
    """Over `reads` windows (about 1.5 s), `page` never hears the voice `hz`."""
    for _ in range(reads):
        heard = tones(page)
        assert hz not in heard, f"{who} heard {hz} Hz: {sorted(heard)}"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), animations="disabled")




@pytest.fixture(scope="module")
def sip_port():
    return free_port()


@pytest.fixture(scope="module")
def server(sip_port):
    env = {"MEDIA_HOST_ADDRESSES": "127.0.0.1", "SIP_PORT": str(sip_port), "SIP_HOST": "127.0.0.1"}
    with running(LiveServer(env=env)) as live:
        # No after-call work, so the agent is free for the next test's call at once; agents see monitoring.
        live_shell(live, "from sessions_app.models import SkillGroup, Tenant\n"
                         "SkillGroup.objects.update(wrap_up_seconds=0)\n"
                         "Tenant.objects.update(show_monitoring=True)\n")
        yield live


shop = shop_fixture("server")


@pytest.fixture(scope="module")
def voices(tmp_path_factory, server, shop):
    """The three pages, each in the browser of its voice: the shop (customer), the agent's workbench (signed in
    as agent1@demo, the only agent online, so every call rings for them) and admin (the demo's superuser)."""
    with speaking_browsers(tmp_path_factory, VOICES) as browsers:
        customer, agent, supervisor = (listening_context(browser, viewport={"width": 1280, "height": 860}).new_page()
                                       for browser in browsers)
        live_shell(server, "from sessions_app.models import Agent\nAgent.objects.update(status='offline')\n")
        agent.goto(server.url + "/workbench/")
        agent.fill("#id_username", "agent1@demo")
        agent.fill("#id_password", "demo-password")
        agent.click("button[type=submit]")
        agent.wait_for_selector("body[data-connected=true]")
        agent.wait_for_function("() => window.tccc && tccc.Agent.getStatus().then((r) => r.status === 'success')")
        agent.evaluate("() => { window.__ended = []; tccc.on(tccc.events.sessionEnded, (e) => window.__ended.push(e)); }")
        supervisor.goto(server.url + "/admin/login/")
        supervisor.fill("#id_username", "admin")
        supervisor.fill("#id_password", "demo-password")
        supervisor.click("input[type=submit]")
        supervisor.wait_for_url(server.url + "/admin/")
        yield {"customer": customer, "agent": agent, "supervisor": supervisor, "shop": shop}


def a_call_in_progress(voices) -> str:
    """The customer calls from the shop and the agent accepts in the workbench; both hear each other."""
    customer, agent = voices["customer"], voices["agent"]
    customer.goto(voices["shop"])
    customer.wait_for_function("() => window.tcccCall")
    session_id = start_call(customer)
    agent.locator(".offer-card").get_by_role("button", name=re.compile("^Accept")).click()
    customer_event(customer, "accepted", timeout=CALL_TIMEOUT)
    wait_for_tones(customer, {AGENT_HZ}, "the customer")
    wait_for_tones(agent, {CUSTOMER_HZ}, "the agent")
    return session_id


def hang_up(customer) -> None:
    assert customer.evaluate("() => tcccCall.hangUp()")["status"] == "success"


def test_listen_whisper_and_barge_on_one_leg_are_heard_by_whom_they_should(voices, server):
    customer, agent, supervisor = voices["customer"], voices["agent"], voices["supervisor"]
    session_id = a_call_in_progress(voices)

    # From the wallboard's live sessions: the row's menu has the monitoring buttons; Listen opens the call's page.
    supervisor.goto(server.url + "/admin/wallboard/")
    supervisor.locator(f'[data-session-id="{session_id}"] [data-menu]').click()
    menu = supervisor.locator("#wb-action-dialog")
    for label in ("Listen", "Whisper", "Barge", "Take over"):
        expect(menu.get_by_role("link", name=label, exact=True)).to_be_visible()
    shot(supervisor, "monitoring-wallboard-menu")
    with supervisor.context.expect_page() as opened:
        menu.get_by_role("link", name="Listen", exact=True).click()
    monitor = opened.value
    root = monitor.locator("#cm-root")
    expect(root).to_have_attribute("data-mode", "listen")
    expect(root).to_have_attribute("data-leg", "connected")
    assert monitor.evaluate("() => window.__pcs[0].getSenders()[0].track") is None  # listening: no microphone
    wait_for_tones(monitor, {CUSTOMER_HZ, AGENT_HZ}, "the listening supervisor")
    never_hears(customer, SUPERVISOR_HZ, "the customer")
    never_hears(agent, SUPERVISOR_HZ, "the agent")
    expect(agent.locator("#wb-detail .pill-monitored")).to_have_text("Being monitored")  # the tenant shows it
    shot(agent, "monitoring-workbench-being-monitored")
    expect(monitor.get_by_role("button", name="Listen", exact=True)).to_have_attribute("aria-pressed", "true")
    shot(monitor, "monitoring-listen")

    monitor.get_by_role("button", name="Whisper", exact=True).click()
    expect(root).to_have_attribute("data-mode", "whisper")
    wait_for_tones(agent, {CUSTOMER_HZ, SUPERVISOR_HZ}, "the agent, whispered to")
    never_hears(customer, SUPERVISOR_HZ, "the customer")
    wait_for_tones(monitor, {CUSTOMER_HZ, AGENT_HZ}, "the whispering supervisor")

    monitor.get_by_role("button", name="Barge", exact=True).click()
    expect(root).to_have_attribute("data-mode", "barge")
    wait_for_tones(customer, {AGENT_HZ, SUPERVISOR_HZ}, "the customer, barged into")
    wait_for_tones(agent, {CUSTOMER_HZ, SUPERVISOR_HZ}, "the agent, barged into")
    wait_for_tones(monitor, {CUSTOMER_HZ, AGENT_HZ}, "the barging supervisor")
    shot(monitor, "monitoring-barge")
    # Three modes, one leg: one connection, one answer taken, never renegotiated.
    assert monitor.evaluate("() => [window.__pcs.length, window.__offersTaken]") == [1, 1]

    monitor.get_by_role("button", name="Listen", exact=True).click()
    expect(root).to_have_attribute("data-mode", "listen")
    assert monitor.evaluate("() => window.__pcs[0].getSenders()[0].track") is None  # the microphone is off again
    wait_for_tones(customer, {AGENT_HZ}, "the customer, once the supervisor listens again")

    monitor.get_by_role("button", name="Stop", exact=True).click()
    expect(root).to_have_attribute("data-mode", "")
    expect(agent.locator("#wb-detail .pill-monitored")).to_have_count(0)
    wait_for_tones(customer, {AGENT_HZ}, "the customer after Stop")
    wait_for_tones(agent, {CUSTOMER_HZ}, "the agent after Stop")

    # Monitoring again, then the call ends: the page says so and its leg is gone.
    monitor.get_by_role("button", name="Listen", exact=True).click()
    expect(root).to_have_attribute("data-mode", "listen")
    hang_up(customer)
    expect(root).to_have_attribute("data-state", "ended")
    expect(monitor.locator("[data-field=modeLabel]")).to_have_text(re.compile("Listening|Call ended"))
    monitor.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")
    for label in ("Listen", "Whisper", "Barge", "Take over"):
        expect(monitor.get_by_role("button", name=label, exact=True)).to_be_disabled()
    shot(monitor, "monitoring-ended")
    monitor.close()
    entries = live_shell(server, "from sessions_app.models import AuditEntry\n"
                                 f"print(list(AuditEntry.objects.filter(target_id={session_id!r}).order_by('pk')"
                                 ".values_list('action', 'outcome')))")
    assert entries.strip().splitlines()[-1] == str(
        [("monitor_call", "done"), ("monitoring_mode", "done"), ("monitoring_mode", "done"),
         ("monitoring_mode", "done"), ("stop_monitoring", "done"), ("monitor_call", "done")])


def test_take_over_leaves_the_customer_with_the_supervisor_and_ends_the_agents_part(voices, server):
    customer, agent, supervisor = voices["customer"], voices["agent"], voices["supervisor"]
    session_id = a_call_in_progress(voices)

    # From the session's admin page: Take over opens the call's page, which connects and takes the call over.
    supervisor.goto(f"{server.url}/admin/sessions_app/session/{session_id}/change/")
    shot(supervisor, "monitoring-session-admin-page")
    with supervisor.context.expect_page() as opened:
        supervisor.get_by_role("link", name="Take over", exact=True).click()
    monitor = opened.value
    root = monitor.locator("#cm-root")
    expect(root).to_have_attribute("data-mode", "takeover")
    agent.wait_for_function("(id) => window.__ended.some((e) => e.sessionId === id)", arg=session_id)
    ended = agent.evaluate("(id) => window.__ended.find((e) => e.sessionId === id)", session_id)
    assert (ended["closeBy"], ended["type"]) == ("admin", "voip")
    wait_for_tones(customer, {SUPERVISOR_HZ}, "the customer, served by the supervisor")
    wait_for_tones(monitor, {CUSTOMER_HZ}, "the supervisor who took over")
    agent.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")  # its leg left
    expect(monitor.locator("[data-field=agent]").first).to_have_text("admin (supervisor)")
    expect(monitor.get_by_role("button", name="Hang up", exact=True)).to_be_visible()
    shot(monitor, "monitoring-take-over")

    monitor.get_by_role("button", name="Hang up", exact=True).click()
    assert customer_event(customer, "ended")["closeBy"] == "admin"
    expect(root).to_have_attribute("data-state", "ended")
    monitor.close()


def stored_recording(server, session_id: str) -> Decoded:
    """The call's recording once the server's sweeper stored it, decoded (customer left, what they hear right)."""
    code = ("from sessions_app.models import Recording\n"
            f"r = Recording.objects.filter(session_id={session_id!r}, stored_at__isnull=False).first()\n"
            "print(r.file.path if r and r.file else '')")
    path = wait_until(lambda: live_shell(server, code).strip().splitlines()[-1:], lambda out: out and out[0],
                      20, "the recording is stored")[0]
    return Decoded(path)


def right_tones(decoded: Decoded, start: float, end: float) -> list[set[int]]:
    """The voices on the recording's right side (what the customer hears), per half second from `start` to `end`."""
    return [tones_present(decoded.right[int(t * RATE):int((t + 0.5) * RATE)], RATE, VOICES)
            for t in np.arange(max(start, 0), end - 0.5, 0.5)]


def test_a_whisper_is_not_in_the_calls_recording_and_a_barge_is(voices, server):
    customer, agent = voices["customer"], voices["agent"]
    session_id = a_call_in_progress(voices)
    accepted = time.monotonic()  # the recording starts at accept
    monitor = voices["supervisor"].context.new_page()
    monitor.goto(f"{server.url}/admin/calls/{session_id}/monitor/?mode=whisper")
    root = monitor.locator("#cm-root")
    expect(root).to_have_attribute("data-mode", "whisper")
    wait_for_tones(agent, {CUSTOMER_HZ, SUPERVISOR_HZ}, "the agent, whispered to")
    whispered = time.monotonic() - accepted
    never_hears(customer, SUPERVISOR_HZ, "the customer", reads=12)  # four seconds of the whisper
    monitor.get_by_role("button", name="Barge", exact=True).click()
    barged = time.monotonic() - accepted
    wait_for_tones(customer, {AGENT_HZ, SUPERVISOR_HZ}, "the customer, barged into")
    for _ in range(10):  # three seconds of the barge
        assert tones(customer) == {AGENT_HZ, SUPERVISOR_HZ}
    hang_up(customer)
    expect(root).to_have_attribute("data-state", "ended")
    monitor.close()

    # Read on the recording's own timeline, not the test's clock (a loaded machine shifts one against the other):
    # the supervisor is first heard at the barge, which came `barged` seconds or more after the recording began;
    # before it, through the whisper, the agent alone; after it, both to the end.
    decoded = stored_recording(server, session_id)
    heard = right_tones(decoded, 0, decoded.seconds)  # per half second
    first = next((i for i, voices_then in enumerate(heard) if SUPERVISOR_HZ in voices_then), None)
    assert first is not None and first * 0.5 >= barged - 1.0, (first, whispered, barged, heard)
    assert sum(AGENT_HZ in voices_then for voices_then in heard[:first]) >= 6, heard  # 3 s of whisper or more
    barge = heard[first + 1:-1]  # the half second of the switch and the last one aside
    assert len(barge) >= 3 and all(voices_then == {AGENT_HZ, SUPERVISOR_HZ} for voices_then in barge), heard
    left = tones_present(decoded.left[(first + 1) * RATE // 2:], RATE, VOICES)
    assert left == {CUSTOMER_HZ}  # the customer's own side: only their voice

    # The supervisor's browser plays it as the admin page's <audio> would: the same length, the customer left.
    played = voices["supervisor"].evaluate("""async (url) => {
        const buffer = await (await fetch(url)).arrayBuffer();
        const audio = await new OfflineAudioContext(2, 48000, 48000).decodeAudioData(buffer);
        const left = audio.getChannelData(0).slice(-2 * audio.sampleRate);
        let crossings = 0;
        for (let i = 1; i < left.length; i++) if ((left[i - 1] < 0) !== (left[i] < 0)) crossings++;
        return {channels: audio.numberOfChannels, seconds: audio.duration, leftHz: crossings / 4};
    }""", f"{server.url}/admin/sessions_app/session/{session_id}/recording/")
    assert played["channels"] == 2 and abs(played["seconds"] - decoded.seconds) < 0.1, played
    assert abs(played["leftHz"] - CUSTOMER_HZ) < 15, played


def phone_tones(peer: PhonePeer) -> set[int]:
    """The voices in the last half second the phone caller received (8 kHz)."""
    samples = np.concatenate(peer.recent[-25:]) if peer.recent else np.zeros(0)
    return tones_present(samples, 8000, VOICES)


@needs("sipp")
def test_a_phone_call_from_the_trunk_is_monitored_like_a_web_call(voices, server, phone_caller):
    agent = voices["agent"]
    sipp_trunk.choose_support(phone_caller, CUSTOMER_HZ)
    agent.locator(".offer-card").get_by_role("button", name=re.compile("^Accept")).click()
    wait_for_tones(agent, {CUSTOMER_HZ}, "the agent, hearing the phone caller")
    until(lambda: phone_tones(phone_caller) == {AGENT_HZ}, "the caller hears the agent",
          lambda: sorted(phone_tones(phone_caller)))
    session_id = agent.locator("#wb-detail").get_attribute("data-session")

    monitor = voices["supervisor"].context.new_page()
    monitor.goto(f"{server.url}/admin/calls/{session_id}/monitor/?mode=listen")
    root = monitor.locator("#cm-root")
    expect(root).to_have_attribute("data-mode", "listen")
    expect(monitor.locator("[data-field=typeLabel]")).to_have_text("Phone")
    wait_for_tones(monitor, {CUSTOMER_HZ, AGENT_HZ}, "the supervisor listening to a phone call")
    for _ in range(5):  # about 1.5 s: nobody hears the listening supervisor
        assert SUPERVISOR_HZ not in phone_tones(phone_caller) | tones(agent)

    monitor.get_by_role("button", name="Whisper", exact=True).click()
    wait_for_tones(agent, {CUSTOMER_HZ, SUPERVISOR_HZ}, "the agent, whispered to")
    for _ in range(5):
        assert SUPERVISOR_HZ not in phone_tones(phone_caller), "the phone caller heard the whisper"

    monitor.get_by_role("button", name="Barge", exact=True).click()
    until(lambda: phone_tones(phone_caller) == {AGENT_HZ, SUPERVISOR_HZ}, "the phone caller hears both",
          lambda: sorted(phone_tones(phone_caller)))
    wait_for_tones(monitor, {CUSTOMER_HZ, AGENT_HZ}, "the barging supervisor")

    monitor.get_by_role("button", name="Take over", exact=True).click()
    expect(root).to_have_attribute("data-mode", "takeover")
    until(lambda: phone_tones(phone_caller) == {SUPERVISOR_HZ}, "the phone caller hears the supervisor alone",
          lambda: sorted(phone_tones(phone_caller)))
    agent.wait_for_function("(id) => window.__ended.some((e) => e.sessionId === id)", arg=session_id)
    monitor.get_by_role("button", name="Hang up", exact=True).click()
    assert phone_caller.sipp.wait(15) == 0, "sipp (the trunk) did not get its BYE"
    expect(root).to_have_attribute("data-state", "ended")
    monitor.close()
