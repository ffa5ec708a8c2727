"""IVR prompts as samples: an uploaded WAV (any rate or layout, converted once) or text spoken by espeak-ng.

Spoken prompts are cached by their text in `PROMPT_CACHE` (a folder), so a menu's prompt is synthesised once
per text, not per call. A prompt is played by a leg's switch track (`SwitchAudioTrack.say`), which tells when
it has finished so the IVR can start its key timeout.
"""
from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import av
import numpy as np

ESPEAK = "espeak-ng"
SPEED_WPM = "150"


class PromptError(RuntimeError):
    """A prompt that cannot be made: espeak-ng missing or failing, an unreadable audio file."""


def spoken(text: str, cache: Path) -> Path:
    """A WAV of `text` spoken by espeak-ng (made once per text)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.wav"
    if not path.exists():
        partial = path.with_suffix(".part.wav")
        try:
            subprocess.run([ESPEAK, "-s", SPEED_WPM, "-w", str(partial), text], check=True, capture_output=True,
                           timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            raise PromptError(f"espeak-ng could not speak the prompt: {error}") from None
        partial.replace(path)  # whole files only: a crash mid-write leaves no half prompt in the cache
    return path


def samples(path: Path, rate: int) -> np.ndarray:
    """The file's audio as one channel of int16 samples at `rate`."""
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks = [frame.to_ndarray().reshape(-1)
                      for decoded in container.decode(audio=0) for frame in resampler.resample(decoded)]
            chunks += [frame.to_ndarray().reshape(-1) for frame in resampler.resample(None)]
    except (av.error.FFmpegError, IndexError, ValueError) as error:
        raise PromptError(f"the prompt audio {path.name} cannot be read: {error}") from None
    return np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, dtype=np.int16)
