"""A hundred bridged calls through one engine leave nothing behind: threads, descriptors, tasks, objects, memory.

Every leg owns a peer connection with UDP sockets, RTCP tasks, a `Tap` task and, for video, a decoder thread
and the executor's encoding: any of them outliving its call would wear a long-running media process down. The
process (engine and peers alike) is measured after a warm-up (codec libraries, allocator arenas are set up
once), then after the hundred calls.

Memory is judged three ways, because RSS alone cannot tell a leak from the allocators' free pages:
- objects the garbage collector tracks (a leaked leg keeps hundreds: its connection, tracks, tasks);
- bytes glibc's malloc has handed out and not had back (`mallinfo2`), where codec contexts, SRTP sessions and
  frames live: measured +0.1 MB over the hundred calls here, and flat (±2 KB) from 100 to 600 calls;
- RSS after `malloc_trim`, which still grows ~8 MB over the hundred calls under pytest: Python's 1 MB object
  arenas and the allocator's per-thread arenas keep pages that hold a few live objects. It levels off (a
  script outside pytest: 102.5 MB after 100 calls, 104.6-104.7 MB from 200 to 600 calls), so the tolerance
  here only catches gross leaks; the two counts above catch the rest.
"""
import asyncio
import ctypes
import gc
import os
import threading
from pathlib import Path

import pytest

from sessions_app.media.engine import MediaEngine
from testing.peers import Peer

from .test_media_engine import AGENT_HZ, CUSTOMER_HZ, hangs_up, join, near, plan, until

pytestmark = pytest.mark.service

CALLS, AT_ONCE, WARM_UP = 100, 5, 20
EXECUTOR_PREFIX = "asyncio_"  # threads of the loop's default executor, where aiortc encodes: a bounded pool
OBJECTS_NOISE = 200
MALLOC_NOISE_KB = 2 * 1024
RSS_NOISE_KB = 20 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]


def memory_kb() -> tuple[int | None, int]:
    """(malloc'd bytes in use, RSS after trimming), in KB; the first is None off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        libc.malloc_trim(0)
        in_use = (info.uordblks + info.hblkhd) // 1024
    except (OSError, AttributeError):
        in_use = None
    rss = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return in_use, rss


def resources() -> dict:
    gc.collect()
    threads = [t.name for t in threading.enumerate()]
    malloc, rss = memory_kb()
    return {"threads": sorted(name for name in threads if not name.startswith(EXECUTOR_PREFIX)),
            "executor": sum(name.startswith(EXECUTOR_PREFIX) for name in threads),
            "fds": len(os.listdir("/proc/self/fd")), "tasks": len(asyncio.all_tasks()),
            "objects": len(gc.get_objects()), "malloc": malloc, "rss": rss}


async def one_call(engine: MediaEngine, number: int) -> None:
    """A customer queues, an agent is bridged, both hear each other for ~0.3 s, the call ends."""
    codec = ("audio/opus", "audio/PCMU")[number % 2]
    customer, agent = Peer(CUSTOMER_HZ, codec), Peer(AGENT_HZ, codec)
    call_id = f"call{number}"
    try:
        offered = {"a": "customer", "ringing": "agent"}
        await join(engine, call_id, "customer", customer, plan=offered)
        await join(engine, call_id, "agent", agent, plan=offered)
        await plan(engine, call_id, a="customer", b="agent")
        await until(lambda: near(customer.ear.hears(0.1), AGENT_HZ) and near(agent.ear.hears(0.1), CUSTOMER_HZ))
        heard = customer.ear.frames, agent.ear.frames
        await until(lambda: customer.ear.frames >= heard[0] + 15 and agent.ear.frames >= heard[1] + 15)
        assert await engine.perform("end_call", {"call_id": call_id}) == {"ended": True}
        # the bridge hangs up first, so what is measured is what the engine frees, not what the peers do
        await until(lambda: hangs_up(customer) and hangs_up(agent), what="the peers see the call end")
    finally:
        await customer.close()
        await agent.close()


async def calls(engine: MediaEngine, first: int, count: int) -> None:
    for start in range(first, first + count, AT_ONCE):
        await asyncio.gather(*(one_call(engine, n) for n in range(start, min(start + AT_ONCE, first + count))))


async def test_a_hundred_bridged_calls_leave_nothing_behind():
    engine = MediaEngine(["127.0.0.1"])
    await calls(engine, 0, WARM_UP)
    await until(lambda: len(asyncio.all_tasks()) == 1, what="the warm-up calls' tasks end")
    warm = resources()
    await calls(engine, WARM_UP, CALLS)
    await until(lambda: len(asyncio.all_tasks()) == 1, what="the calls' tasks end")
    after = resources()
    assert await engine.perform("stats", {}) == {"calls": {}}
    assert after["threads"] == warm["threads"]  # no decoder thread outlives its leg
    assert after["executor"] <= min(32, (os.cpu_count() or 1) + 4)  # ThreadPoolExecutor's own bound
    assert after["fds"] <= warm["fds"]
    assert after["objects"] - warm["objects"] <= OBJECTS_NOISE, (warm, after)
    if warm["malloc"] is not None:
        assert after["malloc"] - warm["malloc"] <= MALLOC_NOISE_KB, (warm, after)
    assert after["rss"] - warm["rss"] <= RSS_NOISE_KB, (warm, after)
