"""Web audio and video calls in headless Chromium, through the server's media bridge, with real audio.

Each side's fake microphone plays its own tone (customer 440 Hz, agents 1000 and 1500 Hz, WAVs made with
sox), so which frequency a page hears tells who it hears: the customer page (the call widget on a shop's
site) and the agents' CRM pages (the SDK) each analyse what their WebRTC connection receives.

Every test runs on both media paths (the server's MEDIA_FORWARDING on, the default, and off): Chromium's own
packets forwarded, and everything decoded and encoded by the bridge. The other real-peer modules run on the
default path; `MEDIA_FORWARDING=0 scripts/test.sh -m "browser or peer"` runs them all on the other.
"""
from __future__ import annotations

import pytest

from .browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, EVENT_TIMEOUT, AgentPages, SdkPage, fresh_channel_layer, host_page, listening_context, reset_center,
    speaking_browsers,
)
from .call_shop import CallShopServer
from testing.liveserver import LiveServer
from testing.serving import running
from .media_ears import TRACK_PEER_CONNECTIONS, is_music, open_connections, video_frames, wait_to_hear

pytestmark = pytest.mark.browser

CUSTOMER_HZ, AGENT1_HZ, AGENT2_HZ = 440, 1000, 1500


@pytest.fixture(scope="module", params=["1", "0"], ids=["forwarding", "decoding"])
def media_server(request):
    with running(LiveServer(env={"MEDIA_HOST_ADDRESSES": "127.0.0.1", "MEDIA_FORWARDING": request.param})) as server:
        yield server


@pytest.fixture(scope="module")
def browsers(tmp_path_factory):
    """One Chromium per voice: the fake microphone is a browser-wide flag."""
    with speaking_browsers(tmp_path_factory, (CUSTOMER_HZ, AGENT1_HZ, AGENT2_HZ)) as launched:
        yield dict(zip(("customer", "agent1", "agent2"), launched))


@pytest.fixture(scope="module")
def shop(media_server):
    """The shop's page with the widget of this module's server (named as a parameter: a new one per media path)."""
    with running(CallShopServer(media_server.url)) as page_server:
        yield page_server.url


@pytest.fixture
def people(browsers, host_page, media_server, shop):
    """`people.agent(userId)` opens an agent's CRM page (agent1 and agent3 speak at 1000 Hz, agent2 at
    1500 Hz); `people.customer()` opens the shop's page with the call widget."""
    reset_center(media_server)
    pages = {who: AgentPages(browser, host_page, media_server, init_script=TRACK_PEER_CONNECTIONS)
             for who, browser in browsers.items() if who != "customer"}
    contexts = []

    class People:
        @staticmethod
        def agent(user_id: str) -> SdkPage:
            return pages["agent2" if user_id == "agent2@demo" else "agent1"].open(user_id)

        @staticmethod
        def customer():
            context = listening_context(browsers["customer"])
            contexts.append(context)
            page = context.new_page()
            page.goto(shop)
            page.wait_for_function("() => window.tcccCall")
            return page

    yield People
    for context in contexts:
        context.close()
    for agent_pages in pages.values():
        agent_pages.close()


def customer_event(page, name: str, timeout: float = EVENT_TIMEOUT) -> dict:
    handle = page.wait_for_function(
        "(name) => window.callEvents.find((entry) => entry.name === name)", arg=name, timeout=timeout * 1000)
    return handle.json_value()["data"]


def start_call(page, kind: str = "audio") -> str:
    started = page.evaluate(f"() => tcccCall.start{kind.capitalize()}({{ nickname: 'Li Wei', remark: 'order 1042' }})")
    assert started["status"] == "success", started
    return started["data"]["sessionId"]


def ok(result):
    assert result["status"] == "success", result
    return result


def test_customer_and_agent_hear_each_other_and_mute_and_hold_act_on_the_audio(people):
    agent = people.agent("agent1@demo")
    customer = people.customer()
    session_id = start_call(customer)
    offer = agent.event("callIn", sessionId=session_id)
    assert offer["type"] == "voip" and offer["nickname"] == "Li Wei" and offer["remark"] == "order 1042"
    customer_event(customer, "ringing")
    wait_to_hear(customer, is_music, "queue music while the agent's phone rings")

    ok(agent.call("Call.accept", {"sessionId": session_id}))
    assert customer_event(customer, "accepted")["sessionId"] == session_id
    wait_to_hear(agent, CUSTOMER_HZ, "the agent hears the customer")
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the agent")

    ok(agent.call("Call.muteMic", {"sessionId": session_id}))
    assert agent.call("Call.isMicMuted", {"sessionId": session_id})["data"] == {"muted": True}
    wait_to_hear(customer, 0, "the customer hears silence while the agent is muted")
    wait_to_hear(agent, CUSTOMER_HZ, "the muted agent still hears the customer")
    ok(agent.call("Call.unmuteMic", {"sessionId": session_id}))
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the agent again after unmute")

    ok(agent.call("Call.hold", {"sessionId": session_id}))
    wait_to_hear(customer, is_music, "music on hold for the customer")
    wait_to_hear(agent, 0, "silence for the agent on hold")
    ok(agent.call("Call.unHold", {"sessionId": session_id}))
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the agent after unHold")
    wait_to_hear(agent, CUSTOMER_HZ, "the agent hears the customer after unHold")

    ok(agent.call("Call.hungUp", {"sessionId": session_id}))
    ended = customer_event(customer, "ended")
    assert ended["closeBy"] == "seat"
    customer.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")
    agent.page.wait_for_function("() => window.__pcs.every((pc) => pc.connectionState === 'closed')")


def test_transfer_moves_the_customer_to_the_new_agent_without_renegotiating_the_customer(people):
    agent1, agent2 = people.agent("agent1@demo"), people.agent("agent2@demo")
    ok(agent2.call("Agent.setStatus", {"status": "notReady"}))
    customer = people.customer()
    session_id = start_call(customer)
    agent1.event("callIn", sessionId=session_id)
    ok(agent1.call("Call.accept", {"sessionId": session_id}))
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the first agent")

    ok(agent2.call("Agent.setStatus", {"status": "free"}))
    ok(agent1.call("Call.transfer", {"sessionId": session_id, "userId": "agent2@demo"}))
    agent2.event("callIn", sessionId=session_id)
    wait_to_hear(customer, is_music, "music while the transfer rings")
    ok(agent2.call("Call.accept", {"sessionId": session_id}))
    wait_to_hear(agent2, CUSTOMER_HZ, "the new agent hears the customer")
    wait_to_hear(customer, AGENT2_HZ, "the customer hears the new agent")
    assert open_connections(agent1.page) == 0  # the first agent's leg is gone: they hear nothing
    assert customer.evaluate("() => [window.__pcs.length, window.__offersTaken]") == [1, 1]
    assert customer.evaluate("() => window.__pcs[0].connectionState") == "connected"

    customer.evaluate("() => tcccCall.hangUp()")
    assert agent2.event("sessionEnded", sessionId=session_id)["closeBy"] == "client"


def test_video_frames_flow_both_ways_and_mute_video_stops_the_agents_camera(people):
    agent = people.agent("agent1@demo")
    customer = people.customer()
    session_id = start_call(customer, "video")
    assert agent.event("callIn", sessionId=session_id)["type"] == "video"
    ok(agent.call("Video.accept", {"sessionId": session_id}))
    customer_event(customer, "accepted")

    def frames_grow(page, direction):
        first = video_frames(page)[direction]
        page.wait_for_function(
            f"""async (first) => {{
                 const open = window.__pcs.filter((pc) => pc.connectionState !== 'closed');
                 const stats = await open[open.length - 1].getStats();
                 let n = 0;
                 stats.forEach((r) => {{ if (r.kind === 'video' && r.type === '{"inbound-rtp" if direction == "received" else "outbound-rtp"}')
                                          n += r.{"framesDecoded" if direction == "received" else "framesEncoded"} || 0; }});
                 return n > first + 20;
               }}""", arg=first, timeout=10000, polling=250)

    frames_grow(customer, "received")
    frames_grow(agent.page, "received")
    frames_grow(customer, "sent")
    wait_to_hear(agent, CUSTOMER_HZ, "audio flows in the video call too")
    agent.screenshot("web-video-call-agent")
    ARTIFACTS.mkdir(exist_ok=True)
    customer.screenshot(path=str(ARTIFACTS / "web-video-call-customer.png"))

    ok(agent.call("Video.muteVideo", {"sessionId": session_id}))
    assert agent.page.evaluate("""() => window.__pcs.at(-1).getSenders()
        .filter((s) => s.track && s.track.kind === 'video').length""") == 0  # the camera is released
    ok(agent.call("Video.unmuteVideo", {"sessionId": session_id}))
    agent.page.wait_for_function("""() => window.__pcs.at(-1).getSenders()
        .some((s) => s.track && s.track.kind === 'video' && s.track.readyState === 'live')""")
    frames_grow(customer, "received")
    ok(agent.call("Video.end", {"sessionId": session_id}))
    customer_event(customer, "ended")


def test_an_internal_call_carries_audio_both_ways_between_two_agents(people):
    caller, callee = people.agent("agent1@demo"), people.agent("agent2@demo")
    started = ok(caller.call("Call.startInternalCall", {"calleeUserId": "agent2@demo"}))
    session_id = started["data"]["sessionId"]
    assert callee.event("callIn", sessionId=session_id)["peerUserId"] == "agent1@demo"
    ok(callee.call("Call.accept", {"sessionId": session_id}))
    wait_to_hear(callee, AGENT1_HZ, "the callee hears the caller")
    wait_to_hear(caller, AGENT2_HZ, "the caller hears the callee")
    ok(caller.call("Call.muteMic", {"sessionId": session_id}))
    wait_to_hear(callee, 0, "the caller's mute silences the caller only")
    wait_to_hear(caller, AGENT2_HZ, "the caller still hears the callee")
    ok(callee.call("Call.hungUp", {"sessionId": session_id}))
    caller.event("sessionEnded", sessionId=session_id)


def test_an_agent_who_reloads_mid_call_gets_the_audio_back_and_the_customer_is_not_renegotiated(people):
    agent = people.agent("agent1@demo")
    customer = people.customer()
    session_id = start_call(customer)
    agent.event("callIn", sessionId=session_id)
    ok(agent.call("Call.accept", {"sessionId": session_id}))
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the agent")

    agent.page.reload()
    agent.event("ready")
    wait_to_hear(agent, CUSTOMER_HZ, "the reloaded page hears the customer again")
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the agent after the reload")
    assert customer.evaluate("() => [window.__pcs.length, window.__offersTaken]") == [1, 1]
    customer.evaluate("() => tcccCall.hangUp()")


def test_a_call_whose_socket_is_lost_ends_for_the_customer_with_why_and_is_not_reopened(people):
    """A call lives as long as its socket (call/link.js, on the client it shares with the SDK and the chat widget):
    when the socket closes under the widget, the call ends saying why, and the widget opens no other."""
    agent = people.agent("agent1@demo")
    customer = people.customer()
    customer.add_init_script("""window.sockets = [];
        window.WebSocket = class extends window.WebSocket {
          constructor(...args) { super(...args); window.sockets.push(this); }
        };""")
    customer.reload()
    customer.wait_for_function("() => window.tcccCall")
    session_id = start_call(customer)
    agent.event("callIn", sessionId=session_id)
    ok(agent.call("Call.accept", {"sessionId": session_id}))
    customer_event(customer, "accepted")

    customer.evaluate("() => window.sockets[0].close()")
    ended = customer_event(customer, "ended")
    assert ended == {"sessionId": session_id, "closeBy": "client", "endStatus": "mediaError",
                     "reason": "the connection to the call server was lost"}
    agent.event("sessionEnded", sessionId=session_id)  # the server ended it as its socket closed
    assert customer.evaluate("() => [window.sockets.length, tcccCall.call().state]") == [1, "ended"]
    assert customer.evaluate("() => tcccCall.hangUp()") == {
        "status": "error", "errorMsg": "there is no call to hang up"}


def test_a_rejected_call_rings_the_next_agent_while_the_customer_hears_music(people):
    agent1 = people.agent("agent1@demo")
    customer = people.customer()
    session_id = start_call(customer)
    agent1.event("callIn", sessionId=session_id)
    agent2 = people.agent("agent2@demo")
    ok(agent1.call("Call.hungUp", {"sessionId": session_id}))  # rejects the offer: it goes to the next agent
    agent2.event("callIn", sessionId=session_id)
    customer.wait_for_function("() => window.callEvents.filter((entry) => entry.name === 'ringing').length === 2",
                               timeout=EVENT_TIMEOUT * 1000)
    # Back in the queue and offered again in one transaction: the customer is told it rings, never that it waits.
    assert customer.evaluate("() => window.callEvents.map((entry) => entry.name)") == ["ringing", "ringing"]
    wait_to_hear(customer, is_music, "music while it rings again")
    assert open_connections(agent1.page) == 0
    ok(agent2.call("Call.accept", {"sessionId": session_id}))
    wait_to_hear(customer, AGENT2_HZ, "the customer hears the agent who took it")
    customer.evaluate("() => tcccCall.hangUp()")
