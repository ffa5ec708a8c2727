"""The wallboard on two daphne processes over PostgreSQL and Redis: a supervisor's page on one process shows,
within a second, what the server API and an agent's SDK do on the other."""
import pytest
from playwright.sync_api import expect

from testing.cluster import Cluster

from .browser import AgentPages, browser, fresh_channel_layer, host_page  # noqa: F401
from .test_wallboard_browser import WITHIN, open_wallboard

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def cluster(postgres, redis):
    started = Cluster(postgres, redis, env={"MEDIA_IN_WORKERS": "0"}).start()
    yield started
    started.stop()


def test_a_wallboard_shows_what_another_process_does_within_a_second(cluster, browser, host_page):
    wallboard = open_wallboard(browser, cluster[0])
    agents = AgentPages(browser, host_page, cluster[1])
    try:
        agent = agents.open("agent1@demo")
        status = wallboard.locator('[data-user-id="agent1@demo"] [data-metric="status"]')
        expect(status).to_have_attribute("data-value", "free")
        assert agent.call("Agent.setStatus", {"status": "notReady"}) == {"status": "success"}
        expect(status).to_have_attribute("data-value", "notReady", timeout=WITHIN)

        group_id = cluster[1].demo["skillGroups"]["phone"]
        waiting = wallboard.locator(f'[data-skill-group-id="{group_id}"] [data-metric="waiting"]')
        session_id = cluster[1].api("POST", "/api/sessions", {
            "type": "phone", "skillGroupId": str(group_id), "callerPhoneNumber": "008613800000000"})["sessionId"]
        expect(waiting).to_have_attribute("data-value", "1", timeout=WITHIN)

        assert agent.call("Agent.setStatus", {"status": "stopNotReady"}) == {"status": "success"}
        agent.event("callIn", sessionId=session_id)
        expect(waiting).to_have_attribute("data-value", "0", timeout=WITHIN)
        assert agent.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
        expect(status).to_have_attribute("data-value", "onCall", timeout=WITHIN)
    finally:
        agents.close()
        wallboard.context.close()
