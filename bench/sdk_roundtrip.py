"""SDK request round trip: one agent, sequential JSON-RPC requests over its websocket, p50/p99/max in ms.

Two sets: N `Agent.getStatus` (a read), then N `Agent.setStatus` alternating rest/free (writes; going free
also runs the ACD over the agent's skill groups). Each request is sent only after the previous reply came,
so the figure is pure latency: frame in, service call, reply out. Target: p50 <= 5 ms, p99 <= 25 ms.

    .venv/bin/python bench/sdk_roundtrip.py [-n 2000] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time

from harness import (CpuWatch, format_cpu, format_ms, live_server, make_agents, open_sdk, run_benchmark,
                     summary_ms, verdict)

P50_TARGET_MS, P99_TARGET_MS = 5, 25


async def round_trips(sdk, requests: list[tuple[str, dict]]) -> list[float]:
    """Send each request after the previous reply; return the round trip times in seconds."""
    times = []
    for request_id, (method, params) in enumerate(requests, start=1):
        frame = json.dumps({"id": request_id, "method": method, "params": params})
        started = time.perf_counter()
        await sdk.ws.send(frame)
        while True:
            reply = json.loads(await sdk.ws.recv())
            if reply.get("type") == "reply" and reply.get("id") == request_id:
                break
        times.append(time.perf_counter() - started)
        if reply["status"] != "success":
            raise RuntimeError(f"{method} failed: {reply}")
    return times


async def measure(live, count: int) -> dict:
    [agent] = make_agents(live, 1, kinds=("phone", "im"), prefix="rtt")
    sdk = await open_sdk(live, agent["userId"], agent["token"])
    try:
        await round_trips(sdk, [("Agent.getStatus", {})] * 100)  # warm-up: imports, caches, first queries
        cpu = CpuWatch(live.process.pid)
        get_status = summary_ms(await round_trips(sdk, [("Agent.getStatus", {})] * count))
        alternating = [("Agent.setStatus", {"status": "rest" if i % 2 == 0 else "free"}) for i in range(count)]
        set_status = summary_ms(await round_trips(sdk, alternating))
        cpu_used = cpu.report()
    finally:
        await sdk.ws.close()
    return {"getStatus": get_status, "setStatus": set_status, "cpu": cpu_used}


def report(result: dict) -> None:
    for name in ("getStatus", "setStatus"):
        stats = result[name]
        print(f"Agent.{name:<10} {format_ms(stats)}   "
              f"p50 {verdict(stats['p50'], P50_TARGET_MS)} (<= {P50_TARGET_MS} ms), "
              f"p99 {verdict(stats['p99'], P99_TARGET_MS)} (<= {P99_TARGET_MS} ms)")
    print(format_cpu(result["cpu"]))


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--requests", dest="count", type=int, default=2000,
                        help="requests per set (default 2000)")
    return run_benchmark(parser, live_server, measure, report)


if __name__ == "__main__":
    main()
