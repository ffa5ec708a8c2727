"""Encoded frames passed on as they came: what forwarding carries instead of samples.

A leg whose only source is one other leg on the same codec needs none of that leg's samples: its outgoing
track hands its sender the source's encoded frames (`EncodedFrame`), which the sender packs into RTP with its
own SSRC, sequence numbers and timestamps instead of encoding (patches.py, rtp.py). Decoding then happens only
while something needs samples (media/call.py says when).

An `EncodedFrame` is made once per received frame and shared by every listener; a switch track stamps a copy
with its own timeline (`stamped`), never the shared one.
"""
from __future__ import annotations

import os
from fractions import Fraction

OPUS_RATE = 48000
# Frame sizes (in 48 kHz samples) of the 32 Opus configurations (RFC 6716 §3.1): SILK, hybrid, CELT.
_OPUS_SIZES = (480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4


class EncodedFrame:
    """One encoded frame: `codec` ("opus", "pcmu", "pcma", "vp8"), its bytes, its length in the codec's clock
    (`samples`; 0 for video), the source's RTP timestamp (`source_ts`), whether it is a video key frame, and,
    once stamped by a switch track, `pts` in `time_base`."""

    __slots__ = ("codec", "data", "samples", "source_ts", "keyframe", "pts", "time_base")

    def __init__(self, codec: str, data: bytes, samples: int = 0, source_ts: int = 0, keyframe: bool = False,
                 pts: int = 0, time_base: Fraction | None = None):
        self.codec = codec
        self.data = data
        self.samples = samples
        self.source_ts = source_ts
        self.keyframe = keyframe
        self.pts = pts
        self.time_base = time_base

    def stamped(self, pts: int, time_base: Fraction) -> "EncodedFrame":
        return EncodedFrame(self.codec, self.data, self.samples, self.source_ts, self.keyframe, pts, time_base)

    def __repr__(self) -> str:
        return f"<EncodedFrame {self.codec} {len(self.data)} bytes pts={self.pts}>"


# 20 ms of silence, encoded: what a forwarding switch sends while its source is late, instead of encoding
# silence (libopus's own packet for 20 ms of digital silence: one CELT frame, RFC 6716 §3.1 config 31; G.711's
# zero level in each law).
SILENT_FRAMES = {"opus": (b"\xf8\xff\xfe", 960), "pcmu": (b"\xff" * 160, 160), "pcma": (b"\xd5" * 160, 160)}


def codec_name(mime_or_name: str) -> str:
    """"audio/opus", "opus", "PCMU" ... as the one spelling used here: "opus", "pcmu", "pcma", "vp8"."""
    return mime_or_name.lower().rsplit("/", 1)[-1]


def opus_samples(data: bytes) -> int:
    """The 48 kHz samples an Opus packet holds, from its TOC byte (RFC 6716 §3.1); 960 if it cannot say."""
    if not data:
        return 960
    toc = data[0]
    size = _OPUS_SIZES[toc >> 3]
    code = toc & 0x03
    if code == 0:
        return size
    if code in (1, 2):
        return 2 * size
    return size * (data[1] & 0x3F) if len(data) > 1 else 960


def vp8_keyframe(data: bytes) -> bool:
    """Whether a VP8 frame (the payload descriptors removed) is a key frame: bit 0 of its frame tag is 0
    (RFC 6386 §9.1)."""
    return bool(data) and not data[0] & 0x01


def forwarding_default() -> bool:
    """The deployment's `MEDIA_FORWARDING` setting (on unless turned off); outside Django, the environment's."""
    try:
        from django.conf import settings

        if settings.configured:
            return bool(getattr(settings, "MEDIA_FORWARDING", True))
    except ImportError:
        pass
    return os.environ.get("MEDIA_FORWARDING", "1") != "0"
