"""Recording a call: one stereo Ogg Opus file per call, the customer on the left, what the customer hears on
the right.

Why this shape:
- **Stereo, one file.** The left channel is what the customer says (their leg's inbound audio), the right is
  exactly what their leg is sent (the frames of its outgoing switch track): the agent, whoever serves after a
  transfer, a conference's mix, the music on hold. Everything the customer heard is on the right, so the file
  follows hold, transfers and conferences with no change here, and a quality reviewer hears the call as the
  customer did while still telling the two sides apart (pan, or one channel each for speech analytics). One
  file per participant, as Tencent also offers, would need its own timeline alignment at playback and would
  miss what the customer heard (music, prompts) unless mixed again.
- **Opus in Ogg**, 48 kHz, 32 kbit/s for both channels: ~14 MB per hour instead of WAV's 660 MB at 48 kHz
  (or 115 MB at 8 kHz, which would lose web callers' wideband speech); browsers play it in `<audio>` with
  seeking, and Ogg is a stream of self-contained pages: a file cut anywhere (kill -9 of the media process, a
  full disk) is playable up to its last complete page. Pages are closed every `PAGE_SECONDS` and flushed to
  the file at once, so such a cut loses about that much. (WAV's header carries the length: a cut WAV needs
  repair before most players accept it.)

The timeline is kept: the recorder writes one 20 ms frame for each 20 ms of wall time since it started,
whatever arrives. A side with nothing buffered (a late packet, no leg yet) is silence; a pause writes silence
on both sides; so the file lasts as long as the recorded part of the call. Each side's audio is placed by
when it arrives (`Side`), so the two stay in step however either stream starts, stalls or bursts.

Nothing here slows the call's audio: the call's loop only copies each frame's samples into a short buffer per
side (older audio is dropped past `KEEP_SECONDS`), and a tick every `TICK` seconds hands the frames due to one
writer thread per process (encoding and file I/O). A writer that falls behind makes the next batch larger,
and a side's buffer drops its oldest audio rather than grow: the file then has silence there, never a shorter
timeline or unbounded memory.

While recording the file is `path + ".part"`; an orderly close renames it to `path`, so whoever stores it
(`services/recordings.py`) tells a finished file from one whose process died.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import os
import time

import av
import numpy as np

log = logging.getLogger(__name__)

RATE = 48000
FRAME = 960  # samples per channel in 20 ms
FRAME_SECONDS = FRAME / RATE
BIT_RATE = 32000
COMPLEXITY = 5  # libopus's 0-10 (default 10): half the encoding CPU of 10 for speech at this rate, ~10% larger
PAGE_SECONDS = 0.2  # an Ogg page at least this often: what a cut file loses at most (plus the frame in hand)
TICK = 0.1
SLACK = 0.06  # how far a side's audio may run late or early and stay contiguous (jitter, bursts)
DELAY = 0.12  # a frame is written this long after its time, so that both sides' audio for it has arrived
KEEP_SECONDS = 1.0  # audio buffered per side at most; a writer or tick this late loses the oldest
PART = ".part"

_writer: concurrent.futures.ThreadPoolExecutor | None = None


def writer() -> concurrent.futures.ThreadPoolExecutor:
    """The one thread that encodes and writes every recording of this process."""
    global _writer
    if _writer is None:
        _writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
    return _writer


class Side:
    """One channel's audio as it arrives, as mono 48 kHz samples placed on the file's timeline by when they
    arrive. It is put in a `Tap`'s feeds (the customer's voice) or is a switch track's `copy_to` (what the
    customer is sent): both call `put(frame)` on the loop.

    Audio that comes steadily stays contiguous; after a gap longer than `SLACK` (a leg reconnecting, a pause's
    end) it is placed anew at its arrival, and audio running ahead of the clock by more than `SLACK` is
    dropped, so the two sides never drift apart by more than that."""

    def __init__(self, origin: float):
        self.origin = origin  # time.monotonic() of the file's first sample
        self.chunks: collections.deque[np.ndarray] = collections.deque()
        self.start = self.end = 0  # the timeline's sample index of the first buffered sample, and past the last
        self._resampler: av.AudioResampler | None = None
        self._resampled_rate = 0
        self.failed = False  # a frame could not be read (logged once)

    def put(self, frame: av.AudioFrame) -> None:
        """Take a copy of `frame`'s samples. Never raises: it runs inside the call's own audio path (a tap's
        drain, a sender's `recv`), which a recorder must not break; a frame it cannot read is silence."""
        try:
            self._place(self._mono_48k(frame))
        except Exception:
            if not self.failed:
                log.exception("a recorded frame could not be read (%s)", frame)
            self.failed = True

    def _place(self, mono: np.ndarray) -> None:
        if not len(mono):
            return
        now = int((time.monotonic() - self.origin) * RATE)
        if not self.chunks or self.end < now - len(mono) - SLACK * RATE:
            self.chunks.clear()
            self.start = self.end = max(0, now - len(mono))
        elif self.end > now + SLACK * RATE:
            return  # ahead of the clock
        self.chunks.append(mono)
        self.end += len(mono)
        while self.chunks and self.start + len(self.chunks[0]) < now - KEEP_SECONDS * RATE:
            self.start += len(self.chunks.popleft())  # the writer is this far behind: the oldest is lost

    def take(self, first: int, n: int) -> np.ndarray | None:
        """Samples `first` to `first + n` of the timeline (silence where none arrived; None: none at all);
        anything earlier is dropped."""
        last = first + n
        while self.chunks and self.start + len(self.chunks[0]) <= first:
            self.start += len(self.chunks.popleft())
        if not self.chunks or self.start >= last:
            return None
        out = np.zeros(n, dtype=np.int16)
        position = self.start
        for chunk in self.chunks:
            if position >= last:
                break
            lo, hi = max(position, first), min(position + len(chunk), last)
            out[lo - first:hi - first] = chunk[lo - position:hi - position]
            position += len(chunk)
        return out

    def _mono_48k(self, frame: av.AudioFrame) -> np.ndarray:
        channels = len(frame.layout.channels)
        samples = frame.to_ndarray().reshape(-1, channels) if frame.format.name == "s16" else None
        if samples is None:  # every decoder and filler here makes packed s16; anything else is converted once
            return self._resampled(frame)
        mono = samples[:, 0] if channels == 1 else (samples.astype(np.int32).sum(axis=1) // channels).astype(np.int16)
        if frame.sample_rate == RATE:
            return mono
        copy = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
        copy.sample_rate = frame.sample_rate
        return self._resampled(copy)

    def _resampled(self, frame: av.AudioFrame) -> np.ndarray:
        """Resampled to mono 48 kHz; the frame is a copy of our own (the original's pts belongs to its sender)."""
        if self._resampler is None or self._resampled_rate != frame.sample_rate:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            self._resampled_rate = frame.sample_rate
        if frame.format.name != "s16":
            frame = av.AudioFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name,
                                               layout=frame.layout.name)
            frame.sample_rate = self._resampled_rate
        frame.pts = None
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


class OggFile:
    """The file on disk; used only on the writer thread."""

    def __init__(self, path: str):
        self.path = path
        self.container = None
        self.stream = None
        self.pts = 0

    def write(self, frames: list[np.ndarray | None]) -> None:
        """Encode `frames` (interleaved stereo, FRAME samples a channel; None: silence) and flush whole pages."""
        if self.container is None:
            self._open()
        for samples in frames:
            frame = av.AudioFrame.from_ndarray(_SILENCE if samples is None else samples, format="s16",
                                               layout="stereo")
            frame.sample_rate, frame.pts = RATE, self.pts
            self.pts += FRAME
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def close(self) -> None:
        """Finish the file and give it its final name."""
        if self.container is None:
            self._open()
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        os.replace(self.path + PART, self.path)

    def _open(self) -> None:
        if os.path.exists(self.path):  # finished already (the call came back to this engine): never overwritten
            raise FileExistsError(f"{self.path} is a finished recording")
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.container = av.open(self.path + PART, "w", format="ogg", options={
            "flush_packets": "1", "page_duration": str(int(PAGE_SECONDS * 1_000_000))})
        self.stream = self.container.add_stream("libopus", rate=RATE, layout="stereo", bit_rate=BIT_RATE,
                                                options={"compression_level": str(COMPLEXITY)})


_SILENCE = np.zeros((1, FRAME * 2), dtype=np.int16)


class Recorder:
    """Records one call's customer leg to `path` from now until `close()`; `pause()` records silence."""

    def __init__(self, recording_id: str, path: str, paused: bool = False):
        self.id = recording_id
        self.path = path
        self.paused = paused  # as of now; the frames already due but not written keep the state of their time
        self._changes: collections.deque[tuple[int, bool]] = collections.deque()  # (first frame, paused)
        self._paused_written = paused  # the state of the last frame written
        self._started = time.monotonic()
        self.left, self.right = Side(self._started), Side(self._started)
        self.frames = 0  # written (or handed to the writer): the file's length in frames
        self.failed = False
        self._tap = None
        self._out = None
        self._file = OggFile(path)
        self._stop = asyncio.Event()
        self._stopped_at: float | None = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    def pause(self, paused: bool) -> None:
        """Pause or resume from now on (by the timeline: audio that arrived before stays as it was)."""
        if paused != self.paused:
            self.paused = paused
            self._changes.append((int((time.monotonic() - self._started) / FRAME_SECONDS), paused))

    def follow(self, leg) -> None:
        """Record `leg` (the customer's, web or phone) from now: what it sends on the left, what it is sent on
        the right; None (no leg, or it closed): silence on both."""
        tap = leg.taps.get("audio") if leg is not None else None
        out = leg.audio_out if leg is not None else None
        if tap is not self._tap:
            if self._tap is not None:
                self._tap.feeds.discard(self.left)
            if tap is not None:
                tap.feeds.add(self.left)
            self._tap = tap
        if out is not self._out:
            if self._out is not None and self._out.copy_to is self.right:
                self._out.copy_to = None
            if out is not None:
                out.copy_to = self.right
            self._out = out

    def stop(self) -> asyncio.Task:
        """Stop recording now; the file is finished (and renamed) by the returned task."""
        if not self._stop.is_set():
            self._stopped_at = time.monotonic()  # the file ends here, however long finishing it takes
        self.follow(None)
        self._stop.set()
        return self.task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._stop.is_set():
                try:
                    async with asyncio.timeout(TICK):
                        await self._stop.wait()
                except TimeoutError:
                    pass
                frames = self._due(0.0 if self._stop.is_set() else DELAY)
                if frames:
                    await loop.run_in_executor(writer(), self._file.write, frames)
            await loop.run_in_executor(writer(), self._file.close)
        except Exception:
            self.failed = True
            self.follow(None)
            log.exception("recording %s to %s failed", self.id, self.path)

    def _due(self, delay: float) -> list[np.ndarray | None]:
        """The frames whose time (`delay` ago) has come: both sides' audio, interleaved, or None for silence."""
        now = time.monotonic() if self._stopped_at is None else self._stopped_at
        due = int((now - self._started - delay) / FRAME_SECONDS)
        frames = []
        while self.frames < due:
            first = self.frames * FRAME
            left, right = self.left.take(first, FRAME), self.right.take(first, FRAME)
            while self._changes and self._changes[0][0] <= self.frames:
                self._paused_written = self._changes.popleft()[1]
            if self._paused_written or (left is None and right is None):
                frames.append(None)
            else:
                pair = np.empty((FRAME, 2), dtype=np.int16)
                pair[:, 0] = 0 if left is None else left
                pair[:, 1] = 0 if right is None else right
                frames.append(pair.reshape(1, -1))
            self.frames += 1
        return frames
