"""Web chat message latency with 200 concurrent chats: visitor → agent, agent → visitor, and the round trip.

`--chats` (200) visitors each open `/ws/visitor/` and start a chat; as many agents (web chat group, chat capacity
1, so each agent's workbench shows exactly its one chat) accept on their SDK socket and keep the agent workbench's
socket (`/ws/workbench/?resume=`) open, as the workbench page does. Then, for `--seconds` (60), every visitor
writes a message every `--interval` seconds on average (15, jittered ±50 %); the agent who sees it in the
workbench's HTML answers at once through the workbench (`chat.send`). Measured, all in this one process's clock:
- visitor → agent: from the visitor's send to the agent's workbench socket receiving the HTML that shows it
  (includes the workbench re-rendering its panel);
- agent → visitor: from the agent's `chat.send` to the visitor's `message` event;
- round trip: from the visitor's send to the agent's answer arriving;
- also the visitor's send → its reply: the chat service's own path (frame in, store, commit, event out to the
  agent's group, reply), without the workbench's rendering.
Target: p99 <= 50 ms.

With `--no-workbench` the agents accept but open no workbench and never answer: only the visitor's send → reply
is measured, the chat service's cost without the workbench's.

    .venv/bin/python bench/chat_latency.py [--chats 200] [--seconds 60] [--interval 15] [--no-workbench] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from collections import Counter

from websockets.asyncio.client import connect

from harness import (CpuWatch, cpu_seconds, format_cpu, latency_line, live_server, make_agents, open_many,
                     run_benchmark, summary_ms)

P99_TARGET_MS = 50
MARK = re.compile(r"v(\d{4})n(\d{5})")  # a visitor message's marker: visitor index, message number
ANSWER = re.compile(r"r(\d{4})n(\d{5})")  # the agent's answer carries the same numbers after "r"
DRAIN_SECONDS = 5
SETTLE_QUIET, SETTLE_MAX = 2.0, 120.0  # seconds without any frame that count as settled; longest wait


class Board:
    """When each message was sent and seen where, keyed by its marker's numbers (chat, n)."""

    def __init__(self):
        self.sent: dict[tuple[int, int], float] = {}
        self.stored: dict[tuple[int, int], float] = {}
        self.at_agent: dict[tuple[int, int], float] = {}
        self.answered: dict[tuple[int, int], float] = {}
        self.back: dict[tuple[int, int], float] = {}
        self.errors: Counter[str] = Counter()
        self.last_frame = time.perf_counter()  # when any socket last received anything


class Chat:
    """One visitor, the agent serving them, and the session between them."""

    def __init__(self, index: int, visitor, sdk, workbench):
        self.index, self.visitor, self.sdk, self.workbench = index, visitor, sdk, workbench
        self.session_id = ""
        self.accepted = asyncio.Event()
        self.next_request = 0


async def open_visitor(live):
    uri = f"ws://127.0.0.1:{live.port}/ws/visitor/?sdkAppId={live.demo['SdkAppId']}"
    ws = await connect(uri, origin=live.url, compression=None, ping_interval=None, open_timeout=60, max_queue=None)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"visitor not welcomed: {welcome}")
    return ws


async def open_workbench(live, resume_token: str):
    uri = f"ws://127.0.0.1:{live.port}/ws/workbench/?resume={resume_token}"
    return await connect(uri, origin=live.url, compression=None, ping_interval=None, open_timeout=60,
                         max_queue=None, max_size=None)


async def visitor_listener(chat: Chat, board: Board) -> None:
    async for text in chat.visitor:
        board.last_frame = time.perf_counter()
        frame = json.loads(text)
        if frame.get("type") == "reply":
            if frame["status"] == "error":
                board.errors[f"visitor: {frame.get('errorMsg')}"] += 1
            elif isinstance(frame.get("data"), dict) and MARK.search(frame["data"].get("text", "")):
                match = MARK.search(frame["data"]["text"])
                board.stored.setdefault((int(match[1]), int(match[2])), time.perf_counter())
            continue
        if frame.get("type") != "event":
            continue
        if frame["event"] == "accepted":
            chat.accepted.set()
        elif frame["event"] == "message":
            match = ANSWER.search(frame["data"]["text"])
            if match:
                board.back.setdefault((int(match[1]), int(match[2])), time.perf_counter())


async def sdk_listener(chat: Chat, board: Board) -> None:
    """The agent's SDK socket: accept the chat that rings."""
    async for text in chat.sdk.ws:
        board.last_frame = time.perf_counter()
        frame = json.loads(text)
        if frame.get("type") == "event" and frame["event"] == "callIn":
            chat.session_id = frame["data"]["sessionId"]
            chat.next_request += 1
            await chat.sdk.ws.send(json.dumps({"id": chat.next_request, "method": "Chat.accept",
                                               "params": {"sessionId": chat.session_id}}))
        elif frame.get("type") == "reply" and frame["status"] != "success":
            board.errors[f"agent SDK: {frame.get('errorMsg')}"] += 1


async def workbench_listener(agent: Chat, board: Board) -> None:
    """The agent's workbench socket: answer every new visitor message the moment its HTML shows it. Each agent
    serves one chat (capacity 1), the session its SDK socket accepted."""
    async for html in agent.workbench:
        now = board.last_frame = time.perf_counter()
        if "Message not sent" in html:
            board.errors["agent: message not sent"] += 1
        for match in MARK.finditer(html):
            key = (int(match[1]), int(match[2]))
            if key in board.at_agent or key not in board.sent:
                continue  # shown again in a later render, or not one of this run's messages
            board.at_agent[key] = now
            answer = f"r{key[0]:04d}n{key[1]:05d}"
            board.answered[key] = time.perf_counter()
            await agent.workbench.send(json.dumps({"action": "chat.send", "sessionId": agent.session_id,
                                                   "text": f"Answer {answer}", "clientId": answer}))


async def converse(chat: Chat, board: Board, seconds: float, interval: float) -> None:
    deadline = time.perf_counter() + seconds
    await asyncio.sleep(random.uniform(0, interval))  # spread the first messages
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        marker = f"v{chat.index:04d}n{n:05d}"
        board.sent[(chat.index, n)] = time.perf_counter()
        await chat.visitor.send(json.dumps({"id": n, "action": "send", "text": f"Hello, question {marker}",
                                            "clientId": marker}))
        await asyncio.sleep(interval * random.uniform(0.5, 1.5))


async def measure(live, count: int, seconds: float, interval: float, with_workbench: bool) -> dict:
    setup = time.perf_counter()
    agents = make_agents(live, count, kinds=("im",), prefix="chat")
    live.manage("shell", "-c", "from sessions_app.models import Agent\n"
                               "Agent.objects.filter(user_id__startswith='chat').update(chat_capacity=1)")
    sdks = await open_many(live, agents)
    gate = asyncio.Semaphore(20)

    async def pair(index, sdk):
        async with gate:
            workbench = await open_workbench(live, sdk.welcome["resumeToken"]) if with_workbench else None
            return Chat(index, await open_visitor(live), sdk, workbench)

    # Pair i holds visitor i and agent i's sockets; the ACD decides which agent serves which visitor, and every
    # marker names its visitor, so no mapping is needed.
    chats = list(await asyncio.gather(*(pair(i, sdk) for i, sdk in enumerate(sdks))))
    board = Board()
    tasks = [asyncio.create_task(visitor_listener(c, board)) for c in chats]
    tasks += [asyncio.create_task(sdk_listener(c, board)) for c in chats]
    if with_workbench:
        tasks += [asyncio.create_task(workbench_listener(c, board)) for c in chats]
    for chat in chats:
        await chat.visitor.send(json.dumps({"id": 0, "action": "start", "nickname": f"Visitor {chat.index}"}))
    await asyncio.wait_for(asyncio.gather(*(c.accepted.wait() for c in chats)), 60)
    print(f"{count} chats started and accepted in {time.perf_counter() - setup:.1f} s; "
          f"visitors write for {seconds:g} s, one message every ~{interval:g} s each", flush=True)

    # Accepting 200 chats sets off a wave of workbench renders and status events: measure after it has passed.
    settle_deadline = time.perf_counter() + SETTLE_MAX
    while time.perf_counter() - board.last_frame < SETTLE_QUIET and time.perf_counter() < settle_deadline:
        await asyncio.sleep(0.1)
    # Renders whose HTML did not change send nothing, so quiet sockets are not enough: wait for daphne's CPU.
    while time.perf_counter() < settle_deadline:
        before = cpu_seconds(live.process.pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(live.process.pid) - before < 0.05:  # under a tenth of a core
            break
    print(f"server quiet again {time.perf_counter() - setup:.1f} s after the start", flush=True)
    cpu = CpuWatch(live.process.pid)
    await asyncio.gather(*(converse(chat, board, seconds, interval) for chat in chats))
    deadline = time.perf_counter() + DRAIN_SECONDS
    awaited = board.back if with_workbench else board.stored
    while time.perf_counter() < deadline and len(awaited) < len(board.sent):
        await asyncio.sleep(0.05)
    cpu_used = cpu.report()
    for chat in chats:
        for ws in (chat.visitor, chat.sdk.ws, chat.workbench):
            if ws is not None:
                await ws.close()
    await asyncio.gather(*tasks, return_exceptions=True)

    def span(start: dict, end: dict) -> list[float]:
        return [end[k] - start[k] for k in start if k in end]

    return {"chats": count, "seconds": seconds, "interval": interval, "workbench": with_workbench,
            "sent": len(board.sent),
            "seenByAgent": len(board.at_agent), "answered": len(board.back), "errors": board.errors.most_common(3),
            "cpu": cpu_used, "visitorToAgent": _stats(span(board.sent, board.at_agent)),
            "agentToVisitor": _stats(span(board.answered, board.back)),
            "roundTrip": _stats(span(board.sent, board.back)), "visitorReply": _stats(span(board.sent, board.stored))}


def _stats(values: list[float]) -> dict | None:
    return summary_ms(values) if values else None


def report(result: dict) -> None:
    print(f"{result['chats']} concurrent chats, {result['seconds']:g} s, a visitor message every "
          f"~{result['interval']:g} s per chat: {result['sent']} sent, {result['seenByAgent']} seen by the agent, "
          f"{result['answered']} answers back" + ("" if result["workbench"] else " (no workbench: agents only listen)"))
    if result["errors"]:
        print(f"errors (most common): {result['errors']}")
    print(format_cpu(result["cpu"]))
    for label, key, target in (("visitor -> agent", "visitorToAgent", P99_TARGET_MS),
                               ("agent -> visitor", "agentToVisitor", P99_TARGET_MS),
                               ("round trip", "roundTrip", None), ("visitor send->reply", "visitorReply", None)):
        print(latency_line(label, result[key], target))


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", dest="count", type=int, default=200,
                        help="concurrent chats, one agent each (default 200)")
    parser.add_argument("--seconds", type=float, default=60, help="how long visitors write (default 60)")
    parser.add_argument("--interval", type=float, default=15,
                        help="mean seconds between one visitor's messages (default 15, a person's pace; under 2 "
                             "trips the rate limit)")
    parser.add_argument("--no-workbench", dest="with_workbench", action="store_false",
                        help="agents open no workbench and do not answer: measures the visitor's send -> reply alone")
    return run_benchmark(parser, live_server, measure, report)


if __name__ == "__main__":
    main()
