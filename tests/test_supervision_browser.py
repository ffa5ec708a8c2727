"""A supervisor acting from admin in Chromium while an agent works in a CRM page with the SDK: ending the agent's
call from the session's page reaches the agent's SDK as `sessionEnded` with `closeBy: 'admin'`; resting the
agent from their page shows in `tccc.Agent.getStatus()` and in the workbench inside the SDK's panel."""
import pytest
from playwright.sync_api import expect

from .browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, EVENT_TIMEOUT, browser, fresh_channel_layer, host_page, live_shell, open_agent,
    sdk_server, supervisor_page,
)

pytestmark = pytest.mark.browser




def agent_pk(server, user_id: str) -> int:
    return int(live_shell(server, f"from sessions_app.models import Agent\n"
                                  f"print(Agent.objects.get(user_id={user_id!r}).pk)").split()[-1])


def test_ending_a_call_from_the_sessions_page_tells_the_agents_sdk_closeby_admin(open_agent, supervisor_page,
                                                                                 sdk_server):
    agent = open_agent("agent1@demo")
    session_id = sdk_server.api("POST", "/api/sessions", {
        "type": "phone", "skillGroupId": str(sdk_server.demo["skillGroups"]["phone"])})["sessionId"]
    agent.event("callIn", sessionId=session_id)
    assert agent.call("Call.accept", {"sessionId": session_id})["status"] == "success"
    agent.event("userAccessed", sessionId=session_id)
    page = supervisor_page
    page.goto(f"{sdk_server.url}/admin/sessions_app/session/{session_id}/change/")
    panel = page.locator("section.supervision")
    expect(panel.get_by_role("button", name="End session")).to_be_visible()
    expect(panel.get_by_role("button", name="Offer")).to_have_count(0)  # it is not waiting in a queue
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervision-session-panel.png"))
    panel.get_by_role("button", name="End session").click()
    expect(page.locator(".messagelist")).to_contain_text("Session ended.")
    ended = agent.event("sessionEnded", sessionId=session_id)
    assert ended["closeBy"] == "admin" and ended["type"] == "phone"
    assert sdk_server.api("GET", f"/api/sessions/{session_id}")["closeBy"] == "admin"
    expect(page.locator("section.supervision")).to_have_count(0)  # nothing more to do with an ended session
    page.goto(f"{sdk_server.url}/admin/sessions_app/auditentry/")
    expect(page.locator("#result_list tbody tr").first).to_contain_text(f"phone {session_id[:8]}")
    page.screenshot(path=str(ARTIFACTS / "supervision-audit-log.png"))


def test_resting_an_agent_from_their_page_shows_in_their_sdk_and_workbench(open_agent, supervisor_page, sdk_server):
    agent = open_agent("agent1@demo")
    page = supervisor_page
    page.goto(f"{sdk_server.url}/admin/sessions_app/agent/{agent_pk(sdk_server, 'agent1@demo')}/change/")
    page.locator("section.supervision select[name=status]").select_option(label="Rest: Lunch")
    page.screenshot(path=str(ARTIFACTS / "supervision-agent-panel.png"))
    page.get_by_role("button", name="Set status").click()
    expect(page.locator(".messagelist")).to_contain_text("Status set to rest (Lunch).")
    status = agent.call("Agent.getStatus")["data"]
    assert (status["status"], status["restReason"]) == ("rest", "Lunch")
    agent.wait_for_workbench_text("Lunch", timeout=EVENT_TIMEOUT)
