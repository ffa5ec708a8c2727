"""Phone call setup: from the trunk's INVITE to the `callIn` frame on the offered agent's SDK socket.

A hotline without an IVR queues its callers in the phone skill group at once. `--agents` (100) agents of that
group stay connected; the trunk (our SIP user agent, in this process) calls the hotline open-loop at `--rate`
(10/s) until `--calls` (200) calls are placed, each from a number of its own, its SDP pointing at one UDP
socket here that drops the RTP (media is not what this measures). The agent who gets a callIn accepts at
once and hangs up `--hold` (1) s later; the gateway then sends BYE, which the trunk answers. The callIn is
matched to its INVITE by callerPhoneNumber.

Targets: INVITE -> callIn p99 <= 100 ms, and >= 10 setups/s. Also printed: INVITE -> 200 OK as the trunk sees
it, how every call ended on the trunk's side, and daphne's CPU per call (setup, offer, accept, hang-up, BYE,
and the call's RTP meanwhile), which says what rate one server process could set up at.

    .venv/bin/python bench/sip_callin_latency.py [--agents 100] [--rate 10] [--calls 200] [--hold 1] [--json out.json]
"""
from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

from harness import CpuWatch, format_cpu, latency_line, make_agents, open_many, run_benchmark, summary_ms
from sip_harness import HOST, Agent, Trunk, at_least, caller_number, make_hotline, sip_server

from sessions_app.media.sip import CallFailed  # noqa: E402

P99_TARGET_MS = 100
RATE_TARGET = 10  # setups per second
DRAIN_SECONDS = 10  # after the last INVITE (and the hold), how long outstanding calls may take to end
IDLE_SECONDS = 2  # daphne's CPU with the agents connected and no call, subtracted per call


class Switchboard:
    """The agents' side: when each callIn arrived (by caller number), and how many calls they finished."""

    def __init__(self, hold: float):
        self.hold = hold
        self.offered_at: dict[str, float] = {}
        self.hung_up = 0
        self.errors: Counter[str] = Counter()
        self._serving: set[asyncio.Task] = set()

    def on_event(self, agent: Agent, frame: dict, at: float) -> None:
        if frame["event"] != "callIn":
            return
        data = frame["data"]
        self.offered_at.setdefault(data.get("callerPhoneNumber", ""), at)
        task = asyncio.get_running_loop().create_task(self.serve(agent, data["sessionId"]))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def serve(self, agent: Agent, session_id: str) -> None:
        """Accept at once, talk for `hold` seconds (nothing to wait for: this is the call's length), hang up."""
        try:
            await agent.request("Call.accept", {"sessionId": session_id})
            await asyncio.sleep(self.hold)
            await agent.request("Call.hungUp", {"sessionId": session_id})
            self.hung_up += 1
        except (RuntimeError, asyncio.TimeoutError) as error:
            self.errors[str(error)[:100]] += 1


class Callers:
    """The trunk's side: when each INVITE went out and its 200 OK came back, and how each call ended."""

    def __init__(self, trunk: Trunk, rtp_port: int):
        self.trunk, self.rtp_port = trunk, rtp_port
        self.sent_at: dict[str, float] = {}
        self.answered_at: dict[str, float] = {}
        self.endings: Counter[str] = Counter()

    async def run(self, rate: float, calls: int, drain: float) -> None:
        first = time.perf_counter()
        placed = []
        for i in range(calls):
            await asyncio.sleep(max(0.0, first + i / rate - time.perf_counter()))
            placed.append(asyncio.create_task(self.place(caller_number(i))))
        done, late = await asyncio.wait(placed, timeout=drain)
        for task in late:
            task.cancel()
        self.endings["still up at the end of the run"] += len(late)

    async def place(self, number: str) -> None:
        self.sent_at[number] = time.perf_counter()
        call = await self.trunk.call(number, self.rtp_port)
        # Shielded: a call still up when the run ends is cancelled here, not inside the SIP stack.
        try:
            await asyncio.shield(call.answered)
        except CallFailed as failure:
            self.endings[f"not answered: {failure}"] += 1
            return
        self.answered_at[number] = time.perf_counter()
        ending = await asyncio.shield(call.ended)
        self.endings[f"ended by {ending.by} {ending.reason}"] += 1


class _Drop(asyncio.DatagramProtocol):
    """Where every call's RTP goes: read and dropped."""


async def measure(live, agent_count: int, rate: float, calls: int, hold: float) -> dict:
    setup = time.perf_counter()
    hotline = make_hotline(live)
    board = Switchboard(hold)
    agents = [Agent(sdk, board.on_event) for sdk in
              await open_many(live, make_agents(live, agent_count, kinds=("phone",), wrap_up=0, prefix="sipin"))]
    loop = asyncio.get_running_loop()
    sink, _ = await loop.create_datagram_endpoint(_Drop, local_addr=(HOST, 0))
    trunk = await Trunk(live, hotline).start()
    print(f"{agent_count} agents made and connected in {time.perf_counter() - setup:.1f} s; the trunk calls "
          f"{hotline} now, {rate:g} calls/s", flush=True)
    idle = CpuWatch(live.process.pid)
    await asyncio.sleep(IDLE_SECONDS)
    idle_cores = idle.report()["serverCores"]

    cpu = CpuWatch(live.process.pid)
    callers = Callers(trunk, sink.get_extra_info("sockname")[1])
    await callers.run(rate, calls, drain=hold + DRAIN_SECONDS)
    cpu_used = cpu.report()
    await trunk.close()
    sink.close()
    for agent in agents:
        await agent.close()

    offered = [n for n in callers.sent_at if n in board.offered_at]
    latencies = [board.offered_at[n] - callers.sent_at[n] for n in offered]
    answers = [callers.answered_at[n] - callers.sent_at[n] for n in callers.answered_at]
    # The callIn is published when the INVITE's transaction commits, before the gateway opens the phone leg
    # and answers: it should not trail the 200 OK.
    after_answer = [max(0.0, board.offered_at[n] - callers.answered_at[n]) for n in offered
                    if n in callers.answered_at]
    first_invite = min(callers.sent_at.values())
    span = max(board.offered_at[n] for n in offered) - first_invite if offered else 0.0
    busy_seconds = (cpu_used["serverCores"] - idle_cores) * cpu_used["seconds"]
    return {"agents": agent_count, "rate": rate, "calls": calls, "holdSeconds": hold,
            "invites": len(callers.sent_at), "answered": len(answers), "offered": len(latencies),
            "hungUp": board.hung_up, "agentErrors": board.errors.most_common(3),
            "endings": dict(callers.endings.most_common()), "cpu": cpu_used, "serverIdleCores": idle_cores,
            "serverCpuMsPerCall": busy_seconds * 1000 / board.hung_up if board.hung_up else None,
            "setupsPerSecond": len(latencies) / span if span > 0 else 0.0,
            "callIn": summary_ms(latencies) if latencies else None,
            "answer": summary_ms(answers) if answers else None,
            "callInAfterAnswer": summary_ms(after_answer) if after_answer else None,
            "unmatchedCallIns": len(set(board.offered_at) - set(callers.sent_at))}


def report(result: dict) -> None:
    print(f"{result['agents']} agents, {result['calls']} calls at {result['rate']:g}/s, each held "
          f"{result['holdSeconds']:g} s: {result['invites']} INVITEs, {result['answered']} answered (200 OK), "
          f"{result['offered']} offered (callIn received), {result['hungUp']} accepted and hung up by the agent")
    print(f"how the calls ended on the trunk: {result['endings']}")
    if result["agentErrors"]:
        print(f"agent request errors (most common): {result['agentErrors']}")
    if result["unmatchedCallIns"]:
        print(f"callIns whose callerPhoneNumber matched no INVITE: {result['unmatchedCallIns']}")
    print(format_cpu(result["cpu"]))
    per_call = result["serverCpuMsPerCall"]
    if per_call and result["hungUp"] == result["calls"]:
        print(f"daphne CPU per call (INVITE, queue, offer, accept, RTP for {result['holdSeconds']:g} s, hang-up, "
              f"BYE): {per_call:.1f} ms above idle ({result['serverIdleCores']:.2f} cores), so one daphne "
              f"process could set up near {1000 / per_call:.0f} such calls/s")
    else:
        print("not every call was offered, accepted and hung up: daphne did not keep up (or something broke); "
              "its CPU per call is not measured here")
    print(latency_line("INVITE -> 200 OK", result["answer"], note="as the trunk sees it"))
    print(latency_line("INVITE -> callIn", result["callIn"], P99_TARGET_MS))
    print(latency_line("200 OK -> callIn", result["callInAfterAnswer"], note="how long callIn trailed the answer"))
    print(f"setups/s achieved    {result['setupsPerSecond']:.1f} (callIns received over the time from the first "
          f"INVITE to the last callIn)   {at_least(result['setupsPerSecond'], RATE_TARGET)} (>= {RATE_TARGET}/s)")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", dest="agent_count", type=int, default=100, help="connected agents (default 100)")
    parser.add_argument("--rate", type=float, default=10, help="new calls (INVITEs) per second (default 10)")
    parser.add_argument("--calls", type=int, default=200, help="calls to place (default 200)")
    parser.add_argument("--hold", type=float, default=1.0, help="seconds an agent talks before hanging up (default 1)")
    return run_benchmark(parser, sip_server, measure, report)


if __name__ == "__main__":
    main()
