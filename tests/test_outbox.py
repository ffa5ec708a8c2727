"""The outbox: events published from the database thread leave through the server loop, in commit order
(services/outbox.py hands them over, workbench/outbox.py sends them)."""
import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from sessions_app.services import outbox
from workbench.outbox import coalesced, serve_on

pytestmark = pytest.mark.service


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
    box = serve_on(asyncio.get_running_loop())
    yield box
    outbox.serve_on(None, None)
    if box.drainer:
        box.drainer.cancel()


async def publish_from_the_database_thread(count: int, kind: str = "agent.frame") -> None:
    def publish_many():
        for n in range(count):
            outbox.group_send("agent.outbox", {"type": kind, "frame": {"n": n}})

    await sync_to_async(publish_many, thread_sensitive=False)()


async def received(channel: str, count: int) -> list[int]:
    """The numbers of the next `count` frames on the channel, whether they came one per message or together."""
    numbers = []
    while len(numbers) < count:
        message = await asyncio.wait_for(get_channel_layer().receive(channel), 2)
        numbers += [frame["n"] for frame in message.get("frames", [message.get("frame")])]
    return numbers


async def test_sends_from_a_thread_serving_the_server_loop_leave_in_the_order_they_were_made(listener, served):
    await publish_from_the_database_thread(50)
    assert await received(listener, 50) == list(range(50))
    assert served.drainer.get_loop() is asyncio.get_running_loop()  # they went through the loop's outbox


async def test_a_send_that_fails_is_logged_and_the_ones_after_it_still_leave(listener, served, monkeypatch, caplog):
    layer = get_channel_layer()
    real_send = layer.group_send

    async def send_failing_on_two(group, message):
        if message["frame"]["n"] == 2:
            raise ConnectionError("the channel layer is down")
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_send", send_failing_on_two)
    await publish_from_the_database_thread(5, kind="agent.changed")  # a kind never sent together
    assert await received(listener, 4) == [0, 1, 3, 4]
    assert "could not send agent.changed to agent.outbox" in caplog.text


async def test_a_thread_not_serving_the_server_loop_sends_at_once(listener):
    sent = threading.Event()

    def publish():
        outbox.group_send("agent.outbox", {"type": "agent.frame", "frame": {"n": 1}})
        sent.set()

    # A thread of its own, with no loop: the message is in the layer when group_send returns.
    worker = threading.Thread(target=publish)
    worker.start()
    await asyncio.get_running_loop().run_in_executor(None, worker.join)
    assert sent.is_set()
    assert await received(listener, 1) == [1]


@pytest.mark.unit
def test_frames_handed_over_together_leave_as_one_message_per_agent_in_the_same_order():
    def frame(n):
        return {"type": "agent.frame", "frame": {"n": n}}

    changed = {"type": "agent.changed"}
    handed = [("agent.1", frame(1)), ("agent.2", frame(2)), ("agent.1", frame(3)), ("agent.1", changed),
              ("agent.1", frame(4)), ("agent.2", frame(5))]
    assert coalesced(handed) == [
        ("agent.1", {"type": "agent.frames", "frames": [{"n": 1}, {"n": 3}]}),
        ("agent.2", {"type": "agent.frames", "frames": [{"n": 2}, {"n": 5}]}),
        ("agent.1", changed),  # not passed by the frame after it
        ("agent.1", frame(4)),
    ]
