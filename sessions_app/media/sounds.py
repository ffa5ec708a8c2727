"""What the bridge plays when no person is heard: silence, black video, and the music customers wait to.

Frames are made with numpy in the format the sending leg's encoder wants (`AudioFormat`), so the encoder's
resampler never sees a frame shaped differently from the last one (PyAV refuses that).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from av import AudioFrame, VideoFrame

FRAME_SECONDS = 0.02
MUSIC_LEVEL = 0.18  # of full scale: clearly audible, well under the voice of a person on the line


@dataclass(frozen=True)
class AudioFormat:
    rate: int
    channels: int

    @property
    def samples(self) -> int:
        return int(self.rate * FRAME_SECONDS)

    @property
    def layout(self) -> str:
        return "stereo" if self.channels == 2 else "mono"

    @property
    def time_base(self) -> Fraction:
        return Fraction(1, self.rate)

    @classmethod
    def for_codec(cls, mime_type: str) -> "AudioFormat":
        """The format the leg's encoder takes without resampling (aiortc: Opus 48 kHz stereo, G.711 8 kHz)."""
        name = mime_type.lower().split("/")[-1]
        if name in ("pcmu", "pcma"):
            return cls(8000, 1)
        if name == "g722":
            return cls(16000, 1)
        return cls(48000, 2)

    def matches(self, frame: AudioFrame) -> bool:
        return (frame.sample_rate == self.rate and frame.layout.name == self.layout
                and frame.format.name == "s16" and frame.samples == self.samples)


def audio_frame(fmt: AudioFormat, mono: np.ndarray) -> AudioFrame:
    """A packed s16 frame of `fmt` from one channel of int16 samples."""
    samples = np.repeat(mono, fmt.channels) if fmt.channels > 1 else mono
    frame = AudioFrame(format="s16", layout=fmt.layout, samples=fmt.samples)
    frame.planes[0].update(samples.astype(np.int16).tobytes())
    frame.sample_rate = fmt.rate
    frame.time_base = fmt.time_base
    return frame


def silence(fmt: AudioFormat) -> AudioFrame:
    return audio_frame(fmt, np.zeros(fmt.samples, dtype=np.int16))


def black(width: int = 320, height: int = 240) -> VideoFrame:
    frame = VideoFrame(width=width, height=height, format="yuv420p")
    frame.planes[0].update(bytes(width * height))
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * (plane.buffer_size))
    return frame


class Music:
    """A soft looping arpeggio (C major, 300 ms a note, faded in and out), made once per rate.

    Synthesised rather than shipped as a file, so the repository carries no audio and every rate is exact."""

    NOTES_HZ = (523.25, 659.25, 783.99, 659.25)
    NOTE_SECONDS = 0.3
    _loops: dict[int, np.ndarray] = {}

    def __init__(self, fmt: AudioFormat):
        self.fmt = fmt
        self.loop = self._loop(fmt.rate)
        self.position = 0

    @classmethod
    def _loop(cls, rate: int) -> np.ndarray:
        if rate not in cls._loops:
            n = int(rate * cls.NOTE_SECONDS)
            t = np.arange(n) / rate
            envelope = np.minimum(1.0, np.minimum(t, cls.NOTE_SECONDS - t) / 0.03)
            notes = [np.sin(2 * np.pi * hz * t) * envelope for hz in cls.NOTES_HZ]
            cls._loops[rate] = (np.concatenate(notes) * MUSIC_LEVEL * 32767).astype(np.int16)
        return cls._loops[rate]

    def next_frame(self) -> AudioFrame:
        n = self.fmt.samples
        index = (self.position + np.arange(n)) % len(self.loop)
        self.position = (self.position + n) % len(self.loop)
        return audio_frame(self.fmt, self.loop[index])
