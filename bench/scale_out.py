"""callIn latency and throughput over several web processes, on PostgreSQL and Redis.

1,000 agents (skill group "Phone support", wrap-up 0) are spread evenly over N daphne processes of one contact
center; sessions arrive open-loop through `POST /api/sessions` at 100/s for 20 s, round-robin over the processes
as a balancer would send them, so most callIns cross from one process to another through Redis. Every agent
that gets a callIn accepts it and hangs up. The run is made with one process and with two (each on a fresh
database), and the ratio of their throughputs (sessions created, offered, accepted and hung up per second) is
printed. Targets: callIn p99 <= 100 ms across processes; two processes >= 1.6x one where the cores allow.

PostgreSQL and Redis are Debian's, started here on free ports (tests/postgres_server.py, tests/redis_server.py),
and share the machine's cores with daphne and this load generator: the CPU line says who used what.

    .venv/bin/python bench/scale_out.py [--agents 1000] [--rate 100] [--seconds 20] [--processes 1,2] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio

from callin_latency import run_load
from harness import MACHINE_NOTE, emit_json, format_ms, make_agents, open_many, verdict

from tests.cluster import Cluster
from tests.postgres_server import PostgresServer
from tests.redis_server import RedisServer

P99_TARGET_MS = 100
RATIO_TARGET = 1.6


async def measure(cluster: Cluster, agent_count: int, rate: float, seconds: float) -> dict:
    processes = len(cluster.servers)
    agents = make_agents(cluster[0], agent_count, kinds=("phone",), wrap_up=0, prefix="scale")
    sockets = []
    for index, server in enumerate(cluster.servers):
        sockets += await open_many(server, agents[index::processes])
    print(f"{processes} process(es): {agent_count} agents connected, "
          f"{agent_count // processes} per process; sessions arrive now", flush=True)
    return {"processes": processes, **await run_load(cluster.servers, sockets, rate, seconds)}


def report(result: dict) -> None:
    requested = round(result["rate"] * result["seconds"])
    print(f"\n{result['processes']} web process(es), {result['agents']} agents, {result['rate']:g} sessions/s for "
          f"{result['seconds']:g} s: {requested} POSTs, {result['created']} created, {result['offered']} offered, "
          f"{result['hungUp']} accepted and hung up")
    if result["postFailures"]:
        print(f"POSTs failed: {result['postFailures']} {result['failureKinds']}")
    if result["agentErrors"]:
        print(f"agent request errors (most common): {result['agentErrors']}")
    cpu = result["cpu"]
    print(f"CPU meanwhile (cores): daphne {cpu['serverCores']:.2f} (all processes), this client "
          f"{cpu['clientCores']:.2f}, PostgreSQL, Redis and anything else {cpu['otherCores']:.2f}")
    if result["serverCpuMsPerSession"]:
        print(f"daphne CPU per session (create, offer, accept, hang up): {result['serverCpuMsPerSession']:.1f} ms")
    print(f"throughput: {result['throughput']:.1f} sessions/s completed (offered {result['rate']:g}/s)")
    if result["callIn"]:
        print(f"POST -> callIn  {format_ms(result['callIn'])}   p99 {verdict(result['callIn']['p99'], P99_TARGET_MS)} "
              f"(<= {P99_TARGET_MS} ms)")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000, help="connected agents (default 1000)")
    parser.add_argument("--rate", type=float, default=100, help="new sessions per second (default 100)")
    parser.add_argument("--seconds", type=float, default=20, help="how long sessions arrive (default 20)")
    parser.add_argument("--processes", default="1,2", help="the process counts to run, comma-separated")
    parser.add_argument("--json", help="also write the figures to this file as JSON")
    args = parser.parse_args()
    print(MACHINE_NOTE.replace("(daphne, one process)", "(daphne processes, PostgreSQL, Redis)"))
    postgres, redis = PostgresServer().start(), RedisServer().start()
    results = {}
    try:
        for processes in (int(n) for n in args.processes.split(",")):
            cluster = Cluster(postgres, redis, processes=processes).start()
            try:
                results[processes] = asyncio.run(measure(cluster, args.agents, args.rate, args.seconds))
            finally:
                cluster.stop()
            report(results[processes])
    finally:
        redis.stop()
        postgres.stop()
    if 1 in results and 2 in results and results[1]["throughput"]:
        ratio = results[2]["throughput"] / results[1]["throughput"]
        print(f"\nthroughput two processes / one: {ratio:.2f}x ({verdict(-ratio, -RATIO_TARGET)}: >= {RATIO_TARGET}x)")
        if results[1]["throughput"] >= 0.97 * args.rate:
            print("one process already kept up with the offered rate: the ratio cannot exceed 1 at this rate")
    emit_json(args.json, {str(n): r for n, r in results.items()})
    return results


if __name__ == "__main__":
    main()
