"""callIn latency: from just before `POST /api/sessions` to the `callIn` frame on the offered agent's socket.

500 agents (skill group "Phone support", wrap-up set to 0 so an agent is free again the moment it hangs up)
stay connected; sessions are created open-loop at a fixed rate (50/s for 20 s by default: a slow reply
does not slow the arrivals). Every agent that gets a callIn accepts it and hangs up, as a real one would,
so the ACD keeps finding free agents. The callIn is matched to its POST by sessionId. Target: p99 <= 50 ms.

Also printed: how long the callIn trailed the POST's reply (it is published on commit, before the view
returns, so anything above ~0 is delivery delay inside the server), and daphne's CPU per session, which says
at what rate one server process saturates.

    .venv/bin/python bench/callin_latency.py [--agents 500] [--rate 50] [--seconds 20] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter

import httpx

from harness import (CpuWatch, format_cpu, latency_line, live_server, make_agents, open_many, run_benchmark,
                     summary_ms)

P99_TARGET_MS = 50
POST_TIMEOUT = 15  # seconds; a POST slower than this counts as failed (an overloaded server must not stall the run)
DRAIN_SECONDS = 10  # after the last arrival, how long to wait for outstanding POSTs, offers and hang-ups
IDLE_SECONDS = 2  # daphne's CPU with the agents connected and nothing happening (sweeper), subtracted per session


class Switchboard:
    """What the agents' sockets saw: when each callIn arrived, and how many sessions they finished."""

    def __init__(self):
        self.offered_at: dict[str, float] = {}
        self.hung_up = 0
        self.last_hung_up = 0.0
        self.errors: list[str] = []

    async def agent(self, sdk) -> None:
        """Answer every offer: accept, then hang up once the accept's reply is in (ids are this socket's)."""
        pending: dict[int, tuple[str, str]] = {}
        next_id = 0
        async for text in sdk.ws:
            frame = json.loads(text)
            if frame["type"] == "event" and frame["event"] == "callIn":
                session_id = frame["data"]["sessionId"]
                self.offered_at.setdefault(session_id, time.perf_counter())
                next_id += 1
                pending[next_id] = ("Call.accept", session_id)
                await sdk.ws.send(json.dumps({"id": next_id, "method": "Call.accept",
                                              "params": {"sessionId": session_id}}))
            elif frame["type"] == "reply" and frame["id"] in pending:
                method, session_id = pending.pop(frame["id"])
                if frame["status"] != "success":
                    self.errors.append(f"{method}: {frame.get('errorMsg')}")
                elif method == "Call.accept":
                    next_id += 1
                    pending[next_id] = ("Call.hungUp", session_id)
                    await sdk.ws.send(json.dumps({"id": next_id, "method": "Call.hungUp",
                                                  "params": {"sessionId": session_id}}))
                else:
                    self.hung_up += 1
                    self.last_hung_up = time.perf_counter()


class Arrivals:
    """Sessions created through the API open-loop at a fixed rate: when each was sent and answered.

    With several servers (processes of one contact center) the POSTs go round-robin, as a balancer sends them."""

    def __init__(self, *servers):
        self.servers = servers
        self.demo = servers[0].demo
        self.sent_at: dict[str, float] = {}
        self.replied_at: dict[str, float] = {}
        self.post_times: list[float] = []
        self.failures: Counter[str] = Counter()
        self.first_sent = 0.0

    async def run(self, rate: float, seconds: float) -> None:
        headers = {"Authorization": f"Bearer {self.demo['apiKey']}"}
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        clients = [httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=POST_TIMEOUT,
                                     verify=server.ssl_context or True) for server in self.servers]
        try:
            first = self.first_sent = time.perf_counter()
            posts = []
            for i in range(round(rate * seconds)):
                await asyncio.sleep(max(0.0, first + i / rate - time.perf_counter()))
                posts.append(asyncio.create_task(self.post(clients[i % len(clients)])))
            done, late = await asyncio.wait(posts, timeout=DRAIN_SECONDS)
            for task in late:
                task.cancel()
            self.failures["no reply by the end of the run"] += len(late)
        finally:
            for client in clients:
                await client.aclose()

    async def post(self, client: httpx.AsyncClient) -> None:
        body = {"type": "phone", "skillGroupId": str(self.demo["skillGroups"]["phone"]),
                "callerPhoneNumber": "13800000000", "calleePhoneNumber": self.demo["hotline"]}
        started = time.perf_counter()
        try:
            response = await client.post("/api/sessions", json=body)
        except httpx.HTTPError as error:
            self.failures[type(error).__name__] += 1
            return
        replied = time.perf_counter()
        self.post_times.append(replied - started)
        if response.status_code != 200:
            self.failures[f"HTTP {response.status_code} {response.text[:80]}"] += 1
            return
        session_id = response.json()["sessionId"]
        self.sent_at[session_id], self.replied_at[session_id] = started, replied


async def measure(live, agent_count: int, rate: float, seconds: float) -> dict:
    setup = time.perf_counter()
    agents = make_agents(live, agent_count, kinds=("phone",), wrap_up=0, prefix="callin")
    sockets = await open_many(live, agents)
    print(f"{agent_count} agents made and connected in {time.perf_counter() - setup:.1f} s; "
          f"sessions arrive now for {seconds:g} s", flush=True)
    return await run_load([live], sockets, rate, seconds)


async def run_load(servers, sockets, rate: float, seconds: float, balancer=None) -> dict:
    """Sessions POSTed round-robin over `servers` (or all through `balancer`) while the agents on `sockets`
    answer them; the figures, with the CPU of `servers`.

    Also used by scale_out.py, with the processes of one contact center as `servers`."""
    board = Switchboard()
    listeners = [asyncio.create_task(board.agent(sdk)) for sdk in sockets]
    pids = [server.process.pid for server in servers]
    idle = CpuWatch(*pids)
    await asyncio.sleep(IDLE_SECONDS)
    idle_cores = idle.report()["serverCores"]

    cpu = CpuWatch(*pids)
    arrivals = Arrivals(*([balancer] if balancer else servers))
    await arrivals.run(rate, seconds)
    created = len(arrivals.sent_at)
    deadline = time.perf_counter() + DRAIN_SECONDS
    while time.perf_counter() < deadline and board.hung_up < created:
        await asyncio.sleep(0.05)
    cpu_used = cpu.report()
    for sdk in sockets:
        await sdk.ws.close()
    await asyncio.gather(*listeners, return_exceptions=True)

    offered = [s for s in arrivals.sent_at if s in board.offered_at]
    latencies = [board.offered_at[s] - arrivals.sent_at[s] for s in offered]
    # The callIn is published on commit, before the view returns: it should never trail the POST's reply.
    after_reply = [max(0.0, board.offered_at[s] - arrivals.replied_at[s]) for s in offered]
    busy_seconds = (cpu_used["serverCores"] - idle_cores) * cpu_used["seconds"]
    span = board.last_hung_up - arrivals.first_sent if board.hung_up else 0
    return {"agents": len(sockets), "rate": rate, "seconds": seconds, "created": created,
            "postFailures": sum(arrivals.failures.values()), "failureKinds": dict(arrivals.failures.most_common(3)),
            "offered": len(latencies), "hungUp": board.hung_up, "agentErrors": Counter(board.errors).most_common(3),
            "throughput": board.hung_up / span if span else 0.0, "cpu": cpu_used, "serverIdleCores": idle_cores,
            "serverCpuMsPerSession": busy_seconds * 1000 / board.hung_up if board.hung_up else None,
            "callIn": summary_ms(latencies) if latencies else None,
            "post": summary_ms(arrivals.post_times) if arrivals.post_times else None,
            "callInAfterReply": summary_ms(after_reply) if after_reply else None}


def requested(result: dict) -> int:
    """How many sessions the run POSTed."""
    return round(result["rate"] * result["seconds"])


def report_outcome(result: dict, setup: str) -> None:
    """What became of a run's sessions (`setup` says what served them), and what did not go through.

    Also used by scale_out.py."""
    print(f"{setup}, {result['rate']:g} sessions/s for {result['seconds']:g} s: {requested(result)} POSTs, "
          f"{result['created']} created, {result['offered']} offered (callIn received), "
          f"{result['hungUp']} accepted and hung up")
    if result["postFailures"]:
        print(f"POSTs failed: {result['postFailures']} {result['failureKinds']}")
    if result["agentErrors"]:
        print(f"agent request errors (most common): {result['agentErrors']}")


def report(result: dict) -> None:
    report_outcome(result, f"{result['agents']} agents connected")
    print(format_cpu(result["cpu"]))
    per_session = result["serverCpuMsPerSession"]
    if per_session and result["hungUp"] == requested(result):
        print(f"daphne CPU per session (create, offer, accept, hang up): {per_session:.1f} ms above idle "
              f"({result['serverIdleCores']:.2f} cores), so one daphne process saturates near "
              f"{1000 / per_session:.0f} sessions/s")
    else:
        print("daphne did not keep up (not every session was created, offered and hung up): it is saturated, "
              "so its CPU per session is not measured here; rerun with a lower --rate to measure it")
    print(latency_line("POST /api/sessions", result["post"]))
    print(latency_line("POST -> callIn", result["callIn"], P99_TARGET_MS))
    print(latency_line("POST reply -> callIn", result["callInAfterReply"], note="how long callIn trailed the reply"))


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", dest="agent_count", type=int, default=500, help="connected agents (default 500)")
    parser.add_argument("--rate", type=float, default=50, help="new sessions per second (default 50)")
    parser.add_argument("--seconds", type=float, default=20, help="how long sessions arrive (default 20)")
    return run_benchmark(parser, live_server, measure, report)


if __name__ == "__main__":
    main()
