"""Reading a recording back in tests: decode the Ogg Opus file and tell what each channel holds when."""
from __future__ import annotations

import av
import numpy as np

from testing.peers import dominant_hz

RATE = 48000


class Decoded:
    """A recording's two channels as float samples (customer left, what they hear right)."""

    def __init__(self, path: str):
        chunks = []
        with av.open(path) as container:
            for frame in container.decode(audio=0):
                chunks.append(frame.to_ndarray().reshape(len(frame.layout.channels), -1)
                              if frame.format.is_planar else frame.to_ndarray().reshape(-1, 2).T)
        samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0))
        if samples.dtype != np.int16:
            samples = samples * 32767
        self.left, self.right = samples[0].astype(np.float64), samples[1].astype(np.float64)

    @property
    def seconds(self) -> float:
        return len(self.left) / RATE

    def _window(self, channel: np.ndarray, start: float, end: float) -> np.ndarray:
        return channel[int(start * RATE):int(end * RATE)]

    def left_hz(self, start: float, end: float) -> float:
        return dominant_hz(self._window(self.left, start, end), RATE)

    def right_hz(self, start: float, end: float) -> float:
        return dominant_hz(self._window(self.right, start, end), RATE)

    def peak(self, start: float, end: float) -> float:
        """The loudest sample on either side between `start` and `end` seconds."""
        both = np.concatenate([self._window(self.left, start, end), self._window(self.right, start, end)])
        return float(np.max(np.abs(both))) if len(both) else 0.0


def stored_recording(database_url: str, session_id: str, timeout: float = 20) -> dict:
    """A live server's recording of `session_id` once its sweeper stored it: {"file": path, "partial": bool,
    "duration": seconds}, the file in the MEDIA_ROOT the tests give their servers (conftest.py)."""
    import os
    import time

    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as database:
        while True:
            row = database.execute("SELECT file, partial, duration FROM sessions_app_recording r "
                                   "WHERE r.session_id = %s AND r.stored_at IS NOT NULL AND r.file <> ''",
                                   (session_id,)).fetchone()  # stored_at claims the row a moment before the file
            if row is not None:
                return {"file": os.path.join(os.environ["MEDIA_ROOT"], row[0]), "partial": row[1], "duration": row[2]}
            if time.monotonic() > deadline:
                raise TimeoutError(f"the recording of {session_id} was not stored within {timeout} s")
            time.sleep(0.1)
