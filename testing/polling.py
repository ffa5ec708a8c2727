"""Waiting for a state that no event announces (what a peer hears, a frame size), with a deadline: the media
tests and the media benchmarks poll the same way."""
from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], timeout: float = 5, what: str = "") -> None:
    """Wait for `condition()` to hold; past `timeout` seconds raise TimeoutError naming `what` (or the condition).

    TimeoutError, not AssertionError: a benchmark catches it as a load that did not fit, a test fails on it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"still not true after {timeout} s: {what or condition}")
        await asyncio.sleep(0.01)
