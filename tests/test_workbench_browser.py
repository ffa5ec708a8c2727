"""The workbench in Chromium, as agents use it: the standalone tab at /workbench/ and the panel the SDK adds to
a CRM page on another origin. Every main state is saved as a screenshot in test-artifacts/ (wb-*.png)."""
import json
import re

import pytest
from playwright.sync_api import expect
from websockets.sync.client import connect as ws_connect

from .browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, WorkbenchTab, assert_ui_steps, browser, fresh_channel_layer, host_page, live_shell, open_agent,
    reset_center, sdk_server, sign_in_workbench,
)

pytestmark = pytest.mark.browser

WAIT = 6000  # ms: a fragment follows an action or an event well within this


def phone_session(server, **fields) -> str:
    return server.api("POST", "/api/sessions", {
        "type": "phone", "skillGroupId": str(server.demo["skillGroups"]["phone"]), **fields})["sessionId"]


def agent_row(server, user_id: str) -> tuple[str, str]:
    out = live_shell(server, "from sessions_app.models import Agent\n"
                             f"a = Agent.objects.get(user_id={user_id!r}); print(a.status, '|', a.rest_reason)")
    status, reason = out.strip().splitlines()[-1].split("|")
    return status.strip(), reason.strip()


@pytest.fixture
def tabs(browser, sdk_server):
    """Signs agents in to their own standalone workbench tabs (each its own browser context)."""
    reset_center(sdk_server)
    opened = []

    def open_tab(user_id, **kwargs):
        tab = sign_in_workbench(browser, sdk_server, user_id, **kwargs)
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.page.context.close()


def test_agent_signs_in_takes_a_break_with_a_reason_and_comes_back(browser, sdk_server, tabs):
    reset_center(sdk_server)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(sdk_server.url + "/workbench/")
    assert page.url.startswith(sdk_server.url + "/workbench/login/")
    page.fill("#id_username", "agent1@demo")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Those details did not work")
    page.screenshot(path=str(ARTIFACTS / "wb-login-error.png"), animations="disabled")
    context.close()

    tab = tabs("agent1@demo")
    page = tab.page
    expect(page.locator("#wb-status-button")).to_contain_text("Free")
    expect(page.locator("#wb-sessions")).to_contain_text("No active sessions")
    expect(page.locator("#wb-history")).to_contain_text("Nothing in today's history yet")
    expect(page.locator("#wb-detail")).to_contain_text("No session selected")
    # The page loaded the SDK for the signed-in agent, without drawing the SDK's own floating UI.
    assert tab.sdk("Agent.getStatus")["data"]["status"] == "free"
    assert page.locator("#tccc-sdk-root").count() == 0
    tab.shot("wb-standalone-idle")

    page.click("#wb-status-button")
    menu = page.locator("#wb-status-menu")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("menuitemradio")).to_have_text(
        ["Free", "On break: Lunch", "On break: Short break", "On break: Training", "On break: Meeting", "Not ready"])
    tab.shot("wb-status-menu")
    menu.get_by_role("menuitemradio", name="On break: Lunch").click()
    expect(page.locator("#wb-status-button")).to_contain_text("On break: Lunch")
    assert agent_row(sdk_server, "agent1@demo") == ("rest", "Lunch")
    timer = page.locator("#wb-status-button .status-time")
    first = timer.inner_text()
    expect(timer).not_to_have_text(first, timeout=WAIT)  # time in status runs
    tab.shot("wb-status-on-break")

    # Back to free with the keyboard: open the menu, arrow to "Free", Enter.
    page.focus("#wb-status-button")
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    page.keyboard.press("Home")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    while focused != "Free":
        page.keyboard.press("ArrowDown")
        focused = page.evaluate("() => document.activeElement.textContent.trim()")
    page.keyboard.press("Enter")
    expect(page.locator("#wb-status-button")).to_contain_text("Free")
    assert agent_row(sdk_server, "agent1@demo") == ("free", "")

    # Logging out ends the agent's presence at once.
    page.click("button[aria-label^='Log out']")
    expect(page.get_by_role("status")).to_contain_text("signed out and offline")
    assert agent_row(sdk_server, "agent1@demo")[0] == "offline"


def test_an_offer_is_accepted_controlled_transferred_wrapped_up_and_listed_today(sdk_server, tabs):
    alice = tabs("agent1@demo")
    bob = tabs("agent2@demo")
    assert bob.sdk("Agent.setStatus", {"status": "notReady"}) == {"status": "success"}
    live_shell(sdk_server, "from sessions_app.models import SkillGroup\nSkillGroup.objects.update(ring_timeout=30)")
    session_id = phone_session(
        sdk_server, callerPhoneNumber="008613800000000", calleePhoneNumber=sdk_server.demo["hotline"],
        callerLocation="Shenzhen, Guangdong", remark="VIP customer: second call today",
        ivrPath=[{"key": "1", "label": "Sales"}, {"key": "3", "label": "Orders"}])
    page = alice.page

    offer = page.locator(".offer-card")
    expect(offer).to_contain_text("Incoming phone call")
    expect(offer).to_contain_text("008613800000000")
    expect(offer).to_contain_text("Shenzhen, Guangdong")
    expect(offer.locator(".ivr-path li")).to_have_text(["1Sales", "3Orders"])
    countdown = offer.locator(".offer-countdown")
    expect(countdown).to_have_text(re.compile(r"^([12]?\d|30) s$"))
    seconds = int(countdown.inner_text().split()[0])
    expect(countdown).not_to_have_text(f"{seconds} s", timeout=WAIT)  # it counts down
    expect(page.locator("body")).to_have_attribute("data-ringing", "true")
    alice.shot("wb-offer-ringing")

    offer.get_by_role("button", name=re.compile("^Accept")).click()
    detail = page.locator("#wb-detail")
    expect(detail.locator(".detail-who")).to_have_text("008613800000000")
    expect(page.locator("body")).to_have_attribute("data-ringing", "false")
    expect(detail.locator(".facts")).to_contain_text("Shenzhen, Guangdong")
    expect(detail.locator(".facts")).to_contain_text("VIP customer: second call today")
    expect(page.locator("#wb-sessions .session-item")).to_have_count(1)
    expect(page.locator("#wb-status-button")).to_contain_text("Busy")
    alice.shot("wb-in-call")

    hold, mute = page.locator("#ctl-hold"), page.locator("#ctl-mute")
    hold.click()
    expect(hold).to_have_attribute("aria-pressed", "true")
    expect(hold).to_have_text("Resume")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    assert alice.sdk("Call.isMicMuted", {"sessionId": session_id}) == {"status": "success", "data": {"muted": True}}
    expect(page.locator(".session-item .session-sub")).to_have_text("Phone call · On hold · Muted")
    page.click("#ctl-keypad")
    keypad = page.locator("#wb-keypad")
    expect(keypad.locator(".key")).to_have_count(12)
    keypad.locator(".key[data-key='1']").focus()
    page.keyboard.type("12#")  # digits typed on the pad send tones
    expect(keypad.locator(".keypad-sent")).to_have_text("12#")
    alice.shot("wb-on-hold-muted-keypad")
    hold.click()
    expect(hold).to_have_attribute("aria-pressed", "false")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    # The SDK's methods act on the same call: the workbench follows a hold set through tccc.Call.hold.
    assert alice.sdk("Call.hold", {"sessionId": session_id}) == {"status": "success"}
    expect(hold).to_have_attribute("aria-pressed", "true")
    assert alice.sdk("Call.unHold", {"sessionId": session_id}) == {"status": "success"}
    expect(hold).to_have_attribute("aria-pressed", "false")

    page.click("#ctl-transfer")
    picker = page.locator("#wb-transfer")
    to_bob = picker.get_by_role("button", name=re.compile("^Transfer to Bob"))
    expect(to_bob).to_have_accessible_name("Transfer to Bob (Not ready)")
    expect(to_bob).to_be_disabled()
    expect(picker.get_by_role("button", name="Transfer to Chen (Offline)")).to_be_disabled()
    expect(picker).to_contain_text("Phone support")
    alice.shot("wb-transfer-picker")
    assert bob.sdk("Agent.setStatus", {"status": "stopNotReady"}) == {"status": "success"}
    expect(to_bob).to_have_accessible_name("Transfer to Bob (Free)", timeout=WAIT)  # live status
    expect(to_bob).to_be_enabled()
    to_bob.click()

    bob_offer = bob.page.locator(".offer-card")
    expect(bob_offer).to_contain_text("008613800000000")
    # Alice: the call moved on; she is in after-call work for it.
    wrapup = page.locator("#wb-detail .wrapup")
    expect(wrapup).to_contain_text("Transferred to agent2@demo")
    expect(page.locator("#wb-status-button")).to_contain_text("After-call work")
    bob_offer.get_by_role("button", name=re.compile("^Accept")).click()
    expect(bob.page.locator("#ctl-hold")).to_be_visible()
    alice.shot("wb-after-call-work")
    page.click("#ctl-complete")
    expect(page.locator("#wb-status-button")).to_contain_text("Free")
    expect(page.locator("#wb-history .history-item").first).to_contain_text("Transferred to agent2@demo")
    expect(page.locator("#wb-sessions")).to_contain_text("No active sessions")

    bob.page.click("#ctl-end")
    expect(bob.page.locator("#ctl-complete")).to_be_visible()
    bob.page.click("#ctl-complete")
    item = bob.page.locator("#wb-history .history-item").first
    expect(item).to_contain_text("008613800000000")
    expect(item).to_contain_text("Answered")
    bob.shot("wb-history-today")
    session = sdk_server.api("GET", f"/api/sessions/{session_id}")
    assert (session["state"], session["closeBy"]) == ("ended", "seat")
    assert [(p["userId"], p["outcome"]) for p in session["participants"]] == [
        ("agent1@demo", "transferred"), ("agent2@demo", "ended")]


def test_dial_pad_places_a_call_that_ends_clearly_without_a_sip_trunk(sdk_server, tabs):
    tab = tabs("agent1@demo")
    page = tab.page
    for key in "008613800000002":
        page.click(f"[data-dial-key='{key}']")
    page.click("[data-dial-backspace]")
    page.click("[data-dial-key='2']")
    expect(page.locator("#wb-dial-number")).to_have_value("008613800000002")
    expect(page.locator("#wb-dial-caller")).to_have_value(sdk_server.demo["hotline"])
    page.click("#wb-dial-call")
    result = page.locator("#wb-dial-result")
    expect(result).to_contain_text("Not connected: 008613800000002")
    expect(result).to_contain_text("No SIP trunk is configured")
    expect(page.locator("#wb-history .history-item").first).to_contain_text("Not connected")
    tab.shot("wb-dial-not-connected")

    page.fill("#wb-dial-number", "call me maybe")
    page.click("#wb-dial-call")
    toast = page.get_by_role("alert").filter(has_text="Could not place the call")
    expect(toast).to_contain_text("phoneNumber 'call me maybe' is neither a phone number")
    tab.shot("wb-error-toast")
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)


def test_web_chat_with_a_visitor_messages_typing_read_receipts_and_canned_responses(sdk_server, tabs):
    live_shell(sdk_server, (
        "from sessions_app.models import CannedResponse, Tenant\n"
        "t = Tenant.objects.get(sdk_app_id='1400000001')\n"
        "CannedResponse.objects.get_or_create(tenant=t, title='Greeting', "
        "defaults={'text': 'Hello! How can I help?'})\n"
        "CannedResponse.objects.get_or_create(tenant=t, title='Order status', "
        "defaults={'text': 'Let me look up your order.'})\n"))
    tab = tabs("agent1@demo")
    page = tab.page
    url = sdk_server.url.replace("http", "ws") + f"/ws/visitor/?sdkAppId={sdk_server.demo['SdkAppId']}"
    with ws_connect(url, origin="http://127.0.0.1:5173", open_timeout=5) as visitor:
        frames = []

        def visitor_frame(predicate):
            for frame in frames:
                if predicate(frame):
                    return frame
            while True:
                frame = json.loads(visitor.recv(timeout=5))
                frames.append(frame)
                if predicate(frame):
                    return frame

        visitor_frame(lambda f: f.get("type") == "welcome")
        visitor.send(json.dumps({"id": 1, "action": "start", "nickname": "Li Wei", "peerSource": "Website"}))
        offer = page.locator(".offer-card")
        expect(offer).to_contain_text("Incoming web chat")
        expect(offer).to_contain_text("Li Wei")
        offer.get_by_role("button", name=re.compile("^Accept")).click()
        log = page.locator("#wb-chat-log")
        expect(log).to_contain_text("No messages yet")

        visitor.send(json.dumps({"id": 2, "action": "send", "text": "Hi, my order 1042 is late <b>again</b>"}))
        expect(log.locator(".msg-visitor .bubble")).to_have_text("Hi, my order 1042 is late <b>again</b>")
        visitor_frame(lambda f: f.get("event") == "read" and f["data"].get("side") == "agent")  # the agent saw it
        visitor.send(json.dumps({"id": 3, "action": "typing"}))
        expect(page.locator("#wb-chat-typing")).to_contain_text("Li Wei is typing…")

        page.click("#wb-canned-button")
        page.get_by_role("menuitem", name=re.compile("^Order status")).click()
        composer = page.locator("#wb-composer-text")
        expect(composer).to_have_value("Let me look up your order.")
        expect(composer).to_be_focused()
        page.keyboard.type(" One moment, please.")
        page.keyboard.press("Enter")
        expect(log.locator(".msg-agent .bubble")).to_have_text("Let me look up your order. One moment, please.")
        expect(composer).to_have_value("")
        sent = visitor_frame(lambda f: f.get("event") == "message" and f["data"]["sender"] == "agent")
        assert sent["data"]["text"] == "Let me look up your order. One moment, please."
        expect(log.locator(".msg-agent .tick")).to_have_accessible_name("Sent")
        visitor.send(json.dumps({"id": 4, "action": "read", "seq": sent["data"]["seq"]}))
        expect(log.locator(".msg-agent .tick")).to_have_accessible_name("Read")
        tab.shot("wb-chat")

        page.get_by_role("button", name="End chat").click()
        visitor_frame(lambda f: f.get("event") == "ended")
    expect(page.locator("#wb-history .history-item").first).to_contain_text("Li Wei")


def test_the_sdk_panel_on_a_crm_page_is_the_workbench_in_an_iframe(open_agent, sdk_server):
    agent = open_agent("agent1@demo")
    page = agent.page
    root = page.locator("#tccc-sdk-root")
    float_button = root.locator("[data-float-button]")
    badge = root.locator("[data-badge]")
    expect(float_button).to_be_visible()
    expect(badge).to_be_hidden()
    agent.wait_for_workbench_text("No active sessions")  # loaded (hidden) already, so that it can ring
    assert agent.ui()["workbench"] is False

    session_id = sdk_server.api("POST", "/api/sessions", {
        "type": "voip", "skillGroupId": str(sdk_server.demo["skillGroups"]["voip"]), "userId": "openid-42",
        "nickname": "Maria Rossi", "callee": "web", "calleeRemark": "Website", "remark": "Invoice 1042"})["sessionId"]
    agent.event("callIn", sessionId=session_id)
    expect(badge).to_have_text("1")
    agent.screenshot("wb-sdk-float-button-badge")

    float_button.click()
    expect(float_button).to_have_attribute("aria-expanded", "true")
    frame = page.frame_locator("#tccc-sdk-root iframe")
    offer = frame.locator(".offer-card")
    expect(offer).to_contain_text("Maria Rossi")
    expect(frame.locator("body")).to_have_attribute("data-ringing", "true")
    agent.screenshot("wb-sdk-panel-offer")

    # Accepting in the panel is tccc.Call.accept: the host page's SDK hears the same userAccessed.
    offer.get_by_role("button", name=re.compile("^Accept")).click()
    assert agent.event("userAccessed", sessionId=session_id) == {"sessionId": session_id}
    expect(badge).to_be_hidden()
    expect(frame.locator("#ctl-hold")).to_be_visible()
    expect(frame.locator("#ctl-keypad")).to_have_count(0)  # web audio: no DTMF pad
    expect(frame.locator("#wb-detail")).to_contain_text("Invoice 1042")
    agent.screenshot("wb-sdk-panel-in-call")
    # And the other way round: tccc.Call.hungUp from the host page ends it in the panel too.
    assert agent.call("Call.hungUp", {"sessionId": session_id}) == {"status": "success"}
    expect(frame.locator("#ctl-complete")).to_be_visible()
    agent.screenshot("wb-sdk-panel-after-call")
    frame.locator("#ctl-complete").click()
    assert agent.event("sessionCompleted", sessionId=session_id) == {"sessionId": session_id}

    frame.get_by_role("tab", name="Today").click()
    expect(frame.locator("#wb-history .history-item").first).to_contain_text("Maria Rossi")
    agent.screenshot("wb-sdk-panel-history")
    frame.get_by_role("tab", name="Dial pad").click()
    expect(frame.locator("#wb-dial-number")).to_be_visible()
    agent.screenshot("wb-sdk-panel-dial-pad")

    # UI methods: what their names say.
    assert agent.visibility() == (True, True)
    assert_ui_steps(agent, [("hideWorkbench", (True, False)), ("hidefloatButton", (False, False)),
                            ("showWorkbench", (False, True)), ("showfloatButton", None), ("hide", (False, False)),
                            ("show", (True, True))])
    # The panel's own close button (in the iframe) and Escape close it; the float button opens it again.
    panel = root.locator("[role=dialog]")
    frame.get_by_role("button", name="Close workbench").click()
    expect(panel).to_be_hidden()
    float_button.click()
    expect(panel).to_be_visible()
    frame.locator("[role=tab][aria-selected=true]").focus()
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(float_button).to_be_focused()


def test_keyboard_reaches_the_main_controls_and_every_control_has_a_name(sdk_server, tabs):
    tab = tabs("agent1@demo")
    page = tab.page
    phone_session(sdk_server, callerPhoneNumber="008613800000009")
    expect(page.locator(".offer-card")).to_be_visible()
    names = []
    for _ in range(40):
        page.keyboard.press("Tab")
        names.append(page.evaluate("""() => {
            const e = document.activeElement;
            return e.getAttribute('aria-label') || (e.labels && e.labels[0] && e.labels[0].innerText)
                   || e.innerText.trim() || e.id; }"""))
    expected = ["Skip to the session", "Status: Free. Change status", "Audio devices", "Log out (go offline)",
                "Reject phone call from 008613800000009", "Accept phone call from 008613800000009",
                "Number to call", "Delete the last digit", "1", "0", "#", "Call from", "Call"]
    positions = [names.index(name) for name in expected]
    assert positions == sorted(positions), names
    # Every visible control says what it does.
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea, [role=tab]')]
        .filter((e) => e.offsetParent !== null && e.type !== 'hidden')
        .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || e.innerText.trim()))
        .map((e) => e.outerHTML.slice(0, 120))""")
    assert unnamed == []
    # Enter on the focused Accept button accepts.
    page.focus("[data-accept]")
    page.keyboard.press("Enter")
    expect(page.locator("#ctl-hold")).to_be_visible()
    # Escape closes a picker.
    page.click("#ctl-transfer")
    expect(page.locator("#wb-transfer")).to_be_visible()
    page.focus("#wb-transfer-close")
    page.keyboard.press("Escape")
    expect(page.locator("#wb-transfer")).to_be_hidden()


def test_devices_are_listed_chosen_remembered_and_followed_when_unplugged(sdk_server, tabs):
    tab = tabs("agent1@demo")
    page = tab.page
    page.click("#wb-devices-button")
    microphones = page.locator("#wb-mic-select option")
    expect(microphones.nth(1)).to_be_attached()  # the fake devices, named (permission asked first)
    labels = microphones.all_inner_texts()
    assert labels[0] == "Default microphone" and all(labels[1:]), labels
    chosen = page.locator("#wb-mic-select option").nth(1).get_attribute("value")
    page.select_option("#wb-mic-select", chosen)
    assert page.evaluate("() => window.workbenchDevices.microphone()") == chosen
    tab.shot("wb-devices")
    page.reload()
    page.wait_for_selector("body[data-connected=true]")
    page.wait_for_function("(id) => window.workbenchDevices.microphone() === id", arg=chosen)
    # The chosen microphone is unplugged: the workbench falls back to the default and says so.
    page.evaluate("""(gone) => {
        const real = navigator.mediaDevices.enumerateDevices.bind(navigator.mediaDevices);
        navigator.mediaDevices.enumerateDevices = async () => (await real()).filter((d) => d.deviceId !== gone);
        navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
      }""", chosen)
    page.wait_for_function("() => window.workbenchDevices.microphone() === ''")
    page.click("#wb-devices-button")
    expect(page.locator("[data-devices-note]")).to_contain_text("was disconnected: using the default microphone")
    expect(page.locator("#wb-mic-select")).to_have_value("")
    tab.shot("wb-devices-unplugged")
    # The SDK's own Devices methods on the same page.
    devices = page.evaluate("""async () => ({
        supported: tccc.Devices.isBrowserSupported(),
        microphones: (await tccc.Devices.getMicrophones()).map((d) => [d.kind, Boolean(d.label)]),
        speakers: (await tccc.Devices.getSpeakers()).map((d) => d.kind) })""")
    assert devices["supported"] is True
    assert devices["microphones"] and all(m == ["audioinput", True] for m in devices["microphones"])
    assert set(devices["speakers"]) <= {"audiooutput"}


USER_AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36", True),
    ("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/56.0.2924.87 Safari/537.36", True),
    ("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/55.0.2883.87 Safari/537.36", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/80.0.3987.87 "
     "Safari/537.36 Edg/80.0.361.48", True),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.74 "
     "Safari/537.36 Edg/79.0.309.43", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 "
     "Safari/537.36 Edge/18.19041", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0", False),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
     "Safari/605.1.15", False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
     "Safari/537.36 OPR/106.0.0.0", False),
]


def test_is_browser_supported_reads_the_user_agent_chrome_56_and_edge_80_up(open_agent):
    agent = open_agent("agent1@demo")
    answers = agent.page.evaluate("""(agents) => agents.map((ua) => {
        Object.defineProperty(navigator, 'userAgent', { get: () => ua, configurable: true });
        return tccc.Devices.isBrowserSupported(); })""", [ua for ua, _ in USER_AGENTS])
    assert answers == [supported for _, supported in USER_AGENTS]


# Headless Chromium lets every page play sound whatever --autoplay-policy says, so this emulates the policy of a
# desktop browser: no sound (a suspended AudioContext, play() refused) until the page gets a real click or key.
AUTOPLAY_POLICY = """(() => {
  let activated = false;
  for (const type of ['pointerdown', 'keydown']) {
    addEventListener(type, (event) => { if (event.isTrusted) activated = true; }, true);
  }
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) { super(...args); this.blocked = true; }
    get state() { return this.blocked ? 'suspended' : super.state; }
    resume() {
      if (!activated) return Promise.resolve();
      this.blocked = false;
      return super.resume().then(() => { this.dispatchEvent(new Event('statechange')); });
    }
  };
  const play = HTMLMediaElement.prototype.play;
  HTMLMediaElement.prototype.play = function () {
    return activated ? play.call(this) : Promise.reject(new DOMException('no user gesture yet', 'NotAllowedError'));
  };
})();"""


def test_ring_tone_waits_for_a_click_when_the_browser_blocks_autoplay(browser, sdk_server):
    reset_center(sdk_server)
    signed_in = sign_in_workbench(browser, sdk_server, "agent1@demo")
    try:
        signed_in.page.context.add_init_script(AUTOPLAY_POLICY)
        signed_in.page.reload()  # the agent comes back to the tab: no click on this page yet
        tab = WorkbenchTab(signed_in.page, "agent1@demo")
        page = tab.page
        page.wait_for_selector("body[data-connected=true]")
        sound = page.locator("[data-sound-button]")
        expect(sound).to_be_visible()
        expect(sound).to_have_accessible_name("Enable sound for incoming calls")
        expect(page.locator("body")).to_have_attribute("data-sound", "blocked")
        phone_session(sdk_server, callerPhoneNumber="008613800000003")
        expect(page.locator("body")).to_have_attribute("data-ringing", "true")
        tab.shot("wb-sound-blocked-while-ringing")
        sound.click()
        expect(page.locator("body")).to_have_attribute("data-sound", "on")
        expect(sound).to_be_hidden()
    finally:
        signed_in.page.context.close()
