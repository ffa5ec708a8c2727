"""Anonymous customers' limits: chats and calls started per visitor and per client address, chat messages per
visitor over all their chats; each refusal a clear error reply on the widget's socket. Counted in the database,
so they hold across processes: the last test runs two real daphne processes on one database."""
import asyncio

import pytest

from sessions_app.domain import chat as rules
from sessions_app.services import visitor_limits

from .widget_clients import OFFER, CallerClient, VisitorClient

pytestmark = pytest.mark.service


@pytest.fixture
def limits(settings):
    settings.START_LIMIT_WINDOW, settings.START_LIMIT_PER_VISITOR, settings.START_LIMIT_PER_ADDRESS = 600, 3, 5
    return settings


async def start_chat(visitor_id: str, address: str = "203.0.113.7") -> dict:
    guest = await VisitorClient.connect(visitor_id=visitor_id, address=address)
    reply = await guest.request("start", nickname="Ann")
    await guest.communicator.disconnect()
    return reply


async def test_a_visitor_who_started_too_many_chats_is_refused_even_on_a_new_connection(demo, limits):
    guest = await VisitorClient.connect()
    visitor_id = guest.welcome["visitorId"]
    assert visitor_limits.VISITOR_ID.fullmatch(visitor_id)
    for _ in range(3):
        assert (await guest.request("start", nickname="Ann"))["status"] == "success"  # nobody online: each ends
    refused = await guest.request("start", nickname="Ann")
    assert refused == {"type": "reply", "id": refused["id"], "status": "error",
                       "errorMsg": visitor_limits.TOO_MANY_STARTS}
    again = await VisitorClient.connect(visitor_id=visitor_id)
    assert again.welcome["visitorId"] == visitor_id
    assert (await again.request("start", nickname="Ann"))["errorMsg"] == visitor_limits.TOO_MANY_STARTS
    assert (await start_chat("another-visitor-0001"))["status"] == "success"  # others are not held up


async def test_calls_count_with_chats_and_one_socket_cannot_place_call_after_call(demo, limits):
    assert (await start_chat("caller-visitor-0001"))["status"] == "success"
    caller = await CallerClient.connect(visitor_id="caller-visitor-0001")
    placed = [await caller.request("start", kind="audio", sdp=OFFER) for _ in range(3)]
    assert [reply["errorMsg"] for reply in placed[:2]] == ["the call could not be placed: noSeatOnline"] * 2
    assert placed[2]["errorMsg"] == visitor_limits.TOO_MANY_STARTS


async def test_new_visitor_ids_from_one_address_meet_the_address_limit(demo, limits):
    replies = [await start_chat(f"fresh-visitor-{n:04}") for n in range(6)]
    assert [r["status"] for r in replies] == ["success"] * 5 + ["error"]
    assert replies[5]["errorMsg"] == visitor_limits.TOO_MANY_FROM_ADDRESS
    assert (await start_chat("fresh-visitor-9999", address="198.51.100.1"))["status"] == "success"


async def test_an_invented_visitor_id_is_replaced_by_one_of_ours(demo):
    guest = await VisitorClient.connect(visitor_id="x")
    assert guest.welcome["visitorId"] != "x" and visitor_limits.VISITOR_ID.fullmatch(guest.welcome["visitorId"])


async def test_the_message_limit_counts_the_visitors_messages_over_all_their_chats(sdk, demo):
    await sdk("agent1@demo")
    guest = await VisitorClient.connect(visitor_id="chatty-visitor-0001")
    await guest.start()
    burst, _seconds = rules.RATE_LIMITS[0]
    for n in range(burst):
        assert (await guest.send(f"message {n}"))["status"] == "success"
    assert (await guest.request("end"))["status"] == "success"
    await guest.start()  # a new chat does not start the count afresh
    assert (await guest.send("one more"))["errorMsg"] == rules.TOO_FAST
    other = await VisitorClient.connect(visitor_id="quiet-visitor-0001")
    await other.start()
    assert (await other.send("hello"))["status"] == "success"


@pytest.mark.peer
def test_starts_are_limited_across_processes(tmp_path):
    """Two daphne processes on one database: the address's starts add up whichever process took them."""
    from testing.liveserver import LiveServer
    from .ws_clients import open_visitor

    env = {"START_LIMIT_PER_ADDRESS": "3", "START_LIMIT_PER_VISITOR": "0"}
    with LiveServer(env=env, workdir=str(tmp_path)) as first:
        second = LiveServer(env=env, workdir=str(tmp_path)).start(demo=first.demo)
        try:
            async def starts():
                replies = []
                for live in (first, second, first, second):
                    visitor = await open_visitor(live)
                    replies.append(await visitor.request(action="start", nickname="Ann"))
                    await visitor.ws.close()
                return replies

            replies = asyncio.run(starts())
        finally:
            second.stop()
    assert [r["status"] for r in replies] == ["success"] * 3 + ["error"]
    assert replies[3]["errorMsg"] == visitor_limits.TOO_MANY_FROM_ADDRESS
