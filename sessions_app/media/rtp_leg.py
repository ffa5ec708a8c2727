"""A phone caller's leg: G.711 RTP with the SIP trunk, shaped like a browser's `Leg` so calls bridge it alike.

`Call.rewire` and the engine use what a web leg has: `audio_out` is the never-ending switch track sent to the
trunk (8 kHz mono, so a web leg on the same G.711 law passes frames through untouched), `taps["audio"]` drains
what the trunk sends; there is no video. SDP belongs to the SIP stack: this leg takes the facts of the far
end's description and gives back the local address to put in ours.
"""
from __future__ import annotations

import logging

from . import dtmf, g711, rtp
from .background import BackgroundTasks
from .encoded import codec_name
from .leg import LegError
from .rtp import AudioSender, ReceivedAudioTrack, RtpEndpoint, RtpPacket
from .sounds import AudioFormat
from .switch import SwitchAudioTrack
from .tap import Tap

log = logging.getLogger(__name__)

CODECS = {g711.PCMU: "audio/PCMU", g711.PCMA: "audio/PCMA"}
# The far end's SDP direction (c=0.0.0.0 folded in as the SIP stack does) -> (we send, we receive).
DIRECTIONS = {"sendrecv": (True, True), "sendonly": (False, True), "recvonly": (True, False),
              "inactive": (False, False)}
DIGITS_KEPT = 64


class RtpLeg:
    def __init__(self, leg_id: str, on_change, local_host: str, remote_host: str, remote_port: int,
                 payload_type: int, telephone_event_pt: int | None = None, *, direction: str = "sendrecv",
                 ports: range | None = None, latch: bool = True):
        """Bind the local port and start: sending toward `remote_host:remote_port` (or toward where the
        trunk's first packet comes from, with `latch`) and draining what arrives. Needs a running loop.

        All but `ports` and `latch` are facts of the far end's SDP: `payload_type` is PCMU (0) or PCMA (8);
        `telephone_event_pt` its telephone-event payload type, None if it has none; `direction` its direction
        ("sendonly": it holds us, we send nothing; "recvonly": it sends nothing, what comes is dropped).
        `ports` is the range to take an even port from (None: any free port)."""
        self._check(remote_host, remote_port, payload_type, direction)
        self.id = leg_id
        self.on_change = on_change  # called with the leg when its first packet arrives
        self.on_digit = None  # called with each key the caller presses ("0"-"9", "*", "#", "A"-"D")
        self.closed = False
        self.connected = False
        self.receiving = True
        self.endpoint = RtpEndpoint(local_host, self._received, ports)
        self.audio_out = SwitchAudioTrack(AudioFormat(8000, 1))
        self.video_out = None
        self.received = ReceivedAudioTrack()
        self.taps = {"audio": Tap(self.received)}
        self.digits_in = ""  # the last keys the caller pressed, for stats()
        self.digit_receiver = dtmf.DigitReceiver(self._pressed)
        self.sender = AudioSender(self.endpoint, self.audio_out, payload_type, telephone_event_pt)
        self._pressing = BackgroundTasks(log, "sending digits")
        self.update(remote_host, remote_port, payload_type, telephone_event_pt, direction, latch)

    @staticmethod
    def _check(remote_host: str, remote_port: int, payload_type: int, direction: str) -> None:
        try:
            rtp.remote_address(remote_host, remote_port)
        except ValueError:
            raise LegError(f"{remote_host!r} is not an IP address") from None
        if payload_type not in CODECS:
            raise LegError(f"payload type {payload_type} is not G.711 (PCMU is 0, PCMA 8)")
        if direction not in DIRECTIONS:
            raise LegError(f"{direction!r} is no SDP direction")

    def update(self, remote_host: str, remote_port: int, payload_type: int, telephone_event_pt: int | None = None,
               direction: str = "sendrecv", latch: bool = True) -> None:
        """Take the far end's description anew (a re-INVITE: a new address, hold, another law); the local
        port stays."""
        self._check(remote_host, remote_port, payload_type, direction)
        self.endpoint.set_remote(remote_host, remote_port, latch)
        self.payload_type = payload_type
        self.telephone_event_pt = telephone_event_pt
        self.direction = direction
        self.audio_codec = CODECS[payload_type]
        self.audio_out.codec = codec_name(self.audio_codec)
        self.sender.payload_type, self.sender.event_payload_type = payload_type, telephone_event_pt
        self.sender.sending, self.receiving = DIRECTIONS[direction]

    @property
    def local_host(self) -> str:
        return self.endpoint.local_host

    @property
    def local_port(self) -> int:
        return self.endpoint.local_port

    @property
    def state(self) -> str:
        return "closed" if self.closed else "connected" if self.connected else "new"

    def _received(self, received: RtpPacket) -> None:
        if not self.receiving or self.closed:
            return
        if received.payload_type == self.payload_type:
            # handed on as it came to a leg forwarding it; decoded only while someone wants the samples (else
            # it still takes its place in the sequence, without sound)
            tap = self.taps["audio"]
            decoding = bool(tap.feeds)
            tap.put_encoded(self.audio_out.codec, received.payload, len(received.payload), received.timestamp)
            self.received.receive(received, g711.decode(received.payload, self.payload_type) if decoding else None)
        else:
            if received.payload_type == self.telephone_event_pt:
                self.digit_receiver.receive(received.ssrc, received.timestamp, received.payload)
            self.received.receive(received, None)  # comfort noise and the like: a place in the sequence
        if not self.connected:
            self.connected = True
            self.on_change(self)

    def _pressed(self, digit: str) -> None:
        self.digits_in = (self.digits_in + digit)[-DIGITS_KEPT:]
        if self.on_digit is not None:
            self.on_digit(digit)

    async def send_digits(self, digits: str, duration_ms: int = 100, gap_ms: int = 100) -> None:
        """Press `digits` toward the trunk (RFC 4733), returning once the last key is released."""
        try:
            await self.sender.send_digits(digits, duration_ms, gap_ms)
        except ValueError as refused:
            raise LegError(str(refused)) from None

    def queue_digits(self, digits: str, duration_ms: int = 100, gap_ms: int = 100) -> None:
        """Check `digits` now and press them in the background; pressing stops when the leg closes."""
        try:
            self.sender.check_digits(digits, duration_ms)
        except ValueError as refused:
            raise LegError(str(refused)) from None
        self._pressing.start(self.send_digits(digits, duration_ms, gap_ms))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._pressing.cancel()
        await self.sender.stop()
        self.audio_out.stop()
        await self.taps["audio"].stop()
        self.received.stop()
        await self.endpoint.close()

    def stats(self) -> dict:
        endpoint, received = self.endpoint, self.received
        remote = f"{endpoint.remote[0]}:{endpoint.remote[1]}" if endpoint.remote else ""
        return {"state": self.state, "codec": self.audio_codec, "direction": self.direction,
                "framesIn": {"audio": self.taps["audio"].frames_in}, "framesOut": self.sender.frames,
                "local": f"{self.local_host}:{self.local_port}", "remote": remote,
                "packetsIn": endpoint.packets_in, "packetsOut": endpoint.packets_out, "strays": endpoint.strays,
                "lost": received.lost, "late": received.late, "duplicates": received.duplicates,
                "digitsIn": self.digits_in, "digitsOut": self.sender.digits_sent}

