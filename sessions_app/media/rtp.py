"""RTP (RFC 3550) with a SIP trunk: G.711 audio both ways, key presses as RFC 4733 events.

`RtpEndpoint` is the UDP port; `ReceivedAudioTrack` turns the packets that arrive into 20 ms frames for a
`Tap`; `AudioSender` sends a `SwitchAudioTrack`'s frames as packets and key presses between them, and a
forwarded frame (`EncodedFrame`, same law) as its payload, unchanged.

Per packet the work is a header unpack and one numpy table lookup (`g711`). We send 20 ms packets (our SDP
says `a=ptime:20`) and take 10, 20 or 30 ms ones. Not done here: RTCP (no sender or receiver reports: trunks
keep calls up without them; RTCP arriving on this port is dropped, and nothing listens on the port above),
SRTP, comfort noise (its packets are dropped; the switch of the other leg fills the gap), packet loss
concealment (a lost packet is 20 ms less audio, not 20 ms of guessed audio), codecs other than G.711.
"""
from __future__ import annotations

import asyncio
import collections
import errno
import ipaddress
import logging
import random
import socket
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from . import dtmf, g711
from .encoded import EncodedFrame

log = logging.getLogger(__name__)

HEADER = struct.Struct("!BBHII")
VERSION = 0x80
MARKER = 0x80
RATE = 8000
FRAME = 160  # samples in 20 ms
TIME_BASE = Fraction(1, RATE)
REORDER_PACKETS = 2  # a missing packet is given up once this many later ones wait behind it (40 ms at 20 ms)
REORDER_WAIT = 0.04  # ... or once it has been missed this long, when no later packet comes (a talk spurt ends)
RESTART_AFTER = 100  # a packet this far behind is a sender that started counting anew, not a late one
QUEUE_FRAMES = 10  # frames kept for a reader that falls behind (a Tap never does)
EVENT_UPDATE = 400  # samples between a telephone event's duration updates: 50 ms (RFC 4733 §2.5.1.2)
EVENT_END_COPIES = 3


@dataclass(slots=True)
class RtpPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse(data: bytes) -> RtpPacket | None:
    """The RTP packet in a datagram, or None if it is no RTP version 2 packet (RTCP is none)."""
    if len(data) < HEADER.size:
        return None
    first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
    payload_type = second & 0x7F
    if first & 0xC0 != VERSION or 72 <= payload_type <= 76:  # RTCP sent to this port: RFC 5761 §4
        return None
    start = HEADER.size + 4 * (first & 0x0F)  # after the CSRC list
    if first & 0x10:  # a header extension: profile (16 bits), length in 32-bit words (16 bits), words
        if len(data) < start + 4:
            return None
        start += 4 + 4 * int.from_bytes(data[start + 2:start + 4], "big")
    end = len(data) - (data[-1] if first & 0x20 else 0)  # padding: its last octet counts it
    if end < start:
        return None
    return RtpPacket(payload_type, bool(second & MARKER), sequence, timestamp, ssrc, data[start:end])


def packet(payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int, payload: bytes) -> bytes:
    return HEADER.pack(VERSION, payload_type | (MARKER if marker else 0), sequence, timestamp, ssrc) + payload


def bind_udp(host: str, ports: range | None = None) -> socket.socket:
    """A UDP socket on `host`: on an even port of `ports` (the firewall's RTP range), or any free port."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    candidates: Iterable[int] = (0,)
    if ports:
        start = random.randrange(len(ports))  # processes sharing a range rarely try the same ports
        rotated = (ports[(start + i) % len(ports)] for i in range(len(ports)))
        candidates = (port for port in rotated if port % 2 == 0)
    for port in candidates:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            if port and error.errno == errno.EADDRINUSE:
                continue
            raise
        sock.setblocking(False)
        return sock
    raise OSError(errno.EADDRINUSE, f"every even port of {ports.start}-{ports.stop - 1} is taken on {host}")


def remote_address(host: str, port: int) -> tuple[str, int] | None:
    """The remote as the socket reports sources (canonical text), or None for "send nothing" (c=0.0.0.0)."""
    if not host or not port:
        return None
    address = ipaddress.ip_address(host)  # an SDP connection address: a literal, never a name to look up
    return None if address.is_unspecified else (str(address), int(port))


class RtpEndpoint(asyncio.DatagramProtocol):
    """One local UDP port speaking RTP with one remote address; `on_packet(packet)` gets what it sends.

    With `latch` (symmetric RTP, RFC 4961: how trunks and phones behind NAT are reached), the remote becomes
    the source of the first RTP packet that arrives after `set_remote`, whatever the SDP said; from then on,
    packets from anywhere else are dropped. The socket is bound at once, so `local_port` can go in the SDP;
    it starts reading on the running loop just after (the kernel keeps what arrives meanwhile)."""

    def __init__(self, host: str, on_packet, ports: range | None = None):
        self.sock = bind_udp(host, ports)
        self.local_host, self.local_port = self.sock.getsockname()[:2]
        self.on_packet = on_packet
        self.remote: tuple[str, int] | None = None
        self.latching = False
        self.transport: asyncio.DatagramTransport | None = None
        self.gone = asyncio.Event()  # the socket is closed: the port is free again
        self.packets_in = self.packets_out = self.strays = 0  # strays: not RTP, or not from the remote
        loop = asyncio.get_running_loop()
        self.opening = loop.create_task(loop.create_datagram_endpoint(lambda: self, sock=self.sock))

    def set_remote(self, host: str, port: int, latch: bool = True) -> None:
        self.remote = remote_address(host, port)
        self.latching = latch and self.remote is not None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.gone.set()

    def datagram_received(self, data: bytes, addr) -> None:
        source = addr[:2]
        if source != self.remote and not self.latching:
            self.strays += 1
            return
        received = parse(data)
        if received is None:
            self.strays += 1
            return
        if self.latching:
            self.remote, self.latching = source, False
        self.packets_in += 1
        self.on_packet(received)

    def send(self, data: bytes) -> bool:
        """Send one datagram to the remote; False if there is none yet (or the port is not open yet)."""
        if self.transport is None or self.remote is None:
            return False
        self.transport.sendto(data, self.remote)
        self.packets_out += 1
        return True

    async def close(self) -> None:
        if not self.opening.done():
            self.opening.cancel()
        if self.transport is not None:
            self.transport.close()  # closes the socket on the loop's next turn
            await self.gone.wait()
        else:
            self.sock.close()


class ReceivedAudioTrack(MediaStreamTrack):
    """What the trunk sends, as s16 mono 8 kHz frames of 20 ms (pts counts the samples handed out).

    Packets are played in sequence order as soon as they are next; a missing one is waited for only while at
    most `REORDER_PACKETS` later ones queue behind it, or `REORDER_WAIT`, so reordering costs delay only when
    it happens. Duplicates and packets later than that are dropped. Packets of 10 or 30 ms are cut into 20 ms
    frames; where the timestamps jump (a lost packet, silence suppression) a partial frame is padded out."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.ssrc: int | None = None
        self.next_sequence = 0
        self.waiting: dict[int, tuple[int, np.ndarray | None]] = {}
        self.pending = np.zeros(0, dtype=np.int16)  # decoded samples short of a whole frame
        self.pending_end = 0  # the RTP timestamp just past the pending samples
        self.frames: collections.deque = collections.deque(maxlen=QUEUE_FRAMES)
        self.arrived = asyncio.Event()
        self.timer: asyncio.TimerHandle | None = None
        self.pts = 0
        self.lost = self.late = self.duplicates = 0

    def receive(self, received: RtpPacket, samples: np.ndarray | None) -> None:
        """Take a packet of the stream: its decoded audio, or None for one of its other payloads (a telephone
        event, comfort noise), which fills its place in the sequence without sound."""
        if received.ssrc != self.ssrc:
            if samples is None and self.ssrc is not None:
                return  # events on a stream of their own
            self._restart(received)
        ahead = (received.sequence - self.next_sequence) & 0xFFFF
        if ahead >= 0x8000:
            if 0x10000 - ahead <= RESTART_AFTER:
                self.late += 1
                return
            self._restart(received)
        if received.sequence in self.waiting:
            self.duplicates += 1
            return
        self.waiting[received.sequence] = (received.timestamp, samples)
        self._release(give_up=False)

    def _restart(self, received: RtpPacket) -> None:
        self._release(give_up=True)
        self.ssrc, self.next_sequence = received.ssrc, received.sequence

    def _release(self, give_up: bool) -> None:
        while self.waiting:
            entry = self.waiting.pop(self.next_sequence, None)
            if entry is None:
                if not give_up and len(self.waiting) < REORDER_PACKETS:
                    break
                nearest = min(self.waiting, key=lambda sequence: (sequence - self.next_sequence) & 0xFFFF)
                self.lost += (nearest - self.next_sequence) & 0xFFFF
                self.next_sequence = nearest
                continue
            self.next_sequence = (self.next_sequence + 1) & 0xFFFF
            if entry[1] is not None:
                self._play(*entry)
        if self.waiting and self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(REORDER_WAIT, self._waited)
        elif not self.waiting and self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _waited(self) -> None:
        self.timer = None
        self._release(give_up=True)

    def _play(self, timestamp: int, samples: np.ndarray) -> None:
        if len(self.pending) and timestamp != self.pending_end:
            self._emit(np.concatenate((self.pending, np.zeros(FRAME - len(self.pending), dtype=np.int16))))
            self.pending = self.pending[:0]
        self.pending_end = (timestamp + len(samples)) & 0xFFFFFFFF
        if not len(self.pending) and len(samples) == FRAME:
            self._emit(samples)
            return
        self.pending = np.concatenate((self.pending, samples))
        while len(self.pending) >= FRAME:
            self._emit(self.pending[:FRAME])
            self.pending = self.pending[FRAME:]

    def _emit(self, samples: np.ndarray) -> None:
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.time_base, frame.pts = RATE, TIME_BASE, self.pts
        self.pts += FRAME
        self.frames.append(frame)
        self.arrived.set()

    async def recv(self) -> av.AudioFrame:
        while not self.frames:
            if self.readyState != "live":
                raise MediaStreamError
            self.arrived.clear()
            await self.arrived.wait()
        return self.frames.popleft()

    def stop(self) -> None:
        super().stop()
        if self.timer is not None:
            self.timer.cancel()
        self.arrived.set()


class AudioSender:
    """Sends a track's frames as G.711 RTP, one packet per frame, and key presses as RFC 4733 events.

    The track (a `SwitchAudioTrack`) paces itself; this only stamps what it hands over: sequence numbers and
    timestamps run on from random starts, the timestamp counting samples. While an event is sent, or while
    the far end holds the leg (its SDP direction), frames are still read and counted but not sent, so the audio that
    follows carries the timestamp of its real time, and the marker bit that starts a talk spurt."""

    def __init__(self, endpoint: RtpEndpoint, track: MediaStreamTrack, payload_type: int,
                 event_payload_type: int | None = None):
        self.endpoint = endpoint
        self.track = track
        self.payload_type = payload_type
        self.event_payload_type = event_payload_type
        self.ssrc = random.getrandbits(32)
        self.sequence = random.getrandbits(16)
        self.timestamp = random.getrandbits(32)  # of the next audio sample
        self.sending = True
        self.in_event = False
        self.marker = True
        self.frames = 0
        self.digits_sent = 0
        self.stopped = False
        self._resampler: av.AudioResampler | None = None
        self._digits = asyncio.Lock()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.endpoint.opening
            if hasattr(self.track, "sink"):  # forwarded frames are sent as they arrive (switch.py `_push`)
                self.track.sink = self._forwarded
            while not self.stopped:
                frame = await self.track.recv()
                if isinstance(frame, EncodedFrame):  # forwarded: the same law, sent as it came
                    payload, length = frame.data, frame.samples
                else:
                    samples = self._samples(frame)
                    payload, length = None, len(samples)
                if not length:
                    continue
                if self.sending and not self.in_event:
                    if payload is None:
                        payload = g711.encode(samples, self.payload_type)
                    if self._send(self.payload_type, self.marker, self.timestamp, payload):
                        self.marker = False
                else:
                    self.marker = True
                self.timestamp = (self.timestamp + length) & 0xFFFFFFFF
                self.frames += 1
        except MediaStreamError:
            pass  # the track was stopped: the leg is closing
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sending RTP failed")
        finally:
            if getattr(self.track, "sink", None) == self._forwarded:
                self.track.sink = None

    def _forwarded(self, payload: bytes, pts: int, samples: int) -> None:
        """A forwarded G.711 frame sent at once, as `_run` sends one (its own timestamps, not `pts`)."""
        if self.stopped:
            return
        if self.sending and not self.in_event:
            if self._send(self.payload_type, self.marker, self.timestamp, payload):
                self.marker = False
        else:
            self.marker = True
        self.timestamp = (self.timestamp + samples) & 0xFFFFFFFF
        self.frames += 1

    def _samples(self, frame: av.AudioFrame) -> np.ndarray:
        if frame.format.name == "s16" and frame.layout.name == "mono" and frame.sample_rate == RATE:
            return np.frombuffer(frame.planes[0], dtype=np.int16, count=frame.samples)
        if self._resampler is None:  # not from a switch track of 8 kHz mono, which never needs one
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        frame.pts = None
        converted = [np.frombuffer(out.planes[0], dtype=np.int16, count=out.samples)
                     for out in self._resampler.resample(frame)]
        return np.concatenate(converted) if converted else np.zeros(0, dtype=np.int16)

    def _send(self, payload_type: int, marker: bool, timestamp: int, payload: bytes) -> bool:
        sent = self.endpoint.send(packet(payload_type, marker, self.sequence, timestamp, self.ssrc, payload))
        self.sequence = (self.sequence + 1) & 0xFFFF
        return sent

    def check_digits(self, digits: str, duration_ms: int) -> str:
        """`digits` as they will be sent, or ValueError saying why they cannot be."""
        if self.event_payload_type is None:
            raise ValueError("the far end takes no telephone events (no telephone-event in its SDP)")
        if not 40 <= duration_ms <= 8000:
            raise ValueError("a key press lasts 40 ms to 8 s")
        return dtmf.check_digits(digits)

    async def send_digits(self, digits: str, duration_ms: int = 100, gap_ms: int = 100) -> None:
        """Press each key for `duration_ms`, `gap_ms` apart (audio flows in the gaps); calls queue up."""
        digits = self.check_digits(digits, duration_ms)
        async with self._digits:
            for index, digit in enumerate(digits):
                if index:
                    await asyncio.sleep(gap_ms / 1000)
                await self._press(digit, duration_ms * RATE // 1000)

    async def _press(self, digit: str, length: int) -> None:
        """One event (RFC 4733 §2.5.1): the start with the marker bit, the duration so far every 50 ms, all at
        the timestamp of the start, then the end three times. The audio paused meanwhile resumes after it."""
        loop = asyncio.get_running_loop()
        started, start = loop.time(), self.timestamp
        self.in_event = True
        try:
            duration = 0
            while duration < length:
                if self.sending:
                    payload = dtmf.event_payload(digit, duration, False)
                    self._send(self.event_payload_type, duration == 0, start, payload)
                duration = min(duration + EVENT_UPDATE, length)
                await asyncio.sleep(max(0.0, started + duration / RATE - loop.time()))
            if self.sending:
                for _ in range(EVENT_END_COPIES):
                    self._send(self.event_payload_type, False, start, dtmf.event_payload(digit, length, True))
            self.digits_sent += 1
        finally:
            if (start + length - self.timestamp) & 0xFFFFFFFF < 0x80000000:
                self.timestamp = (start + length) & 0xFFFFFFFF  # audio never overlaps the event it followed
            self.in_event = False
            self.marker = True

    async def stop(self) -> None:
        # The flag as well as the cancel: Python 3.11's wait_for (in the switch's feed) can swallow a
        # cancellation that comes as its wait ends, and the loop must end even then.
        self.stopped = True
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
