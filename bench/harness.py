"""What the benchmarks share: a live daphne server, bulk-made agents with login tokens, lean SDK sockets.

The server is `testing.liveserver.LiveServer` (migrate, seed_demo, daphne in a subprocess, its own SQLite file),
so the figures are those of the product as the README runs it. Agents are made in one `manage.py shell`
call that also mints their login tokens, which is much faster than one HTTP call per agent.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testing.liveserver import LiveServer  # noqa: E402

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

MACHINE_NOTE = (f"machine: {os.cpu_count()} cores, shared by the server (daphne, one process) and this load "
                "generator (one asyncio process): client CPU time counts against the server's figures.")

# Runs inside `manage.py shell -c`; the last line it prints is the agents' userIds and tokens as JSON.
_MAKE_AGENTS = """
import json
from django.contrib.auth import get_user_model
from django.db import transaction
from sessions_app.models import Agent, AgentSkill, SkillGroup, Tenant
from sessions_app.services import tokens

tenant = Tenant.objects.get(sdk_app_id={sdk_app_id!r})
groups = list(SkillGroup.objects.filter(tenant=tenant, kind__in={kinds!r}))
with transaction.atomic():
    if {wrap_up!r} is not None:
        SkillGroup.objects.filter(pk__in=[g.pk for g in groups]).update(wrap_up_seconds={wrap_up!r})
    names = ["{prefix}%04d@bench" % i for i in range({count})]
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=name, password="!") for name in names])
    agents = Agent.objects.bulk_create(
        [Agent(account=user, tenant=tenant, user_id=user.username, nickname=user.username) for user in users])
    AgentSkill.objects.bulk_create([AgentSkill(agent=a, skill_group=g) for a in agents for g in groups])
print(json.dumps([{{"userId": a.user_id, "token": tokens.issue(a)[0]}} for a in agents]))
"""


def live_server() -> LiveServer:
    """A server to use as a context manager: started on enter, stopped on exit.

    Its files (SQLite DB, daphne.log) are removed unless BENCH_WORKDIR names an empty folder to keep them in.
    Anonymous customers' start limits are off: a benchmark's thousands of chats and calls come from one address.
    """
    return LiveServer(env={"START_LIMIT_PER_VISITOR": "0", "START_LIMIT_PER_ADDRESS": "0"},
                      workdir=os.environ.get("BENCH_WORKDIR") or None)


def make_agents(live: LiveServer, count: int, kinds: tuple[str, ...] = ("phone",), wrap_up: int | None = None,
                prefix: str = "bench") -> list[dict]:
    """Create `count` agents in the demo tenant's skill groups of `kinds`; return their userIds and tokens."""
    code = _MAKE_AGENTS.format(sdk_app_id=live.demo["SdkAppId"], kinds=list(kinds), wrap_up=wrap_up,
                               count=count, prefix=prefix)
    return json.loads(live.manage("shell", "-c", code).strip().splitlines()[-1])


@dataclass
class SdkSocket:
    """One agent's SDK websocket, as lean as a client can be: no pings, no compression (daphne offers none)."""

    user_id: str
    ws: ClientConnection
    welcome: dict


async def open_sdk(live: LiveServer, user_id: str, token: str) -> SdkSocket:
    uri = (live.url.replace("http", "ws", 1) + f"/ws/sdk/?token={token}&sdkAppId={live.demo['SdkAppId']}"
           f"&userId={user_id}")
    ws = await connect(uri, origin=live.url, compression=None, ping_interval=None, open_timeout=60,
                       max_queue=None, ssl=live.ssl_context)  # a balancer serving wss has a context
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"{user_id} was not welcomed: {welcome}")
    return SdkSocket(user_id, ws, welcome)


async def open_many(live: LiveServer, agents: list[dict], concurrency: int = 20) -> list[SdkSocket]:
    """Connect every agent, `concurrency` handshakes at a time (a login wave, not a thundering herd)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(agent):
        async with gate:
            return await open_sdk(live, agent["userId"], agent["token"])

    return list(await asyncio.gather(*(one(a) for a in agents)))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User + system CPU time of this (load generator) process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuWatch:
    """CPU used by the server (one process or several), by this client and by everything else on the machine
    over a measured stretch.

    Other processes (a test suite, a browser) compete for the same 2 cores and inflate latencies, so every
    benchmark prints this next to its figures; a run with a busy machine should be repeated before it is
    believed.
    """

    def __init__(self, *server_pids: int):
        self.server_pids = server_pids
        self.started = time.perf_counter()
        self.server0, self.client0, self.machine0 = self._server(), own_cpu_seconds(), _machine_busy()

    def _server(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.server_pids)

    def report(self) -> dict:
        elapsed = time.perf_counter() - self.started
        server = (self._server() - self.server0) / elapsed
        client = (own_cpu_seconds() - self.client0) / elapsed
        machine = (_machine_busy() - self.machine0) / elapsed
        return {"seconds": elapsed, "serverCores": server, "clientCores": client,
                "otherCores": max(0.0, machine - server - client)}


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def format_cpu(cpu: dict) -> str:
    line = (f"CPU meanwhile (cores): daphne {cpu['serverCores']:.2f}, this client {cpu['clientCores']:.2f}, "
            f"other processes {cpu['otherCores']:.2f}")
    if cpu["otherCores"] > 0.25:
        line += "  <- the machine was busy with other work: figures are inflated, rerun on a quiet machine"
    return line


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms)}


def format_ms(stats: dict) -> str:
    return f"n={stats['n']}  p50={stats['p50']:.2f} ms  p99={stats['p99']:.2f} ms  max={stats['max']:.2f} ms"


def verdict(value: float, target: float) -> str:
    return "meets target" if value <= target else "MISSES target"


def latency_line(label: str, stats: dict | None, p99_target_ms: float | None = None, note: str = "") -> str:
    """One row of a latency report: `label` in its column, the figures (`summary_ms`), the verdict on the p99
    target when the row has one, and `note` on what it measures; a row with no figures says so."""
    if stats is None:
        return f"{label:<20} nothing measured"
    target = "" if p99_target_ms is None else \
        f"   p99 {verdict(stats['p99'], p99_target_ms)} (<= {p99_target_ms} ms)"
    return f"{label:<20} {format_ms(stats)}{target}" + (f"   ({note})" if note else "")


def emit_json(path: str | None, result: dict) -> None:
    """Write the figures as JSON for run_all.py (or any other consumer) when asked to."""
    if path:
        Path(path).write_text(json.dumps(result))


def run_benchmark(parser: argparse.ArgumentParser, server: Callable[[], AbstractContextManager[LiveServer]],
                  measure: Callable[..., Awaitable[dict]], report: Callable[[dict], None]) -> dict:
    """A load benchmark's run against one live server, the same for each: its options (`parser`, plus --json),
    the machine note, `measure(server, **options)` while `server()` runs (each option's dest is one of its
    parameters), then `report` prints the figures and --json writes them for run_all.py. Returns the figures."""
    parser.add_argument("--json", help="also write the figures to this file as JSON")
    options = vars(parser.parse_args())
    json_path = options.pop("json")
    print(MACHINE_NOTE)
    with server() as live:
        result = asyncio.run(measure(live, **options))
    report(result)
    emit_json(json_path, result)
    return result
