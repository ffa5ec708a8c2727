"""The SDK in Chromium, loaded by a CRM page on another origin, as an agent uses it (README, "Loading the SDK")."""
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from sessions_app.domain import protocol

from testing.serving import running

from .cloud_client import call, client

from .browser import (  # noqa: F401 (fixtures)
    EVENT_TIMEOUT, FOREIGN_HOST, RestartableLiveServer, agents_fixture, assert_ui_steps, browser, fresh_channel_layer,
    host_page, issue_token, live_shell, open_agent, sdk_server, wait_until,
)

pytestmark = pytest.mark.browser

NAMESPACES = ["Agent", "Call", "Chat", "Devices", "UI", "Video"]


def phone_session(server, **fields) -> str:
    """A customer calls the hotline: an inbound phone session in the demo's phone skill group."""
    return server.api("POST", "/api/sessions", {
        "type": "phone", "skillGroupId": str(server.demo["skillGroups"]["phone"]), **fields})["sessionId"]


def test_sdk_loaded_from_another_origin_fires_ready_and_exposes_exactly_the_spec_namespaces(open_agent):
    agent = open_agent("agent1@demo")
    assert agent.page.evaluate("() => Object.keys(window.tccc).sort()") == sorted(
        [*NAMESPACES, "events", "on", "off"])
    assert agent.events("ready") == [{}]
    assert agent.ui()["floatButton"] and not agent.ui()["workbench"]
    agent.screenshot("ready-float-button")


def test_a_token_from_tencents_client_loads_the_sdk_and_fires_ready_once_when_only_once(open_agent, sdk_server):
    """CreateSDKLoginToken through Tencent's own client (the cloud API at POST /), as a CRM's back office gets it."""
    answer = call(client(sdk_server), "CreateSDKLoginToken", {
        "SdkAppId": int(sdk_server.demo["SdkAppId"]), "SeatUserId": "agent2@demo", "OnlyOnce": True})
    assert answer["SdkURL"] == f"{sdk_server.url}/sdk/tccc.js"
    assert open_agent("agent2@demo", token=answer["Token"]).events("ready") == [{}]
    again = open_agent("agent2@demo", token=answer["Token"], ready=False)
    again.event("tokenExpired")
    assert again.events("ready") == []


def test_the_sdk_and_both_widgets_on_one_page_add_only_their_own_globals(browser, sdk_server):
    """Each served script is one function scope (views/scripts.py), so the core they all bundle (static/common/)
    defines nothing on the page: three scripts, three globals, and no error from running side by side."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.set_content(f"""<!doctype html><body>
<script>window.before = Object.getOwnPropertyNames(window);</script>
<script src="{sdk_server.url}/sdk/tccc.js"></script>
<script src="{sdk_server.url}/widget/chat.js" data-sdk-app-id="{sdk_server.demo['SdkAppId']}"></script>
<script src="{sdk_server.url}/widget/call.js" data-sdk-app-id="{sdk_server.demo['SdkAppId']}"></script>
</body>""")
        page.wait_for_function("() => window.tccc && window.tcccChat && window.tcccCall", timeout=EVENT_TIMEOUT * 1000)
        added = page.evaluate(
            "() => Object.getOwnPropertyNames(window).filter((name) => !window.before.includes(name))")
        assert sorted(added) == ["before", "tccc", "tcccCall", "tcccChat"]
        drawn = page.evaluate("() => ['tccc-sdk-root', 'tccc-chat-root', 'tccc-call-root'].map((id) => "
                              "Boolean(document.getElementById(id) && document.getElementById(id).shadowRoot))")
        assert drawn == [True, True, True]
        assert errors == []
    finally:
        page.close()


def test_page_on_an_origin_off_the_allow_list_cannot_load_the_sdk_or_open_its_socket(open_agent, sdk_server,
                                                                                       host_page):
    foreign_origin = host_page.origin(FOREIGN_HOST)
    agent = open_agent("agent1@demo", host=FOREIGN_HOST, ready=False)
    agent.page.wait_for_function("() => window.loadError === true", timeout=5000)
    assert agent.page.evaluate("() => typeof window.tccc") == "undefined"
    assert agent.sockets == []
    agent.screenshot("foreign-origin-no-sdk")

    # The script itself is served, but only an allowed origin gets the CORS header that lets a page run it.
    def cors_header(origin):
        request = urllib.request.Request(sdk_server.url + "/sdk/tccc.js", headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers.get("Access-Control-Allow-Origin")

    assert cors_header(foreign_origin) is None
    assert cors_header(host_page.origin()) == host_page.origin()

    # Even with a valid token, the foreign page's own websocket to the SDK endpoint is refused at the handshake.
    token = sdk_server.token("agent1@demo")["Token"]
    socket_url = sdk_server.url.replace("http", "ws") + "/ws/sdk/?" + urllib.parse.urlencode(
        {"token": token, "sdkAppId": sdk_server.demo["SdkAppId"], "userId": "agent1@demo"})
    outcome = agent.page.evaluate("""(url) => new Promise((resolve) => {
        const socket = new WebSocket(url);
        let opened = false;
        socket.onopen = () => { opened = true; };
        socket.onclose = (close) => resolve({ opened, code: close.code });
      })""", socket_url)
    assert outcome == {"opened": False, "code": 1006}


def test_expired_token_fires_token_expired_and_never_ready(open_agent, sdk_server):
    expired = issue_token(sdk_server, "agent1@demo", ttl=-60)
    agent = open_agent("agent1@demo", token=expired, ready=False)
    assert agent.event("tokenExpired") == {}
    assert agent.events("ready") == []
    # The SDK has stopped for good (so `ready` cannot follow): calls fail at once and say why.
    assert agent.call("Agent.getStatus") == {"status": "error", "errorMsg": "the token has expired"}
    agent.call("UI.showWorkbench")
    assert "expired" in agent.ui()["text"]
    agent.screenshot("token-expired-workbench")


def test_an_agent_forced_offline_in_admin_gets_token_expired_and_stops(open_agent, sdk_server, browser):
    agent = open_agent("agent1@demo")
    supervisor = browser.new_context()
    admin = supervisor.new_page()
    admin.goto(sdk_server.url + "/admin/login/?next=/admin/sessions_app/agent/")
    admin.fill("#id_username", "admin")
    admin.fill("#id_password", "demo-password")
    admin.click("[type=submit]")
    admin.locator("tr", has_text="agent1@demo").locator("input[name=_selected_action]").check()
    admin.select_option("select[name=action]", "force_offline")
    admin.click("button[name=index]")
    expect(admin.locator(".messagelist")).to_contain_text("1 agent forced offline.")  # once the list page is back
    supervisor.close()
    assert agent.event("tokenExpired") == {}
    # Stopped for good, saying why: no reconnect with the dead resume token.
    reason = "the login is no longer valid: a supervisor set the agent offline"
    assert agent.call("Agent.getStatus") == {"status": "error", "errorMsg": reason}
    agent.call("UI.showWorkbench")
    assert "The login is no longer valid: a supervisor set the agent offline. Reload the page" in agent.ui()["text"]


def test_inbound_call_accept_controls_transfer_customer_hang_up_and_after_call_work(open_agent, sdk_server):
    agent1 = open_agent("agent1@demo")
    agent2 = open_agent("agent2@demo")
    assert agent2.call("Agent.setStatus", {"status": "notReady"}) == {"status": "success"}

    session_id = phone_session(
        sdk_server, callerPhoneNumber="008613800000000", calleePhoneNumber=sdk_server.demo["hotline"],
        callerLocation="Shenzhen", remark="VIP customer", ivrPath=[{"key": "1", "label": "Sales"}])
    assert agent1.event("callIn", sessionId=session_id) == {
        "sessionId": session_id, "type": "phone", "timeout": 8, "calleePhoneNumber": sdk_server.demo["hotline"],
        "callerPhoneNumber": "008613800000000", "callerLocation": "Shenzhen", "remark": "VIP customer",
        "ivrPath": [{"key": "1", "label": "Sales"}], "protectedCallee": "", "protectedCaller": ""}
    agent1.call("UI.showWorkbench")
    agent1.wait_for_workbench_text("008613800000000")
    agent1.screenshot("workbench-ringing-phone-call")

    assert agent1.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
    assert agent1.event("userAccessed", sessionId=session_id) == {"sessionId": session_id}
    for method in ("Call.hold", "Call.unHold", "Call.muteMic"):
        assert agent1.call(method, {"sessionId": session_id}) == {"status": "success"}, method
    assert agent1.call("Call.isMicMuted", {"sessionId": session_id}) == {"status": "success", "data": {"muted": True}}
    assert agent1.call("Call.unmuteMic", {"sessionId": session_id}) == {"status": "success"}
    assert agent1.call("Call.sendDigits", {"sessionId": session_id, "dtmfText": "12#"}) == {"status": "success"}
    agent1.screenshot("workbench-in-call")

    assert agent2.call("Agent.setStatus", {"status": "stopNotReady"}) == {"status": "success"}
    assert agent1.call("Call.transfer", {"sessionId": session_id, "userId": "agent2@demo"}) == {"status": "success"}
    assert agent1.event("transfer", sessionId=session_id) == {
        "sessionId": session_id, "skillGroupId": "", "userId": "agent2@demo"}
    offered = agent2.event("callIn", sessionId=session_id)
    assert (offered["type"], offered["timeout"], offered["callerPhoneNumber"]) == ("phone", 8, "008613800000000")
    assert agent2.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
    assert agent2.event("userAccessed", sessionId=session_id) == {"sessionId": session_id}

    sdk_server.api("POST", f"/api/sessions/{session_id}/end")
    ended = agent2.event("sessionEnded", sessionId=session_id)
    assert (ended["type"], ended["closeBy"]) == ("phone", "client")
    assert isinstance(ended["duration"], (int, float)) and ended["duration"] >= 0
    assert agent2.call("Agent.getStatus")["data"]["status"] == "arrange"
    assert agent2.call("Agent.setStatus", {"status": "free"}) == {"status": "success"}
    assert agent2.event("sessionCompleted", sessionId=session_id) == {"sessionId": session_id}

    session = sdk_server.api("GET", f"/api/sessions/{session_id}")
    assert (session["state"], session["closeBy"]) == ("ended", "client")
    assert [(p["userId"], p["outcome"], p["transferFrom"], p["transferTo"]) for p in session["participants"]] == [
        ("agent1@demo", "transferred", "", "agent2@demo"),
        ("agent2@demo", "ended", "agent1@demo", ""),
    ]


def test_offer_not_answered_in_time_moves_to_the_other_free_agent(open_agent, sdk_server):
    live_shell(sdk_server, (
        "from sessions_app.models import Agent, SkillGroup\n"
        f"SkillGroup.objects.filter(pk={sdk_server.demo['skillGroups']['phone']}).update(ring_timeout=2)\n"
        "Agent.objects.filter(user_id='agent3@demo').update(status='notReady')\n"))
    pages = {user_id: open_agent(user_id) for user_id in ("agent1@demo", "agent2@demo")}

    session_id = phone_session(sdk_server, callerPhoneNumber="008613800000001")
    first_user = sdk_server.api("GET", f"/api/sessions/{session_id}")["userId"]
    first, other = pages[first_user], next(page for user, page in pages.items() if user != first_user)
    assert first.event("callIn", sessionId=session_id)["timeout"] == 2
    assert first.event("autoTransfer", timeout=6, sessionId=session_id) == {"sessionId": session_id}
    assert other.event("callIn", sessionId=session_id)["timeout"] == 2
    assert sdk_server.api("GET", f"/api/sessions/{session_id}")["userId"] == other.user_id
    sdk_server.api("POST", f"/api/sessions/{session_id}/end")


def test_internal_call_between_two_agents_rings_connects_and_ends_for_both(open_agent):
    caller = open_agent("agent1@demo")
    callee = open_agent("agent2@demo")

    started = caller.call("Call.startInternalCall", {"calleeUserId": "agent2@demo"})
    assert started["status"] == "success", started
    session_id = started["data"]["sessionId"]
    offered = callee.event("callIn", sessionId=session_id)
    assert (offered["type"], offered["peerUserId"]) == ("internal", "agent1@demo")

    assert callee.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
    for agent in (caller, callee):
        assert agent.event("userAccessed", sessionId=session_id) == {"sessionId": session_id}

    assert caller.call("Call.hungUp", {"sessionId": session_id}) == {"status": "success"}
    for agent in (caller, callee):
        ended = agent.event("sessionEnded", sessionId=session_id)
        assert (ended["type"], ended["closeBy"]) == ("internal", "seat")


def test_every_promise_method_answers_an_error_for_missing_or_unknown_parameters_and_never_rejects(open_agent):
    agent = open_agent("agent1@demo")
    needing = {name: [p.name for p in method.params if p.required] for name, method in protocol.METHODS.items()}
    needing = {name: required for name, required in needing.items() if required}
    assert {"Call.accept", "Call.startOutboundCall", "Agent.setStatus"} <= set(needing)

    answers = agent.page.evaluate("""([methods, timeoutMs]) => Promise.all(methods.map(([method, options]) => {
        const [namespace, name] = method.split('.');
        const hung = new Promise((resolve) => setTimeout(() => resolve({ hung: true }), timeoutMs));
        return Promise.race([hung, tccc[namespace][name](options).then((value) => value,
                                                                       (error) => ({ rejected: String(error) }))]);
      }))""", [[[name, {}] for name in needing] + [[name, {"sessionId": "no-such-session"}]
                                                   for name, required in needing.items() if required == ["sessionId"]],
               12000])
    missing, unknown = answers[:len(needing)], answers[len(needing):]
    for (name, required), answer in zip(needing.items(), missing):
        assert answer == {"status": "error", "errorMsg": f"{required[0]} is required"}, name
    for answer in unknown:
        assert answer["status"] == "error" and answer["errorMsg"], answer


def test_devices_report_chromium_supported_and_list_fake_devices(open_agent):
    agent = open_agent("agent1@demo")
    assert agent.call("Devices.isBrowserSupported") is True
    lists = agent.page.evaluate("""async () => {
        const describe = (devices) => ({ isArray: Array.isArray(devices), kinds: devices.map((d) => d.kind) });
        return { microphones: describe(await tccc.Devices.getMicrophones()),
                 speakers: describe(await tccc.Devices.getSpeakers()) };
      }""")
    assert lists["microphones"]["isArray"] and lists["speakers"]["isArray"]
    assert lists["microphones"]["kinds"] and set(lists["microphones"]["kinds"]) == {"audioinput"}
    assert set(lists["speakers"]["kinds"]) <= {"audiooutput"}


def test_ui_methods_show_and_hide_the_float_button_and_the_workbench(open_agent):
    agent = open_agent("agent1@demo")
    assert agent.visibility() == (True, False)
    assert_ui_steps(agent, [("hidefloatButton", (False, False)), ("showfloatButton", (True, False)),
                            ("showWorkbench", (True, True))])
    agent.screenshot("workbench-open-idle")
    assert_ui_steps(agent, [("hideWorkbench", (True, False)), ("showWorkbench", None), ("hide", (False, False)),
                            ("show", (True, True))])


@pytest.fixture(scope="module")
def restartable_server():
    """A server of its own for the restart tests, so that restarting it disturbs no other test."""
    with running(RestartableLiveServer()) as server:
        yield server


restartable_agents = agents_fixture("restartable_server")


WORKBENCH_TEXT = "() => document.getElementById('tccc-sdk-root').shadowRoot.querySelector('[role=dialog]').innerText"


def restart_and_wait_for_reconnect(server, agent, screenshot=""):
    """Stop daphne (the SDK shows it is reconnecting), start it again, wait until the SDK is connected;
    returns the answer to a `getStatus` asked during the outage."""
    server.stop_daphne()
    agent.page.wait_for_function(f"() => ({WORKBENCH_TEXT})().includes('Reconnecting')", timeout=5000)
    if screenshot:
        agent.screenshot(screenshot)
    # Asked while disconnected: the request waits for the connection instead of failing.
    agent.page.evaluate("() => { window.statusDuringOutage = tccc.Agent.getStatus(); }")
    server.start_daphne()
    agent.page.wait_for_function(f"() => !({WORKBENCH_TEXT})().includes('Reconnecting')", timeout=15000)
    return agent.page.evaluate("() => window.statusDuringOutage")


def test_sdk_reconnects_after_a_server_restart_keeping_status_without_a_second_ready(restartable_server,
                                                                                     restartable_agents):
    agent = restartable_agents("agent1@demo")
    agent.call("UI.showWorkbench")
    assert agent.call("Agent.setStatus", {"status": "rest", "restReason": "Lunch"}) == {"status": "success"}
    agent.wait_for_workbench_text("On break: Lunch")

    answer = restart_and_wait_for_reconnect(restartable_server, agent, screenshot="reconnecting-workbench")
    assert answer["status"] == "success", answer
    assert (answer["data"]["status"], answer["data"]["restReason"]) == ("rest", "Lunch")
    assert "On break: Lunch" in agent.ui()["text"]
    assert len(agent.sockets) >= 2
    assert agent.events("ready") == [{}]
    agent.screenshot("reconnected-workbench")


def test_agent_who_leaves_after_a_server_restart_still_goes_offline(restartable_server, restartable_agents):
    """A restart (or crash) leaves the old process's connection rows behind; they must not keep an agent
    whose browser is gone 'connected' forever, free and offered calls nobody answers."""
    agent = restartable_agents("agent1@demo")
    restart_and_wait_for_reconnect(restartable_server, agent)
    agent.page.context.close()  # the agent closes the CRM tab for good

    def agent1():
        status, offline_deadline, rows = live_shell(restartable_server, (
            "from sessions_app.models import Agent\n"
            "agent = Agent.objects.get(user_id='agent1@demo')\n"
            "print(agent.status, agent.offline_deadline is not None, agent.connections.count())")).split()[-3:]
        return {"status": status, "offlineDeadline": offline_deadline == "True", "connectionRows": int(rows)}

    wait_until(agent1, lambda state: state["status"] == "offline" or state["offlineDeadline"], timeout=5,
               what="agent1, whose only browser closed after the restart, is offline or has an offline deadline")
