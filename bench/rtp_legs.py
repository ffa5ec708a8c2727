"""CPU per phone (RTP) leg: N legs bridged in pairs, each receiving and sending 50 G.711 packets a second.

This process holds the legs, as a media worker would, and reads its own CPU time from /proc; the far ends
(the "trunk": one UDP socket per leg sending a 20 ms packet every 20 ms and counting what comes back) run in a
child process, so their cost is not counted. Pairs are bridged as `Call.rewire` bridges a caller and an
agent: each leg's switch track follows the other leg's tap, so every packet is decoded, framed, tapped,
switched, encoded and sent.

    .venv/bin/python bench/rtp_legs.py --legs 50 --seconds 10
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessions_app.media import g711, rtp  # noqa: E402
from sessions_app.media.call import Call, Plan  # noqa: E402
from sessions_app.media.rtp_leg import RtpLeg  # noqa: E402

HOST = "127.0.0.1"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


async def trunks(ports: list[int]) -> None:
    """The child: one endpoint per leg port, a packet of a 440 Hz tone to each every 20 ms."""
    received = [0] * len(ports)
    endpoints = []
    for index, port in enumerate(ports):
        def count(packet, index=index):
            received[index] += 1
        endpoint = rtp.RtpEndpoint(HOST, count)
        endpoint.set_remote(HOST, port, latch=False)
        endpoints.append(endpoint)
    for endpoint in endpoints:
        await endpoint.opening
    tone = (np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 8000).astype(np.int16)
    payloads = [g711.encode(tone[i:i + 160], g711.PCMU) for i in range(0, 8000, 160)]
    print(json.dumps({"ready": True}), flush=True)
    loop = asyncio.get_running_loop()
    start, tick = loop.time(), 0
    while not sys.stdin.closed:
        for index, endpoint in enumerate(endpoints):
            endpoint.send(rtp.packet(0, tick == 0, tick & 0xFFFF, tick * 160, 1000 + index, payloads[tick % 50]))
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * 0.02 - loop.time()))
        if tick % 50 == 0:
            print(json.dumps({"received": received}), flush=True)


async def measure(count: int, seconds: float) -> dict:
    legs = [RtpLeg(f"leg{i}", lambda leg: None, HOST, HOST, 9, g711.PCMU, 101) for i in range(count)]
    calls = []
    for i in range(0, count, 2):
        call = Call(f"call{i}")
        call.legs = {legs[i].id: legs[i], legs[i + 1].id: legs[i + 1]}
        call.plan = Plan(a=legs[i].id, b=legs[i + 1].id)
        call.rewire()
        calls.append(call)
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--trunks", json.dumps([leg.local_port for leg in legs]),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    await child.stdout.readline()
    await asyncio.sleep(2)  # warm up: every leg latched and bridged
    frames_before = [leg.taps["audio"].frames_in for leg in legs]
    sent_before = [leg.endpoint.packets_out for leg in legs]
    cpu_before, wall_before = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = cpu_seconds() - cpu_before, time.monotonic() - wall_before
    frames = [leg.taps["audio"].frames_in - before for leg, before in zip(legs, frames_before)]
    sent = [leg.endpoint.packets_out - before for leg, before in zip(legs, sent_before)]
    child.stdin.close()
    child.kill()
    await child.wait()
    for leg in legs:
        await leg.close()
    return {"legs": count, "seconds": round(wall, 2), "cpuSeconds": round(cpu, 3),
            "cpuPercentPerLeg": round(100 * cpu / wall / count, 3),
            "legsPerCoreAt100%": round(count * wall / cpu) if cpu else None,
            "framesInPerLegPerSecond": round(sum(frames) / count / wall, 1),
            "packetsOutPerLegPerSecond": round(sum(sent) / count / wall, 1),
            "lost": sum(leg.received.lost for leg in legs), "late": sum(leg.received.late for leg in legs)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--legs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--trunks", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.trunks:
        asyncio.run(trunks(json.loads(args.trunks)))
        return
    print(json.dumps(asyncio.run(measure(args.legs - args.legs % 2, args.seconds))))


if __name__ == "__main__":
    main()
