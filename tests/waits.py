"""Waiting to prove that nothing arrives: the one place tests wait a fixed time.

Anything that comes is awaited with a deadline and ends the wait at once. An absence has no event to await, so
it is proved by listening for a while; `QUIET` is how long, chosen once here: on this machine what a test provokes
arrives within tens of milliseconds, so ten times that is long enough to catch it and short enough to repeat.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

QUIET = 0.2  # seconds


async def assert_nothing_arrives(receive: Callable[[], Awaitable], *, within: float = QUIET,
                                 what: str = "something") -> None:
    """Listen with `receive()` (the next frame, message, packet...) for `within` seconds; fail if it returns."""
    try:
        arrived = await asyncio.wait_for(receive(), within)
    except asyncio.TimeoutError:
        return
    raise AssertionError(f"{what} arrived within {within} s: {arrived!r}")
