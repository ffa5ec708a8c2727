"""A supervisor's wallboard in Chromium, live against a real server: what the server API and an agent's SDK do
shows on the page within a second, without a reload; what the supervisor does from its menus reaches the agent's
SDK and shows on the board by its own push."""
import re

import pytest
from playwright.sync_api import Page, expect

from .browser import ARTIFACTS, live_shell
from .browser import browser, fresh_channel_layer, host_page, open_agent, sdk_server  # noqa: F401

pytestmark = pytest.mark.browser
SUPERVISOR, PASSWORD = "lead@demo", "lead-password"
WITHIN = 1000  # ms: the "within one second"

MAKE_SUPERVISOR = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from sessions_app.models import Supervisor, Tenant
user, _ = get_user_model().objects.get_or_create(username={SUPERVISOR!r}, defaults={{"is_staff": True}})
user.set_password({PASSWORD!r})
user.save()
user.groups.add(Group.objects.get(name="Supervisor"))
Supervisor.objects.get_or_create(account=user, defaults={{"tenant": Tenant.objects.get(sdk_app_id="{{app}}")}})
"""


def open_wallboard(browser, server) -> Page:
    """A supervisor of the demo tenant signed in to `server`'s admin, on the wallboard, its socket open."""
    live_shell(server, MAKE_SUPERVISOR.replace("{app}", server.demo["SdkAppId"]))
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    page.goto(server.url + "/admin/login/?next=/admin/wallboard/")
    page.fill("#id_username", SUPERVISOR)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#wb-root[data-connection=live]")
    return page


@pytest.fixture
def wallboard(browser, sdk_server):
    page = open_wallboard(browser, sdk_server)
    yield page
    page.context.close()


def test_the_wallboard_shows_api_sessions_and_agents_status_within_a_second(wallboard, open_agent, sdk_server):
    group_id = sdk_server.demo["skillGroups"]["phone"]
    queue = wallboard.locator(f'[data-skill-group-id="{group_id}"]')
    agent = open_agent("agent1@demo")
    row = wallboard.locator('[data-user-id="agent1@demo"]')
    expect(row.locator('[data-metric="status"]')).to_have_attribute("data-value", "free")

    assert agent.call("Agent.setStatus", {"status": "notReady"}) == {"status": "success"}
    expect(row.locator('[data-metric="status"]')).to_have_attribute("data-value", "notReady", timeout=WITHIN)
    expect(row.locator('[data-metric="status"]')).to_have_text("Not ready")

    session_id = sdk_server.api("POST", "/api/sessions", {
        "type": "phone", "skillGroupId": str(group_id), "callerPhoneNumber": "008613800000000"})["sessionId"]
    expect(queue.locator('[data-metric="waiting"]')).to_have_attribute("data-value", "1", timeout=WITHIN)
    expect(wallboard.locator("#wb-live")).to_contain_text("008613800000000", timeout=WITHIN)
    wait = queue.locator('[data-metric="longestWait"]')
    first = wait.get_attribute("data-value")
    expect(wait).not_to_have_attribute("data-value", first or "")  # the wait ticks in the browser

    assert agent.call("Agent.setStatus", {"status": "stopNotReady"}) == {"status": "success"}
    agent.event("callIn", sessionId=session_id)
    expect(queue.locator('[data-metric="waiting"]')).to_have_attribute("data-value", "0", timeout=WITHIN)
    expect(queue.locator('[data-metric="ringing"]')).to_have_attribute("data-value", "1", timeout=WITHIN)
    assert agent.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
    expect(row.locator('[data-metric="sessionId"]')).to_have_attribute("data-value", session_id, timeout=WITHIN)
    expect(row.locator('[data-metric="status"]')).to_have_attribute("data-value", "onCall")
    expect(queue.locator('[data-metric="answered"]')).not_to_have_attribute("data-value", "0")

    ARTIFACTS.mkdir(exist_ok=True)
    wallboard.screenshot(path=str(ARTIFACTS / "wallboard-call-in-progress.png"), full_page=True, animations="disabled")
    sdk_server.api("POST", f"/api/sessions/{session_id}/end")
    expect(row.locator('[data-metric="status"]')).to_have_attribute("data-value", "arrange", timeout=WITHIN)
    expect(wallboard.locator("#wb-live")).not_to_contain_text("008613800000000")


ESCALATIONS = f"""
from sessions_app.models import Agent, AgentSkill, SkillGroup, Tenant
group, _ = SkillGroup.objects.get_or_create(tenant=Tenant.objects.get(sdk_app_id="{{app}}"), name="Escalations",
                                            defaults={{"kind": "phone"}})
AgentSkill.objects.get_or_create(agent=Agent.objects.get(user_id="agent3@demo"), skill_group=group)
print(group.pk)
"""


def test_the_agent_table_sorts_and_filters_in_the_browser(wallboard, sdk_server):
    group_id = live_shell(sdk_server, ESCALATIONS.replace("{app}", sdk_server.demo["SdkAppId"])).split()[-1]
    wallboard.reload()
    wallboard.wait_for_selector("#wb-root[data-connection=live]")
    names = wallboard.locator("#wb-agents tr[data-user-id] .wb-agent-name")
    ascending = names.all_inner_texts()
    assert len(ascending) > 1 and ascending == sorted(ascending, key=str.lower)
    wallboard.click('button[data-sort="name"]')
    assert names.all_inner_texts() == ascending[::-1]

    wallboard.select_option("[data-group-filter]", group_id)
    expect(wallboard.locator("#wb-agents tr[data-user-id]:visible")).to_have_count(1)
    expect(wallboard.locator('[data-user-id="agent3@demo"]')).to_be_visible()
    expect(wallboard.locator(f'[data-skill-group-id="{group_id}"]')).to_have_class(re.compile("is-picked"))
    wallboard.select_option("[data-group-filter]", "")
    expect(wallboard.locator("#wb-agents tr[data-user-id]:visible")).to_have_count(len(ascending))


def test_resting_an_agent_and_ending_their_call_from_the_wallboard_reach_their_sdk(wallboard, open_agent, sdk_server):
    agent = open_agent("agent1@demo")
    row = wallboard.locator('[data-user-id="agent1@demo"]')
    status = row.locator('[data-metric="status"]')
    expect(status).to_have_attribute("data-value", "free")
    dialog = wallboard.get_by_role("dialog")
    notices = wallboard.locator("#wb-notices")

    actions = row.get_by_role("button", name=re.compile("^Actions for"))
    actions.click()
    expect(dialog.get_by_label("Status")).to_be_focused()
    wallboard.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(actions).to_be_focused()
    actions.click()
    dialog.get_by_label("Status").select_option(label="Rest: Lunch")
    ARTIFACTS.mkdir(exist_ok=True)
    wallboard.screenshot(path=str(ARTIFACTS / "wallboard-agent-menu.png"), animations="disabled")
    dialog.get_by_role("button", name="Set status").click()
    expect(notices).to_contain_text("Status set to rest (Lunch).")
    expect(dialog).to_be_hidden()
    expect(status).to_have_attribute("data-value", "rest", timeout=WITHIN)
    expect(row).to_contain_text("Lunch")
    reported = agent.call("Agent.getStatus")["data"]
    assert (reported["status"], reported["restReason"]) == ("rest", "Lunch")

    assert agent.call("Agent.setStatus", {"status": "free"}) == {"status": "success"}
    session_id = sdk_server.api("POST", "/api/sessions", {
        "type": "phone", "skillGroupId": str(sdk_server.demo["skillGroups"]["phone"]),
        "callerPhoneNumber": "008613811111111"})["sessionId"]
    agent.event("callIn", sessionId=session_id)
    live = wallboard.locator(f'#wb-live tr[data-session-id="{session_id}"]')
    expect(live).to_contain_text("Ringing", timeout=WITHIN)
    live.get_by_role("button", name=re.compile("^Actions for")).click()
    expect(dialog).to_contain_text("Ringing for agent1@demo")
    assert agent.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
    expect(live).to_contain_text("In progress", timeout=WITHIN)  # redrawn under the open menu, which stays
    dialog.get_by_role("button", name="End session…").click()
    dialog.get_by_role("button", name="End session", exact=True).click()
    expect(notices).to_contain_text(f"session {session_id[:8]} has moved on: it is in progress with agent1@demo now, "
                                    "not ringing")
    wallboard.screenshot(path=str(ARTIFACTS / "wallboard-action-refused.png"), animations="disabled")

    live.get_by_role("button", name=re.compile("^Actions for")).focus()  # again, as it is now, by keyboard
    wallboard.keyboard.press("Enter")
    ask = dialog.get_by_role("button", name="End session…")
    ask.focus()
    wallboard.keyboard.press("Enter")
    confirm = dialog.get_by_role("button", name="End session", exact=True)
    expect(confirm).to_be_focused()
    wallboard.screenshot(path=str(ARTIFACTS / "wallboard-end-session-confirm.png"), animations="disabled")
    wallboard.keyboard.press("Enter")
    expect(notices).to_contain_text("Session ended.")
    ended = agent.event("sessionEnded", sessionId=session_id)
    assert ended["closeBy"] == "admin"
    expect(live).to_have_count(0, timeout=WITHIN)
    wallboard.screenshot(path=str(ARTIFACTS / "wallboard-action-notice.png"), animations="disabled")
