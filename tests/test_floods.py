"""One connection's flood of requests: every request is answered, what waits stays bounded, and another
connection's request is not queued behind the flood."""
import asyncio
import json

from sessions_app.domain import protocol

FLOOD = 2000


async def drained(communicator, timeout: float = 10) -> None:
    """Wait until the consumer has taken every frame sent to it (the test communicator's input queue is empty)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not communicator.input_queue.empty():
        assert asyncio.get_running_loop().time() < deadline, "the consumer did not read the flood in time"
        await asyncio.sleep(0)


async def test_a_flood_of_requests_is_answered_in_full_and_does_not_hold_up_another_connection(sdk):
    flooder, other = await sdk("agent1@demo"), await sdk("agent2@demo")
    tasks_before = len(asyncio.all_tasks())
    for request_id in range(1, FLOOD + 1):
        await flooder.communicator.send_to(text_data=json.dumps(
            {"id": request_id, "method": "Agent.getStatus", "params": {}}))
    await drained(flooder.communicator)
    tasks_during = len(asyncio.all_tasks()) - tasks_before
    await other.communicator.send_to(text_data=json.dumps({"id": "other", "method": "Agent.getStatus", "params": {}}))

    # Both connections' frames in the order the server sent them.
    arrivals: list[tuple[str, dict]] = []

    async def collect(name, client, count):
        for _ in range(count):
            arrivals.append((name, await client.frame(timeout=30)))

    await asyncio.gather(collect("flooder", flooder, FLOOD), collect("other", other, 1))

    replies = {frame["id"]: frame for name, frame in arrivals if name == "flooder"}
    assert sorted(replies) == list(range(1, FLOOD + 1))  # each request answered, once
    carried_out = [i for i, frame in replies.items() if frame["status"] == "success"]
    refused = [frame for frame in replies.values() if frame["status"] == "error"]
    assert len(carried_out) >= protocol.MAX_REQUESTS_IN_FLIGHT
    assert {frame["errorMsg"] for frame in refused} == {protocol.TOO_MANY_REQUESTS}
    assert tasks_during <= protocol.MAX_REQUESTS_IN_FLIGHT + 5  # what waits is bounded, not one task per frame
    other_at = next(i for i, (name, _) in enumerate(arrivals) if name == "other")
    assert arrivals[other_at][1]["status"] == "success" and arrivals[other_at][1]["data"]["status"] == "free"
    # Its request waited behind those in flight when it came, not behind the flood (the two connections' frames
    # are read from two queues, so their order here is only nearly the order they were sent in).
    served_before_other = sum(1 for name, frame in arrivals[:other_at] if frame["status"] == "success")
    assert served_before_other <= 2 * protocol.MAX_REQUESTS_IN_FLIGHT
    # Once its replies are in, the flooding connection is served again as usual.
    assert (await flooder.call("Agent.getStatus"))["status"] == "success"

