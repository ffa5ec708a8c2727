"""The one wait for an absence (tests/waits.py) fails when something comes and passes after its quiet time."""
import asyncio

import pytest

from .waits import assert_nothing_arrives

pytestmark = pytest.mark.unit


async def test_something_that_comes_fails_the_wait_naming_it():
    queue = asyncio.Queue()
    asyncio.get_running_loop().call_later(0.01, queue.put_nowait, {"event": "callIn"})
    with pytest.raises(AssertionError, match=r"a callIn arrived within 0.5 s: \{'event': 'callIn'\}"):
        await assert_nothing_arrives(queue.get, within=0.5, what="a callIn")


async def test_silence_passes_after_the_quiet_time():
    loop = asyncio.get_running_loop()
    started = loop.time()
    await assert_nothing_arrives(asyncio.Queue().get, within=0.05)
    assert loop.time() - started >= 0.05
