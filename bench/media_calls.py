"""Concurrent bridged audio calls: the media process's CPU, and the frame rate every leg receives.

    .venv/bin/python bench/media_calls.py [--codec opus|pcmu] [--calls N] [--seconds 10]
    .venv/bin/python bench/media_calls.py --codec pcmu --find     # the most calls one core keeps at full rate
    .venv/bin/python bench/media_calls.py --record                # every call recorded (media/recorder.py)

`--calls` calls (2 legs each: a customer's peer sending 440 Hz and an agent's sending 1000 Hz) are placed
through the engine in its own process and bridged; once every peer hears its partner, each leg's received
frames are counted for `--seconds`. A leg at full rate gets 50 frames/s (20 ms each); "sounding" counts only
frames with the partner's voice in them, as the bridge fills a late source with silence. The figure the
targets speak of, calls per core, is calls / (media process cores), given only when every leg kept 49 frames/s.
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from harness import CpuWatch, emit_json
from media_harness import MEDIA_NOTE, MediaProcess, client_patches, hang_up, place_calls
from testing.polling import until

FULL_RATE = 49  # frames/s a leg must keep (of 50) for its call to count
CLIENT_SATURATED = 0.9  # cores used by the peers' process (one event loop) past which it cannot keep up
CODECS = {"opus": "audio/opus", "pcmu": "audio/PCMU"}
TARGETS = {"opus": 15, "pcmu": 25}  # calls per core


def hears_partner(peer, hz: float) -> bool:
    return abs(peer.ear.hears(0.2) - hz) <= 15


async def measure(codec: str, calls: int, seconds: float, record: bool = False) -> dict:
    media = await MediaProcess.start()
    placed = []
    spool = tempfile.TemporaryDirectory(prefix="bench-recordings-") if record else None
    try:
        placed = await place_calls(media, calls, CODECS[codec], record_to=spool.name if spool else "")
        await until(lambda: all(hears_partner(c.customer, c.agent.tone.hz)
                                and hears_partner(c.agent, c.customer.tone.hz) for c in placed),
                    timeout=30, what="every peer hears its partner")
        await asyncio.sleep(1)  # let the set-up's burst of CPU pass before the window opens
        ears = [peer.ear for call in placed for peer in call.peers]
        before = [(ear.frames, ear.quiet_frames) for ear in ears]
        watch, started = CpuWatch(media.pid), time.perf_counter()
        await asyncio.sleep(seconds)  # the measured window: media flows on its own meanwhile
        elapsed = time.perf_counter() - started
        cpu = watch.report()
        fps = [(ear.frames - f) / elapsed for ear, (f, q) in zip(ears, before)]
        sounding = [(ear.frames - ear.quiet_frames - (f - q)) / elapsed for ear, (f, q) in zip(ears, before)]
    except TimeoutError as error:  # too many calls to set up on this machine: a load that does not fit
        return {"codec": codec, "calls": calls, "recorded": record, "failed": str(error), "fullRate": False, "callsPerCore": None,
                "clientSaturated": False}
    finally:
        await hang_up(media, placed)
        await media.close()
        if spool is not None:
            spool.cleanup()
    full = min(fps) >= FULL_RATE
    return {"codec": codec, "calls": calls, "recorded": record, "seconds": elapsed, "mediaCores": cpu["serverCores"],
            "clientCores": cpu["clientCores"], "otherCores": cpu["otherCores"],
            "fpsMin": min(fps), "fpsMean": sum(fps) / len(fps),
            "soundingMin": min(sounding), "soundingMean": sum(sounding) / len(sounding), "fullRate": full,
            "callsPerCore": calls / cpu["serverCores"] if full and cpu["serverCores"] > 0 else None,
            # one asyncio process near a whole core reads its frames late and in bursts (mean over 50/s):
            # then the frame rates say more about the load generator than about the bridge
            "clientSaturated": cpu["clientCores"] > CLIENT_SATURATED or sum(fps) / len(fps) > 50.5}


def report(result: dict) -> str:
    if "failed" in result:
        return f"{result['calls']:>3} {result['codec']} calls: could not be set up ({result['failed']})"
    recorded = " recorded" if result.get("recorded") else ""
    line = (f"{result['calls']:>3} {result['codec']}{recorded} calls: media process {result['mediaCores'] * 100:5.1f}% of a core"
            f" | frames/s per leg min {result['fpsMin']:.1f} mean {result['fpsMean']:.1f}"
            f" | sounding min {result['soundingMin']:.1f} mean {result['soundingMean']:.1f}"
            f" | peers (this process) {result['clientCores']:.2f} cores, other processes {result['otherCores']:.2f}")
    if result["callsPerCore"] is not None:
        line += f"\n    -> {result['callsPerCore']:.1f} calls per core at full rate"
    else:
        line += f"\n    -> not at full rate (a leg under {FULL_RATE} frames/s): no calls-per-core figure"
    if result["clientSaturated"]:
        line += "\n    (the peers' process was saturated: it, not the bridge, limits this load)"
    if result["otherCores"] > 0.25:
        line += "\n    (other processes were busy: the figures are inflated, rerun on a quiet machine)"
    return line


def fits(result: dict) -> bool:
    return result["fullRate"] and result["mediaCores"] <= 1.0


async def find(codec: str, seconds: float, start: int, most: int = 400, record: bool = False) -> dict:
    """Double the calls while they fit (every leg at full rate, the media process within one core), then
    halve the gap to the first load that did not, to within a tenth. A load at which the peers' own process
    saturates counts as one that does not fit: from there on this machine measures the load generator."""
    results = []

    async def fit(calls: int) -> bool | None:
        results.append(await measure(codec, calls, seconds, record))
        print(report(results[-1]), flush=True)
        return None if results[-1]["clientSaturated"] else fits(results[-1])

    good, bad, saturated, calls = 0, None, None, start
    while bad is None and calls <= most:
        outcome = await fit(calls)
        if outcome is None:
            saturated = bad = calls
        elif outcome:
            good, calls = calls, calls * 2
        else:
            bad = calls
    while bad is not None and bad - good > max(1, good // 10):
        calls = (good + bad) // 2
        outcome = await fit(calls)
        if outcome is None:
            saturated = bad = calls
        elif outcome:
            good = calls
        else:
            bad = calls
    largest = next((r for r in reversed(results) if r["calls"] == good and fits(r)), None)
    return {"codec": codec, "largest": largest, "firstTooMany": bad, "clientSaturatedAt": saturated,
            "runs": results}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codec", choices=sorted(CODECS), default="opus")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--find", action="store_true",
                        help="ramp the calls to the largest number at full rate within one core of the media process")
    parser.add_argument("--record", action="store_true", help="record every call (stereo Ogg Opus, a temporary folder)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    client_patches()
    print(f"media_calls: {args.codec}; {MEDIA_NOTE}.", flush=True)
    if args.find:
        result = await find(args.codec, args.seconds, max(2, args.calls), record=args.record)
        largest = result["largest"]
        if largest is None:
            print(f"\neven {result['firstTooMany'] or result['clientSaturatedAt']} calls did not fit")
        else:
            print(f"\nlargest load that fits: {largest['calls']} {args.codec} calls, media process "
                  f"{largest['mediaCores'] * 100:.0f}% of a core, {largest['callsPerCore']:.1f} calls per core "
                  f"(target {TARGETS[args.codec]})")
        if result["clientSaturatedAt"]:
            print(f"the peers' process saturated at {result['clientSaturatedAt']} calls: on this machine the load "
                  "generator, not the media process, set the upper bound")
    else:
        result = await measure(args.codec, args.calls, args.seconds, args.record)
        print(report(result))
        if result["callsPerCore"] is not None:
            target = TARGETS[args.codec]
            print(f"    target {target} calls per core: {'met' if result['callsPerCore'] >= target else 'MISSED'}")
    emit_json(args.json, result)


if __name__ == "__main__":
    asyncio.run(main())
