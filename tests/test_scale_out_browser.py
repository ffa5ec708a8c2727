"""The SDK in Chromium behind a balancer over two web processes: when the process holding its websocket is
killed with kill -9, it reconnects through the balancer to the other one and the agent goes on where they were.
"""
from __future__ import annotations

import pytest

from .balancer import Balancer
from .browser import AgentPages, browser, fresh_channel_layer, host_page, reset_center  # noqa: F401 (fixtures)
from .cluster import Cluster, phone_session


@pytest.fixture(scope="module")
def cluster(postgres, redis):
    started = Cluster(postgres, redis, env={"PROCESS_DEAD_AFTER": "2", "MEDIA_IN_WORKERS": "0"}).start()
    yield started
    started.stop()


@pytest.fixture
def balanced_pages(browser, host_page, cluster):
    reset_center(cluster[0])
    balancer = Balancer(cluster.servers)
    pages = AgentPages(browser, host_page, balancer)
    marks = cluster.log_marks()
    yield balancer, pages.open
    pages.close()
    balancer.stop()
    cluster.print_logs_since(marks)


def test_the_sdk_reconnects_to_the_other_process_after_a_kill_9_and_the_call_goes_on(cluster, balanced_pages):
    balancer, open_agent = balanced_pages
    agent = open_agent("agent1@demo")
    assert agent.call("Agent.setStatus", {"status": "free"}) == {"status": "success"}
    holder = balancer.backend_of("/ws/sdk/")
    other = next(server for server in cluster.servers if server is not holder)
    session_id = phone_session(other)  # created on the process the agent is not connected to
    agent.event("callIn", sessionId=session_id)
    assert agent.call("Call.accept", {"sessionId": session_id}) == {"status": "success"}
    agent.event("userAccessed", sessionId=session_id)
    before = agent.call("Agent.getStatus")

    # A request sent before the SDK notices the drop fails (it may or may not have been acted on): the tab asks
    # once its SDK is connecting again, through the balancer.
    with agent.page.expect_websocket():
        holder.kill()
    after = agent.call("Agent.getStatus")
    assert after == before and after["status"] == "success"
    assert balancer.backend_of("/ws/sdk/") is other and len(agent.sockets) >= 2
    assert agent.call("Call.hungUp", {"sessionId": session_id}) == {"status": "success"}
    agent.event("sessionEnded", sessionId=session_id)
    assert len(agent.events("ready")) == 1
    holder.launch()
