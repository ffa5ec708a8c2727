"""What a long web chat queue costs: the `queued` frames (places in the queue) the server sends as N visitors
join it and some leave, daphne's CPU for it, and its memory before, during and after.

One agent of the chat group is online but resting, so every chat waits. N visitors (a socket each) start a chat
one after the other; then the last K (the tail, newest first: nobody waits behind them) end theirs, then the first
K (the head: everyone behind moves up); then the others end theirs, newest first, every visitor leaves, and daphne
is left alone before its RSS is read. With --waves W, N more visitors come, start, end and leave W-1 times, and
daphne's RSS is read after each wave: memory freed and reused stays flat, a leak grows by wave.

    .venv/bin/python bench/queue_positions.py [-n 300] [-k 10] [--waves 1] [--settle 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

from harness import cpu_seconds, live_server, make_agents, open_sdk, rss_kb, run_benchmark
from websockets.asyncio.client import connect


class Visitor:
    """One chat widget's socket: requests with their replies, and a count of the `queued` frames it got."""

    def __init__(self, ws):
        self.ws, self.queued, self.replies, self.ids = ws, 0, {}, itertools.count(1)
        self.reader = asyncio.get_running_loop().create_task(self.read())

    async def read(self):
        async for text in self.ws:
            frame = json.loads(text)
            if frame.get("event") == "queued":
                self.queued += 1
            elif frame.get("type") == "reply" and frame.get("id") in self.replies:
                self.replies.pop(frame["id"]).set_result(frame)

    async def request(self, action: str, **fields) -> dict:
        request_id = next(self.ids)
        self.replies[request_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"id": request_id, "action": action, **fields}))
        reply = await asyncio.wait_for(self.replies[request_id], 60)
        if reply["status"] != "success":
            raise RuntimeError(f"{action} refused: {reply}")
        return reply


async def open_visitor(live) -> Visitor:
    uri = f"ws://127.0.0.1:{live.port}/ws/visitor/?sdkAppId={live.demo['SdkAppId']}"
    ws = await connect(uri, origin=live.url, compression=None, ping_interval=None, open_timeout=60, max_queue=None)
    json.loads(await asyncio.wait_for(ws.recv(), 30))
    return Visitor(ws)


async def settled(visitors: list[Visitor], quiet: float = 1.0) -> int:
    """The `queued` frames received once none has arrived for `quiet` seconds."""
    total = -1
    while total != sum(v.queued for v in visitors):
        total = sum(v.queued for v in visitors)
        await asyncio.sleep(quiet)
    return total


async def phase(live, visitors: list[Visitor], act) -> dict:
    before = await settled(visitors)
    cpu, started = cpu_seconds(live.process.pid), time.monotonic()
    await act()
    elapsed = time.monotonic() - started
    frames = await settled(visitors) - before
    return {"frames": frames, "seconds": round(elapsed, 2), "daphneCpuSeconds": cpu_seconds(live.process.pid) - cpu}


async def measure(live, count: int, edge: int, settle: float, waves: int) -> dict:
    pid = live.process.pid
    (agent,) = make_agents(live, 1, kinds=("im",), prefix="queue")
    sdk = await open_sdk(live, agent["userId"], agent["token"])
    await sdk.ws.send(json.dumps({"id": 1, "method": "Agent.setStatus", "params": {"status": "rest"}}))
    await asyncio.sleep(settle)
    rss = {"before": rss_kb(pid)}
    visitors = [await open_visitor(live) for _ in range(count)]

    async def fill():
        for visitor in visitors:
            await visitor.request("start", nickname="Ann")

    async def leave(group):
        for visitor in group:
            await visitor.request("end")

    result = {"visitors": count, "edge": edge, "join": await phase(live, visitors, fill)}
    rss["queued"] = rss_kb(pid)
    result["tailLeaves"] = await phase(live, visitors, lambda: leave(visitors[:-edge - 1:-1]))
    result["headLeaves"] = await phase(live, visitors, lambda: leave(visitors[:edge]))
    await leave(visitors[-edge - 1:edge - 1:-1])  # newest first: nobody is left behind to move up
    for visitor in visitors:
        await visitor.ws.close()
    await asyncio.sleep(settle)
    rss["after"] = [rss_kb(pid)]
    for _ in range(waves - 1):  # the same again: memory that is reused does not grow
        visitors = [await open_visitor(live) for _ in range(count)]
        await fill()
        await leave(visitors[::-1])
        for visitor in visitors:
            await visitor.ws.close()
        await asyncio.sleep(settle)
        rss["after"].append(rss_kb(pid))
    await sdk.ws.close()
    result["rssKb"] = rss
    return result


def report(result: dict) -> None:
    n, k = result["visitors"], result["edge"]
    for name, what, changes in (("join", f"{n} visitors joining", n), ("tailLeaves", f"the last {k} leaving", k),
                                ("headLeaves", f"the first {k} leaving", k)):
        figures = result[name]
        print(f"{what}: {figures['frames']} queued frames ({figures['frames'] / changes:.1f} per change) in "
              f"{figures['seconds']} s, daphne CPU {figures['daphneCpuSeconds']:.2f} s")
    rss = result["rssKb"]
    after = ", ".join(f"{kb / 1024:.1f}" for kb in rss["after"])
    print(f"daphne VmRSS: {rss['before'] / 1024:.1f} MiB before, {rss['queued'] / 1024:.1f} MiB with {n} chats "
          f"waiting, after all ended and left (each wave): {after} MiB")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--visitors", dest="count", type=int, default=300,
                        help="chats waiting in the queue (default 300)")
    parser.add_argument("-k", "--edge", type=int, default=10, help="chats leaving at each end (default 10)")
    parser.add_argument("--waves", type=int, default=1, help="times N visitors come and go (default 1)")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait before reading RSS (default 5)")
    return run_benchmark(parser, live_server, measure, report)


if __name__ == "__main__":
    main()
