"""Bridged video calls: the media process's CPU per call, and the video frame rate each peer receives.

    .venv/bin/python bench/media_video.py [--calls 1 2 4] [--seconds 10]

Each call is two peers sending Opus audio and VP8 video (aiortc's `VideoStreamTrack`: 640x480 at 30 frames/s),
bridged both ways; for every load the engine starts afresh in its own process. The bridge decodes every
frame it receives and encodes it again for the other leg (VP8 at 640x480 both ways per call). The test
pattern is a flat green picture, which VP8 compresses to almost nothing: a camera's picture costs more
to encode, so read these figures as a floor.
"""
from __future__ import annotations

import argparse
import asyncio
import time

from harness import CpuWatch, emit_json
from media_harness import MEDIA_NOTE, MediaProcess, client_patches, hang_up, place_calls
from testing.polling import until

LIVE_SIZE = (640, 480)  # the peers' own picture; the bridge's black filler is 320x240


async def measure(calls: int, seconds: float) -> dict:
    media = await MediaProcess.start()
    placed = []
    try:
        placed = await place_calls(media, calls, "audio/opus", video=True, at_once=2)
        peers = [peer for call in placed for peer in call.peers]
        await until(lambda: all(peer.video_size == LIVE_SIZE for peer in peers), timeout=30,
                    what="every peer sees the other's video")
        await asyncio.sleep(2)  # let the set-up's burst of CPU (and the first key frames) pass
        before = [(peer.video_frames, peer.ear.frames) for peer in peers]
        watch, started = CpuWatch(media.pid), time.perf_counter()
        await asyncio.sleep(seconds)  # the measured window: media flows on its own meanwhile
        elapsed = time.perf_counter() - started
        cpu = watch.report()
        video = [(peer.video_frames - v) / elapsed for peer, (v, a) in zip(peers, before)]
        audio = [(peer.ear.frames - a) / elapsed for peer, (v, a) in zip(peers, before)]
    finally:
        await hang_up(media, placed)
        await media.close()
    return {"calls": calls, "mediaCores": cpu["serverCores"], "perCallCores": cpu["serverCores"] / calls,
            "clientCores": cpu["clientCores"], "otherCores": cpu["otherCores"],
            "videoFpsMin": min(video), "videoFpsMean": sum(video) / len(video), "audioFpsMin": min(audio)}


def report(r: dict) -> str:
    line = (f"{r['calls']:>2} video calls: media process {r['mediaCores'] * 100:5.1f}% of a core, "
            f"{r['perCallCores'] * 100:.1f}% per call | video frames/s per peer min {r['videoFpsMin']:.1f} "
            f"mean {r['videoFpsMean']:.1f} (sent at 30) | audio frames/s min {r['audioFpsMin']:.1f} | "
            f"peers (this process) {r['clientCores']:.2f} cores, other processes {r['otherCores']:.2f}")
    if r["otherCores"] > 0.25:
        line += "\n    (other processes were busy: the figures are inflated, rerun on a quiet machine)"
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    client_patches()
    print(f"media_video: {MEDIA_NOTE}.", flush=True)
    results = []
    for calls in args.calls:
        results.append(await measure(calls, args.seconds))
        print(report(results[-1]), flush=True)
    emit_json(args.json, {"runs": results})


if __name__ == "__main__":
    asyncio.run(main())
