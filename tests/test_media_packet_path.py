"""The per-packet path (media/packet_path.py) does what aiortc 1.16 does with a packet, from fewer objects: the
bytes it sends are the bytes aiortc would serialize, the payload it reads is the one aiortc would parse (and
it refuses what aiortc refuses), it routes as aiortc's router does, and a NACK resends a packet as it was
sent. A forwarding leg whose source goes quiet is given the filler within its timeout and one look of the
`QuietWatch`, and not before."""
import asyncio
import itertools
import time
import types

import pytest
from aiortc import rtp
from aiortc.rtcdtlstransport import RtpRouter
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtcrtpsender import RTCRtpSender

from sessions_app.media import packet_path
from sessions_app.media.packet_path import HeaderShape, payload_of, route
from sessions_app.media.tap import WATCH_EVERY, Feed, Tap

pytestmark = pytest.mark.service

MID, ABS_SEND_TIME, AUDIO_LEVEL = (
    "urn:ietf:params:rtp-hdrext:sdes:mid", "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "urn:ietf:params:rtp-hdrext:ssrc-audio-level")


class CapturingTransport:
    """What an RTCRtpSender needs of its DTLS transport to retransmit: `_send_rtp`, here noting the bytes."""

    state = "new"

    def __init__(self):
        self.sent: list[bytes] = []

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)


def configured_sender(extensions: dict[str, int], mid: str | None = "0") -> RTCRtpSender:
    """A sender with the header extensions `extensions` (uri: id) and `mid`, as `RTCRtpSender.send` sets it."""
    sender = RTCRtpSender("audio", CapturingTransport())
    parameters = RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(uri=uri, id=id)
                                                    for uri, id in extensions.items()])
    sender._RTCRtpSender__rtp_header_extensions_map.configure(parameters)
    sender._RTCRtpSender__mid = mid
    sender._fast_sequence = 65534
    sender._fast_shape = HeaderShape.of(sender)
    return sender


CODEC = types.SimpleNamespace(payloadType=111)
EXTENSION_SETS = [
    {MID: 9, ABS_SEND_TIME: 2, AUDIO_LEVEL: 1},  # what a browser offers
    {MID: 3},
    {ABS_SEND_TIME: 14, AUDIO_LEVEL: 7},
    {},
]


@pytest.mark.parametrize("extensions", EXTENSION_SETS)
async def test_a_packet_sent_is_the_bytes_aiortc_serializes(monkeypatch, extensions):
    sent = []
    monkeypatch.setattr(packet_path, "send_srtp", lambda dtls, plain: sent.append(plain))
    for mid, level, marker in itertools.product(("0", "audio-main", None), (None, -30, 0), (0, 1)):
        sender = configured_sender(extensions, mid)
        assert sender._fast_shape is not None
        extensions_map = sender._RTCRtpSender__rtp_header_extensions_map
        packet_path.send_packet(sender, CODEC, b"\xf8\xff\xfe", 123456, marker, level)
        packet = rtp.RtpPacket.parse(sent[-1], extensions_map)
        assert packet.serialize(extensions_map) == sent[-1]  # aiortc's own layout of these values
        assert (packet.payload_type, packet.marker, packet.sequence_number, packet.timestamp, packet.ssrc,
                packet.payload) == (111, marker, 65534, 123456, sender._ssrc, b"\xf8\xff\xfe")
        assert packet.extensions.mid == (mid if MID in extensions else None)
        assert packet.extensions.audio_level == ((False, -level) if level is not None and AUDIO_LEVEL in extensions
                                                 else None)
        if ABS_SEND_TIME in extensions:
            now = (packet_path.current_ntp_time() >> 14) & 0x00FFFFFF
            assert (now - packet.extensions.abs_send_time) & 0x00FFFFFF < 1 << 18  # within a second
        assert sender._fast_sequence == 65535 and sender._RTCRtpSender__packet_count == 1


def test_what_aiortc_writes_in_another_form_keeps_its_packets():
    """Extension ids over 14, or a MID over 16 bytes, take RFC 8285's two-byte form; RTX rewraps packets."""
    assert configured_sender({MID: 15})._fast_shape is None
    assert configured_sender({MID: 1}, mid="m" * 17)._fast_shape is None
    rtx = configured_sender({MID: 1})
    rtx._RTCRtpSender__rtx_payload_type = 112
    assert HeaderShape.of(rtx) is None


async def test_either_form_is_resent_as_it_was_sent_when_the_far_end_asks(monkeypatch):
    sent = []
    monkeypatch.setattr(packet_path, "send_srtp", lambda dtls, plain: sent.append(plain))
    for sender in (configured_sender(EXTENSION_SETS[0]), configured_sender({MID: 15})):
        packet_path.send_packet(sender, CODEC, b"voice", 960, 1, None)
        await sender._retransmit(65534)
        await sender._retransmit(65533)  # never sent: nothing
        assert sender._RTCRtpSender__transport.sent == [sent[-1]]


def test_the_payload_read_is_the_one_aiortc_parses():
    extensions_map = rtp.HeaderExtensionsMap()
    extensions_map.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(uri=MID, id=1), RTCRtpHeaderExtensionParameters(uri=ABS_SEND_TIME, id=2)]))
    for csrc, extended, padding in itertools.product((0, 2), (False, True), (0, 1, 7)):
        packet = rtp.RtpPacket(payload_type=111, sequence_number=7, timestamp=960, ssrc=5, payload=b"voice!")
        packet.csrc = list(range(csrc))
        if extended:
            packet.extensions.mid, packet.extensions.abs_send_time = "0", 12345
        packet.padding_size = padding
        data = packet.serialize(extensions_map)
        assert payload_of(data, data[0]) == rtp.RtpPacket.parse(data, extensions_map).payload == b"voice!"

    good = rtp.RtpPacket(payload_type=111, payload=b"voice").serialize()
    refused = [
        bytes([0x40]) + good[1:],  # version 1
        bytes([0x82]) + good[1:12] + b"\x00\x00\x00\x01",  # two CSRCs announced, one there
        bytes([0x90]) + good[1:12] + b"\xbe\xde",  # an extension header cut short
        bytes([0x90]) + good[1:12] + b"\xbe\xde\x00\x02\x10\x00\x00\x00",  # its value cut short
        bytes([0xA0]) + good[1:-1] + b"\x00",  # padding of zero bytes
        bytes([0xA0]) + good[1:-1] + b"\x40",  # more padding than payload
    ]
    for data in refused:
        assert payload_of(data, data[0]) is None
        with pytest.raises(ValueError):
            rtp.RtpPacket.parse(data)


def test_packets_go_where_aiortcs_router_sends_them():
    def router() -> RtpRouter:
        made = RtpRouter()
        made.register_receiver("audio", ssrcs=[1000], payload_types=[0, 111])
        made.register_receiver("video", ssrcs=[], payload_types=[96, 97])
        made.register_receiver("other video", ssrcs=[], payload_types=[97])
        return made

    for ssrc, payload_type in itertools.product((1000, 2000, 3000), (0, 96, 97, 111, 126)):
        ours, theirs = router(), router()
        packet = rtp.RtpPacket(payload_type=payload_type, ssrc=ssrc)
        assert route(ours, ssrc, payload_type) == theirs.route_rtp(packet)
        assert ours.ssrc_table == theirs.ssrc_table  # an SSRC learnt alike


class Source:
    """Stands in for a track a Tap reads (never yields: frames come to the tap encoded)."""

    kind = "audio"

    async def recv(self):
        await asyncio.Event().wait()


async def test_a_source_that_goes_quiet_is_noticed_within_its_timeout_and_one_look():
    tap = Tap(Source())
    feed = tap.listen(encoded=True)
    taken = []
    feed.direct = lambda frame: taken.append(frame) or True
    timeout = 0.06
    waiting = asyncio.get_running_loop().create_task(feed.get(timeout))
    await asyncio.sleep(0)
    started = time.monotonic()
    while time.monotonic() - started < 0.3:  # frames keep coming, taken directly: the wait goes on
        tap.put_encoded("opus", b"\xf8\xff\xfe", 960, 0)
        last_frame = time.monotonic()
        await asyncio.sleep(0.02)
        assert not waiting.done()
    assert await asyncio.wait_for(waiting, 1) is None  # the source went quiet: the filler
    quiet_for = time.monotonic() - last_frame
    assert timeout - 0.005 <= quiet_for <= timeout + WATCH_EVERY + 0.05
    assert len(taken) >= 10 and not feed.frames
    assert isinstance(feed, Feed)
    await tap.stop()


def test_a_loop_that_is_gone_takes_its_quiet_watch_with_it():
    """The watch is kept per loop without holding the loop: a process's loops (tests, a restarted worker) go."""
    import gc
    import weakref

    import uvloop

    from sessions_app.media.tap import QuietWatch

    for new_loop in (asyncio.new_event_loop, uvloop.new_event_loop):
        loop = new_loop()
        assert QuietWatch.of(loop) is QuietWatch.of(loop)
        gone = weakref.ref(loop)
        loop.close()
        del loop
        gc.collect()
        assert gone() is None
