"""The one track every sender carries for its whole life, re-pointed instead of replaced.

A sender whose track ends stops for good, and replacing tracks or renegotiating to bridge or hold is slow and
fragile. A switch track never ends: `recv()` returns the next frame of its current source (a `Feed` of another
leg's inbound track), or, when it has none or the source is late, a frame of its filler (silence, music,
black). Timestamps are its own, counted continuously, so the far end sees one smooth stream across switches.
"""
from __future__ import annotations

import asyncio
import time
from fractions import Fraction

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from . import sounds
from .tap import Feed, Tap

LATE_AFTER = 0.06  # a live source silent this long is filled in, so the far end never hears a gap
VIDEO_CLOCK = Fraction(1, 90000)
FILLER_FPS = 10
# A camera may send 5 frames/s or fewer (a dim room, a screen share) and stall for a key frame: only a video
# source silent this long is shown as black, or its picture would flicker with black between its frames.
VIDEO_LATE_AFTER = 1.0


class _Switch(MediaStreamTrack):
    def __init__(self):
        super().__init__()
        self.feed: Feed | None = None
        self._started: float | None = None
        self._pts = 0

    def follow(self, tap: Tap | None) -> None:
        """Send what `tap` receives from the next frame on (None: the filler)."""
        if self.feed is not None and self.feed.tap is tap:
            return
        if self.feed is not None:
            self.feed.close()
        self.feed = tap.listen() if tap is not None else None

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
        self.copy_to = None  # a recorder's `Side`: given every frame sent (media/recorder.py)

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
        if frame is None:
            await self._paced(sounds.FRAME_SECONDS)
            frame = self._music.next_frame() if self.filler == "music" else self._silence
        frame.pts = self._pts
        frame.time_base = self.fmt.time_base
        self._pts += frame.samples
        self._frames += 1
        if self.copy_to is not None:
            self.copy_to.put(frame)
        return frame

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

    async def _live(self, feed: Feed, timeout: float = LATE_AFTER) -> av.AudioFrame | None:
        frame = await feed.get(timeout)
        if frame is None or self.fmt.matches(frame):
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

    async def recv(self) -> av.VideoFrame:
        frame = None
        while frame is None and self.feed is not None:
            feed = self.feed
            frame = await feed.get(VIDEO_LATE_AFTER)
            if frame is None and self.feed is feed:
                break  # the source is silent: black
            # else re-pointed while waiting (the old feed's close wakes us): wait for the new source instead
        now = time.monotonic()
        if frame is None:
            await self._paced(1 / FILLER_FPS)
            frame = self._black
            now = time.monotonic()
        if self._origin is None:
            self._origin = now
        frame.pts = self._pts = max(self._pts + 1, int((now - self._origin) * 90000))
        frame.time_base = VIDEO_CLOCK
        self._frames += 1
        return frame
