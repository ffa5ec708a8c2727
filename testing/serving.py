"""A test server's life as a block: `with running(RedisServer()) as redis:` starts it and stops it on the way
out, whatever happened inside (a failing test, an interrupt), so that no server outlives the tests that used it.

Every server here (`LiveServer`, `PostgresServer`, `RedisServer`, a test's page or TURN server) has `start()` and
`stop()`; pytest fixtures yield from inside this block.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

Server = TypeVar("Server")


@contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
