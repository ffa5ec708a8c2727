"""The Redis channel layer's group send (workbench/redis_layer.py) against a real Redis: what channels-redis's
own does (every member once, full channels skipped, expired messages and members dropped), in two round trips."""
import asyncio
import itertools
import time

import pytest

from workbench.redis_layer import ResilientRedisChannelLayer

from .waits import assert_nothing_arrives

pytestmark = pytest.mark.peer

_prefixes = itertools.count()


@pytest.fixture
async def layer(redis):
    layer = ResilientRedisChannelLayer(hosts=[redis.url], prefix=f"test{next(_prefixes)}", capacity=2, expiry=30,
                                       group_expiry=3600)
    yield layer
    for watcher in layer.watchers.values():
        watcher.cancel()
    await layer.flush()
    await layer.close_pools()


async def received(layer, channel):
    return await asyncio.wait_for(layer.receive(channel), 2)


async def nothing_for(layer, channel) -> None:
    await assert_nothing_arrives(lambda: layer.receive(channel), within=0.3, what=f"a message on {channel}")


async def test_a_group_message_reaches_every_member_once_in_two_round_trips(layer, monkeypatch):
    """Two channels of this process (one Redis key for both) and a plain channel."""
    first, second = await layer.new_channel(), await layer.new_channel()
    for channel in (first, second, "plain"):
        await layer.group_add("agent-1", channel)
    await layer.group_add("warm-up", "plain-2")
    await layer.group_send("warm-up", {"type": "warm.up"})  # Redis learns the script (SCRIPT LOAD) once
    redis, commands = layer.connection(0), []
    real_execute = redis.execute_command

    async def execute(*args, **options):
        commands.append(args[0])
        return await real_execute(*args, **options)

    monkeypatch.setattr(redis, "execute_command", execute)
    await layer.group_send("agent-1", {"type": "event.callin", "n": 1})
    assert commands == ["ZRANGE", "EVALSHA"]
    monkeypatch.undo()
    for channel in (first, second, "plain"):
        assert await received(layer, channel) == {"type": "event.callin", "n": 1}
    for channel in (first, second, "plain"):
        await nothing_for(layer, channel)


async def test_a_full_channel_misses_the_message_and_the_others_get_it(layer):
    for channel in ("full", "free"):
        await layer.group_add("agent-2", channel)
    await layer.send("full", {"type": "old.one"})
    await layer.send("full", {"type": "old.two"})  # capacity 2
    await layer.group_send("agent-2", {"type": "event.new"})
    assert await received(layer, "free") == {"type": "event.new"}
    assert [(await received(layer, "full"))["type"] for _ in range(2)] == ["old.one", "old.two"]
    await nothing_for(layer, "full")


async def test_expired_messages_make_room_and_stale_members_leave(layer):
    redis = layer.connection(0)
    long_ago = time.time() - 100  # past the 30 s message expiry
    await redis.zadd(layer.prefix + "stuck", {b"expired-1": long_ago, b"expired-2": long_ago})
    await layer.group_add("agent-3", "stuck")
    group_key = layer._group_key("agent-3")
    await redis.zadd(group_key, {"gone": time.time() - 7200})  # joined past the 1 h group expiry
    await layer.group_send("agent-3", {"type": "event.new"})
    assert await received(layer, "stuck") == {"type": "event.new"}
    assert await redis.zrange(group_key, 0, -1) == [b"stuck"]
