"""The outbox: events published from the database thread leave through the server loop, in commit order."""
import asyncio
import threading

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from sessions_app.services import outbox


async def test_sends_from_a_thread_serving_the_server_loop_leave_in_the_order_they_were_made():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("agent.outbox", channel)
    outbox.serve_on(asyncio.get_running_loop())
    try:
        def publish_many():
            for n in range(50):
                outbox.group_send("agent.outbox", {"type": "agent.frame", "n": n})

        await sync_to_async(publish_many, thread_sensitive=False)()
        assert [(await asyncio.wait_for(layer.receive(channel), 2))["n"] for _ in range(50)] == list(range(50))
        assert outbox._drainer.get_loop() is asyncio.get_running_loop()  # they went through the loop's outbox
    finally:
        outbox.serve_on(None)
        if outbox._drainer:
            outbox._drainer.cancel()
        await layer.group_discard("agent.outbox", channel)


async def test_a_thread_not_serving_the_server_loop_sends_at_once():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("agent.outbox", channel)
    sent = threading.Event()

    def publish():
        outbox.group_send("agent.outbox", {"type": "agent.frame", "n": 1})
        sent.set()

    # A thread of its own, with no loop: the message is in the layer when group_send returns.
    worker = threading.Thread(target=publish)
    worker.start()
    await asyncio.get_running_loop().run_in_executor(None, worker.join)
    assert sent.is_set()
    assert (await asyncio.wait_for(layer.receive(channel), 2))["n"] == 1
    await layer.group_discard("agent.outbox", channel)
