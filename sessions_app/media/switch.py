"""The one track every sender carries for its whole life, re-pointed instead of replaced.

A sender whose track ends stops for good, and replacing tracks or renegotiating to bridge or hold is slow and
fragile. A switch track never ends: `recv()` returns the next frame of its current source (a `Feed` of another
leg's inbound track), or, when it has none or the source is late, a frame of its filler (silence, music,
black). Timestamps are its own, counted continuously, so the far end sees one smooth stream across switches.

A switch follows its source decoded (frames, which its sender encodes) or, when the call says the source may
be forwarded (same codec, nothing else needs the samples: media/call.py), encoded: it then hands its sender
the source's `EncodedFrame`s stamped with its own timeline, and its sender packs them without encoding. The
filler, a prompt, or a source late by `LATE_AFTER` are still frames, so a switch moves between forwarding and
encoding from one frame to the next, on one timeline. A video switch that starts forwarding waits for a key
frame of its source (asked for at once), and after forwarding has its encoder start with a key frame.
"""
from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from . import sounds
from .encoded import SILENT_FRAMES, EncodedFrame
from .tap import Feed, Tap

LATE_AFTER = 0.06  # a live source silent this long is filled in, so the far end never hears a gap
VIDEO_CLOCK = Fraction(1, 90000)
FILLER_FPS = 10
# A camera may send 5 frames/s or fewer (a dim room, a screen share) and stall for a key frame: only a video
# source silent this long is shown as black, or its picture would flicker with black between its frames.
VIDEO_LATE_AFTER = 1.0
# A forwarded source whose timestamps jump by up to this (samples of 48 kHz; lost packets) has the jump kept,
# so the far end conceals the loss; a larger one (the source restarted) is not carried over.
MAX_KEPT_GAP = 48000 // 5


class _Switch(MediaStreamTrack):
    def __init__(self):
        super().__init__()
        self.feed: Feed | None = None
        self._started: float | None = None
        self._pts = 0
        self._source_next: int | None = None  # a forwarded source's timestamp expected next

    @property
    def forwarding(self) -> bool:
        return self.feed is not None and self.feed.encoded

    def follow(self, tap: Tap | None, encoded: bool = False) -> None:
        """Send what `tap` receives from the next frame on (None: the filler): its encoded frames as they are
        with `encoded` (the caller checked the codecs match), else its decoded frames."""
        if self.feed is not None and self.feed.tap is tap and self.feed.encoded == encoded:
            return
        if self.feed is not None:
            self.feed.close()
        self.feed = None if tap is None else tap.listen(encoded=True) if encoded else tap.listen()
        self._source_next = None  # a new source's timestamps are its own

    def stop(self) -> None:
        self.follow(None)
        super().stop()

    async def _paced(self, seconds_per_frame: float) -> None:
        """Wait for the filler's next frame time; after live frames the clock is re-anchored, not caught up."""
        now = time.monotonic()
        if self._started is None:
            self._started = now
        due = self._started + self._frames * seconds_per_frame
        if abs(due - now) > 0.1:
            self._started, due = now - self._frames * seconds_per_frame, now
        if due > now:
            await asyncio.sleep(due - now)


class SwitchAudioTrack(_Switch):
    kind = "audio"

    def __init__(self, fmt: sounds.AudioFormat):
        super().__init__()
        self.fmt = fmt
        self.filler = "silence"  # or "music"
        self._music = sounds.Music(fmt)
        self._silence = sounds.silence(fmt)
        self._resamplers: dict[tuple, av.AudioResampler] = {}
        self._pending: list[av.AudioFrame] = []
        self._frames = 0
        self._prompt: np.ndarray | None = None
        self._prompt_at = 0
        self._prompt_done = None
        # A recorder's side (media/recorder.py): given every frame sent, encoded ones too if it takes packets
        self.copy_to = None
        self.codec = ""  # the sender's codec ("opus", "pcmu" ...): forwarded frames of another are not sent
        # Set by the sender while it runs: `sink(data, pts, samples)` sends one forwarded frame at once (its
        # RTP timestamp from `pts`, in this track's time base). Forwarded frames then go from the receive
        # callback straight out (`_push`), not through the sender's task.
        self.sink = None

    def follow(self, tap: Tap | None, encoded: bool = False) -> None:
        super().follow(tap, encoded)
        if self.feed is not None and self.feed.encoded:
            self.feed.direct = self._push

    def play(self, filler: str) -> None:
        self.filler = filler

    def say(self, samples: np.ndarray, on_done=None) -> None:
        """Play `samples` (one channel at this track's rate) ahead of any source, then call `on_done()`.
        For IVR prompts: while a prompt plays, the leg hears nothing else."""
        self._prompt, self._prompt_at, self._prompt_done = samples, 0, on_done

    def hush(self) -> None:
        """Stop a prompt at once (the caller pressed a key): no `on_done`."""
        self._prompt = self._prompt_done = None

    async def recv(self) -> av.AudioFrame:
        frame = None
        if self._prompt is not None:
            await self._paced(sounds.FRAME_SECONDS)
            # hushed while waiting (the caller pressed a key): this frame is silence
            frame = self._next_prompt_frame() if self._prompt is not None else self._silence
        elif self._pending:
            frame = self._pending.pop(0)
        elif self.feed is not None:
            feed, waiting_since = self.feed, time.monotonic()
            frame = await self._live(feed)
            if frame is None and self.feed is not None and self.feed is not feed:
                # re-pointed while waiting (the old feed's close woke us): the new source's first frame, not a
                # frame of filler ahead of it (a 20 ms hole at every change of who is heard), within what is
                # left of the wait, so a silent new source still gets the filler in time
                left = LATE_AFTER - (time.monotonic() - waiting_since)
                frame = await self._live(self.feed, max(left, sounds.FRAME_SECONDS))
        if isinstance(frame, EncodedFrame):
            return self._copied(self._forwarded(frame))
        self._source_next = None
        if frame is None:
            await self._paced(sounds.FRAME_SECONDS)
            if self.filler != "music" and self.codec in SILENT_FRAMES and self._copies_packets():
                return self._copied(self._silent_frame())  # silence (no source, or a late one): encoded already
            frame = self._music.next_frame() if self.filler == "music" else self._silence
        frame.pts = self._pts
        frame.time_base = self.fmt.time_base
        self._pts += frame.samples
        self._frames += 1
        if self.copy_to is not None:
            self.copy_to.put(frame)
        return frame

    def _copies_packets(self) -> bool:
        """Whether a recorder copying what this track sends (`copy_to`) takes encoded frames, or there is none."""
        return self.copy_to is None or self.copy_to.packets

    def _copied(self, frame: EncodedFrame) -> EncodedFrame:
        if self.copy_to is not None:
            self.copy_to.put(frame)
        return frame

    def _silent_frame(self) -> EncodedFrame:
        data, samples = SILENT_FRAMES[self.codec]
        frame = EncodedFrame(self.codec, data, samples, 0, False, self._pts, self.fmt.time_base)
        self._pts += samples
        self._frames += 1
        return frame

    def _behind(self, frame: EncodedFrame) -> bool:
        """A packet older than one already sent (reordered, or a duplicate); a source that starts counting anew
        (a jump back of a second or more) is not behind."""
        if self._source_next is None:
            return False
        back = (self._source_next - frame.source_ts) & 0xFFFFFFFF
        return 0 < back <= self.fmt.rate

    def _forwarded(self, frame: EncodedFrame) -> EncodedFrame:
        return frame.stamped(self._advance(frame), self.fmt.time_base)

    def _advance(self, frame: EncodedFrame) -> int:
        """The pts of the source's frame on this track's timeline; a jump in the source's timestamps (lost
        packets) is kept, so the far end conceals the loss rather than playing on as if nothing were missing."""
        if self._source_next is not None:
            gap = (frame.source_ts - self._source_next) & 0xFFFFFFFF
            if 0 < gap <= MAX_KEPT_GAP * self.fmt.rate // 48000:
                self._pts += gap
        self._source_next = (frame.source_ts + frame.samples) & 0xFFFFFFFF
        pts = self._pts
        self._pts += frame.samples
        self._frames += 1
        return pts

    def _push(self, frame: EncodedFrame) -> bool:
        """A forwarded frame offered as it arrives, while `recv` waits for it (tap.py `Feed.direct`): sent at
        once through the sender's `sink` (True), or left to `recv` (False: no sender running, a prompt is
        due, another codec). An overtaken or repeated packet is taken and dropped, as `recv` would."""
        sink = self.sink
        if sink is None or self._prompt is not None or self._pending or frame.codec != self.codec:
            return False
        if not self._behind(frame):
            sink(frame.data, self._advance(frame), frame.samples)
            if self.copy_to is not None:
                self.copy_to.put(frame)
        return True

    def _next_prompt_frame(self) -> av.AudioFrame:
        n = self.fmt.samples
        chunk = self._prompt[self._prompt_at:self._prompt_at + n]
        self._prompt_at += n
        if self._prompt_at >= len(self._prompt):
            done, self._prompt, self._prompt_done = self._prompt_done, None, None
            if done is not None:
                asyncio.get_running_loop().call_soon(done)
        if len(chunk) < n:
            chunk = np.concatenate([chunk, np.zeros(n - len(chunk), dtype=np.int16)])
        return sounds.audio_frame(self.fmt, chunk)

    async def _live(self, feed: Feed, timeout: float = LATE_AFTER) -> av.AudioFrame | EncodedFrame | None:
        frame = await feed.get(timeout)
        while frame is not None and feed.encoded and self._behind(frame):
            frame = await feed.get(timeout)  # forwarded as they arrive: one overtaken by the next is dropped
        if frame is None or feed.encoded:
            if frame is not None and frame.codec != self.codec:  # the source changed codec: decode it instead
                self.follow(feed.tap, encoded=False)
                return None
            return frame
        if self.fmt.matches(frame):
            return frame
        converted = self._converted(frame)  # another codec's rate or layout: one conversion, here
        if not converted:
            return None
        self._pending.extend(converted[1:])
        return converted[0]

    def _converted(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = av.AudioResampler(
                format="s16", layout=self.fmt.layout, rate=self.fmt.rate, frame_size=self.fmt.samples)
        frame.pts = None
        return resampler.resample(frame)


class SwitchVideoTrack(_Switch):
    kind = "video"

    def __init__(self):
        super().__init__()
        self._black = sounds.black()
        self._frames = 0
        self._origin: float | None = None
        self.codec = ""  # the sender's codec ("vp8" ...)
        self.keyframe_next = False  # read by the sender (patches.py): encode a key frame next
        self._keyframe_wanted = False  # forwarding (re)starts at the source's next key frame
        self._was_forwarding = False

    def follow(self, tap: Tap | None, encoded: bool = False) -> None:
        before = self.feed
        super().follow(tap, encoded)
        if self.feed is not before:
            self._keyframe_wanted = True

    def keyframe_lost(self) -> None:
        """The far end asked for a key frame (PLI/FIR) while forwarding: its source is asked in turn."""
        if self.forwarding:
            self.feed.tap.request_keyframe()

    async def recv(self) -> av.VideoFrame | EncodedFrame:
        frame = None
        while frame is None and self.feed is not None:
            feed = self.feed
            frame = await feed.get(VIDEO_LATE_AFTER)
            if frame is None and self.feed is feed:
                break  # the source is silent: black
            if isinstance(frame, EncodedFrame) and (frame.codec != self.codec or self._keyframe_wanted
                                                   and not frame.keyframe):
                if frame.codec != self.codec:
                    self.follow(feed.tap, encoded=False)
                else:
                    feed.tap.request_keyframe()  # (at most every so often)
                frame = None
            # else re-pointed while waiting (the old feed's close wakes us): wait for the new source instead
        now = time.monotonic()
        if frame is None:
            await self._paced(1 / FILLER_FPS)
            frame = self._black
            now = time.monotonic()
        if self._origin is None:
            self._origin = now
        pts = self._pts = max(self._pts + 1, int((now - self._origin) * 90000))
        self._frames += 1
        if isinstance(frame, EncodedFrame):
            self._keyframe_wanted = False
            self._was_forwarding = True
            return frame.stamped(pts, VIDEO_CLOCK)
        self._keyframe_wanted = True  # after a picture of ours, forwarded ones resume at a key frame
        if self._was_forwarding:
            self._was_forwarding = False
            self.keyframe_next = True  # the far end's decoder knows the source's pictures, not our encoder's
        frame.pts = pts
        frame.time_base = VIDEO_CLOCK
        return frame
