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
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

UNREACHABLE = (RedisError, OSError)
# The marker expires now and then even with Redis up, and the groups are re-joined then: harmless (joining is
# idempotent), and no process leaves a key behind for long.
MARKER_TTL = 600


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
            await super().group_send(group, message)
        except UNREACHABLE as error:
            log.warning("Redis unreachable: %s to group %s dropped (%s)", message.get("type"), group, error)

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
