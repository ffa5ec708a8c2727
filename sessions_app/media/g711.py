"""G.711 µ-law (PCMU) and A-law (PCMA), the codecs every SIP trunk speaks, as numpy lookup tables.

Encoding a 20 ms frame is one table lookup over its 160 samples (the table is indexed by the 16-bit sample
itself, 64 KiB per law), decoding one lookup over its 160 bytes; no per-sample Python. The tables are built
once, from the segment arithmetic of ITU-T G.711 as the reference C code (Sun's g711.c, also behind Python's
`audioop`) spells it: µ-law quantises the sample's top 14 bits, A-law its top 13, so results are bit-exact.
"""
from __future__ import annotations

import numpy as np

PCMU, PCMA = 0, 8  # their static RTP payload types (RFC 3551)
CLIP = 8159  # µ-law's largest magnitude, in 14-bit units
BIAS = 33  # µ-law's bias, in 14-bit units (0x84 >> 2)
ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _every_sample() -> np.ndarray:
    """All 65536 s16 values, in the order of their unsigned bit pattern (the tables' index)."""
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


def _ulaw_encoder() -> np.ndarray:
    pcm = _every_sample() >> 2
    negative = pcm < 0
    magnitude = np.minimum(np.where(negative, -pcm, pcm), CLIP) + BIAS
    segment = np.searchsorted(ULAW_SEGMENT_ENDS, magnitude)  # first segment whose end is >= the magnitude
    # Past the last segment (only clipped magnitudes get there): the largest code.
    code = np.where(segment < 8, (segment << 4) | ((magnitude >> (segment + 1)) & 0xF), 0x7F)
    return (code ^ np.where(negative, 0x7F, 0xFF)).astype(np.uint8)


def _alaw_encoder() -> np.ndarray:
    pcm = _every_sample() >> 3
    negative = pcm < 0
    magnitude = np.where(negative, -pcm - 1, pcm)
    segment = np.searchsorted(ALAW_SEGMENT_ENDS, magnitude)
    code = np.where(segment < 8, (segment << 4) | ((magnitude >> np.maximum(segment, 1)) & 0xF), 0x7F)
    return (code ^ np.where(negative, 0x55, 0xD5)).astype(np.uint8)


def _ulaw_decoder() -> np.ndarray:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((code & 0xF) << 3) + (BIAS << 2)) << ((code >> 4) & 7)
    return np.where(code & 0x80, (BIAS << 2) - magnitude, magnitude - (BIAS << 2)).astype(np.int16)


def _alaw_decoder() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code >> 4) & 7
    magnitude = ((code & 0xF) << 4) + np.where(segment == 0, 8, 0x108)
    magnitude = magnitude << np.maximum(segment - 1, 0)
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


ENCODERS = {PCMU: _ulaw_encoder(), PCMA: _alaw_encoder()}
DECODERS = {PCMU: _ulaw_decoder(), PCMA: _alaw_decoder()}


def encode(samples: np.ndarray, law: int) -> bytes:
    """G.711 bytes of s16 samples (`law` is PCMU or PCMA)."""
    return ENCODERS[law][samples.view(np.uint16)].tobytes()


def decode(payload: bytes, law: int) -> np.ndarray:
    """s16 samples of G.711 bytes."""
    return DECODERS[law][np.frombuffer(payload, dtype=np.uint8)]
