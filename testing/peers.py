"""A browser's side of a leg, in Python: a tone to send and an ear that tells which tone arrives.

Used by the media tests and benchmarks to drive the bridge with real RTP, DTLS and codecs, hundreds of legs
at a time, where a browser per leg would not fit on the machine. Browser tests (Chromium with fake devices)
cover the same paths end to end.
"""
from __future__ import annotations

import asyncio
import collections
import time
from fractions import Fraction

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

RATE = 48000
SAMPLES = 960
LOUD = 18000  # a click's peak after any codec (tones are sent at 0.3 of full scale, ~9800; music ~5900)


class ToneTrack(MediaStreamTrack):
    """A sine of `hz` at 48 kHz, paced in real time; hz=0 is silence. `marks` holds the send time of frames
    that carry a click (`click()`), for measuring mouth-to-ear delay."""

    kind = "audio"

    def __init__(self, hz: float, level: float = 0.3):
        super().__init__()
        self.hz, self.level = hz, level
        self._pts = 0
        self._start: float | None = None
        self._click_pending = False
        self.click_sent_at: float | None = None

    def click(self) -> None:
        self._click_pending = True

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._pts / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (self._pts + np.arange(SAMPLES)) / RATE
        samples = np.sin(2 * np.pi * self.hz * t) * self.level if self.hz else np.zeros(SAMPLES)
        if self._click_pending:
            samples = np.ones(SAMPLES) * 0.9  # a full-scale square burst: unmistakable at the far end
            self._click_pending = False
            self.click_sent_at = time.monotonic()
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update((samples * 32767).astype(np.int16).tobytes())
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency of a stretch of mono samples (0 for silence)."""
    if not len(samples) or np.max(np.abs(samples)) < 300:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def tones_present(samples: np.ndarray, rate: int, candidates, tolerance: float = 15, share: float = 0.1) -> set:
    """Which of `candidates` (Hz) sound in a stretch of mono samples: each whose spectral peak is at least
    `share` of the strongest peak (-20 dB), so a mix of several voices names them all; none in silence."""
    if not len(samples) or np.max(np.abs(samples)) < 300:
        return set()
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    strongest = spectrum.max()
    return {hz for hz in candidates
            if spectrum[(freqs >= hz - tolerance) & (freqs <= hz + tolerance)].max(initial=0) >= share * strongest}


class Ear:
    """Reads a received audio track, keeping the last second as mono samples and each frame's arrival."""

    def __init__(self, track: MediaStreamTrack):
        self.track = track
        self.rate = RATE
        self.recent: list[np.ndarray] = []
        self.frames = 0
        self.quiet_frames = 0  # frames without sound: the bridge's silence filler, or a gap
        self.first_sound_at: float | None = None
        self.loud_at: float | None = None  # when the last click (near full scale) began to arrive
        self.recent_at: list[float] = []  # arrival time of each frame in `recent`
        self.quiet_run = 0  # samples without sound since the last sound
        self.longest_quiet_run = 0  # the longest such run since the first sound (or `reset_runs`)
        self.loudest = 0  # the largest sample since the first frame (or `reset_runs`): a click stands out
        # The stream's timeline as the receiver saw it: a jump in the frames' timestamps (RTP's, mapped) is what
        # would reset a browser's jitter buffer; and the longest wait between two frames (or `reset_runs`).
        self.last_pts: int | None = None
        self.pts_jumps: list[int] = []
        self.last_at: float | None = None
        self.longest_wait = 0.0
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self):
        try:
            while True:
                frame = await self.track.recv()
                samples = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0].astype(np.float64)
                self.rate = frame.sample_rate
                self.frames += 1
                peak = np.max(np.abs(samples)) if len(samples) else 0
                now = time.monotonic()
                if self.last_pts is not None and frame.pts is not None and frame.pts - self.last_pts != frame.samples:
                    self.pts_jumps.append(frame.pts - self.last_pts)
                self.last_pts = frame.pts
                if self.last_at is not None:
                    self.longest_wait = max(self.longest_wait, now - self.last_at)
                self.last_at = now
                self._count_quiet_runs(samples)
                self.loudest = max(self.loudest, int(peak))
                if peak <= 300:
                    self.quiet_frames += 1
                elif self.first_sound_at is None:
                    self.first_sound_at = now
                # a click's onset: codecs and resamplers spread a 20 ms burst over two received frames
                if peak > LOUD and not (self.recent and np.max(np.abs(self.recent[-1])) > LOUD):
                    self.loud_at = now
                self.recent.append(samples)
                self.recent_at.append(now)
                if len(self.recent) > 50:
                    self.recent.pop(0)
                    self.recent_at.pop(0)
        except MediaStreamError:
            pass

    def _count_quiet_runs(self, samples: np.ndarray) -> None:
        loud = np.flatnonzero(np.abs(samples) > 300)
        if not len(loud):
            self.quiet_run += len(samples)
            return
        leading = [self.quiet_run + loud[0]] if self.first_sound_at is not None else []  # not before any sound
        self.longest_quiet_run = max(self.longest_quiet_run, *(int(run) for run in leading),
                                     int(np.max(np.diff(loud), initial=1)) - 1)
        self.quiet_run = len(samples) - 1 - int(loud[-1])

    def reset_runs(self) -> None:
        self.longest_quiet_run = self.loudest = 0
        self.pts_jumps.clear()
        self.longest_wait = 0.0

    def longest_quiet_ms(self) -> float:
        """The longest stretch without sound since the first sound (or `reset_runs`), in ms."""
        return 1000 * max(self.longest_quiet_run, self.quiet_run if self.first_sound_at else 0) / self.rate

    def tones(self, candidates, seconds: float = 0.3) -> set:
        """Which of `candidates` (Hz) the last `seconds` carry (see `tones_present`)."""
        frames = int(seconds / 0.02)
        return tones_present(np.concatenate(self.recent[-frames:]) if self.recent else np.zeros(0), self.rate,
                             candidates)

    def hears(self, seconds: float = 0.5) -> float:
        frames = int(seconds / 0.02)
        return dominant_hz(np.concatenate(self.recent[-frames:]) if self.recent else np.zeros(0), self.rate)

    async def stop(self):
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, MediaStreamError):
            pass


class Offering:
    """The offer/answer half of a browser-like endpoint over its `pc` (an RTCPeerConnection)."""

    pc: RTCPeerConnection

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))


class Peer(Offering):
    """One browser-like endpoint: sends a tone (and optionally video), hears what the bridge sends."""

    def __init__(self, hz: float, codec: str = "", video: bool = False, send: bool = True):
        """`send` False: a browser without its microphone (a supervisor listening) only receives audio."""
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.tone = ToneTrack(hz)
        transceiver = (self.pc.addTransceiver(self.tone, direction="sendrecv") if send
                       else self.pc.addTransceiver("audio", direction="recvonly"))
        if codec:
            caps = RTCRtpSender.getCapabilities("audio").codecs
            transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == codec.lower()])
        if video:
            from aiortc.mediastreams import VideoStreamTrack
            self.pc.addTransceiver(VideoStreamTrack(), direction="sendrecv")
        self.ear: Ear | None = None
        self.video_frames = 0
        self.video_size: tuple[int, int] | None = None  # of the last video frame received
        self.video_sizes: collections.Counter = collections.Counter()  # frames received, by size
        self.connected = asyncio.Event()

        @self.pc.on("track")
        def on_track(track):
            if track.kind == "audio":
                self.ear = Ear(track)
            else:
                asyncio.get_running_loop().create_task(self._count_video(track))

        @self.pc.on("connectionstatechange")
        def on_state():
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def _count_video(self, track):
        try:
            while True:
                frame = await track.recv()
                self.video_frames += 1
                self.video_size = (frame.width, frame.height)
                self.video_sizes[self.video_size] += 1
        except MediaStreamError:
            pass

    async def close(self) -> None:
        if self.ear is not None:
            await self.ear.stop()
        await self.pc.close()
