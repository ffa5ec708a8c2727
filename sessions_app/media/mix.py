"""A mix of several voices for one listener, made on the engine's loop every 20 ms.

A leg that hears one voice follows that voice's `Tap` directly (switch.py); only a leg that hears two or more
(a supervisor listening, an agent being whispered to, a three-way call) gets a `Mixer`, owned by its `Call` for
as long as the plan needs it. A mixer looks like a tap to the listener's switch track (`listen()` gives a
`Feed`), so following a mix and following a voice are one operation.

Each 20 ms tick takes the next frame of every voice without waiting (a late or missing voice is silence in
that frame, so the others go on: no gap), brings it to the listener's rate, one channel (the listener's codec
format: PCMU 8 kHz, Opus 48 kHz), ramps its level when it joins or leaves (no click), sums with saturation
(loud voices together clip, never wrap around), and hands the frame to the listener's feed.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from typing import Callable, Iterable

import av
import numpy as np

from . import sounds
from .tap import Feed, Tap

log = logging.getLogger(__name__)

FADE_SECONDS = 0.01  # a voice joining or leaving ramps in or out over this long
PENDING_FRAMES = 3  # converted frames kept per voice: as the tap's feed, old audio is dropped, delay stays low
BEHIND = 0.1  # a tick this late (a busy loop) re-anchors the clock instead of catching up in a burst


class _Voice:
    """One source of a mix: its feed, its level now and the level it ramps to (0: leaving)."""

    def __init__(self, tap: Tap, gain: float):
        self.feed = tap.listen()
        self.gain = gain
        self.target = 1.0
        self.pending: collections.deque[np.ndarray] = collections.deque(maxlen=PENDING_FRAMES)
        self.resamplers: dict[tuple, av.AudioResampler] = {}

    def next_samples(self, fmt: sounds.AudioFormat) -> np.ndarray | None:
        """The voice's next 20 ms as one channel of int16 at `fmt`'s rate, or None if none has come."""
        if not self.pending:
            frame = self.feed.take()
            if frame is not None:
                self.pending.extend(self._mono(frame, fmt))
        return self.pending.popleft() if self.pending else None

    def _mono(self, frame: av.AudioFrame, fmt: sounds.AudioFormat) -> list[np.ndarray]:
        if frame.sample_rate == fmt.rate and frame.format.name == "s16" and frame.samples == fmt.samples:
            # packed s16 at the listener's rate: the first channel (browsers send the same voice on both)
            return [frame.to_ndarray().reshape(fmt.samples, -1)[:, 0]]
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        resampler = self.resamplers.get(key)
        if resampler is None:
            resampler = self.resamplers[key] = av.AudioResampler(
                format="s16", layout="mono", rate=fmt.rate, frame_size=fmt.samples)
        frame.pts = None
        return [converted.to_ndarray().reshape(-1) for converted in resampler.resample(frame)]

    def ramp(self, samples: int, fade: int) -> np.ndarray | float:
        """This frame's level, sample by sample while it changes; the change is then done."""
        if self.gain == self.target:
            return self.gain
        levels = np.full(samples, self.target, dtype=np.float32)
        levels[:fade] = np.linspace(self.gain, self.target, fade, endpoint=False)
        self.gain = self.target
        return levels


class Mixer:
    """The mix one listener hears: every voice given to `mix()`, in format `fmt`, on a 20 ms clock of its own.

    `on_faded` is called (soon, on the loop) once voices that were leaving have faded out: the call then
    decides whether the listener still needs a mix."""

    kind = "audio"

    def __init__(self, fmt: sounds.AudioFormat, on_faded: Callable[[], None] | None = None):
        self.fmt = fmt
        self.feeds: set[Feed] = set()
        self.voices: dict[Tap, _Voice] = {}
        self.frames_out = 0
        self._on_faded = on_faded
        self._fade = max(1, int(fmt.rate * FADE_SECONDS))
        self.task = asyncio.get_running_loop().create_task(self._run())

    def listen(self) -> Feed:
        feed = Feed(self)
        self.feeds.add(feed)
        return feed

    def mix(self, taps: Iterable[Tap], steady: Tap | None = None) -> None:
        """Mix exactly `taps` from now on: new ones fade in (`steady`, already heard by the listener, starts
        at full level), missing ones fade out and are then dropped."""
        wanted = set(taps)
        for tap in wanted:
            voice = self.voices.get(tap)
            if voice is None:
                self.voices[tap] = _Voice(tap, 1.0 if tap is steady else 0.0)
            else:
                voice.target = 1.0
        for tap, voice in self.voices.items():
            if tap not in wanted:
                voice.target = 0.0

    @property
    def sources(self) -> set[Tap]:
        """The voices mixed now, not counting those fading out."""
        return {tap for tap, voice in self.voices.items() if voice.target > 0}

    @property
    def fading(self) -> bool:
        """Some voice is still fading out."""
        return any(voice.target == 0 for voice in self.voices.values())

    def close(self) -> None:
        self.task.cancel()
        for voice in self.voices.values():
            voice.feed.close()
        self.voices.clear()
        for feed in tuple(self.feeds):
            feed.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started, ticks = loop.time(), 0
        try:
            while True:
                ticks += 1
                wait = started + ticks * sounds.FRAME_SECONDS - loop.time()
                if wait < -BEHIND:
                    started, ticks = loop.time(), 0
                # catching up, still let the listener's sender take each frame before the next: its feed keeps 3
                await asyncio.sleep(max(0.0, wait))
                frame = self.next_frame()
                self.frames_out += 1
                for feed in tuple(self.feeds):
                    feed.put(frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("mixing failed")

    def next_frame(self) -> av.AudioFrame:
        """The next 20 ms of the mix (silence where a voice has nothing yet)."""
        total = np.zeros(self.fmt.samples, dtype=np.float32)
        faded = False
        for tap, voice in list(self.voices.items()):
            level = voice.ramp(self.fmt.samples, self._fade)
            samples = voice.next_samples(self.fmt)
            if samples is not None and len(samples) == self.fmt.samples:
                total += samples if isinstance(level, float) and level == 1.0 else samples * level
            if voice.target == 0:  # faded out within this frame
                voice.feed.close()
                del self.voices[tap]
                faded = True
        if faded and not self.fading and self._on_faded is not None:
            asyncio.get_running_loop().call_soon(self._on_faded)
        mixed = np.clip(total, -32768, 32767).astype(np.int16)
        return sounds.audio_frame(self.fmt, mixed)
