"""channels-redis's layer, made to ride out a Redis restart without restarting the web process.

Three things go wrong when Redis restarts under a running process, and each is handled here:
- pooled connections are stale: every command retries on a fresh connection (redis-py's own `Retry`,
  configured in settings), so the first command after the restart does not fail;
- while Redis is down, `receive` fails: it waits and tries again with backoff instead of raising, so the
  websocket consumers (and media workers) blocked in it live on instead of closing every agent's socket;
  `group_send` (events are fire-and-forget broadcasts) logs and drops instead of failing the request whose
  commit triggered it;
- a Redis without persistence comes back empty, group memberships included: the layer remembers the groups
  its own connections joined and a watcher re-joins them when a marker key it keeps in Redis has gone.

Nothing here stands in for Redis: messages still only travel through it, and while it is down they are lost,
as channels-redis loses them; what the layer keeps is the list of this process's live memberships.

`group_send` (every event an agent gets is one) takes two round trips to Redis instead of channels-redis's
four: its clean-ups of expired messages and members run inside the script that adds the message, which is
sent by hash (EVALSHA), not as text each time. The stored data and what receivers do are channels-redis's.
Measured with 1,000 agents on one process: ~8 ms of daphne's ~29 ms of CPU per session went to Redis.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict

from channels_redis.core import RedisChannelLayer
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisError, OSError)
# The marker expires now and then even with Redis up, and the groups are re-joined then: harmless (joining is
# idempotent), and no process leaves a key behind for long.
MARKER_TTL = 600

# KEYS: the channels' keys of one Redis, then the group's key if the group lives there too. ARGV: how many
# channel keys, each key's message, each key's capacity, now, message expiry, group expiry. Per channel what
# channels-redis does in three round trips: drop expired messages, add the message unless at capacity, renew
# the key's expiry; then drop the group's members older than the group expiry. Returns how many were full.
GROUP_SEND_LUA = """
local count = tonumber(ARGV[1])
local now = tonumber(ARGV[2 * count + 2])
local expiry = tonumber(ARGV[2 * count + 3])
local over_capacity = 0
for i = 1, count do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, math.floor(now) - expiry)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[count + 1 + i]) then
        redis.call('ZADD', KEYS[i], ARGV[2 * count + 2], ARGV[1 + i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
if #KEYS > count then
    redis.call('ZREMRANGEBYSCORE', KEYS[#KEYS], 0, math.floor(now) - tonumber(ARGV[2 * count + 4]))
end
return over_capacity
"""
GROUP_SEND = AsyncScript(None, GROUP_SEND_LUA.encode())  # run on the Redis given with each call


class ResilientRedisChannelLayer(RedisChannelLayer):
    WATCH_EVERY = 1.0  # seconds between checks that Redis still holds this process's memberships
    RETRY_CAP = 2.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.memberships: dict[str, set[str]] = defaultdict(set)  # group → this process's channels in it
        self.watchers: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}
        self.marked = False  # the marker was set once: from then on a missing marker means Redis forgot

    @property
    def marker(self) -> str:
        return f"{self.prefix}:alive:{self.client_prefix}"

    async def receive(self, channel):
        delay = 0.05
        while True:
            try:
                return await super().receive(channel)
            except UNREACHABLE as error:
                log.warning("Redis unreachable while receiving on %s (%s); retrying in %.2f s", channel, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.RETRY_CAP)

    async def group_add(self, group, channel):
        self.memberships[group].add(channel)
        self._watch()
        await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        members = self.memberships.get(group)
        if members is not None:
            members.discard(channel)
            if not members:
                del self.memberships[group]
        await super().group_discard(group, channel)

    async def group_send(self, group, message):
        try:
            await self._send_to_members(group, message)
        except UNREACHABLE as error:
            log.warning("Redis unreachable: %s to group %s dropped (%s)", message.get("type"), group, error)

    async def _send_to_members(self, group, message):
        assert self.require_valid_group_name(group), "Group name not valid"
        group_key, group_index = self._group_key(group), self.consistent_hash(group)
        members = [name.decode("utf8") for name in await self.connection(group_index).zrange(group_key, 0, -1)]
        keys_by_index, messages, capacities = self._map_channel_keys_to_connection(members, message)
        for index, keys in keys_by_index.items():
            args = [len(keys), *(messages[key] for key in keys), *(capacities[key] for key in keys),
                    time.time(), int(self.expiry), self.group_expiry]
            own_keys = keys + [group_key] if index == group_index else keys
            full = await GROUP_SEND(keys=own_keys, args=args, client=self.connection(index))
            if full:
                log.info("%s of %s channels over capacity in group %s", full, len(members), group)

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        if loop not in self.watchers or self.watchers[loop].done():
            self.watchers[loop] = loop.create_task(self._keep_memberships())

    async def _keep_memberships(self) -> None:
        while True:
            try:
                await self.rejoin_if_forgotten()
            except UNREACHABLE as error:
                log.warning("Redis unreachable while checking memberships (%s)", error)
            await asyncio.sleep(self.WATCH_EVERY)

    async def rejoin_if_forgotten(self) -> int:
        """Re-join every group this process's connections are in when Redis lost them (the marker is gone);
        returns how many memberships were re-joined."""
        rejoined = 0
        for index in range(self.ring_size):
            connection = self.connection(index)
            if await connection.exists(self.marker):
                continue
            for group, channels in list(self.memberships.items()):
                if self.consistent_hash(group) != index:
                    continue
                for channel in list(channels):
                    await super().group_add(group, channel)
                    rejoined += 1
            await connection.set(self.marker, "1", ex=MARKER_TTL)
        if rejoined and self.marked:
            log.warning("Redis had forgotten this process's groups: %d memberships re-joined", rejoined)
        self.marked = True
        return rejoined
