"""The embedded default's channel layer: Channels' in-memory layer, with its expiry sweep throttled.

The stock layer walks every channel and group on each send and receive to drop expired messages; with
hundreds of connected agents that walk was ~9% of the server's CPU (bench/README.md). Expired messages only
need dropping now and then, so this sweeps at most once a second.
"""
import time

from channels.layers import InMemoryChannelLayer


class ThrottledInMemoryChannelLayer(InMemoryChannelLayer):
    CLEAN_EVERY = 1.0
    _cleaned_at = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._cleaned_at >= self.CLEAN_EVERY:
            self._cleaned_at = now
            super()._clean_expired()
