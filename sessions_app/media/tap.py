"""Always drain what a leg receives, and hand it to whoever listens now.

aiortc's remote track queues every decoded frame until someone calls `recv()`; a leg nobody listens to (an
agent still ringing, a customer on hold) would grow that queue without limit. A `Tap` reads its track from
the moment it arrives and copies each frame into the `Feed` of every listener; a feed keeps only the last few
frames, so a slow listener loses old audio instead of falling behind.

A tap also hands on the encoded frames its leg receives, before any decoding (`put_encoded`, called by the
receiver: patches.py, rtp_leg.py), to the feeds of listeners that forward them (`listen(encoded=True)`). The
track is decoded only while some listener wants samples (`listened`), so a call that only forwards decodes
nothing.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .encoded import EncodedFrame

log = logging.getLogger(__name__)

FEED_FRAMES = 3  # 60 ms of audio: covers one late packet without adding steady delay
WATCH_EVERY = 0.01  # seconds between looks at the feeds whose frames go on directly


def _wake(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Feed:
    """The frames one listener has yet to take. A waiting `get` is one future and one timer, set when a frame
    comes (or the feed closes): the cheapest wait asyncio has, taken 50 times a second by every sender.

    A forwarding listener may take its frames at once instead (`direct`, set by a switch track: it sends each
    one from the receive callback, with no task switch and no queue per packet). A frame is offered to
    `direct` only while the listener waits in `get`; one it does not take (a prompt is due, another codec)
    is queued and wakes it as before. Frames taken that way count as the source being live: the listener's
    wait ends (None: the filler) only when none came for `timeout`, which the loop's `QuietWatch` notices."""

    def __init__(self, tap: "Tap", encoded: bool = False):
        self.tap = tap
        self.encoded = encoded  # gets the source's `EncodedFrame`s, not decoded frames
        self.frames: collections.deque = collections.deque(maxlen=FEED_FRAMES)
        self.direct = None  # frame -> bool (taken), while the listener sends frames as they come
        self.last_direct = 0.0  # time.monotonic() of the last frame taken by `direct`, or of the wait's start
        self.timeout = 0.0
        self._waiter: asyncio.Future | None = None

    def put(self, frame) -> None:
        waiter = self._waiter
        if waiter is not None:
            direct = self.direct
            if direct is not None and not waiter.done() and direct(frame):
                self.last_direct = time.monotonic()
                return
            self.frames.append(frame)
            _wake(waiter)
        else:
            self.frames.append(frame)

    async def get(self, timeout: float):
        """The oldest waiting frame, or None if none comes within `timeout` seconds."""
        if not self.frames:
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            self.timeout = timeout
            timer = watch = None
            if self.direct is not None:
                self.last_direct = time.monotonic()
                watch = QuietWatch.of(loop)
                watch.add(self)
            else:
                timer = loop.call_later(timeout, _wake, waiter)
            try:
                await waiter  # a cancellation (the sender stopping) comes through as it should
            finally:
                if timer is not None:
                    timer.cancel()
                if watch is not None:
                    watch.feeds.discard(self)
                self._waiter = None
        return self.frames.popleft() if self.frames else None

    def quiet(self, now: float) -> bool:
        """Whether a listener waiting for direct frames has had none for its timeout: it is woken (the filler)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return True
        if now - self.last_direct < self.timeout:
            return False
        _wake(waiter)
        return True

    def take(self):
        """The oldest waiting frame, or None at once if none is waiting (a mixer's tick does not wait)."""
        return self.frames.popleft() if self.frames else None

    def close(self) -> None:
        self.tap.feeds.discard(self)
        if self.encoded:
            self.tap.encoded_feeds.discard(self)
        if self._waiter is not None:  # a listener waiting on this feed goes on to its new source now
            _wake(self._waiter)


class QuietWatch:
    """One timer, every `WATCH_EVERY`, for all the feeds of a loop whose frames go on directly: it wakes each
    whose source has gone quiet. A timer per feed, re-armed as frames came, was a timer event every 60 ms for
    every forwarded voice (measured: 5% of a media process that only forwards). A quiet source is noticed
    `timeout` to `timeout + WATCH_EVERY` after its last frame."""

    _of: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, QuietWatch]" = weakref.WeakKeyDictionary()

    def __init__(self):
        self.feeds: set[Feed] = set()
        self._timer: asyncio.TimerHandle | None = None  # (it holds no loop: the loop's entry would never go)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> "QuietWatch":
        watch = cls._of.get(loop)
        if watch is None:
            watch = cls._of[loop] = cls()
        return watch

    def add(self, feed: Feed) -> None:
        """Watch `feed` (on the running loop, this watch's)."""
        self.feeds.add(feed)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(WATCH_EVERY, self._look)

    def _look(self) -> None:
        now = time.monotonic()
        self.feeds.difference_update([feed for feed in self.feeds if feed.quiet(now)])
        self._timer = asyncio.get_running_loop().call_later(WATCH_EVERY, self._look) if self.feeds else None


class Tap:
    def __init__(self, track: MediaStreamTrack):
        self.track = track
        self.kind = track.kind
        self.feeds: set[Feed] = set()
        self.encoded_feeds: set[Feed] = set()
        self.frames_in = 0  # received (encoded frames, or frames of a track that is not fed encoded frames)
        self.frames_decoded = 0
        self._fed_encoded = False
        # Asked by the decoder (patches.py, rtp_leg.py) before each frame: a voice nobody hears now (a supervisor
        # listening with the microphone on, a customer on hold), or one only forwarded, is not decoded.
        track.listened = lambda: bool(self.feeds)
        track.encoded = self.put_encoded
        self.task = asyncio.get_running_loop().create_task(self._drain())

    def listen(self, encoded: bool = False) -> Feed:
        feed = Feed(self, encoded)
        (self.encoded_feeds if encoded else self.feeds).add(feed)
        if encoded and self.kind == "video":
            self.request_keyframe()  # a forwarded picture starts at a key frame
        return feed

    def put_encoded(self, codec: str, data: bytes, samples: int, source_ts: int, keyframe: bool = False) -> None:
        """One encoded frame as received, handed to the forwarding listeners (if any) as an `EncodedFrame`."""
        self.frames_in += 1
        self._fed_encoded = True
        if self.encoded_feeds:
            frame = EncodedFrame(codec, data, samples, source_ts, keyframe)
            for feed in tuple(self.encoded_feeds):
                feed.put(frame)

    def request_keyframe(self) -> None:
        """Ask the source for a key frame (RTCP PLI), when it is a browser's video."""
        request = getattr(self.track, "request_keyframe", None)
        if request is not None:
            request()

    async def _drain(self) -> None:
        try:
            while True:
                frame = await self.track.recv()
                self.frames_decoded += 1
                if not self._fed_encoded:
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
        self.encoded_feeds.clear()
