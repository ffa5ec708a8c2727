"""Costs of stock aiortc 1.16 fixed from the outside, without forking it.

1. The RFC 6465 audio level of every sent frame is computed sample by sample in Python: measured here, ~35% of
   an Opus sender's time. `audio_level_dbov` is the same formula over a numpy view of the samples.
2. The audio jitter buffer holds 4 frames (80 ms) before it releases the first. Our legs are browsers on a
   LAN or the loopback; `JITTER_PREFETCH` frames (1: 20 ms) keep reordering covered and cut the delay each
   bridge adds to speech. A packet that comes later than that is dropped by the buffer, as any late packet is.
3. Audio crosses threads twice a frame on each side: every received packet goes to the receiver's decoder
   thread and back (`run_coroutine_threadsafe`), every sent frame to the default executor to be encoded and
   back. Each crossing is a futex wake, a self-pipe write and a GIL hand-over, several times the work of
   decoding or encoding 20 ms of G.711 (~2-10 us) or Opus (~40 us decode, ~130 us encode): measured, half of
   the media process's CPU. Audio is decoded (`InlineAudioDecoder`) and encoded (`_next_encoded_frame`) on
   the loop instead; video, whose frames take milliseconds, keeps its threads. One loop then does all the
   audio work of its calls, which is what a media process per core wants.

`install()` is idempotent; the engine calls it before its first peer connection.
"""
from __future__ import annotations

import logging
import math

import av
import numpy as np
from av.frame import Frame
from aiortc import rtcrtpreceiver, rtcrtpsender
from aiortc.jitterbuffer import JitterBuffer

log = logging.getLogger(__name__)

MIN_LEVEL, MAX_LEVEL = -127, 0
JITTER_PREFETCH = 1


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
    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
        if not is_video:
            prefetch = min(prefetch, JITTER_PREFETCH)
        super().__init__(capacity, prefetch=prefetch, is_video=is_video)


class InlineAudioDecoder:
    """Stands in for an audio receiver's decoder queue: what is put is decoded at once, on the loop.

    The receiver puts `(codec, encoded_frame)` for each complete frame and None when it stops, exactly what
    aiortc's `decoder_worker` thread reads from its queue; the decoded frames go straight to the track. A frame
    of a track whose `Tap` has no listener is dropped undecoded (DESIGN: decode only while a call needs
    samples)."""

    def __init__(self, receiver: rtcrtpreceiver.RTCRtpReceiver):
        self.receiver = receiver
        self.decoder = None
        self.codec_name = None

    def put(self, task) -> None:
        frames = self.receiver._track._queue
        if task is None:
            frames.put_nowait(None)  # the track ends
            return
        codec, encoded_frame = task
        listened = getattr(self.receiver._track, "listened", None)  # set by media/tap.py's Tap
        if listened is not None and not listened():
            self.decoder = self.codec_name = None  # decoding starts afresh when someone listens: no stale state
            return
        if codec.name != self.codec_name:
            self.decoder, self.codec_name = rtcrtpreceiver.get_decoder(codec), codec.name
        try:
            decoded = self.decoder.decode(encoded_frame)
        except av.FFmpegError as error:  # as aiortc does: keep the decoder, drop the frame
            log.warning("failed to decode %s audio: %s", codec.name, error)
            return
        for frame in decoded:
            frames.put_nowait(frame)


_stock_receiver_init = rtcrtpreceiver.RTCRtpReceiver.__init__
_stock_decoder_worker = rtcrtpreceiver.decoder_worker


def _receiver_init(self, kind: str, transport) -> None:
    _stock_receiver_init(self, kind, transport)
    if kind == "audio":
        self._RTCRtpReceiver__decoder_queue = InlineAudioDecoder(self)


def _decoder_worker(loop, input_q, output_q, decode_error) -> None:
    """The decoder thread's body; an audio receiver's thread has nothing to do and ends at once."""
    if not isinstance(input_q, InlineAudioDecoder):
        _stock_decoder_worker(loop, input_q, output_q, decode_error)


async def _next_encoded_frame(self, codec):
    """aiortc 1.16's `RTCRtpSender._next_encoded_frame`, encoding audio in place rather than in the executor."""
    data = await self._RTCRtpSender__track.recv()
    if not self._enabled:
        return None  # a disabled sender still reads its track, so frames do not pile up
    if self._RTCRtpSender__encoder is None:
        self._RTCRtpSender__encoder = rtcrtpsender.get_encoder(codec)
    encoder = self._RTCRtpSender__encoder
    audio_level = None
    if isinstance(data, av.AudioFrame):
        audio_level = rtcrtpsender.rtp.compute_audio_level_dbov(data)
        payloads, timestamp = encoder.encode(data, False)
    elif isinstance(data, Frame):
        force_keyframe = self._RTCRtpSender__force_keyframe
        self._RTCRtpSender__force_keyframe = False
        payloads, timestamp = await self._RTCRtpSender__loop.run_in_executor(
            None, encoder.encode, data, force_keyframe)
    else:
        payloads, timestamp = encoder.pack(data)  # already encoded
    if not payloads:
        return None  # the encoder is still buffering (resampling)
    return rtcrtpsender.RTCEncodedFrame(payloads, timestamp, audio_level)


_installed = False


def install() -> None:
    global _installed
    if not _installed:
        rtcrtpsender.rtp.compute_audio_level_dbov = audio_level_dbov
        rtcrtpreceiver.JitterBuffer = ShortJitterBuffer
        rtcrtpreceiver.RTCRtpReceiver.__init__ = _receiver_init
        rtcrtpreceiver.decoder_worker = _decoder_worker
        rtcrtpsender.RTCRtpSender._next_encoded_frame = _next_encoded_frame
        _installed = True


def only_addresses(addresses: list[str]) -> None:
    """Offer ICE candidates on these addresses only (aioice otherwise takes every interface but loopback).

    For a server with several interfaces, and for tests on the loopback, where the browser is told
    `--allow-loopback-in-peer-connection` and both ends meet on 127.0.0.1."""
    from aioice import ice

    ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(addresses)
