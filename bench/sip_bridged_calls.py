"""Concurrent phone calls bridged to agents: daphne's CPU, and the frame rate each side of each call receives.

    .venv/bin/python bench/sip_bridged_calls.py [--calls 20] [--seconds 10]
    .venv/bin/python bench/sip_bridged_calls.py --find      # the most calls one core of daphne keeps at full rate

Each call is the whole phone channel: the trunk (our SIP user agent) calls a hotline that queues at once; the
caller's phone is an `RtpLeg` here saying a 440 Hz tone in PCMU; the agent who gets the callIn connects a
WebRTC leg (an aiortc `Peer` sending 1000 Hz, PCMU only, so no leg transcodes) with `Media.connect` and
accepts. Once every phone hears its agent and every agent its caller, each leg's received frames are
counted for `--seconds`: the phone's RTP packets in, and the frames the agent's peer decodes. A leg at full
rate gets 50 frames/s (20 ms each); "sounding" counts only frames carrying the partner's tone (the bridge
fills a late source with silence). Calls per core = calls / daphne's cores, given only when every leg of
every call kept 49 frames/s. Target: >= 25 concurrent G.711 calls per core.

Daphne does everything here (SIP, the bridge, both legs' RTP, the web side). The load generator, this
process, runs the phones and the peers, whose media work is about the bridge's own, on the same 2 cores:
its CPU is printed next to daphne's, and a run where it nears a whole core measures the client as much as
the server.
"""
from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

import numpy as np
from harness import MACHINE_NOTE, CpuWatch, emit_json, format_cpu, make_agents, open_many
from sip_harness import HOST, Agent, Trunk, at_least, caller_number, make_hotline, sip_server

from sessions_app.media import g711, patches  # noqa: E402
from testing.peers import Peer, dominant_hz  # noqa: E402
from sessions_app.media.rtp_leg import RtpLeg  # noqa: E402
from sessions_app.media.sip import OutgoingCall  # noqa: E402

CALLER_HZ, AGENT_HZ = 440, 1000
FULL_RATE = 49  # frames/s a leg must keep (of 50) for its call to count
TARGET = 25  # calls per core
SETUPS_AT_ONCE = 4
SOUND = 300  # a frame's peak above this carries sound (the tones are at 0.3 of full scale)
RATE = 8000


class PhoneEar:
    """What a phone leg receives from the bridge: frames, frames with sound, and the last half second."""

    def __init__(self, leg: RtpLeg):
        self.leg = leg
        self.frames = self.sounding = 0
        self.recent: list[np.ndarray] = []
        self.task = asyncio.get_running_loop().create_task(self._listen(leg.taps["audio"].listen()))

    async def _listen(self, feed) -> None:
        while True:
            frame = await feed.get(1.0)
            if frame is None:
                continue
            samples = frame.to_ndarray().reshape(-1)
            self.frames += 1
            if np.max(np.abs(samples)) > SOUND:
                self.sounding += 1
            self.recent.append(samples.astype(np.float64))
            del self.recent[:-25]

    def hears(self) -> float:
        return dominant_hz(np.concatenate(self.recent) if self.recent else np.zeros(0), RATE)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@dataclass
class BridgedCall:
    number: str
    phone: RtpLeg
    phone_ear: PhoneEar
    sip: OutgoingCall | None = None
    agent: Agent | None = None
    session_id: str = ""
    peer: Peer | None = None

    def agent_heard(self) -> tuple[int, int]:
        """Frames the agent's peer has decoded so far, and how many of them were silent."""
        ear = self.peer.ear if self.peer is not None else None
        return (ear.frames, ear.quiet_frames) if ear is not None else (0, 0)

    def both_hear(self) -> bool:
        return (self.peer is not None and self.peer.ear is not None
                and abs(self.peer.ear.hears(0.2) - CALLER_HZ) <= 15 and abs(self.phone_ear.hears() - AGENT_HZ) <= 15)


class Center:
    """The server, the trunk and a pool of connected agents, kept across the loads `--find` tries."""

    def __init__(self, live, hotline: str):
        self.live, self.hotline = live, hotline
        self.trunk = Trunk(live, hotline)
        self.agents: list[Agent] = []
        self.offers: dict[str, asyncio.Future] = {}  # caller number -> (agent, sessionId) of its callIn
        self.placed = 0
        self.tone = (np.sin(2 * np.pi * CALLER_HZ * np.arange(RATE * 600) / RATE) * 0.3 * 32767).astype(np.int16)

    async def start(self) -> "Center":
        await self.trunk.start()
        return self

    async def staff(self, count: int) -> None:
        """At least `count` agents connected and free (wrap-up 0: free again the moment a call ends)."""
        if count > len(self.agents):
            made = make_agents(self.live, count - len(self.agents), kinds=("phone",), wrap_up=0,
                               prefix=f"sipbr{len(self.agents)}-")
            self.agents += [Agent(sdk, self.on_event) for sdk in await open_many(self.live, made)]

    def on_event(self, agent: Agent, frame: dict, at: float) -> None:
        if frame["event"] == "callIn":
            offer = self.offers.get(frame["data"].get("callerPhoneNumber", ""))
            if offer is not None and not offer.done():
                offer.set_result((agent, frame["data"]["sessionId"]))

    async def place(self, calls: list[BridgedCall]) -> None:
        """One call, from the trunk's INVITE to the agent's leg connected and the call accepted; it joins
        `calls` as soon as it has a phone, so that a call failing half way is hung up with the others."""
        number = caller_number(self.placed)
        self.placed += 1
        # Sending nothing ("sendonly" is the far end's direction) until the 200 OK says where the bridge is.
        phone = RtpLeg(f"phone-{number}", lambda leg: None, HOST, HOST, 9, g711.PCMU, 101, direction="sendonly")
        call = BridgedCall(number, phone, PhoneEar(phone))
        calls.append(call)
        phone.audio_out.say(self.tone)
        self.offers[number] = offered = asyncio.get_running_loop().create_future()
        call.sip = await self.trunk.call(number, phone.local_port)
        await asyncio.wait_for(asyncio.shield(call.sip.answered), 10)  # shielded: a timeout must not cancel it
        host, port = call.sip.remote_sdp.audio_address()
        phone.update(host, port, g711.PCMU, 101, "sendrecv", latch=False)
        call.agent, call.session_id = await asyncio.wait_for(offered, 10)
        call.peer = Peer(AGENT_HZ, codec="audio/PCMU")
        offer = await call.peer.offer()
        answer = await call.agent.request("Media.connect", {"sessionId": call.session_id, "sdp": offer})
        await call.peer.accept_answer(answer["data"]["sdp"])
        await call.agent.request("Call.accept", {"sessionId": call.session_id})
        await asyncio.wait_for(call.peer.connected.wait(), 10)

    async def place_many(self, count: int, calls: list[BridgedCall]) -> None:
        gate = asyncio.Semaphore(SETUPS_AT_ONCE)

        async def one() -> None:
            async with gate:
                await self.place(calls)

        # Every setup runs to its end before a failure is raised, so none is still under way at the hang-up.
        failures = [r for r in await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True) if r]
        if failures:
            raise RuntimeError(f"{len(failures)} of {count} calls were not set up; the first: {failures[0]!r}")

    async def hang_up(self, calls: list[BridgedCall]) -> dict:
        """The agents hang up; the gateway BYEs the trunk. Returns how the trunk's calls ended."""
        for call in calls:
            if call.agent is not None:
                try:
                    await call.agent.request("Call.hungUp", {"sessionId": call.session_id})
                except (RuntimeError, asyncio.TimeoutError) as error:
                    print(f"hanging up {call.session_id} failed: {error}")
        endings: dict[str, int] = {}
        for call in calls:
            ending = "no BYE within 10 s"
            if call.sip is not None:
                try:
                    ended = await asyncio.wait_for(asyncio.shield(call.sip.ended), 10)
                    ending = f"{ended.by} {ended.reason}"
                except asyncio.TimeoutError:
                    await call.sip.bye()
            endings[ending] = endings.get(ending, 0) + 1
            if call.peer is not None:
                await call.peer.close()
            await call.phone_ear.stop()
            await call.phone.close()
            self.offers.pop(call.number, None)
        return endings

    async def close(self) -> None:
        await self.trunk.close()
        for agent in self.agents:
            await agent.close()


async def until(condition, timeout: float) -> bool:
    """Whether `condition()` came true within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def measure(center: Center, count: int, seconds: float) -> dict:
    await center.staff(count)
    setup = time.perf_counter()
    calls: list[BridgedCall] = []
    try:
        await center.place_many(count, calls)
        setup_seconds = time.perf_counter() - setup
        # A machine out of CPU may never get there: the window is then measured all the same, and shows it.
        all_hear = await until(lambda: all(c.both_hear() for c in calls), 30)
        await asyncio.sleep(1)  # let the set-up's burst of CPU pass before the window opens
        phones = [c.phone for c in calls]
        phones_before = [(p.endpoint.packets_in, c.phone_ear.sounding) for p, c in zip(phones, calls)]
        ears_before = [c.agent_heard() for c in calls]
        watch, started = CpuWatch(center.live.process.pid), time.perf_counter()
        await asyncio.sleep(seconds)  # the measured window: media flows on its own meanwhile
        elapsed = time.perf_counter() - started
        cpu = watch.report()
        phone_fps = [(p.endpoint.packets_in - n) / elapsed for p, (n, _) in zip(phones, phones_before)]
        phone_sounding = [(c.phone_ear.sounding - s) / elapsed for c, (_, s) in zip(calls, phones_before)]
        ears_after = [c.agent_heard() for c in calls]
        agent_fps = [(f1 - f0) / elapsed for (f0, _), (f1, _) in zip(ears_before, ears_after)]
        agent_sounding = [((f1 - q1) - (f0 - q0)) / elapsed for (f0, q0), (f1, q1) in zip(ears_before, ears_after)]
    finally:
        endings = await center.hang_up(calls)
    full = min(phone_fps + agent_fps) >= FULL_RATE
    server = cpu["serverCores"]
    return {"calls": count, "allHear": all_hear, "seconds": elapsed, "setupSeconds": setup_seconds, "cpu": cpu,
            "serverCores": server,
            "clientCores": cpu["clientCores"], "otherCores": cpu["otherCores"],
            "phoneFps": _spread(phone_fps), "phoneSounding": _spread(phone_sounding),
            "agentFps": _spread(agent_fps), "agentSounding": _spread(agent_sounding), "fullRate": full,
            "callsPerCore": count / server if full and server > 0 else None, "endings": endings}


def _spread(values: list[float]) -> dict:
    return {"min": min(values), "mean": sum(values) / len(values)}


def report(result: dict) -> str:
    lines = [
        f"{result['calls']:>3} calls (set up in {result['setupSeconds']:.1f} s): daphne "
        f"{result['serverCores'] * 100:5.1f}% of a core, the load generator {result['clientCores'] * 100:.0f}%, "
        f"other processes {result['otherCores'] * 100:.0f}%"
        + ("" if result["allHear"] else " (not every side heard its partner within 30 s)"),
        f"    phone legs receive  {result['phoneFps']['min']:5.1f} min {result['phoneFps']['mean']:5.1f} mean frames/s"
        f" (sounding: min {result['phoneSounding']['min']:.1f}, mean {result['phoneSounding']['mean']:.1f})",
        f"    agent legs receive  {result['agentFps']['min']:5.1f} min {result['agentFps']['mean']:5.1f} mean frames/s"
        f" (sounding: min {result['agentSounding']['min']:.1f}, mean {result['agentSounding']['mean']:.1f})",
        f"    trunk calls ended: {result['endings']}"]
    if result["callsPerCore"] is not None:
        lines.append(f"    -> {result['callsPerCore']:.1f} calls per core of daphne at full rate   "
                     f"{at_least(result['callsPerCore'], TARGET)} (>= {TARGET})")
    else:
        lines.append(f"    -> not at full rate (a leg under {FULL_RATE} frames/s): no calls-per-core figure")
    if result["clientCores"] > 0.85:
        lines.append("    (the load generator used most of a core: frames a leg lacks may be its doing, not daphne's)")
    if result["otherCores"] > 0.25:
        lines.append("    (other processes were busy: the figures are inflated, rerun on a quiet machine)")
    return "\n".join(lines)


CLIENT_LIMIT = 0.85  # cores of the load generator past which a larger load would measure the client


def fits(result: dict) -> bool:
    return result["fullRate"] and result["serverCores"] <= 1.0


async def find(center: Center, seconds: float, start: int, most: int = 200) -> dict:
    """Double the calls while they fit (every leg at full rate, daphne within one core), then halve the gap
    to the first load that did not, to within a tenth. On 2 cores the load generator usually runs out first:
    once it uses most of a core, a larger load would measure it rather than daphne, and the ramp stops."""
    results = []

    async def fit(calls: int) -> bool:
        results.append(await measure(center, calls, seconds))
        print(report(results[-1]), flush=True)
        return fits(results[-1])

    good, bad, calls = 0, None, start
    while bad is None and calls <= most:
        if not await fit(calls):
            bad = calls
        elif results[-1]["clientCores"] > CLIENT_LIMIT:
            good = calls
            break
        else:
            good, calls = calls, calls * 2
    while bad is not None and bad - good > max(1, good // 10):
        calls = (good + bad) // 2
        if await fit(calls):
            good = calls
        else:
            bad = calls
    largest = next((r for r in reversed(results) if r["calls"] == good and fits(r)), None)
    return {"largest": largest, "firstTooMany": bad, "clientBound": bad is None and good < most, "runs": results}


async def run(args) -> dict:
    patches.install()  # the peers get the engine's own savings, as the media benchmarks' peers do
    patches.only_addresses([HOST])
    with sip_server() as live:
        center = await Center(live, make_hotline(live)).start()
        try:
            if args.find:
                return await find(center, args.seconds, max(2, args.calls))
            return await measure(center, args.calls, args.seconds)
        finally:
            await center.close()


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="concurrent calls (default 20; --find: where to start)")
    parser.add_argument("--seconds", type=float, default=10, help="the measured window (default 10)")
    parser.add_argument("--find", action="store_true",
                        help="ramp the calls to the largest number at full rate within one core of daphne")
    parser.add_argument("--json", help="also write the figures to this file as JSON")
    args = parser.parse_args()
    print(MACHINE_NOTE, flush=True)
    result = asyncio.run(run(args))
    if args.find:
        largest = result["largest"]
        if largest is None:
            print(f"\neven {result['firstTooMany']} calls did not fit")
        else:
            beyond = ("the load generator had no more room on this machine, so this is a floor, not the limit"
                      if result["clientBound"] else f"{result['firstTooMany']} calls did not fit")
            print(f"\nlargest load that fits: {largest['calls']} calls, daphne {largest['serverCores'] * 100:.0f}% "
                  f"of a core, {largest['callsPerCore']:.1f} calls per core   "
                  f"{at_least(largest['callsPerCore'], TARGET)} (>= {TARGET}); {beyond}")
    else:
        print(report(result))
        print(format_cpu(result["cpu"]))
    emit_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
