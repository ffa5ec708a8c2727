"""An Ogg Opus file of two mono streams, written from Opus packets as they were carried: no decoding.

A recording of a forwarded call has, per 20 ms, the packet the customer sent and the packet they were sent.
RFC 7845's channel mapping family 1 makes a stereo file of two mono Opus streams (2 streams, none coupled,
left from the first, right from the second), whose every Ogg packet is the two streams' packets one after the
other, the first in RFC 6716 Appendix B's self-delimiting framing. Players decode it as any stereo Opus file
(FFmpeg, Chromium's `<audio>`: tests/test_recording_engine.py and tests/test_monitoring_browser.py).

The pages are written here (RFC 3533: a 27-byte header, the lacing table, the packets). PyAV (FFmpeg) is not
used for these files: it opens an Opus encoder for any Opus stream it writes and takes the encoder's header, one
stereo stream, for the file's; packets of two streams cannot be muxed through it.
"""
from __future__ import annotations

import struct
import zlib

RATE = 48000
VENDOR = b"tccc recorder"
PAGE_HEADER = struct.Struct("<4sBBqIIIB")  # capture pattern, version, flags, granule, serial, sequence, CRC, segments
CONTINUED, FIRST, LAST = 0x01, 0x02, 0x04
_BITS_REVERSED = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))


def crc(data: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, no initial or final XOR), through zlib's reflected
    one: on bit-reversed bytes zlib computes the bit-reversed value (the trick mutagen uses)."""
    reflected = ~zlib.crc32(data.translate(_BITS_REVERSED), 0xFFFFFFFF) & 0xFFFFFFFF
    return int.from_bytes(reflected.to_bytes(4, "big").translate(_BITS_REVERSED), "little")


def opus_head(pre_skip: int = 0) -> bytes:
    """RFC 7845 §5.1: version 1, 2 channels, mapping family 1 with 2 streams, 0 coupled, channel i <- stream i."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, 2, pre_skip, RATE, 0, 1) + bytes((2, 0, 0, 1))


def opus_tags() -> bytes:
    """RFC 7845 §5.2: the vendor string and no comments."""
    return b"OpusTags" + struct.pack("<I", len(VENDOR)) + VENDOR + struct.pack("<I", 0)


def _length(n: int) -> bytes:
    """A frame length as RFC 6716 §3.2.1 writes it: one byte below 252, else two."""
    if n < 252:
        return bytes((n,))
    first = 252 + (n & 3)
    return bytes((first, (n - first) >> 2))


def _read_length(packet: bytes, at: int) -> tuple[int, int]:
    """The frame length at `at` and how many bytes it took."""
    first = packet[at]
    return (first, 1) if first < 252 else (first + 4 * packet[at + 1], 2)


def self_delimited(packet: bytes) -> bytes | None:
    """`packet` in RFC 6716 Appendix B's self-delimiting framing (one more length, so the packet's end can be
    found inside a longer one); None for a packet too malformed to frame."""
    try:
        toc, code = packet[0], packet[0] & 0x03
        if code == 0:
            return bytes((toc,)) + _length(len(packet) - 1) + packet[1:]
        if code == 1:
            if (len(packet) - 1) % 2:
                return None
            return bytes((toc,)) + _length((len(packet) - 1) // 2) + packet[1:]
        if code == 2:
            first, used = _read_length(packet, 1)
            second = len(packet) - 1 - used - first
            return None if second < 0 else packet[:1 + used] + _length(second) + packet[1 + used:]
        count = packet[1] & 0x3F
        at, padding = 2, 0
        if packet[1] & 0x40:
            while True:
                byte = packet[at]
                at += 1
                padding += 254 if byte == 255 else byte
                if byte != 255:
                    break
        if not count:
            return None
        if packet[1] & 0x80:  # VBR: the lengths of all frames but the last are there; the last is added
            sizes = 0
            for _ in range(count - 1):
                size, used = _read_length(packet, at)
                at, sizes = at + used, sizes + size
            last = len(packet) - at - padding - sizes
            return None if last < 0 else packet[:at] + _length(last) + packet[at:]
        size, rest = divmod(len(packet) - at - padding, count)  # CBR: one length, every frame's
        return None if size < 0 or rest else packet[:at] + _length(size) + packet[at:]
    except IndexError:
        return None


class OggWriter:
    """Ogg pages of one logical stream into a binary file: `packet(data, granule)` adds a packet ending at
    `granule`, `flush()` writes the packets held as a page (and flushes the file), `close()` ends the stream."""

    def __init__(self, file, serial: int):
        self.file = file
        self.serial = serial
        self.sequence = 0
        self.granule = 0
        self._packets: list[bytes] = []
        self._lacing = 0  # entries of the lacing table the packets held take (at most 255 a page)
        self._first = True

    def packet(self, data: bytes, granule: int) -> None:
        entries = len(data) // 255 + 1
        if self._lacing + entries > 255:
            self.flush()
        self._packets.append(data)
        self._lacing += entries
        self.granule = granule

    def header(self, data: bytes) -> None:
        """A header packet, alone on its page (RFC 7845 §3), at granule 0."""
        self._packets.append(data)
        self.flush()

    def flush(self, last: bool = False) -> None:
        if not self._packets and not last:
            return
        lacing = b"".join(bytes((255,)) * (len(p) // 255) + bytes((len(p) % 255,)) for p in self._packets)
        flags = (FIRST if self._first else 0) | (LAST if last else 0)
        granule = self.granule if self._packets or last else -1
        header = PAGE_HEADER.pack(b"OggS", 0, flags, granule, self.serial, self.sequence, 0, len(lacing))
        page = bytearray(header + lacing + b"".join(self._packets))
        struct.pack_into("<I", page, 22, crc(bytes(page)))
        self.file.write(page)
        self.file.flush()
        self.sequence += 1
        self._first = False
        self._packets.clear()
        self._lacing = 0

    def close(self) -> None:
        self.flush(last=True)
