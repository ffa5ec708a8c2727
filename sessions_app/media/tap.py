"""Always drain what a leg receives, and hand it to whoever listens now.

aiortc's remote track queues every decoded frame until someone calls `recv()`; a leg nobody listens to (an
agent still ringing, a customer on hold) would grow that queue without limit. A `Tap` reads its track from
the moment it arrives and copies each frame into the `Feed` of every listener; a feed keeps only the last few
frames, so a slow listener loses old audio instead of falling behind.
"""
from __future__ import annotations

import asyncio
import collections
import logging

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

FEED_FRAMES = 3  # 60 ms of audio: covers one late packet without adding steady delay


class Feed:
    def __init__(self, tap: "Tap"):
        self.tap = tap
        self.frames: collections.deque = collections.deque(maxlen=FEED_FRAMES)
        self.arrived = asyncio.Event()

    def put(self, frame) -> None:
        self.frames.append(frame)
        self.arrived.set()

    async def get(self, timeout: float):
        """The oldest waiting frame, or None if none comes within `timeout` seconds."""
        if not self.frames:
            self.arrived.clear()
            try:
                # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancellation that comes as its
                # wait ends, and a sender being stopped would then hang here.
                async with asyncio.timeout(timeout):
                    await self.arrived.wait()
            except TimeoutError:
                return None
        return self.frames.popleft() if self.frames else None

    def take(self):
        """The oldest waiting frame, or None at once if none is waiting (a mixer's tick does not wait)."""
        return self.frames.popleft() if self.frames else None

    def close(self) -> None:
        self.tap.feeds.discard(self)
        self.arrived.set()  # a listener waiting on this feed goes on to its new source now, not at its timeout


class Tap:
    def __init__(self, track: MediaStreamTrack):
        self.track = track
        self.kind = track.kind
        self.feeds: set[Feed] = set()
        self.frames_in = 0
        # Asked by the audio decoder (patches.InlineAudioDecoder) before each frame: a voice nobody hears now (a
        # supervisor listening with the microphone on, a customer on hold) is received but not decoded.
        track.listened = lambda: bool(self.feeds)
        self.task = asyncio.get_running_loop().create_task(self._drain())

    def listen(self) -> Feed:
        feed = Feed(self)
        self.feeds.add(feed)
        return feed

    async def _drain(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.frames_in += 1
                for feed in tuple(self.feeds):
                    feed.put(frame)
        except MediaStreamError:
            pass  # the remote track ended: its peer connection closed
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("draining a %s track failed", self.kind)

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        self.feeds.clear()
