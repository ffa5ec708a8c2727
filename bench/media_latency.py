"""What the bridge adds to a call's delay: mouth-to-ear through the bridge against a direct connection, and
how soon a customer waiting with music hears the agent once the call is bridged.

    .venv/bin/python bench/media_latency.py [--clicks 50] [--calls 20] [--codec opus|pcmu|both]

Mouth to ear: the sending peer replaces one 20 ms frame of its tone with a full-scale burst (`ToneTrack.click`,
time taken when the frame is made) and the receiving peer's `Ear` notes when that burst begins to arrive
(decoded, as a browser would play it). The same two kinds of peer measure it over a direct peer-to-peer
connection and through the bridge (customer -> media process -> agent); the difference is what the bridge
adds: its receive buffer, decoding, switching, encoding and the extra network hop. Its p99 is the bridged
p99 less the direct median, so the whole tail is charged to the bridge. Both ends' jitter buffers
release a frame when the next one arrives (20 ms), as a browser's does on a LAN.

Accept to first audio: both legs connected, the customer hearing queue music; the clock starts just before
`apply_plan` with `b` set is sent, and stops at the arrival of the first frame in which the customer hears
the agent's tone (1800 Hz, not a note of the music), detected frame by frame.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import time

from aiortc import RTCSessionDescription

from harness import emit_json, format_ms, summary_ms
from media_harness import CUSTOMER_HZ, MEDIA_NOTE, MediaProcess, client_patches, hang_up, place_call
from testing.peers import Peer, dominant_hz
from testing.polling import until
from sessions_app.media.sounds import Music

CODECS = {"opus": "audio/opus", "pcmu": "audio/PCMU"}
AGENT_HZ = 1800
ADDED_TARGET_MS, ACCEPT_TARGET_MS = 40, 300


async def direct_pair(codec: str) -> tuple[Peer, Peer]:
    """Two peers connected to each other, the second answering the first's offer."""
    mouth, ear = Peer(CUSTOMER_HZ, codec), Peer(AGENT_HZ, codec)
    await ear.pc.setRemoteDescription(RTCSessionDescription(await mouth.offer(), "offer"))
    await ear.pc.setLocalDescription(await ear.pc.createAnswer())
    await mouth.accept_answer(ear.pc.localDescription.sdp)
    await asyncio.wait_for(mouth.connected.wait(), 10)
    await until(lambda: ear.ear is not None and abs(ear.ear.hears(0.2) - CUSTOMER_HZ) < 15, timeout=10,
                what="direct audio")
    return mouth, ear


async def clicks(mouth: Peer, ear: Peer, count: int) -> list[float]:
    """Mouth-to-ear delay of `count` clicks, in seconds, a few hundred ms apart (so each stands alone)."""
    delays = []
    for _ in range(count):
        previous = mouth.tone.click_sent_at
        mouth.tone.click()
        await until(lambda: mouth.tone.click_sent_at != previous and ear.ear.loud_at is not None
                    and ear.ear.loud_at > mouth.tone.click_sent_at, timeout=2, what="the click is heard")
        delays.append(ear.ear.loud_at - mouth.tone.click_sent_at)
        await asyncio.sleep(0.1 + random.random() * 0.1)  # spacing between clicks, not a wait for a result
    return delays


async def mouth_to_ear(media: MediaProcess, codec: str, count: int) -> dict:
    mouth, ear = await direct_pair(CODECS[codec])
    try:
        direct = await clicks(mouth, ear, count)
    finally:
        await mouth.close()
        await ear.close()
    call = await place_call(media, f"latency-{codec}", CODECS[codec], agent_hz=AGENT_HZ)
    try:
        await until(lambda: abs(call.agent.ear.hears(0.2) - CUSTOMER_HZ) < 15, timeout=10,
                    what="bridged audio")
        bridged = await clicks(call.customer, call.agent, count)
    finally:
        await hang_up(media, [call])
    direct_ms, bridged_ms = summary_ms(direct), summary_ms(bridged)
    return {"codec": codec, "direct": direct_ms, "bridged": bridged_ms,
            # the tail is charged to the bridge in full: bridged p99 against the direct path's median
            "addedP50": bridged_ms["p50"] - direct_ms["p50"], "addedP99": bridged_ms["p99"] - direct_ms["p50"]}


def first_frame_of(peer: Peer, hz: float, after: float) -> float | None:
    """Arrival time of the first frame since `after` whose dominant frequency is `hz`."""
    ear = peer.ear
    for samples, arrived in zip(list(ear.recent), list(ear.recent_at)):
        if arrived > after and abs(dominant_hz(samples, ear.rate) - hz) <= 60:
            return arrived
    return None


async def accept_to_audio(media: MediaProcess, codec: str, calls: int) -> dict:
    delays = []
    for number in range(calls):
        call = await place_call(media, f"accept-{codec}-{number}", CODECS[codec], agent_hz=AGENT_HZ, bridge=False)
        try:
            await until(lambda: any(abs(call.customer.ear.hears(0.1) - note) < 15 for note in Music.NOTES_HZ),
                        timeout=10, what="queue music")
            await asyncio.sleep(random.random() * 0.02)  # start at any phase of the 20 ms frame clock
            started = time.monotonic()
            await media.perform("apply_plan", {"call_id": call.id, "plan": {"a": "customer", "b": "agent"}})
            await until(lambda: first_frame_of(call.customer, AGENT_HZ, started) is not None, timeout=3,
                        what="the customer hears the agent")
            delays.append(first_frame_of(call.customer, AGENT_HZ, started) - started)
        finally:
            await hang_up(media, [call])
    return {"codec": codec, "acceptToAudio": summary_ms(delays)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codec", choices=["opus", "pcmu", "both"], default="both")
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20, help="calls for accept-to-first-audio")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    client_patches()
    print(f"media_latency: {MEDIA_NOTE}.", flush=True)
    codecs = ["opus", "pcmu"] if args.codec == "both" else [args.codec]
    media = await MediaProcess.start()
    result = {"mouthToEar": [], "acceptToAudio": []}
    try:
        for codec in codecs:
            m2e = await mouth_to_ear(media, codec, args.clicks)
            result["mouthToEar"].append(m2e)
            print(f"\n{codec} mouth to ear, direct:         {format_ms(m2e['direct'])}")
            print(f"{codec} mouth to ear, through bridge: {format_ms(m2e['bridged'])}")
            print(f"{codec} added by the bridge: p50 {m2e['addedP50']:.1f} ms, p99 {m2e['addedP99']:.1f} ms "
                  f"(bridged p50 and p99 less the direct p50) "
                  f"(target {ADDED_TARGET_MS} ms: {'met' if m2e['addedP99'] <= ADDED_TARGET_MS else 'MISSED'})",
                  flush=True)
        for codec in codecs:
            accept = await accept_to_audio(media, codec, args.calls)
            result["acceptToAudio"].append(accept)
            s = accept["acceptToAudio"]
            print(f"\n{codec} accept to first audio: {format_ms(s)} "
                  f"(target {ACCEPT_TARGET_MS} ms: {'met' if s['p99'] <= ACCEPT_TARGET_MS else 'MISSED'})", flush=True)
    finally:
        await media.close()
    emit_json(args.json, result)


if __name__ == "__main__":
    asyncio.run(main())
