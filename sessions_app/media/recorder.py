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

**From packets, when the call forwards** (`packets=True`: a web customer on Opus, forwarding on): each side is
kept as the Opus packets it was carried in, the customer's as they arrived, the right as their leg was sent
them, and the file is those packets as two mono streams of one stereo Ogg Opus file (media/ogg.py), so
recording decodes and encodes nothing and the call stays forwarded both ways. Only what the customer's sender
encodes itself (music on hold, a mix, a prompt) reaches the right side as samples, and is encoded once more
here. A packet of other than 20 ms, or not Opus, counts as lost (browsers send 20 ms; the file's two streams
advance 20 ms a packet together). A phone caller's G.711 is recorded from samples (their format needs them).

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
import zlib

import av
import numpy as np

from . import ogg
from .encoded import SILENT_FRAMES, EncodedFrame

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
SLACK_FRAMES, KEEP_FRAMES, PAGE_FRAMES = (round(s / FRAME_SECONDS) for s in (SLACK, KEEP_SECONDS, PAGE_SECONDS))
SILENT_PACKET = SILENT_FRAMES["opus"][0]  # 20 ms of silence, one mono Opus packet
SILENT_DELIMITED = ogg.self_delimited(SILENT_PACKET)

_writer: concurrent.futures.ThreadPoolExecutor | None = None


def writer() -> concurrent.futures.ThreadPoolExecutor:
    """The one thread that encodes and writes every recording of this process."""
    global _writer
    if _writer is None:
        _writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="recorder")
    return _writer


class Mono48k:
    """A frame's samples as mono 48 kHz s16 (every decoder and filler here makes packed s16: anything else, or
    another rate, is converted once)."""

    def __init__(self):
        self._resampler: av.AudioResampler | None = None
        self._resampled_rate = 0

    def __call__(self, frame: av.AudioFrame) -> np.ndarray:
        channels = len(frame.layout.channels)
        samples = frame.to_ndarray().reshape(-1, channels) if frame.format.name == "s16" else None
        if samples is None:
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


class Side:
    """One channel's audio as it arrives, as mono 48 kHz samples placed on the file's timeline by when they
    arrive. It is put in a `Tap`'s feeds (the customer's voice) or is a switch track's `copy_to` (what the
    customer is sent): both call `put(frame)` on the loop.

    Audio that comes steadily stays contiguous; after a gap longer than `SLACK` (a leg reconnecting, a pause's
    end) it is placed anew at its arrival, and audio running ahead of the clock by more than `SLACK` is
    dropped, so the two sides never drift apart by more than that."""

    packets = False  # takes frames of samples only

    def __init__(self, origin: float):
        self.origin = origin  # time.monotonic() of the file's first sample
        self.chunks: collections.deque[np.ndarray] = collections.deque()
        self.start = self.end = 0  # the timeline's sample index of the first buffered sample, and past the last
        self._mono = Mono48k()
        self.failed = False  # a frame could not be read (logged once)

    def put(self, frame: av.AudioFrame) -> None:
        """Take a copy of `frame`'s samples. Never raises: it runs inside the call's own audio path (a tap's
        drain, a sender's `recv`), which a recorder must not break; a frame it cannot read is silence."""
        try:
            self._place(self._mono(frame))
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


class PacketSide:
    """One channel as 20 ms Opus packets (`packets=True` recordings), placed on the file's timeline by when they
    arrive as `Side` places samples: one packet a frame, contiguous while they come steadily, placed anew after
    a gap longer than `SLACK`, dropped while running ahead of the clock by more. It takes what `Side` takes
    (`put` from a tap's encoded feeds or a switch track's `copy_to`): an `EncodedFrame` is kept as it is, a
    frame of samples (what the sender encodes itself: music, a mix) is kept as mono samples for the writer to
    encode."""

    packets = True

    def __init__(self, origin: float):
        self.origin = origin
        self.frames: collections.deque[bytes | np.ndarray] = collections.deque()
        self.start = self.end = 0  # the timeline's frame index of the first buffered frame, and past the last
        self._mono = Mono48k()
        self._pending = np.zeros(0, dtype=np.int16)  # samples short of a whole frame
        self.lost = 0  # packets not of 20 ms Opus
        self.failed = False

    def put(self, frame) -> None:
        """Keep `frame` (never raises, as `Side.put`)."""
        try:
            if isinstance(frame, EncodedFrame):
                if frame.codec != "opus" or frame.samples != FRAME:
                    self.lost += 1
                    return
                self._place(frame.data)
                return
            samples = np.concatenate([self._pending, self._mono(frame)])
            whole = len(samples) // FRAME * FRAME
            self._pending = samples[whole:]
            for start in range(0, whole, FRAME):
                self._place(samples[start:start + FRAME])
        except Exception:
            if not self.failed:
                log.exception("a recorded frame could not be read (%s)", frame)
            self.failed = True

    def _place(self, item: bytes | np.ndarray) -> None:
        now = int((time.monotonic() - self.origin) / FRAME_SECONDS)
        if not self.frames or self.end < now - 1 - SLACK_FRAMES:
            self.frames.clear()
            self.start = self.end = max(0, now - 1)
        elif self.end > now + SLACK_FRAMES:
            return  # ahead of the clock
        self.frames.append(item)
        self.end += 1
        while self.frames and self.start < now - KEEP_FRAMES:
            self.frames.popleft()
            self.start += 1

    def take(self, first: int, n: int = FRAME) -> bytes | np.ndarray | None:
        """The packet (or samples) of the frame starting at sample `first` (None: none arrived); anything
        earlier is dropped."""
        index = first // FRAME
        while self.frames and self.start < index:
            self.frames.popleft()
            self.start += 1
        if not self.frames or self.start > index:
            return None
        self.start += 1
        return self.frames.popleft()


class OggFile:
    """The file on disk; used only on the writer thread."""

    def __init__(self, path: str):
        self.path = path
        self.container = None
        self.stream = None
        self.pts = 0

    @staticmethod
    def frame(left: np.ndarray | None, right: np.ndarray | None) -> np.ndarray:
        """One frame of the file from the sides' samples (None: silence), interleaved stereo."""
        pair = np.empty((FRAME, 2), dtype=np.int16)
        pair[:, 0] = 0 if left is None else left
        pair[:, 1] = 0 if right is None else right
        return pair.reshape(1, -1)

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
        _refuse_finished(self.path)
        self.container = av.open(self.path + PART, "w", format="ogg", options={
            "flush_packets": "1", "page_duration": str(int(PAGE_SECONDS * 1_000_000))})
        self.stream = self.container.add_stream("libopus", rate=RATE, layout="stereo", bit_rate=BIT_RATE,
                                                options={"compression_level": str(COMPLEXITY)})


_SILENCE = np.zeros((1, FRAME * 2), dtype=np.int16)


class PacketFile:
    """The file of a `packets=True` recording (media/ogg.py): each frame the two sides' packets, the left in
    self-delimiting framing; a side's samples are encoded here (mono, its own encoder), a missing packet is
    a packet of silence. Pages are flushed every `PAGE_FRAMES`. Used only on the writer thread."""

    def __init__(self, path: str):
        self.path = path
        self.file = None
        self.ogg: ogg.OggWriter | None = None
        self.frames = 0
        self._encoders: dict[str, av.CodecContext] = {}

    @staticmethod
    def frame(left, right) -> tuple:
        return left, right

    def write(self, frames: list[tuple | None]) -> None:
        if self.ogg is None:
            self._open()
        for frame in frames:
            left, right = frame if frame is not None else (None, None)
            left = ogg.self_delimited(self._packet("left", left)) or SILENT_DELIMITED
            right = self._packet("right", right)
            if ogg.self_delimited(right) is None:  # its end could not be found: the decoder would refuse the frame
                right = SILENT_PACKET
            self.frames += 1
            self.ogg.packet(left + right, self.frames * FRAME)
            if self.frames % PAGE_FRAMES == 0:
                self.ogg.flush()

    def close(self) -> None:
        if self.ogg is None:
            self._open()
        self.ogg.close()
        self.file.close()
        os.replace(self.path + PART, self.path)

    def _packet(self, side: str, item: bytes | np.ndarray | None) -> bytes:
        if item is None:
            return SILENT_PACKET
        if isinstance(item, bytes):
            return item
        encoder = self._encoders.get(side)
        if encoder is None:
            encoder = self._encoders[side] = av.CodecContext.create("libopus", "w")
            encoder.sample_rate, encoder.format, encoder.layout = RATE, "s16", "mono"
            encoder.bit_rate, encoder.options = BIT_RATE // 2, {"compression_level": str(COMPLEXITY)}
        frame = av.AudioFrame.from_ndarray(item.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        packets = encoder.encode(frame)
        return bytes(packets[0]) if packets else SILENT_PACKET

    def _open(self) -> None:
        _refuse_finished(self.path)
        self.file = open(self.path + PART, "wb")
        self.ogg = ogg.OggWriter(self.file, serial=zlib.crc32(self.path.encode()))
        self.ogg.header(ogg.opus_head())
        self.ogg.header(ogg.opus_tags())


def _refuse_finished(path: str) -> None:
    if os.path.exists(path):  # finished already (the call came back to this engine): never overwritten
        raise FileExistsError(f"{path} is a finished recording")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)


class Recorder:
    """Records one call's customer leg to `path` from now until `close()`; `pause()` records silence; from the
    packets carried (`packets`: see the module's docstring) or from samples."""

    def __init__(self, recording_id: str, path: str, paused: bool = False, packets: bool = False):
        self.id = recording_id
        self.path = path
        self.paused = paused  # as of now; the frames already due but not written keep the state of their time
        self._changes: collections.deque[tuple[int, bool]] = collections.deque()  # (first frame, paused)
        self._paused_written = paused  # the state of the last frame written
        self._started = time.monotonic()
        self.packets = packets
        side = PacketSide if packets else Side
        self.left, self.right = side(self._started), side(self._started)
        self.frames = 0  # written (or handed to the writer): the file's length in frames
        self.failed = False
        self._tap = None
        self._out = None
        self._file = PacketFile(path) if packets else OggFile(path)
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
                self._feeds(self._tap).discard(self.left)
            if tap is not None:
                self._feeds(tap).add(self.left)
            self._tap = tap
        if out is not self._out:
            if self._out is not None and self._out.copy_to is self.right:
                self._out.copy_to = None
            if out is not None:
                out.copy_to = self.right
            self._out = out

    def _feeds(self, tap) -> set:
        """Where the left side listens on the customer's tap: its packets as they come, or its decoded frames
        (which makes the tap decode them)."""
        return tap.encoded_feeds if self.packets else tap.feeds

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

    def _due(self, delay: float) -> list:
        """The frames whose time (`delay` ago) has come: both sides' audio as the file takes it, or None for
        silence."""
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
                frames.append(self._file.frame(left, right))
            self.frames += 1
        return frames
