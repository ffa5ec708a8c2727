"""The engine's commands for phone legs, mixed into `MediaEngine` beside its web-leg commands.

The SIP stack reads the trunk's SDP and calls these with its facts; the engine answers with the address to
put in our SDP. A phone leg then sits in a `Call` like any other leg: plans name it, `Call.rewire` points it.
Arguments and results are JSON-able, as every engine command's are (they cross to media workers).
"""
from __future__ import annotations

import logging

from .call import Call, Plan
from .leg import LegError
from .rtp_leg import RtpLeg

log = logging.getLogger(__name__)


def port_range(text: str) -> range | None:
    """"10000-20000" (the firewall's RTP ports, both ends included) as a range; "" for any free port."""
    if not text.strip():
        return None
    low, _, high = text.partition("-")
    return range(int(low), int(high or low) + 1)


class RtpCommands:
    """Needs the engine's `calls`, `_changed` and `_forget_if_empty`. `rtp_host` is the address legs bind
    and our SDP gives; `rtp_ports` the range they bind in. `on_digit(call_id, leg_id, digit)`, when set, hears
    every key a caller presses (each leg's `stats()` also lists its last keys as `digitsIn`)."""

    rtp_host = "127.0.0.1"
    rtp_ports: range | None = None
    on_digit = None

    async def open_rtp_leg(self, call_id: str, leg_id: str, remote_host: str, remote_port: int, payload_type: int,
                           telephone_event_pt: int | None = None, direction: str = "sendrecv",
                           plan: dict | None = None) -> dict:
        """A phone leg toward the trunk's media address; one opened again (a new INVITE) replaces the old.

        The arguments after `leg_id` are facts of the trunk's SDP, its `direction` included (see `RtpLeg`)."""
        parsed = Plan.from_dict(plan) if plan is not None else None  # a plan it cannot read changes nothing
        call = self.calls.setdefault(call_id, Call(call_id, self.forwarding))
        if parsed is not None:
            call.plan = parsed
            if leg_id not in call.plan.members:
                self._forget_if_empty(call)
                raise LegError(f"{leg_id} is not a party to call {call_id}")
        old = call.legs.pop(leg_id, None)
        if old is not None:
            await old.close()
        try:
            leg = RtpLeg(leg_id, lambda changed: self._changed(call, changed), self.rtp_host, remote_host,
                         remote_port, payload_type, telephone_event_pt, direction=direction, ports=self.rtp_ports)
        except OSError as error:
            self._forget_if_empty(call)
            raise LegError(f"no RTP port to open: {error}") from None
        except LegError:
            self._forget_if_empty(call)
            raise
        leg.on_digit = lambda digit: self._digit(call_id, leg_id, digit)
        call.legs[leg_id] = leg
        call.rewire()
        return {"local_host": leg.local_host, "local_port": leg.local_port, "codec": leg.audio_codec}

    async def update_rtp_leg(self, call_id: str, leg_id: str, remote_host: str, remote_port: int,
                             payload_type: int, telephone_event_pt: int | None = None,
                             direction: str = "sendrecv") -> dict:
        """The trunk's SDP changed (a re-INVITE: hold, a new address or law); the local port stays."""
        leg = self.rtp_leg(call_id, leg_id)
        leg.update(remote_host, remote_port, payload_type, telephone_event_pt, direction)
        return {"local_host": leg.local_host, "local_port": leg.local_port, "codec": leg.audio_codec}

    async def send_digits(self, call_id: str, leg_id: str, digits: str, duration_ms: int = 100,
                          gap_ms: int = 100) -> dict:
        """Press keys toward the trunk (an agent dialling an extension); answers at once, keys go out after."""
        self.rtp_leg(call_id, leg_id).queue_digits(digits, duration_ms, gap_ms)
        return {"queued": len(digits)}

    def rtp_leg(self, call_id: str, leg_id: str) -> RtpLeg:
        call = self.calls.get(call_id)
        leg = call.legs.get(leg_id) if call else None
        if not isinstance(leg, RtpLeg) or leg.closed:
            raise LegError(f"call {call_id} has no phone leg {leg_id}")
        return leg

    def _digit(self, call_id: str, leg_id: str, digit: str) -> None:
        if self.on_digit is not None:
            self.on_digit(call_id, leg_id, digit)

    RTP_COMMANDS = {"open_rtp_leg": open_rtp_leg, "update_rtp_leg": update_rtp_leg, "send_digits": send_digits}
