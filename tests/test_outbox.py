"""The outbox: events published from the database thread leave through the server loop, in commit order."""
import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from sessions_app.services import outbox


@pytest.fixture
async def listener():
    """A channel in the group the tests publish to."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("agent.outbox", channel)
    yield channel
    await layer.group_discard("agent.outbox", channel)


@pytest.fixture
async def served():
    """This test's loop is the server's loop; its outbox task is stopped at the end."""
    outbox.serve_on(asyncio.get_running_loop())
    yield
    outbox.serve_on(None)
    if outbox._drainer:
        outbox._drainer.cancel()


async def publish_from_the_database_thread(count: int) -> None:
    def publish_many():
        for n in range(count):
            outbox.group_send("agent.outbox", {"type": "agent.frame", "n": n})

    await sync_to_async(publish_many, thread_sensitive=False)()


async def received(channel: str, count: int) -> list[int]:
    return [(await asyncio.wait_for(get_channel_layer().receive(channel), 2))["n"] for _ in range(count)]


async def test_sends_from_a_thread_serving_the_server_loop_leave_in_the_order_they_were_made(listener, served):
    await publish_from_the_database_thread(50)
    assert await received(listener, 50) == list(range(50))
    assert outbox._drainer.get_loop() is asyncio.get_running_loop()  # they went through the loop's outbox


async def test_a_send_that_fails_is_logged_and_the_ones_after_it_still_leave(listener, served, monkeypatch, caplog):
    layer = get_channel_layer()
    real_send = layer.group_send

    async def send_failing_on_two(group, message):
        if message["n"] == 2:
            raise ConnectionError("the channel layer is down")
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_send", send_failing_on_two)
    await publish_from_the_database_thread(5)
    assert await received(listener, 4) == [0, 1, 3, 4]
    assert "could not send agent.frame to agent.outbox" in caplog.text


async def test_a_thread_not_serving_the_server_loop_sends_at_once(listener):
    sent = threading.Event()

    def publish():
        outbox.group_send("agent.outbox", {"type": "agent.frame", "n": 1})
        sent.set()

    # A thread of its own, with no loop: the message is in the layer when group_send returns.
    worker = threading.Thread(target=publish)
    worker.start()
    await asyncio.get_running_loop().run_in_executor(None, worker.join)
    assert sent.is_set()
    assert await received(listener, 1) == [1]
