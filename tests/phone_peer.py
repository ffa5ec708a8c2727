"""A phone at the far end of the SIP trunk, for end-to-end tests: sipp does its signalling, this does its
media. Its INVITE's SDP points at this peer's RTP port; the peer learns our RTP address from the first
packet we send (symmetric RTP), then speaks a known tone, presses keys (RFC 4733), and tells which
frequency and which keys it receives. It runs an `RtpLeg` (the product's own phone leg) on a loop of its own
in a thread, so synchronous Playwright tests can use it."""
from __future__ import annotations

import asyncio
import threading

import numpy as np

from testing.peers import dominant_hz
from sessions_app.media.rtp_leg import RtpLeg

RATE = 8000


class PhonePeer:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="phone-peer", daemon=True)
        self.thread.start()
        self.digits = ""
        self.recent: list[np.ndarray] = []
        self.leg: RtpLeg = self._run(self._open())
        self.port = self.leg.local_port

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _open(self) -> RtpLeg:
        # Toward the discard port until our first packet arrives: then it latches onto our RTP address.
        leg = RtpLeg("far-end", lambda _: None, "127.0.0.1", "127.0.0.1", 9, 0, 101)
        leg.on_digit = self._pressed
        feed = leg.taps["audio"].listen()
        self.listening = asyncio.get_running_loop().create_task(self._listen(feed))
        return leg

    def _pressed(self, digit: str) -> None:
        self.digits += digit

    async def _listen(self, feed) -> None:
        while True:
            frame = await feed.get(1.0)
            if frame is not None:
                self.recent.append(frame.to_ndarray().reshape(-1).astype(np.float64))
                del self.recent[:-25]

    def heard_from_us(self) -> bool:
        return self.leg.endpoint.remote != ("127.0.0.1", 9)

    def hears(self) -> float:
        """The strongest frequency of the last half second received (0: silence)."""
        return dominant_hz(np.concatenate(self.recent[-25:]) if self.recent else np.zeros(0), RATE)

    def speak(self, hz: float, seconds: float = 60) -> None:
        t = np.arange(int(RATE * seconds)) / RATE
        tone = (np.sin(2 * np.pi * hz * t) * 0.3 * 32767).astype(np.int16)
        self.loop.call_soon_threadsafe(self.leg.audio_out.say, tone)

    def press(self, digits: str) -> None:
        self._run(self.leg.send_digits(digits))

    def close(self) -> None:
        async def closing():
            self.listening.cancel()
            await self.leg.close()

        self._run(closing())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
