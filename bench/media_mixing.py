"""What a third voice costs: the media process's CPU per call, two-party against monitored and three-way calls.

    .venv/bin/python bench/media_mixing.py [--calls 5] [--seconds 10] [--codec opus|pcmu] [--kinds ...]
    .venv/bin/python bench/media_mixing.py --calls 10 --rounds 3   # ~4 min: medians, for a shared machine

For each kind of call the engine starts afresh in its own process and `--calls` calls of that kind are placed
through it; once every peer hears exactly the voices it should (tones: customer 440 Hz, agent 1000 Hz,
supervisor 1500 Hz, consulted agent 2000 Hz), the media process's CPU is read for `--seconds`:
- `two-party`: customer and agent bridged (each leg follows the other's voice directly: no mixer);
- `listen`: plus a supervisor listening without a microphone, as the browser does in Listen mode (the
  supervisor's leg gets a mix of customer and agent; customer and agent keep the direct path);
- `listen-mic`: the same with the supervisor's microphone on (its voice is decoded though nobody hears it);
- `conference`: customer, agent and a consulted agent all hearing each other (three mixes).
The figure issue 19 sets is a monitored call at most 1.5 times an unmonitored one.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from harness import CpuWatch, emit_json
from media_harness import MEDIA_NOTE, MediaProcess, client_patches, join
from sessions_app.media.encoded import forwarding_default
from testing.peers import Peer
from testing.polling import until

CUSTOMER, AGENT, SUPERVISOR, CONSULTED = 440, 1000, 1500, 2000
VOICES = (CUSTOMER, AGENT, SUPERVISOR, CONSULTED)
CODECS = {"opus": "audio/opus", "pcmu": "audio/PCMU"}
TWO_PARTY = {"a": "customer", "b": "agent"}
# kind -> (the plan, the legs beyond customer and agent: leg id, tone, sends audio)
KINDS = {
    "two-party": (TWO_PARTY, []),
    "listen": ({**TWO_PARTY, "monitors": {"supervisor": "listen"}}, [("supervisor", SUPERVISOR, False)]),
    "listen-mic": ({**TWO_PARTY, "monitors": {"supervisor": "listen"}}, [("supervisor", SUPERVISOR, True)]),
    "conference": ({**TWO_PARTY, "consult": "consulted", "conference": True}, [("consulted", CONSULTED, True)]),
}
# what each leg hears once the plan is applied
HEARD = {
    "two-party": {"customer": {AGENT}, "agent": {CUSTOMER}},
    "listen": {"customer": {AGENT}, "agent": {CUSTOMER}, "supervisor": {CUSTOMER, AGENT}},
    "listen-mic": {"customer": {AGENT}, "agent": {CUSTOMER}, "supervisor": {CUSTOMER, AGENT}},
    "conference": {"customer": {AGENT, CONSULTED}, "agent": {CUSTOMER, CONSULTED},
                   "consulted": {CUSTOMER, AGENT}},
}
TARGET_RATIO = 1.5  # a monitored call's CPU over a two-party call's
FULL_RATE = 49  # frames/s every leg keeps (of 50) in a run that counts


async def place(media, call_id: str, kind: str, codec: str) -> dict[str, Peer]:
    """One call of `kind`, its plan applied: its peers by leg."""
    plan, others = KINDS[kind]
    legs = [("customer", CUSTOMER, True), ("agent", AGENT, True), *others]
    peers = {leg: Peer(hz, codec, send=send) for leg, hz, send in legs}
    for leg, peer in peers.items():
        await join(media, call_id, leg, peer, plan)
    await media.perform("apply_plan", {"call_id": call_id, "plan": plan})
    return peers


def mixed_frames(stats: dict) -> dict[tuple[str, str], int]:
    """Frames each mixer has made so far, by (call, listening leg)."""
    return {(call_id, leg): leg_stats["mixFramesOut"] for call_id, legs in stats["calls"].items()
            for leg, leg_stats in legs.items() if "mixFramesOut" in leg_stats}


def hears_right(kind: str, peers: dict[str, Peer]) -> bool:
    return all(peer.ear is not None and peer.ear.tones(VOICES, 0.3) == HEARD[kind][leg]
               for leg, peer in peers.items())


async def measure(kind: str, calls: int, seconds: float, codec: str) -> dict:
    media = await MediaProcess.start()
    placed: dict[str, dict[str, Peer]] = {}
    try:
        for number in range(calls):
            placed[f"call{number}"] = await place(media, f"call{number}", kind, CODECS[codec])
        await until(lambda: all(hears_right(kind, peers) for peers in placed.values()), timeout=30,
                    what="every peer hears the voices it should")
        await asyncio.sleep(1)  # let the set-up's burst of CPU pass before the window opens
        legs = [leg for peers in placed.values() for leg in peers]
        ears = [peer.ear for peers in placed.values() for peer in peers.values()]
        before = [ear.frames for ear in ears]
        mixed_before = mixed_frames(await media.perform("stats", {}))
        watch, started = CpuWatch(media.pid), time.perf_counter()
        await asyncio.sleep(seconds)  # the measured window: media flows on its own meanwhile
        elapsed = time.perf_counter() - started
        cpu = watch.report()
        mixed_after = mixed_frames(await media.perform("stats", {}))
        mix_fps = [(mixed_after[key] - made) / elapsed for key, made in mixed_before.items() if key in mixed_after]
        fps = [(ear.frames - f) / elapsed for ear, f in zip(ears, before)]
        right = all(hears_right(kind, peers) for peers in placed.values())
    except TimeoutError as error:  # a starved load generator's ears hear gaps: this run does not count
        return {"kind": kind, "codec": codec, "calls": calls, "failed": str(error)}
    finally:
        for call_id, peers in placed.items():
            await media.perform("end_call", {"call_id": call_id})
            for peer in peers.values():
                await peer.close()
        await media.close()
    return {"kind": kind, "codec": codec, "calls": calls, "legs": len(ears), "seconds": elapsed,
            "mediaCores": cpu["serverCores"], "perCallCores": cpu["serverCores"] / calls,
            "clientCores": cpu["clientCores"], "otherCores": cpu["otherCores"],
            "fpsMin": min(fps), "fpsMean": sum(fps) / len(fps), "stillRight": right,
            "mixFpsMin": min(mix_fps, default=None),
            "fpsMinByLeg": {leg: min(f for name, f in zip(legs, fps) if name == leg) for leg in dict.fromkeys(legs)}}


def report(r: dict) -> str:
    if "failed" in r:
        return f"{r['kind']:>10}: {r['calls']} {r['codec']} calls could not be measured ({r['failed']})"
    line = (f"{r['kind']:>10}: {r['calls']} {r['codec']} calls ({r['legs']} legs), media process "
            f"{r['mediaCores'] * 100:5.1f}% of a core, {r['perCallCores'] * 100:.2f}% per call")
    if "ratio" in r:
        line += f" = {r['ratio']:.2f}x two-party"
    by_leg = ", ".join(f"{leg} {fps:.1f}" for leg, fps in r["fpsMinByLeg"].items())
    mixes = f", mixers made min {r['mixFpsMin']:.1f}" if r.get("mixFpsMin") is not None else ""
    line += (f" | frames/s per leg min {r['fpsMin']:.1f} ({by_leg}) mean {r['fpsMean']:.1f}{mixes}"
             f" | peers {r['clientCores']:.2f} cores, other processes {r['otherCores']:.2f}")
    if not r["stillRight"]:
        line += "\n    (a peer stopped hearing the voices it should during the window)"
    if r["otherCores"] > 0.25:
        line += "\n    (other processes were busy: the figures are inflated, rerun on a quiet machine)"
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--codec", choices=sorted(CODECS), default="opus")
    parser.add_argument("--kinds", nargs="+", choices=list(KINDS), default=list(KINDS))
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure the kinds in turn this many times and keep each kind's median (a shared "
                             "machine's other work then weighs on every kind alike)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    client_patches()
    print(f"media_mixing: {args.codec}, forwarding {'on' if forwarding_default() else 'off (MEDIA_FORWARDING=0)'}; "
          f"{MEDIA_NOTE}.", flush=True)
    runs: dict[str, list[dict]] = {kind: [] for kind in args.kinds}
    for _ in range(args.rounds):
        for kind in args.kinds:
            runs[kind].append(await measure(kind, args.calls, args.seconds, args.codec))
            if args.rounds > 1:
                print(f"    (round {len(runs[kind])}) {report(runs[kind][-1])}", flush=True)
    results, base = [], None
    for kind in args.kinds:
        # a run in which legs lost frames (the machine starved us all) did less work: it is left out if it can be
        measured = [run for run in runs[kind] if "failed" not in run]
        if not measured:
            print(report(runs[kind][-1]))
            continue
        full = [run for run in measured if run["fpsMin"] >= FULL_RATE] or measured
        middle = statistics.median(run["perCallCores"] for run in full)
        r = dict(min(full, key=lambda run: abs(run["perCallCores"] - middle)), perCallCores=middle,
                 mediaCores=middle * args.calls)
        r["rounds"] = len(runs[kind])
        r["roundsAtFullRate"] = len([run for run in measured if run["fpsMin"] >= FULL_RATE])
        results.append(r)
        if kind == "two-party":
            base = r
        if base is not None and base["perCallCores"] > 0:
            r["ratio"] = r["perCallCores"] / base["perCallCores"]
        print(report(r), flush=True)
    forwarding = forwarding_default()
    for r in results:
        if r["kind"].startswith("listen") and "ratio" in r:
            verdict = "met" if r["ratio"] <= TARGET_RATIO else "MISSED"
            print(f"{r['kind']}: a monitored call costs {r['ratio']:.2f}x a two-party call "
                  f"(target <= {TARGET_RATIO}x, set for a bridge decoding every frame): {verdict}"
                  + (" -- forwarding is on: the two-party call is forwarded, the supervisor's mix is decoded and "
                     "encoded; MEDIA_FORWARDING=0 measures the target's case" if forwarding else ""))
    emit_json(args.json, {"runs": results})


if __name__ == "__main__":
    asyncio.run(main())
