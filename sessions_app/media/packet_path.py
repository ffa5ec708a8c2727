"""One audio RTP packet through aiortc 1.16, received and sent, as plain calls in the ICE socket's callback.

Forwarding a call costs what each packet costs in Python, so the packet's path is cut to what it needs:
parsing a packet into aiortc's `RtpPacket` with its header extensions, its jitter buffer and decoder queue, and
building the packet sent through those objects again were a quarter of the media process's time when it only
forwards (measured: 88 -> 66 us of CPU per forwarded packet, bench/media_forwarding.py).

Received (`receive_at_once`, patches.py point 6): an SRTP packet is decrypted, routed and noted (the sources and
the RTCP statistics) from its fixed header alone, and its payload handed to the receiver's `InlineAudioDecoder`,
which forwards it and keeps it in the jitter buffer only while something decodes the voice. Anything aiortc
does more for (video, RTX, a payload type it does not know) is parsed and handled by aiortc's own code.

Sent (`send_packet`, point 7): the header of an audio packet is packed in one go, with the same header
extensions and bytes aiortc's `RtpPacket.serialize` makes (tests/test_media_packet_path.py compares them),
and sent at once. A sender that retransmits through RTX (video) keeps aiortc's packets, which RTX rewraps.
"""
from __future__ import annotations

import asyncio
import logging
import struct
import time

import pylibsrtp
from aioice import ice
from aiortc import clock as aiortc_clock, rtcdtlstransport, rtcrtpreceiver, rtp

log = logging.getLogger(__name__)

HEADER = struct.Struct("!BBHLL")  # RFC 3550 §5.1: V P X CC, M PT, sequence number, timestamp, SSRC
EXTENSIONS = struct.Struct("!HH")  # RFC 8285: profile, length in 32-bit words
ONE_BYTE_PROFILE = 0xBEDE
ACTIVE_EVERY = 1.0  # seconds: how often a source's "last heard" (getSynchronizationSources) is brought up to date
NTP_OFFSET = 2208988800  # seconds from 1900 (NTP's epoch) to 1970 (Unix's)


def current_ntp_time() -> int:
    """aiortc.clock's `current_ntp_time` (64-bit NTP: seconds << 32 | fraction), without datetime objects."""
    now = time.time() + NTP_OFFSET
    seconds = int(now)
    return (seconds << 32) | int((now - seconds) * 4294967296)


class Seen:
    """What aiortc's `StreamStatistics.add` reads of a packet."""

    __slots__ = ("sequence_number", "timestamp")

    def __init__(self, sequence_number: int, timestamp: int):
        self.sequence_number = sequence_number
        self.timestamp = timestamp


def payload_of(plain: bytes, first: int) -> bytes | None:
    """The payload of a plain RTP packet whose first byte is `first`; None where aiortc's `RtpPacket.parse`
    refuses it (another version, a truncated CSRC list or extension, a bad padding length)."""
    if first >> 6 != 2:
        return None
    start = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if len(plain) < start + 4:
            return None
        start += 4 + 4 * EXTENSIONS.unpack_from(plain, start)[1]
    if len(plain) < start:
        return None
    if first & 0x20:
        padding = plain[-1]
        if not padding or padding > len(plain) - start:
            return None
        return plain[start:-padding]
    return plain[start:]


def route(router: rtcdtlstransport.RtpRouter, ssrc: int, payload_type: int):
    """aiortc's `RtpRouter.route_rtp` from the two fields it reads: the receiver of a packet, or None."""
    receiver = router.ssrc_table.get(ssrc)
    receivers = router.payload_type_table.get(payload_type, ())
    if receiver is not None and receiver in receivers:
        return receiver
    if receiver is None and len(receivers) == 1:
        receiver = router.ssrc_table[ssrc] = next(iter(receivers))
        return receiver
    return None


def handle_audio(receiver: rtcrtpreceiver.RTCRtpReceiver, plain: bytes, first: int, second: int,
                 sequence_number: int, timestamp: int, ssrc: int) -> bool:
    """aiortc 1.16's `RTCRtpReceiver._handle_rtp_packet` for an audio packet, from its fixed header: the
    source and RTCP statistics noted, the payload to the receiver's `InlineAudioDecoder`. False, having done
    nothing, where aiortc's own does more (a bitrate estimator or NACKs, RTX, an unknown payload type)."""
    if (receiver._RTCRtpReceiver__remote_bitrate_estimator is not None
            or receiver._RTCRtpReceiver__nack_generator is not None):
        return False
    intake = receiver._RTCRtpReceiver__decoder_queue
    codec, name = intake.codec(second & 0x7F)
    if codec is None or name == "rtx":
        return False
    if not receiver._enabled:
        return True
    payload = payload_of(plain, first)
    if payload is None:
        return True  # as aiortc: a packet it cannot parse is dropped
    now = time.monotonic()
    if now - intake.active_noted >= ACTIVE_EVERY:
        intake.active_noted = now
        receiver._RTCRtpReceiver__active_ssrc[ssrc] = aiortc_clock.current_datetime()
    streams = receiver._RTCRtpReceiver__remote_streams
    statistics = streams.get(ssrc)
    if statistics is None:
        statistics = streams[ssrc] = rtcrtpreceiver.StreamStatistics(codec.clockRate)
    statistics.add(Seen(sequence_number, timestamp))
    intake.received(codec, name, payload, second >> 7, sequence_number, timestamp, ssrc)
    return True


def receive_at_once(dtls: rtcdtlstransport.RTCDtlsTransport, data: bytes) -> bool:
    """`RTCDtlsTransport._recv_next` for one SRTP packet, in the datagram callback. An audio packet is handled
    to its end here; any other is parsed as aiortc parses it and its receiver's `_handle_rtp_packet` runs as a
    task (in order). Returns False if it was left to the queue."""
    try:
        plain = dtls._rx_srtp.unprotect(data)
    except pylibsrtp.Error:
        return True  # as aiortc: dropped
    if len(plain) < 12:
        return True
    first, second, sequence_number, timestamp, ssrc = HEADER.unpack_from(plain)
    dtls._RTCDtlsTransport__rx_bytes += len(data)
    dtls._RTCDtlsTransport__rx_packets += 1
    receiver = route(dtls._rtp_router, ssrc, second & 0x7F)
    if receiver is None:
        return True
    audio = receiver._RTCRtpReceiver__kind == "audio"
    if audio and handle_audio(receiver, plain, first, second, sequence_number, timestamp, ssrc):
        return True
    try:
        packet = rtp.RtpPacket.parse(plain, dtls._rtp_header_extensions_map)
    except ValueError:
        return True
    handling = receiver._handle_rtp_packet(packet, arrival_time_ms=aiortc_clock.current_ms())
    if not audio:
        asyncio.get_running_loop().create_task(handling)
        return True
    try:
        handling.send(None)  # an audio packet's handling awaits nothing: run to its end here
    except StopIteration:
        return True
    except Exception:
        log.exception("handling a received audio packet failed")
        return True
    handling.close()
    log.warning("an audio packet's handling suspended; it was cut short")
    return True


class Sent:
    """An audio packet in a sender's history (what aiortc's `_retransmit` reads of it): its sequence number
    and the plain bytes sent, which a NACK sends again as they were."""

    __slots__ = ("sequence_number", "plain")

    def __init__(self, sequence_number: int, plain: bytes):
        self.sequence_number = sequence_number
        self.plain = plain

    def serialize(self, extensions_map=None) -> bytes:
        return self.plain


class HeaderShape:
    """The parts of a sender's packets that do not change: its header extensions' ids (and its MID, packed),
    as `HeaderExtensionsMap.set` lays them out in RFC 8285's one-byte form (the other extensions it knows carry
    values aiortc's sender never sets). None from `of` where aiortc would use the two-byte form, or where the
    sender retransmits through RTX."""

    __slots__ = ("mid", "abs_send_time", "audio_level")

    def __init__(self, mid: bytes, abs_send_time: int, audio_level: int):
        self.mid = mid
        self.abs_send_time = abs_send_time  # the extension's first byte (id << 4 | length - 1), or 0: not sent
        self.audio_level = audio_level

    @classmethod
    def of(cls, sender) -> "HeaderShape | None":
        if sender._RTCRtpSender__rtx_payload_type is not None:
            return None
        ids = sender._RTCRtpSender__rtp_header_extensions_map._HeaderExtensionsMap__ids
        mid = sender._RTCRtpSender__mid
        mid_bytes = mid.encode("utf8") if mid is not None and ids.mid else b""
        if mid is not None and ids.mid and not 0 < len(mid_bytes) <= 16:
            return None
        if any(x is not None and x > 14 for x in (ids.mid, ids.abs_send_time, ids.audio_level)):
            return None
        return cls(bytes([ids.mid << 4 | (len(mid_bytes) - 1)]) + mid_bytes if mid_bytes else b"",
                   ids.abs_send_time << 4 | 2 if ids.abs_send_time else 0,
                   ids.audio_level << 4 if ids.audio_level else 0)

    def pack(self, first_fields: tuple, abs_send_time: int, audio_level: int | None) -> bytes:
        extensions = self.mid
        if self.abs_send_time:
            extensions += (self.abs_send_time << 24 | abs_send_time).to_bytes(4, "big")
        if audio_level is not None and self.audio_level:
            extensions += bytes((self.audio_level, -audio_level & 0x7F))
        if not extensions:
            return HEADER.pack(0x80, *first_fields)
        extensions += b"\x00" * (-len(extensions) % 4)
        return (HEADER.pack(0x90, *first_fields) + EXTENSIONS.pack(ONE_BYTE_PROFILE, len(extensions) >> 2)
                + extensions)


def send_packet(sender, codec, payload: bytes, timestamp: int, marker: int, audio_level: int | None) -> None:
    """One RTP packet of `sender`, as aiortc 1.16's `_run_rtp` makes and sends it (its header extensions,
    history, sender-report figures, counters), sent at once. Raises ConnectionError when not connected."""
    sequence_number = sender._fast_sequence
    ntp = current_ntp_time()
    shape = sender._fast_shape
    if shape is not None:
        plain = shape.pack(((marker << 7) | codec.payloadType, sequence_number, timestamp, sender._ssrc),
                           (ntp >> 14) & 0x00FFFFFF, audio_level) + payload
        sent = Sent(sequence_number, plain)
    else:
        sent = rtp.RtpPacket(payload_type=codec.payloadType, marker=marker, sequence_number=sequence_number,
                             timestamp=timestamp, ssrc=sender._ssrc, payload=payload)
        extensions = sent.extensions
        extensions.abs_send_time = (ntp >> 14) & 0x00FFFFFF
        extensions.mid = sender._RTCRtpSender__mid
        if audio_level is not None:
            extensions.audio_level = (False, -audio_level)
        plain = sent.serialize(sender._RTCRtpSender__rtp_header_extensions_map)
    sender._RTCRtpSender__rtp_history[sequence_number % rtp.RTP_HISTORY_SIZE] = sent
    send_srtp(sender._RTCRtpSender__transport, plain)
    sender._RTCRtpSender__ntp_timestamp = ntp
    sender._RTCRtpSender__rtp_timestamp = timestamp
    sender._RTCRtpSender__octet_count += len(payload)
    sender._RTCRtpSender__packet_count += 1
    sender._fast_sequence = (sequence_number + 1) & 0xFFFF


def send_srtp(dtls: rtcdtlstransport.RTCDtlsTransport, data: bytes) -> None:
    """`RTCDtlsTransport._send_rtp` for an RTP packet, without awaiting: protected and handed to the ICE
    pair's socket (a UDP pair's `sendto` does not wait; any other, TURN's, is sent as a task, in order)."""
    if dtls._state != rtcdtlstransport.State.CONNECTED:
        raise ConnectionError("Cannot send encrypted RTP, not connected")
    data = dtls._tx_srtp.protect(data)
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        raise ConnectionError("Cannot send data, not connected")
    protocol = pair.protocol
    if type(protocol) is ice.StunProtocol:
        protocol.transport.sendto(data, pair.remote_addr)
    else:
        asyncio.ensure_future(protocol.send_data(data, pair.remote_addr))
    dtls._RTCDtlsTransport__tx_bytes += len(data)
    dtls._RTCDtlsTransport__tx_packets += 1


def send_forwarded(sender, codec, origin: int, scale, data: bytes, pts: int, samples: int) -> None:
    """A switch track's `sink`: one forwarded audio frame sent now, its timestamp from the track's `pts`."""
    if not sender._enabled:
        return  # as the task does: read, not sent
    timestamp = pts if scale is None else int(pts * scale)
    try:
        send_packet(sender, codec, data, (origin + timestamp) & 0xFFFFFFFF, 1, None)
    except ConnectionError:
        pass  # the connection is going: the task ends on its own next send
