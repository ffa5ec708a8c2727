"""callIn latency and throughput over several web processes, on PostgreSQL and Redis.

1,000 agents (skill group "Phone support", wrap-up 0) are spread evenly over N daphne processes of one contact
center; sessions arrive open-loop through `POST /api/sessions` at 100/s for 20 s, round-robin over the processes
as a balancer would send them, so most callIns cross from one process to another through Redis. Every agent
that gets a callIn accepts it and hangs up. The run is made with one process and with two (each on a fresh
database), and the ratio of their throughputs (sessions created, offered, accepted and hung up per second) is
printed. Targets: callIn p99 <= 100 ms across processes; two processes >= 1.6x one where the cores allow.

PostgreSQL and Redis are Debian's, started here on free ports (testing/postgres_server.py, testing/redis_server.py),
and share the machine's cores with daphne and this load generator: the CPU line says who used what.

`--nginx` puts Debian's nginx with deploy/nginx.conf in front, as deployed (docs/deploy.md): agents log in and
sessions are POSTed through it over https/wss, and nginx spreads them round-robin (its CPU counts as "anything
else"). Without it the load generator spreads them itself, straight to the processes.

`--find` looks for each process count's capacity instead: the highest rate at which every session is created,
offered, accepted and hung up and callIn p99 stays within the target (raising the rate by half while it does,
then narrowing the gap), each step on a fresh set of processes and database, and prints the ratio of the two
capacities, which is what "two processes >= 1.6x one" asks where one rate overloads both or neither.

    .venv/bin/python bench/scale_out.py [--agents 1000] [--rate 100] [--seconds 20] [--processes 1,2] [--nginx]
                                        [--json out.json]
    .venv/bin/python bench/scale_out.py --find [--seconds 15]    # ~20 minutes
"""
from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from callin_latency import report_outcome, requested, run_load
from harness import MACHINE_NOTE, emit_json, format_ms, make_agents, open_many, verdict

from testing.cluster import Cluster
from testing.nginx import Certificate, Nginx
from testing.postgres_server import PostgresServer
from testing.redis_server import RedisServer

P99_TARGET_MS = 100
RATIO_TARGET = 1.6
LOGIN_WAVE = 20  # agents logged in on one process before the next process's turn


async def measure(cluster: Cluster, agent_count: int, rate: float, seconds: float, nginx: Nginx | None = None) -> dict:
    processes = len(cluster.servers)
    agents = make_agents(cluster[0], agent_count, kinds=("phone",), wrap_up=0, prefix="scale")
    if nginx:
        sockets = await open_many(nginx, agents)
        print(f"{processes} process(es) behind nginx: {agent_count} agents connected; sessions arrive now", flush=True)
        result = await run_load(cluster.servers, sockets, rate, seconds, balancer=nginx)
        return {"processes": processes, "nginx": True, **result, "centerCpuMsPerSession": center_cpu_ms(result)}
    sockets = []
    shares = [agents[index::processes] for index in range(processes)]
    # Log in a few agents on each process in turn, as a balancer spreads a morning's logins: routing offers the
    # longest-free agent first, and all of one process's agents free before the other's would send every
    # offer, accept and hang-up of the first few hundred sessions to one process while the other idles.
    for start in range(0, len(shares[0]), LOGIN_WAVE):
        for server, share in zip(cluster.servers, shares):
            sockets += await open_many(server, share[start:start + LOGIN_WAVE])
    print(f"{processes} process(es): {agent_count} agents connected, "
          f"{agent_count // processes} per process; sessions arrive now", flush=True)
    result = await run_load(cluster.servers, sockets, rate, seconds)
    return {"processes": processes, **result, "centerCpuMsPerSession": center_cpu_ms(result)}


def center_cpu_ms(result: dict) -> float | None:
    """CPU per session of everything on the machine but this client (daphne, PostgreSQL, Redis, nginx)."""
    cpu = result["cpu"]
    used = (cpu["serverCores"] + cpu["otherCores"]) * cpu["seconds"]
    return used * 1000 / result["hungUp"] if result["hungUp"] else None


def report(result: dict) -> None:
    behind = " behind nginx" if result.get("nginx") else ""
    report_outcome(result, f"\n{result['processes']} web process(es){behind}, {result['agents']} agents")
    cpu = result["cpu"]
    print(f"CPU meanwhile (cores): daphne {cpu['serverCores']:.2f} (all processes), this client "
          f"{cpu['clientCores']:.2f}, PostgreSQL, Redis and anything else {cpu['otherCores']:.2f}")
    if result["serverCpuMsPerSession"]:
        print(f"daphne CPU per session (create, offer, accept, hang up): {result['serverCpuMsPerSession']:.1f} ms")
    if result["centerCpuMsPerSession"]:
        per_session, cores = result["centerCpuMsPerSession"], os.cpu_count()
        print(f"CPU per session of daphne, PostgreSQL and Redis together: {per_session:.1f} ms, so this machine's "
              f"{cores} cores carry at most ~{cores * 1000 / per_session:.0f} sessions/s with nothing else on them, "
              f"and {result['rate']:g}/s needs ~{result['rate'] * per_session / 1000:.1f} cores")
    print(f"throughput: {result['throughput']:.1f} sessions/s completed (offered {result['rate']:g}/s)")
    if result["callIn"]:
        print(f"POST -> callIn  {format_ms(result['callIn'])}   p99 {verdict(result['callIn']['p99'], P99_TARGET_MS)} "
              f"(<= {P99_TARGET_MS} ms)")


def fits(result: dict) -> bool:
    return (result["hungUp"] == requested(result) and not result["postFailures"] and result["callIn"] is not None
            and result["callIn"]["p99"] <= P99_TARGET_MS)


def run(postgres: PostgresServer, redis: RedisServer, processes: int, agents: int, rate: float,
        seconds: float, nginx: bool = False) -> dict:
    """One run on a fresh database and fresh processes (nothing left over from an earlier, overloaded run)."""
    cluster = Cluster(postgres, redis, processes=processes, behind_proxy=nginx).start()
    balancer = None
    try:
        if nginx:
            folder = tempfile.TemporaryDirectory(prefix="tccc-bench-tls-")
            balancer = Nginx(cluster.servers, Certificate(Path(folder.name))).start()
        result = asyncio.run(measure(cluster, agents, rate, seconds, balancer))
    finally:
        if balancer:
            balancer.stop()
            folder.cleanup()
        cluster.stop()
    report(result)
    return result


def find(postgres: PostgresServer, redis: RedisServer, processes: int, agents: int, seconds: float,
         start: float = 15, most: float = 300, nginx: bool = False) -> dict | None:
    """The run at the highest rate that fits (see fits), found within ~10%; None when even `start` does not."""
    best, too_much, rate = None, None, start
    while rate <= most:
        result = run(postgres, redis, processes, agents, rate, seconds, nginx)
        if not fits(result):
            too_much = rate
            break
        best, rate = result, round(rate * 1.5)
    while best and too_much and too_much - best["rate"] > 0.1 * best["rate"] + 1:
        rate = round((best["rate"] + too_much) / 2)
        result = run(postgres, redis, processes, agents, rate, seconds, nginx)
        if fits(result):
            best = result
        else:
            too_much = rate
    print(f"\n=> {processes} process(es): " + (
        f"capacity {best['rate']:g} sessions/s (callIn p99 {best['callIn']['p99']:.0f} ms; "
        f"{too_much:g}/s did not fit)" if best else f"not even {start:g} sessions/s fits") + "\n", flush=True)
    return best


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000, help="connected agents (default 1000)")
    parser.add_argument("--rate", type=float, default=100, help="new sessions per second (default 100)")
    parser.add_argument("--seconds", type=float, default=20, help="how long sessions arrive (default 20)")
    parser.add_argument("--processes", default="1,2", help="the process counts to run, comma-separated")
    parser.add_argument("--find", action="store_true",
                        help="find each process count's capacity within the p99 target instead (--rate ignored)")
    parser.add_argument("--nginx", action="store_true",
                        help="agents and POSTs through nginx with deploy/nginx.conf and TLS, as deployed")
    parser.add_argument("--json", help="also write the figures to this file as JSON")
    args = parser.parse_args()
    print(MACHINE_NOTE.replace("(daphne, one process)", "(daphne processes, PostgreSQL, Redis)"))
    postgres, redis = PostgresServer().start(), RedisServer().start()
    results = {}
    try:
        for processes in (int(n) for n in args.processes.split(",")):
            if args.find:
                results[processes] = find(postgres, redis, processes, args.agents, args.seconds, nginx=args.nginx)
            else:
                results[processes] = run(postgres, redis, processes, args.agents, args.rate, args.seconds, args.nginx)
    finally:
        redis.stop()
        postgres.stop()
    one, two = results.get(1), results.get(2)
    if args.find and one and two:
        ratio = two["rate"] / one["rate"]
        print(f"capacity two processes / one: {two['rate']:g} / {one['rate']:g} sessions/s = {ratio:.2f}x "
              f"({verdict(-ratio, -RATIO_TARGET)}: >= {RATIO_TARGET}x)")
    elif one and two and one["throughput"]:
        ratio = two["throughput"] / one["throughput"]
        print(f"\nthroughput two processes / one: {ratio:.2f}x ({verdict(-ratio, -RATIO_TARGET)}: >= {RATIO_TARGET}x)")
        if one["throughput"] >= 0.97 * args.rate:
            print("one process already kept up with the offered rate: the ratio cannot exceed 1 at this rate")
    emit_json(args.json, {str(n): r for n, r in results.items()})
    return results


if __name__ == "__main__":
    main()
