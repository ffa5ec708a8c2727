"""What the media benchmarks share: the engine in a process of its own, and calls placed through it by peers.

The engine runs as the product runs it, off the web process (`python bench/media_harness.py --serve`): one
asyncio loop answering commands read from its stdin, one JSON line each (`{"id", "command", "args"}`), with
one JSON line back on stdout (`{"id", "result"}` or `{"id", "error"}`). Its CPU time is then its own, read
from /proc, apart from the peers' (`testing.peers`), which run in the benchmark's process as the
load generator and cost about as much CPU as the bridge: on a 2-core machine they compete for the cores.
"""
from __future__ import annotations

import asyncio
import os
import itertools
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessions_app.media import patches  # noqa: E402
from testing.peers import Peer  # noqa: E402
from testing.polling import until  # noqa: E402

CUSTOMER_HZ, AGENT_HZ = 440, 1000
MEDIA_NOTE = ("the media process runs the engine alone; the peers (2 per call, each encoding and decoding "
              "like the bridge does) run in this process and use about as much CPU: on a 2-core machine they "
              "compete with the bridge for the cores")


class MediaError(RuntimeError):
    """A command the media process refused (its LegError's message)."""


class MediaProcess:
    """The engine in a subprocess, driven over its stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.pid = process.pid
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, env: dict | None = None) -> "MediaProcess":
        """`env`: variables added to the engine's environment (MEDIA_FORWARDING=0: decode everything)."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), "--serve", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=16 * 1024 * 1024, env={**os.environ, **(env or {})})
        media = cls(process)
        await media.perform("stats", {})  # the engine is up
        return media

    async def perform(self, command: str, args: dict) -> dict:
        request_id = next(self._ids)
        self._waiting[request_id] = reply = asyncio.get_running_loop().create_future()
        self.process.stdin.write(json.dumps({"id": request_id, "command": command, "args": args}).encode() + b"\n")
        await self.process.stdin.drain()
        return await asyncio.wait_for(reply, 30)

    async def _read(self) -> None:
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            reply = self._waiting.pop(message["id"])
            if "error" in message:
                reply.set_exception(MediaError(message["error"]))
            else:
                reply.set_result(message["result"])
        for reply in self._waiting.values():
            if not reply.done():
                reply.set_exception(MediaError("the media process exited"))

    async def close(self) -> None:
        self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._reader


async def _serve() -> None:
    from sessions_app.media.engine import MediaEngine

    engine = MediaEngine(["127.0.0.1"])
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    out = sys.stdout.buffer

    async def answer(request: dict) -> None:
        try:
            reply = {"id": request["id"], "result": await engine.perform(request["command"], request["args"])}
        except Exception as error:  # the caller gets every failure as its message
            reply = {"id": request["id"], "error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()

    tasks = set()
    while line := await stdin.readline():
        task = loop.create_task(answer(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await engine.close()


@dataclass
class PlacedCall:
    """A call through the bridge: the customer's peer and the agent's, bridged and hearing each other."""

    id: str
    customer: Peer
    agent: Peer

    @property
    def peers(self) -> tuple[Peer, Peer]:
        return self.customer, self.agent


def client_patches() -> None:
    """The peers get the engine's patches too: cheaper audio levels, and a 20 ms jitter buffer like a browser's
    on a LAN (a direct peer-to-peer call, the latency baseline, gets the same)."""
    patches.install()
    patches.only_addresses(["127.0.0.1"])


async def join(media, call_id: str, leg_id: str, peer: Peer, plan: dict) -> None:
    answer = await media.perform("open_leg", {"call_id": call_id, "leg_id": leg_id, "sdp": await peer.offer(),
                                              "plan": plan})
    await peer.accept_answer(answer["sdp"])
    await asyncio.wait_for(peer.connected.wait(), 10)


async def place_call(media, call_id: str, codec: str = "", video: bool = False, agent_hz: float = AGENT_HZ,
                     bridge: bool = True, record_to: str = "") -> PlacedCall:
    """Customer and agent legs connected (the customer hearing queue music); bridged unless `bridge` is False,
    and recorded into the folder `record_to` when given."""
    call = PlacedCall(call_id, Peer(CUSTOMER_HZ, codec, video), Peer(agent_hz, codec, video))
    offered = {"a": "customer", "ringing": "agent"}
    await join(media, call_id, "customer", call.customer, offered)
    await join(media, call_id, "agent", call.agent, offered)
    await until(lambda: call.customer.ear is not None and call.agent.ear is not None, timeout=10, what="tracks arrive")
    if bridge:
        plan = {"a": "customer", "b": "agent"}
        if record_to:
            plan["record"] = {"id": call_id, "path": os.path.join(record_to, f"{call_id}.ogg")}
        await media.perform("apply_plan", {"call_id": call_id, "plan": plan})
    return call


async def place_calls(media, count: int, codec: str = "", video: bool = False, at_once: int = 5,
                      record_to: str = "") -> list[PlacedCall]:
    gate = asyncio.Semaphore(at_once)

    async def one(number: int) -> PlacedCall:
        async with gate:
            return await place_call(media, f"call{number}", codec, video, record_to=record_to)

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def hang_up(media, calls: list[PlacedCall]) -> None:
    for call in calls:
        await media.perform("end_call", {"call_id": call.id})
        for peer in call.peers:
            await peer.close()


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    from sessions_app.media.event_loop import new_media_loop

    with asyncio.Runner(loop_factory=new_media_loop) as runner:  # the loop a media worker runs on
        runner.run(_serve())
