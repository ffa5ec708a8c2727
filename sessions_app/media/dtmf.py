"""Key presses on the phone line as RFC 4733 telephone events (what SDP calls `telephone-event/8000`).

One press is one event: packets that share the RTP timestamp of the press's start, the first with the marker
bit, each carrying the duration so far, the last sent three times with the end bit. Payload (§2.3):
event (8 bits), end bit, reserved bit, volume (6 bits, -dBm0), duration (16 bits, in timestamp units).
"""
from __future__ import annotations

import collections
import logging
import struct

log = logging.getLogger(__name__)

DIGITS = "0123456789*#ABCD"  # events 0-15 (§3.2); later ones (flash, tones) are not digits
EVENT = struct.Struct("!BBH")
END = 0x80
VOLUME = 10  # -10 dBm0, what phones send
MAX_DURATION = 0xFFFF
RECENT_PRESSES = 16  # presses remembered, so a straggling packet of an earlier one is not taken as new


def event_payload(digit: str, duration: int, end: bool) -> bytes:
    return EVENT.pack(DIGITS.index(digit), (END if end else 0) | VOLUME, min(duration, MAX_DURATION))


def check_digits(digits: str) -> str:
    """`digits` in upper case, or ValueError naming a character that is no key (RFC 4733 events 0-15)."""
    digits = digits.upper()
    for digit in digits:
        if digit not in DIGITS:
            raise ValueError(f"{digit!r} is not a DTMF key (0-9, *, #, A-D)")
    return digits


class DigitReceiver:
    """Turns telephone-event packets into `on_digit(digit)`, called once per press.

    The first packet of a press that arrives reports it (the start may be lost; any of the end's three copies
    will do). Presses are told apart by SSRC and timestamp. An event longer than the 16-bit duration goes on
    in a new segment whose timestamp is where the last one ended (§2.5.1.3): that is the same press."""

    def __init__(self, on_digit):
        self.on_digit = on_digit
        self.recent: collections.deque = collections.deque(maxlen=RECENT_PRESSES)
        self.last: tuple[int, int, int, int, bool] | None = None  # ssrc, event, timestamp, duration, ended

    def receive(self, ssrc: int, timestamp: int, payload: bytes) -> None:
        if len(payload) < EVENT.size:
            return
        event, flags, duration = EVENT.unpack_from(payload)
        if event >= len(DIGITS):
            return
        ended = bool(flags & END)
        press = (ssrc, timestamp)
        last = self.last
        if last is not None and (last[0], last[2]) == press:
            self.last = (ssrc, event, timestamp, max(duration, last[3]), ended or last[4])
            return
        if press in self.recent:
            return
        self.recent.append(press)
        self.last = (ssrc, event, timestamp, duration, ended)
        continued = (last is not None and last[:2] == (ssrc, event) and not last[4]
                     and (last[2] + last[3]) & 0xFFFFFFFF == timestamp)
        if continued:
            return
        try:
            self.on_digit(DIGITS[event])
        except Exception:
            log.exception("the digit handler failed")
