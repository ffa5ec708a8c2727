"""Wallboard delay: from a change (the API POST creating a session, the agent's accept, the hang-up) to the
supervisors' wallboards showing it, and what open wallboards cost daphne.

The load is callin_latency.py's: `--agents` (500) agents in "Phone support" (wrap-up 0) stay connected, sessions
are POSTed open-loop at `--rate` (50/s) for `--seconds` (20), and whichever agent gets the `callIn` accepts and
hangs up. It runs `--rounds` (2) times two phases on one server: with no wallboard open, then with `--wallboards`
(10) open (a supervisor's websocket each, `/ws/wallboard/`, as the page opens it), so daphne's CPU per session
is compared on the same server and agents; alternating, the sessions the server keeps from phase to phase weigh
alike on both sides.

A wallboard frame is what the page's htmx swaps into its DOM (a sub-millisecond step in the browser, left out);
its `#wb-clock` says when the server began reading the board. A change is shown by the first frame whose read
began after the change had committed (the moment its request's reply came back): its delay runs from sending
the request to that frame arriving. Targets: p99 <= 500 ms; daphne's CPU per session with the wallboards open
at most 10% above without.

    .venv/bin/python bench/wallboard.py [--agents 500] [--rate 50] [--seconds 20] [--wallboards 10] [--rounds 2]
                                        [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import re
import time

from callin_latency import DRAIN_SECONDS, IDLE_SECONDS, Arrivals, requested
from harness import (CpuWatch, format_cpu, latency_line, live_server, make_agents, open_many, run_benchmark,
                     summary_ms, verdict)
from websockets.asyncio.client import connect

P99_TARGET_MS = 500
CPU_TARGET = 1.10  # with the wallboards open / without
CATCH_UP_SECONDS = 10  # after the last change, how long the wallboards may take to show it

# Runs inside `manage.py shell -c`: a supervisor of the demo tenant signed in; prints the session cookie's value.
_SIGN_IN = """
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from sessions_app.models import Supervisor, Tenant
user, _ = get_user_model().objects.get_or_create(username="bench-supervisor", defaults={"is_staff": True})
Supervisor.objects.get_or_create(account=user, defaults={"tenant": Tenant.objects.get(sdk_app_id=%r)})
store = SessionStore()
store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(user.pk), settings.AUTHENTICATION_BACKENDS[-1]
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
print(store.session_key)
"""
CLOCK = re.compile(r'id="wb-clock"[^>]*data-now="(\d+)"')


class Agents:
    """The agents' side: accept every offer, hang up once the accept's reply is in; when each request was sent
    and its reply came back (wall-clock seconds, the server's clock on this machine)."""

    def __init__(self):
        self.accept: dict[str, tuple[float, float]] = {}
        self.hang_up: dict[str, tuple[float, float]] = {}
        self.errors: list[str] = []

    async def serve(self, sdk) -> None:
        pending: dict[int, tuple[str, str, float]] = {}
        next_id = 0
        async for text in sdk.ws:
            frame = json.loads(text)
            if frame["type"] == "event" and frame["event"] == "callIn":
                next_id += 1
                session_id = frame["data"]["sessionId"]
                pending[next_id] = ("Call.accept", session_id, time.time())
                await sdk.ws.send(json.dumps({"id": next_id, "method": "Call.accept",
                                              "params": {"sessionId": session_id}}))
            elif frame["type"] == "reply" and frame["id"] in pending:
                method, session_id, sent = pending.pop(frame["id"])
                if frame["status"] != "success":
                    self.errors.append(f"{method}: {frame.get('errorMsg')}")
                    continue
                if method == "Call.accept":
                    self.accept[session_id] = (sent, time.time())
                    next_id += 1
                    pending[next_id] = ("Call.hungUp", session_id, time.time())
                    await sdk.ws.send(json.dumps({"id": next_id, "method": "Call.hungUp",
                                                  "params": {"sessionId": session_id}}))
                else:
                    self.hang_up[session_id] = (sent, time.time())


class Wallboard:
    """One supervisor's wallboard socket: each frame's arrival and the moment its board read began."""

    def __init__(self, ws):
        self.ws = ws
        self.read_at: list[float] = []  # seconds, ascending
        self.arrived_at: list[float] = []
        self.bytes = 0

    async def listen(self) -> None:
        async for text in self.ws:
            arrived = time.time()
            match = CLOCK.search(text)
            if match:
                self.read_at.append(int(match.group(1)) / 1000)
                self.arrived_at.append(arrived)
                self.bytes += len(text)

    def shown_after(self, committed: float) -> float | None:
        """When the first frame whose read began after `committed` arrived (None: no such frame)."""
        index = bisect.bisect_right(self.read_at, committed)
        return self.arrived_at[index] if index < len(self.arrived_at) else None


async def open_wallboards(live, count: int) -> list[Wallboard]:
    cookie = live.manage("shell", "-c", _SIGN_IN % live.demo["SdkAppId"]).strip().splitlines()[-1]
    uri = live.url.replace("http", "ws", 1) + "/ws/wallboard/"
    boards = []
    for _ in range(count):
        ws = await connect(uri, origin=live.url, compression=None, ping_interval=None, max_queue=None,
                           additional_headers={"Cookie": f"sessionid={cookie}"})
        board = Wallboard(ws)
        board.first = await asyncio.wait_for(ws.recv(), 30)  # the whole board, before any change
        boards.append(board)
    return boards


async def phase(live, sockets, wallboards: list[Wallboard]) -> dict:
    """One run of the load; its figures and daphne's CPU per session."""
    agents = Agents()
    listeners = [asyncio.create_task(agents.serve(sdk)) for sdk in sockets]
    watchers = [asyncio.create_task(board.listen()) for board in wallboards]
    pid = live.process.pid
    idle = CpuWatch(pid)
    await asyncio.sleep(IDLE_SECONDS)
    idle_cores = idle.report()["serverCores"]
    cpu = CpuWatch(pid)
    arrivals = Arrivals(live)
    started_wall, started = time.time(), time.perf_counter()
    await arrivals.run(phase.rate, phase.seconds)
    created = len(arrivals.sent_at)
    deadline = time.perf_counter() + DRAIN_SECONDS
    while time.perf_counter() < deadline and len(agents.hang_up) < created:
        await asyncio.sleep(0.05)
    used = cpu.report()
    last_commit = max([c for _, c in agents.hang_up.values()], default=0.0)
    settle = time.perf_counter() + CATCH_UP_SECONDS  # the boards' last redraw, after the last change
    while wallboards and time.perf_counter() < settle and any(
            not b.read_at or b.read_at[-1] <= last_commit for b in wallboards):
        await asyncio.sleep(0.05)
    for task in listeners + watchers:
        task.cancel()
    await asyncio.gather(*listeners, *watchers, return_exceptions=True)

    # Arrivals time its POSTs with perf_counter: on the wall clock from the phase's start.
    def wall(moment: float) -> float:
        return started_wall + (moment - started)

    changes = {"post": [(wall(arrivals.sent_at[s]), wall(arrivals.replied_at[s])) for s in arrivals.sent_at],
               "accept": list(agents.accept.values()), "hangUp": list(agents.hang_up.values())}
    delays: dict[str, list[float]] = {name: [] for name in changes}
    unseen = 0
    for board in wallboards:
        for name, moments in changes.items():
            for sent, committed in moments:
                shown = board.shown_after(committed)
                if shown is None:
                    unseen += 1
                else:
                    delays[name].append(shown - sent)
    busy = (used["serverCores"] - idle_cores) * used["seconds"]
    finished = len(agents.hang_up)
    return {"wallboards": len(wallboards), "created": created, "hungUp": finished,
            "postFailures": sum(arrivals.failures.values()), "agentErrors": len(agents.errors),
            "cpu": used, "serverIdleCores": idle_cores, "serverBusySeconds": busy,
            "serverCpuMsPerSession": busy * 1000 / finished if finished else None,
            "frames": sum(len(b.arrived_at) for b in wallboards),
            "framesPerSecondPerBoard": (sum(len(b.arrived_at) for b in wallboards) / len(wallboards) / used["seconds"]
                                        if wallboards else 0.0),
            "kbPerFrame": (sum(b.bytes for b in wallboards) / max(1, sum(len(b.arrived_at) for b in wallboards))
                           / 1024),
            "unseen": unseen, "delays": delays,
            "delay": {name: summary_ms(values) if values else None for name, values in delays.items()}}


async def measure(live, agent_count: int, rate: float, seconds: float, wallboard_count: int, rounds: int) -> dict:
    phase.rate, phase.seconds = rate, seconds
    setup = time.perf_counter()
    agents = make_agents(live, agent_count, kinds=("phone",), wrap_up=0, prefix="board")
    sockets = await open_many(live, agents)
    print(f"{agent_count} agents made and connected in {time.perf_counter() - setup:.1f} s", flush=True)
    runs: dict[str, list[dict]] = {"without": [], "with": []}
    for round_number in range(1, rounds + 1):
        runs["without"].append(await phase(live, sockets, []))
        print(f"round {round_number}: {runs['without'][-1]['hungUp']} sessions finished without wallboards; now "
              f"with {wallboard_count}", flush=True)
        wallboards = await open_wallboards(live, wallboard_count)
        runs["with"].append(await phase(live, sockets, wallboards))
        for board in wallboards:
            await board.ws.close()
    for sdk in sockets:
        await sdk.ws.close()
    delays = {name: [d for run in runs["with"] for d in run["delays"][name]] for name in ("post", "accept", "hangUp")}
    for run in runs["with"] + runs["without"]:
        del run["delays"]  # each run's own percentiles stay; the JSON keeps no list of every delay
    return {"agents": agent_count, "rate": rate, "seconds": seconds, "runs": runs,
            "cpuMsPerSession": {side: cpu_ms_per_session(phases) for side, phases in runs.items()},
            "delay": {name: summary_ms(values) if values else None for name, values in delays.items()}}


def cpu_ms_per_session(phases: list[dict]) -> float | None:
    finished = sum(run["hungUp"] for run in phases)
    return sum(run["serverBusySeconds"] for run in phases) * 1000 / finished if finished else None


def report(result: dict) -> None:
    for side in ("without", "with"):
        for run in result["runs"][side]:
            print(f"{run['wallboards']} wallboards: {requested(result)} POSTs, {run['created']} created, "
                  f"{run['hungUp']} accepted and hung up; POST failures {run['postFailures']}, agent errors "
                  f"{run['agentErrors']}")
            print("  " + format_cpu(run["cpu"]))
            if run["serverCpuMsPerSession"]:
                print(f"  daphne CPU per session: {run['serverCpuMsPerSession']:.1f} ms above idle")
    loaded = result["runs"]["with"]
    frames = sum(run["frames"] for run in loaded)
    print(f"{sum(run['framesPerSecondPerBoard'] for run in loaded) / len(loaded):.1f} frames/s per wallboard, "
          f"{sum(run['kbPerFrame'] * run['frames'] for run in loaded) / max(1, frames):.1f} KB each; changes no "
          f"frame showed by the end: {sum(run['unseen'] for run in loaded)}")
    for name, label in (("post", "POST -> wallboard"), ("accept", "accept -> wallboard"),
                        ("hangUp", "hang-up -> wallboard")):
        print(latency_line(label, result["delay"][name], P99_TARGET_MS))
    base, with_boards = result["cpuMsPerSession"]["without"], result["cpuMsPerSession"]["with"]
    if base and with_boards:
        ratio = with_boards / base
        print(f"daphne CPU per session, {len(loaded)} rounds: {base:.1f} ms without wallboards, {with_boards:.1f} ms "
              f"with; with the wallboards open: {100 * (ratio - 1):+.0f}%   {verdict(ratio, CPU_TARGET)} "
              f"(<= +{100 * (CPU_TARGET - 1):.0f}%)")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", dest="agent_count", type=int, default=500, help="connected agents (default 500)")
    parser.add_argument("--rate", type=float, default=50, help="new sessions per second (default 50)")
    parser.add_argument("--seconds", type=float, default=20, help="how long sessions arrive, per run (default 20)")
    parser.add_argument("--wallboards", dest="wallboard_count", type=int, default=10,
                        help="wallboards open in each phase with them (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="phases without, then with, wallboards (default 2)")
    return run_benchmark(parser, live_server, measure, report)


if __name__ == "__main__":
    main()
