"""Ogg Opus files of two mono streams written from packets (media/ogg.py), read back by FFmpeg (PyAV): Ogg's
CRC is the one FFmpeg writes, and a packet of each RFC 6716 framing (code 0 to 3, CBR and VBR, padded), made
self-delimiting as the first stream, decodes to its tone on the left while the right stream keeps its own."""
import io
import struct

import av
import numpy as np
import pytest

from sessions_app.media import ogg
from sessions_app.media.recorder import OggFile
from testing.peers import dominant_hz

from .recordings import Decoded

pytestmark = pytest.mark.unit

LEFT_HZ, RIGHT_HZ = 440, 1000


def encoded(hz: float, milliseconds: int, count: int, vbr: bool = True) -> list[bytes]:
    """`count` mono Opus packets of `milliseconds` each, of a tone."""
    context = av.CodecContext.create("libopus", "w")
    context.sample_rate, context.format, context.layout, context.bit_rate = 48000, "s16", "mono", 32000
    context.options = {"frame_duration": str(milliseconds), "vbr": "on" if vbr else "off"}
    size = 48 * milliseconds
    t = np.arange(size * count) / 48000
    tone = (np.sin(2 * np.pi * hz * t) * 0.3 * 32767).astype(np.int16)
    packets = []
    for index in range(count):
        frame = av.AudioFrame.from_ndarray(tone[index * size:(index + 1) * size].reshape(1, -1), format="s16",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, index * size
        packets += [bytes(packet) for packet in context.encode(frame)]
    return packets


def length(n: int) -> bytes:
    return bytes((n,)) if n < 252 else bytes((252 + (n & 3), (n - 252 - (n & 3)) >> 2))


def two_frames(a: bytes, b: bytes, code: int, vbr: bool = False, padding: int = 0) -> bytes:
    """Two 10 ms code-0 packets of one configuration as one 20 ms packet of `code` (RFC 6716 §3.2)."""
    toc = (a[0] & 0xFC) | code
    if code == 1:
        assert len(a) == len(b)
        return bytes((toc,)) + a[1:] + b[1:]
    if code == 2:
        return bytes((toc,)) + length(len(a) - 1) + a[1:] + b[1:]
    count = 2 | (0x80 if vbr else 0) | (0x40 if padding else 0)
    head = bytes((toc, count)) + (bytes((padding,)) if padding else b"")
    return head + (length(len(a) - 1) if vbr else b"") + a[1:] + b[1:] + bytes(padding)


def stereo_file(path, left: list[bytes], right: list[bytes]) -> Decoded:
    data = io.BytesIO()
    writer = ogg.OggWriter(data, serial=7)
    writer.header(ogg.opus_head())
    writer.header(ogg.opus_tags())
    for index, (a, b) in enumerate(zip(left, right)):
        writer.packet(ogg.self_delimited(a) + b, (index + 1) * 960)
        if index % 10 == 9:
            writer.flush()
    writer.close()
    path.write_bytes(data.getvalue())
    return Decoded(str(path))


def test_pages_carry_the_crc_ffmpeg_writes(tmp_path):
    file = OggFile(str(tmp_path / "ffmpeg.ogg"))
    file.write([np.zeros((1, 1920), dtype=np.int16)] * 30)
    file.close()
    data, at, pages = (tmp_path / "ffmpeg.ogg").read_bytes(), 0, 0
    while at < len(data):
        segments = data[at + 26]
        size = 27 + segments + sum(data[at + 27:at + 27 + segments])
        page = bytearray(data[at:at + size])
        written = struct.unpack_from("<I", page, 22)[0]
        struct.pack_into("<I", page, 22, 0)
        assert ogg.crc(bytes(page)) == written
        at, pages = at + size, pages + 1
    assert pages >= 3


@pytest.mark.parametrize("framing", ["code 0", "code 1", "code 2", "code 3 CBR", "code 3 VBR", "code 3 padded"])
def test_every_framing_made_self_delimiting_decodes_on_its_own_channel(framing, tmp_path):
    if framing == "code 0":
        left = encoded(LEFT_HZ, 20, 100)
    else:
        tens = encoded(LEFT_HZ, 10, 200, vbr=framing not in ("code 1", "code 3 CBR"))
        pairs = zip(tens[::2], tens[1::2])
        code, vbr, padding = {"code 1": (1, False, 0), "code 2": (2, False, 0), "code 3 CBR": (3, False, 0),
                              "code 3 VBR": (3, True, 0), "code 3 padded": (3, True, 5)}[framing]
        left = [two_frames(a, b, code, vbr, padding) for a, b in pairs]
    right = encoded(RIGHT_HZ, 20, len(left))
    decoded = stereo_file(tmp_path / "two.ogg", left, right)
    assert abs(decoded.seconds - 2.0) < 0.01
    assert abs(dominant_hz(decoded.left[24000:], 48000) - LEFT_HZ) < 5
    assert abs(dominant_hz(decoded.right[24000:], 48000) - RIGHT_HZ) < 5


def test_what_cannot_be_framed_is_refused():
    for packet in (b"", b"\x01\x05", bytes((0x02, 200, 1)), bytes((0x03, 0x00)), bytes((0x03, 0x42)),
                   bytes((0x03, 0x83, 250, 250, 1))):
        assert ogg.self_delimited(packet) is None, packet
    assert ogg.self_delimited(bytes((0xF8, 0xFF, 0xFE))) == bytes((0xF8, 2, 0xFF, 0xFE))
    assert ogg.self_delimited(bytes((0xF8,)) + bytes(300))[:3] == bytes((0xF8, 252 + (300 & 3), (300 - 252) >> 2))


def test_a_page_holds_at_most_255_lacing_entries():
    data = io.BytesIO()
    writer = ogg.OggWriter(data, serial=1)
    for index in range(300):
        writer.packet(bytes(300), index)  # two entries each
    writer.close()
    pages = data.getvalue().split(b"OggS")[1:]
    assert [page[22] for page in pages] == [254, 254, 92]
