"""Costs of stock aiortc 1.16 fixed from the outside, without forking it.

1. The RFC 6465 audio level of every sent frame is computed sample by sample in Python: measured here, ~35% of
   an Opus sender's time. `audio_level_dbov` is the same formula over a numpy view of the samples.
2. The audio jitter buffer holds 4 frames (80 ms) before it releases the first. Our legs are browsers on a
   LAN or the loopback; `JITTER_PREFETCH` frames (1: 20 ms) keep reordering covered and cut the delay each
   bridge adds to speech. A packet that comes later than that is dropped by the buffer, as any late packet is.
   The video buffer holds a frame until the next one begins (33 ms at 30 frames/s); it is released at its
   last packet (the marker bit) instead.
3. Audio crosses threads twice a frame on each side: every received packet goes to the receiver's decoder
   thread and back (`run_coroutine_threadsafe`), every sent frame to the default executor to be encoded and
   back. Each crossing is a futex wake, a self-pipe write and a GIL hand-over, several times the work of
   decoding or encoding 20 ms of G.711 (~2-10 us) or Opus (~40 us decode, ~130 us encode): measured, half of
   the media process's CPU. Audio is decoded (`InlineAudioDecoder`) and encoded (`_next_encoded_frame`) on
   the loop instead; video, whose frames take milliseconds, keeps its threads. One loop then does all the
   audio work of its calls, which is what a media process per core wants.

4. Forwarding (media/encoded.py): each audio packet's payload is handed to its track's `Tap` as it arrives, and
   each complete video frame before any decoding; either is decoded only while something wants samples
   (`InlineAudioDecoder`, `VideoDecoderGate`). A sender whose track yields `EncodedFrame`s packs them as they
   are. Every audio timestamp a sender puts on the wire is its track's pts, whether the frame was encoded here
   or forwarded, so the far end sees one continuous stream across switches.

5. The NTP time every sent packet carries (abs-send-time) and notes (for sender reports) is read twice a packet
   through `datetime` arithmetic; `packet_path.current_ntp_time` reads the same clock with one `time.time()`.

6. Every received packet crosses an asyncio.Queue from the ICE connection's datagram callback to the DTLS
   transport's task: a task wake per packet. An audio RTP packet is handled in the callback itself
   (packet_path.py `receive_at_once`): decrypted, read from its fixed header and given to its receiver at
   once; anything else (RTCP, DTLS, video, STUN) is queued as before.

7. A forwarded audio frame would wake the sender's task once per packet (feed -> `track.recv()` ->
   `_run_rtp`) and cross aioice's async `sendto`. `_run_rtp` is aiortc's loop with its sequence number and
   timestamp origin kept on the sender, and it gives its switch track a `sink` (`packet_path.send_forwarded`):
   a forwarded frame is stamped, protected and sent synchronously from the receive callback that brought it
   (switch.py `_push`), through the one packet builder both paths share (`packet_path.send_packet`), which
   keeps the sender's history (NACK), sender-report figures and counters exactly as aiortc's loop does. The
   task still sends everything else (the filler, prompts, decoded frames, video).

`install()` is idempotent; the engine calls it before its first peer connection.
"""
from __future__ import annotations

import asyncio
import collections
import functools
import logging
import math
import queue
import time
from fractions import Fraction

import av
import numpy as np
from aioice import ice
from av.frame import Frame
from aiortc import rtcdtlstransport, rtcrtpreceiver, rtcrtpsender, rtp
from aiortc.mediastreams import convert_timebase
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

from . import packet_path
from .encoded import EncodedFrame, codec_name, opus_samples, vp8_keyframe

log = logging.getLogger(__name__)

MIN_LEVEL, MAX_LEVEL = -127, 0
JITTER_PREFETCH = 1
WARM_FRAMES = 8  # encoded frames kept while not decoding: a decoder that starts again is primed with them
KEYFRAME_REQUEST_EVERY = 0.25  # seconds between PLIs while waiting for a key frame
FORWARDED_AUDIO = {"opus", "pcmu", "pcma"}


def audio_level_dbov(frame) -> int:
    """Level of a s16 frame in -dBov, as RFC 6465 Appendix A spells it (identical results to aiortc's)."""
    samples = np.frombuffer(frame.planes[0], dtype=np.int16).astype(np.int64)  # the whole plane, as aiortc reads it
    # An integer dot product: exact, and numpy computes it itself. A float64 one goes to OpenBLAS's threaded
    # ddot, whose worker thread then spins between frames: measured, a whole core busy in the media process.
    power = int(np.dot(samples, samples)) / (frame.samples * 32767.0 * 32767.0)
    if power <= 0:
        return MIN_LEVEL
    return round(min(max(10 * math.log10(power), MIN_LEVEL), MAX_LEVEL))


class ShortJitterBuffer(JitterBuffer):
    """A shorter audio buffer (point 2 above); a video frame released at its last packet."""

    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
        if not is_video:
            prefetch = min(prefetch, JITTER_PREFETCH)
        super().__init__(capacity, prefetch=prefetch, is_video=is_video)

    def clear(self) -> None:
        """Forget every packet held: what comes next starts the buffer anew."""
        self._packets = [None] * self._capacity
        self._origin = None

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        """A video frame is complete at its last packet (the marker bit, RFC 7741 §4.1), not one frame later
        when the next one begins, as aiortc waits for; the rest as aiortc does."""
        if self._is_video:
            packets, timestamp = [], None
            for count in range(self.capacity):
                packet = self._packets[(self._origin + count) % self._capacity]
                if packet is None or (timestamp is not None and packet.timestamp != timestamp):
                    break
                timestamp = packet.timestamp
                packets.append(packet)
                if packet.marker:
                    self.remove(count + 1)
                    return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
        return super()._remove_frame(sequence_number)


class InlineAudioDecoder:
    """Stands in for an audio receiver's decoder queue: what comes is decoded at once, on the loop.

    Each packet's payload comes to `received` (packet_path.py, from the datagram callback), which hands it to
    the track's `Tap` to forward and decodes it only while the tap has a listener wanting samples (DESIGN:
    decode only while a call needs samples): only then does it go through the jitter buffer and the decoder.
    While it does not, the last `WARM_FRAMES` are kept: a decoder that starts again (a forwarded call put into
    a mix) decodes them first, so its state (Opus's prediction) continues into the first frame heard, not from
    zero (a cold Opus decoder's first frame is measured off by the whole tone; primed with 8, within 1%).

    aiortc's own receiver code, where it handles a packet (before the fast path starts), puts
    `(codec, encoded_frame)` for each complete frame and None when it stops, exactly what its
    `decoder_worker` thread reads from its queue; decoded frames go straight to the track."""

    def __init__(self, receiver: rtcrtpreceiver.RTCRtpReceiver):
        self.receiver = receiver
        self.decoder = None
        self.codec_name = None
        self.warm: collections.deque = collections.deque(maxlen=WARM_FRAMES)  # (codec, data, timestamp)
        self.active_noted = float("-inf")  # time.monotonic() the receiver's active source was last noted
        self._buffered = True  # the jitter buffer has every packet since decoding (re)started
        self._names: dict[int, tuple] = {}

    def codec(self, payload_type: int):
        """The receiver's codec for `payload_type` and its name here ("opus" ...), looked up once per codec."""
        codec = self.receiver._RTCRtpReceiver__codecs.get(payload_type)
        known = self._names.get(payload_type)
        if known is None or known[0] is not codec:
            known = self._names[payload_type] = (codec, codec_name(codec.name) if codec is not None else "")
        return known

    def received(self, codec, name: str, payload: bytes, marker: int, sequence_number: int, timestamp: int,
                 ssrc: int) -> None:
        """One audio packet's payload as it arrives: forwarded at once, and decoded if someone listens."""
        track = self.receiver._track
        if track is None:
            return
        encoded = getattr(track, "encoded", None)
        if encoded is not None and payload and name in FORWARDED_AUDIO:  # not a key press or comfort noise
            encoded(name, payload, opus_samples(payload) if name == "opus" else len(payload), timestamp)
        if not self._listened(track):
            self.warm.append((codec, payload, timestamp))
            self._buffered = False
            return
        buffer = self.receiver._RTCRtpReceiver__jitter_buffer
        if not self._buffered:
            buffer.clear()  # it holds packets from before the pause: they would be taken for reordered ones
            self._buffered = True
        packet = rtp.RtpPacket(payload_type=codec.payloadType, marker=marker, sequence_number=sequence_number,
                               timestamp=timestamp, ssrc=ssrc, payload=payload)
        packet._data = payload  # an audio payload is its frame (aiortc's `depayload`)
        frame = buffer.add(packet)[1]
        if frame is not None and self.receiver._RTCRtpReceiver__decoder_thread:
            frame.timestamp = self.receiver._RTCRtpReceiver__timestamp_mapper.map(frame.timestamp)
            self._decode_heard(codec, frame)

    def put(self, task) -> None:
        track = self.receiver._track
        if task is None:
            track._queue.put_nowait(None)  # the track ends
            return
        codec, encoded_frame = task
        if not self._listened(track):
            self.warm.append((codec, encoded_frame.data, encoded_frame.timestamp))
            return
        self._decode_heard(codec, encoded_frame)

    def _listened(self, track) -> bool:
        listened = getattr(track, "listened", None)  # set by media/tap.py's Tap
        if listened is None or listened():
            return True
        self.decoder = self.codec_name = None
        return False

    def _decode_heard(self, codec, encoded_frame) -> None:
        if codec.name != self.codec_name:
            self.decoder, self.codec_name = rtcrtpreceiver.get_decoder(codec), codec.name
            for warm_codec, data, timestamp in self.warm:
                if warm_codec.name == codec.name:
                    self._decode(codec, JitterFrame(data=data, timestamp=timestamp))  # priming: not heard
        self.warm.clear()
        frames = self.receiver._track._queue
        for frame in self._decode(codec, encoded_frame):
            frames.put_nowait(frame)

    def _decode(self, codec, encoded_frame) -> list:
        try:
            return self.decoder.decode(encoded_frame)
        except av.FFmpegError as error:  # as aiortc does: keep the decoder, drop the frame
            log.warning("failed to decode %s audio: %s", codec.name, error)
            return []


class VideoDecoderGate(queue.Queue):
    """A video receiver's decoder queue (its decoder thread reads it as before) that hands each encoded frame
    to the track's `Tap` first, and lets it through to the decoder only while someone wants pictures. A
    decoder that resumes after skipping frames waits for a key frame (asking the source for one), as it could
    not decode the frames between."""

    def __init__(self, receiver: rtcrtpreceiver.RTCRtpReceiver):
        super().__init__()
        self.receiver = receiver
        self.skipping = False
        self._asked = 0.0

    def put(self, task, block: bool = True, timeout: float | None = None) -> None:
        if task is None:
            super().put(None, block, timeout)
            return
        codec, encoded_frame = task
        track = self.receiver._track
        track.request_keyframe = self.ask_keyframe  # for the Tap (the track does not exist when we are made)
        listened = getattr(track, "listened", None)
        decoding = listened is None or listened()
        name = codec_name(codec.name)
        key = name == "vp8" and vp8_keyframe(encoded_frame.data)
        encoded = getattr(track, "encoded", None)
        if encoded is not None:
            encoded(name, encoded_frame.data, 0, encoded_frame.timestamp, key)
        if not decoding:
            self.skipping = True
            return
        if self.skipping and name == "vp8" and not key:
            self.ask_keyframe()
            return
        self.skipping = False
        super().put(task, block, timeout)

    def ask_keyframe(self) -> None:
        now = time.monotonic()
        if now - self._asked >= KEYFRAME_REQUEST_EVERY:
            self._asked = now
            request_keyframe(self.receiver)


def request_keyframe(receiver: rtcrtpreceiver.RTCRtpReceiver) -> None:
    """Send a PLI (RFC 4585 §6.3.1) for the stream the receiver gets, on the loop."""
    for ssrc in list(receiver._RTCRtpReceiver__remote_streams)[:1]:
        asyncio.get_running_loop().create_task(receiver._send_rtcp_pli(ssrc))


_stock_receiver_init = rtcrtpreceiver.RTCRtpReceiver.__init__
_stock_decoder_worker = rtcrtpreceiver.decoder_worker


def _receiver_init(self, kind: str, transport) -> None:
    _stock_receiver_init(self, kind, transport)
    if kind == "audio":
        self._RTCRtpReceiver__decoder_queue = InlineAudioDecoder(self)
    else:
        self._RTCRtpReceiver__decoder_queue = VideoDecoderGate(self)


def _decoder_worker(loop, input_q, output_q, decode_error) -> None:
    """The decoder thread's body; an audio receiver's thread has nothing to do and ends at once."""
    if not isinstance(input_q, InlineAudioDecoder):
        _stock_decoder_worker(loop, input_q, output_q, decode_error)


async def _next_encoded_frame(self, codec):
    """aiortc 1.16's `RTCRtpSender._next_encoded_frame`, encoding audio in place rather than in the executor,
    packing forwarded frames (`EncodedFrame`) as they are, and stamping audio with its track's pts."""
    track = self._RTCRtpSender__track
    data = await track.recv()
    if not self._enabled:
        return None  # a disabled sender still reads its track, so frames do not pile up
    if self._RTCRtpSender__encoder is None:
        self._RTCRtpSender__encoder = rtcrtpsender.get_encoder(codec)
    encoder = self._RTCRtpSender__encoder
    audio_level = None
    clock = Fraction(1, codec.clockRate)
    if isinstance(data, EncodedFrame):
        timestamp = convert_timebase(data.pts, data.time_base, clock)
        if data.samples:  # audio: one frame, one packet
            payloads = [data.data]
        else:
            if self._RTCRtpSender__force_keyframe:  # the far end lost the picture: its source sends a key frame
                self._RTCRtpSender__force_keyframe = False
                keyframe_lost = getattr(track, "keyframe_lost", None)
                if keyframe_lost is not None:
                    keyframe_lost()
            payloads = encoder._packetize(data.data, encoder.picture_id)
            encoder.picture_id = (encoder.picture_id + 1) % (1 << 15)
    elif isinstance(data, av.AudioFrame):
        audio_level = rtcrtpsender.rtp.compute_audio_level_dbov(data)
        payloads, timestamp = encoder.encode(data, False)
        if data.pts is not None and data.time_base is not None:  # the track's own timeline (every switch's)
            timestamp = convert_timebase(data.pts, data.time_base, clock)
    elif isinstance(data, Frame):
        force_keyframe = self._RTCRtpSender__force_keyframe or getattr(track, "keyframe_next", False)
        self._RTCRtpSender__force_keyframe = False
        if force_keyframe and getattr(track, "keyframe_next", False):
            track.keyframe_next = False
        payloads, timestamp = await self._RTCRtpSender__loop.run_in_executor(
            None, encoder.encode, data, force_keyframe)
    else:
        payloads, timestamp = encoder.pack(data)  # already encoded (an av.Packet)
    if not payloads:
        return None  # the encoder is still buffering (resampling)
    return rtcrtpsender.RTCEncodedFrame(payloads, timestamp, audio_level)


async def _run_rtp(self, codec) -> None:
    """aiortc 1.16's `RTCRtpSender._run_rtp`, sending through `packet_path.send_packet`, and giving an audio switch track
    its `sink` for forwarded frames (point 7)."""
    self._RTCRtpSender__rtp_started.set()
    self._fast_sequence = rtcrtpsender.random_sequence_number()
    self._fast_shape = packet_path.HeaderShape.of(self)
    origin = rtcrtpsender.random32()
    track = None
    try:
        while True:
            if self._RTCRtpSender__track is not track:
                if track is not None and hasattr(track, "sink"):
                    track.sink = None
                track = self._RTCRtpSender__track
                if track is not None and hasattr(track, "sink") and track.kind == "audio":
                    time_base = getattr(getattr(track, "fmt", None), "time_base", None)
                    scale = None if time_base == Fraction(1, codec.clockRate) else time_base * codec.clockRate
                    track.sink = functools.partial(packet_path.send_forwarded, self, codec, origin, scale)
            if not track:
                await asyncio.sleep(0.02)
                continue
            frame = await self._next_encoded_frame(codec)
            if frame is None:
                continue
            timestamp = (origin + frame.timestamp) & 0xFFFFFFFF
            last = len(frame.payloads) - 1
            for i, payload in enumerate(frame.payloads):
                packet_path.send_packet(self, codec, payload, timestamp, 1 if i == last else 0, frame.audio_level)
    except (asyncio.CancelledError, ConnectionError, rtcrtpsender.MediaStreamError):
        pass
    except Exception:
        log.exception("sending RTP failed")
    if track is not None and hasattr(track, "sink"):
        track.sink = None
    if self._RTCRtpSender__track:
        self._RTCRtpSender__track.stop()
        self._RTCRtpSender__track = None
    self._RTCRtpSender__encoder = None
    self._RTCRtpSender__rtp_exited.set()


_stock_dtls_start = rtcdtlstransport.RTCDtlsTransport.start
_stock_data_received = ice.Connection.data_received


async def _dtls_start(self, remoteParameters) -> None:
    await _stock_dtls_start(self, remoteParameters)
    if self._rx_srtp is not None:  # keys agreed: its SRTP may be handled as it arrives
        self.transport._connection.receive_at_once = functools.partial(packet_path.receive_at_once, self)


def _data_received(self, data: bytes, component: int) -> None:
    at_once = getattr(self, "receive_at_once", None)
    if at_once is not None and 127 < data[0] < 192 and not rtp.is_rtcp(data) and at_once(data):
        return
    _stock_data_received(self, data, component)


_stock_stun_datagram_received = ice.StunProtocol.datagram_received


def _stun_datagram_received(self, data: bytes, addr) -> None:
    """aioice's `StunProtocol.datagram_received` tries every datagram as STUN and takes the ValueError of one
    that is not as its cue to pass it on: an exception per media packet. The first byte tells them apart
    (RFC 7983 §7: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP): media goes on at once."""
    if data and 127 < data[0] < 192:
        self.receiver.data_received(data, self.local_candidate.component)
    else:
        _stock_stun_datagram_received(self, data, addr)


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        rtcrtpsender.rtp.compute_audio_level_dbov = audio_level_dbov
        rtcrtpreceiver.JitterBuffer = ShortJitterBuffer
        rtcrtpreceiver.RTCRtpReceiver.__init__ = _receiver_init
        rtcrtpreceiver.decoder_worker = _decoder_worker
        rtcrtpsender.RTCRtpSender._next_encoded_frame = _next_encoded_frame
        rtcrtpsender.RTCRtpSender._run_rtp = _run_rtp
        rtcrtpsender.clock.current_ntp_time = packet_path.current_ntp_time
        rtcdtlstransport.RTCDtlsTransport.start = _dtls_start
        ice.Connection.data_received = _data_received
        ice.StunProtocol.datagram_received = _stun_datagram_received
        _installed = True


def only_addresses(addresses: list[str]) -> None:
    """Offer ICE candidates on these addresses only (aioice otherwise takes every interface but loopback).

    For a server with several interfaces, and for tests on the loopback, where the browser is told
    `--allow-loopback-in-peer-connection` and both ends meet on 127.0.0.1."""
    from aioice import ice

    ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(addresses)
