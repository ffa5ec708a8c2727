"""Memory per connected idle agent: daphne's RSS before and after N agents connect and settle, divided by N.

One agent connects first and stays (so code loaded on the first connection is in the baseline), then N
agents connect in two halves; after each half the server is left alone for a few seconds before its VmRSS
is read. The second half's growth per agent is printed too: it excludes one-time growth (pools, caches)
and shows whether the cost is linear. Target: <= 200 KB per agent.

    .venv/bin/python bench/idle_memory.py [-n 500] [--settle 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio

from harness import live_server, make_agents, open_many, open_sdk, rss_kb, run_benchmark, verdict

TARGET_KB = 200


async def settled_rss(pid: int, settle: float) -> int:
    await asyncio.sleep(settle)
    return rss_kb(pid)


async def measure(live, count: int, settle: float) -> dict:
    pid = live.process.pid
    warm, *agents = make_agents(live, count + 1, kinds=("phone", "im"), prefix="idle")
    first = await open_sdk(live, warm["userId"], warm["token"])
    before = await settled_rss(pid, settle)
    half = count // 2
    sockets = await open_many(live, agents[:half])
    middle = await settled_rss(pid, settle)
    sockets += await open_many(live, agents[half:])
    after = await settled_rss(pid, settle)
    for sdk in [first, *sockets]:
        await sdk.ws.close()
    return {"agents": count, "rssBeforeKb": before, "rssMiddleKb": middle, "rssAfterKb": after,
            "perAgentKb": (after - before) / count, "secondHalfPerAgentKb": (after - middle) / (count - half)}


def report(result: dict) -> None:
    print(f"daphne VmRSS: {result['rssBeforeKb'] / 1024:.1f} MiB with 1 agent, "
          f"{result['rssMiddleKb'] / 1024:.1f} MiB with {1 + result['agents'] // 2}, "
          f"{result['rssAfterKb'] / 1024:.1f} MiB with {1 + result['agents']}")
    print(f"per idle agent: {result['perAgentKb']:.1f} KB over all {result['agents']} "
          f"({result['secondHalfPerAgentKb']:.1f} KB over the second half)   "
          f"{verdict(result['perAgentKb'], TARGET_KB)} (<= {TARGET_KB} KB)")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--agents", dest="count", type=int, default=500,
                        help="idle agents to connect (default 500)")
    parser.add_argument("--settle", type=float, default=5, help="seconds to wait before reading RSS (default 5)")
    return run_benchmark(parser, live_server, measure, report)


if __name__ == "__main__":
    main()
