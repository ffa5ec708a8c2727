"""One connection's flood of requests: every request is answered, what waits stays bounded, and another
connection's request is not queued behind the flood."""
import asyncio
import json

import pytest

from sessions_app.domain import protocol

pytestmark = pytest.mark.service

FLOOD = 2000


async def drained(communicator, timeout: float = 10) -> None:
    """Wait until the consumer has taken every frame sent to it (the test communicator's input queue is empty)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not communicator.input_queue.empty():
        assert asyncio.get_running_loop().time() < deadline, "the consumer did not read the flood in time"
        await asyncio.sleep(0)


def ready_frames(client) -> list[dict]:
    """The frames the server has sent this client so far, taken without waiting."""
    frames = []
    while not client.communicator.output_queue.empty():
        frames.append(json.loads(client.communicator.output_queue.get_nowait()["text"]))
    return frames


async def test_a_flood_of_requests_is_answered_in_full_and_does_not_hold_up_another_connection(sdk):
    flooder, other = await sdk("agent1@demo"), await sdk("agent2@demo")
    tasks_before = len(asyncio.all_tasks())
    for request_id in range(1, FLOOD + 1):
        await flooder.communicator.send_to(text_data=json.dumps(
            {"id": request_id, "method": "Agent.getStatus", "params": {}}))
    await drained(flooder.communicator)
    tasks_during = len(asyncio.all_tasks()) - tasks_before
    # Every frame is read: the excess is refused, at most MAX_REQUESTS_IN_FLIGHT wait for the database.
    before = ready_frames(flooder)
    await other.communicator.send_to(text_data=json.dumps({"id": "other", "method": "Agent.getStatus", "params": {}}))
    answer = await other.frame(timeout=30)
    # Its request waited behind those in flight when it came, not behind the flood: what the flooder was served
    # meanwhile is at most those (read off the flooder's own queue: no order between two queues is assumed).
    meanwhile = ready_frames(flooder)
    assert sum(1 for frame in meanwhile if frame["status"] == "success") <= protocol.MAX_REQUESTS_IN_FLIGHT
    assert answer["id"] == "other" and answer["status"] == "success" and answer["data"]["status"] == "free"

    frames = before + meanwhile
    while len(frames) < FLOOD:
        frames.append(await flooder.frame(timeout=30))
    replies = {frame["id"]: frame for frame in frames}
    assert sorted(replies) == list(range(1, FLOOD + 1))  # each request answered, once
    carried_out = [i for i, frame in replies.items() if frame["status"] == "success"]
    refused = [frame for frame in replies.values() if frame["status"] == "error"]
    assert len(carried_out) >= protocol.MAX_REQUESTS_IN_FLIGHT
    assert {frame["errorMsg"] for frame in refused} == {protocol.TOO_MANY_REQUESTS}
    assert tasks_during <= protocol.MAX_REQUESTS_IN_FLIGHT + 5  # what waits is bounded, not one task per frame
    # Once its replies are in, the flooding connection is served again as usual.
    assert (await flooder.call("Agent.getStatus"))["status"] == "success"

