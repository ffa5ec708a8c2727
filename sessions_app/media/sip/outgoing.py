"""A call we place: the UAC side of an INVITE (RFC 3261 §13.2).

`ringing` resolves on the first 180/183 (or the 2xx, if none came first; `on_provisional` hears every one),
`answered` with the 2xx (we have ACKed it; `remote_sdp` is the answer). Both fail with `CallFailed` when the
call is not answered; its `cause` names what the product shows:
busy (486/600), rejected (603), no-answer (480/408 from the far end, or our own ring timeout, which CANCELs),
unreachable (no response at all: Timer B, or a transport error), not-found, cancelled, failed. A 401/407 is
answered once with the call's credentials. A CANCEL is only sent after a provisional response (§9.1); a 2xx
that crosses our CANCEL is ACKed and hung up (§15).
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Callable

from .auth import Credentials, authorize
from .call import Call, _parse_or_none, _retrieve
from .dialog import Dialog
from .message import Headers, Request, Response
from .sdp import SessionDescription

if TYPE_CHECKING:
    from .ua import UserAgent

_CAUSES = {486: "busy", 600: "busy", 603: "rejected", 480: "no-answer", 408: "no-answer", 404: "not-found",
           484: "not-found", 604: "not-found"}


class CallFailed(Exception):
    """An outgoing call that was not answered: the final status, its reason phrase and the cause."""

    def __init__(self, status: int, reason: str, cause: str, response: Response | None = None):
        super().__init__(f"{status} {reason} ({cause})")
        self.status, self.reason, self.cause, self.response = status, reason, cause, response


class OutgoingCall(Call):
    """States: calling, early (a provisional response came), confirmed, ended."""

    def __init__(self, ua: UserAgent, invite: Request, credentials: Credentials | None = None,
                 ring_timeout: float | None = None):
        super().__init__(ua, invite)
        loop = asyncio.get_running_loop()
        self.credentials = credentials
        self.local_sdp = SessionDescription.parse(invite.body) if invite.body else None
        self.state = "calling"
        self.ringing: asyncio.Future[Response] = loop.create_future()
        self.answered: asyncio.Future[Response] = loop.create_future()
        self.answered.add_done_callback(_retrieve)
        self.ringing.add_done_callback(_retrieve)
        self.on_provisional: Callable[[Response], None] | None = None
        self.failure: CallFailed | None = None
        self.last_response: Response | None = None
        self._ring_timeout = ring_timeout
        self._provisional_seen = False
        self._cancel_reason: str | None = None
        self._cancel_sent = False
        self._auth_attempts = 0
        self._handles: list[asyncio.TimerHandle] = []

    @property
    def headers(self) -> Headers:
        """The headers of the latest response (the 2xx once answered)."""
        return self.last_response.headers if self.last_response else Headers()

    async def start(self) -> None:
        try:
            await self._ua.send_request(self.invite, on_response=self._on_response)
        except OSError as error:
            self._fail(503, f"Service Unavailable ({error})", "unreachable")
            return
        if self._ring_timeout and not self._handles:
            self._later(self._ring_timeout, lambda: self._give_up("no-answer"))

    async def cancel(self) -> None:
        """Give up on the call: CANCEL while it rings (sent once a provisional response came), BYE if it was
        answered. `answered` fails with cause "cancelled" (or the call ends as hung up)."""
        if self.state == "confirmed":
            await self.bye()
        else:
            self._give_up("cancelled")

    async def bye(self) -> None:
        if self.state in ("calling", "early"):
            self._give_up("cancelled")
        else:
            await super().bye()

    def _give_up(self, reason: str) -> None:
        if self.state not in ("calling", "early") or self._cancel_reason:
            return
        self._cancel_reason = reason
        if self._provisional_seen:
            self._send_cancel()

    def _send_cancel(self) -> None:
        """§9.1: the CANCEL copies the INVITE's Request-URI, top Via (same branch), From, To, Call-ID, Route."""
        self._cancel_sent = True
        cancel = Request(method="CANCEL", uri=self.invite.uri)
        cancel.headers.add("Via", self.invite.headers.get_all("Via")[0])
        for name in ("Max-Forwards", "From", "To", "Call-ID"):
            cancel.headers.add(name, self.invite.headers[name])
        cancel.headers.add("CSeq", f"{self.invite.cseq.number} CANCEL")
        for route in self.invite.headers.get_all("Route"):
            cancel.headers.add("Route", route)
        self._ua._spawn(self._ua.request(cancel, keep_via=True))
        self._later(self._ua.timers.timeout, lambda: self._fail(408, "Request Timeout", self._cancel_reason or ""))

    def _on_response(self, response: Response) -> None:
        self.last_response = response
        if response.status < 200:
            self._on_provisional(response)
        elif response.status < 300:
            self._on_2xx(response)
        else:
            self._on_failure(response)

    def _on_provisional(self, response: Response) -> None:
        if self.state not in ("calling", "early"):
            return
        self._provisional_seen = True
        if response.status > 100:
            self.state = "early"
            if response.to.tag and self.dialog is None:
                self.dialog = Dialog.as_uac(self.invite, response)
            self.remote_sdp = _parse_or_none(response) or self.remote_sdp  # early media
            if not self.ringing.done():
                self.ringing.set_result(response)
            if self.on_provisional is not None:
                self.on_provisional(response)
        if self._cancel_reason and not self._cancel_sent:
            self._send_cancel()

    def _on_2xx(self, response: Response) -> None:
        if self.state == "confirmed" or self.ended.done():
            self._on_stray_2xx(response)
            return
        self.dialog = Dialog.as_uac(self.invite, response)
        self.remote_sdp = _parse_or_none(response) or self.remote_sdp
        self._send_ack(self.dialog.create_request("ACK", cseq=response.cseq.number))
        self.state = "confirmed"
        self._cancel_timers()
        self._ua._adopt(self)
        if self._cancel_reason or self.remote_sdp is None:  # we gave up as it answered, or its answer is unreadable
            self._ua._spawn(self._ua.request(self.dialog.create_request("BYE"), self.credentials))
            if self._cancel_reason:
                self._fail(response.status, response.reason, self._cancel_reason, response)
            else:
                self._fail(488, "Not Acceptable Here (no SDP answer we can read)", "failed", response, by="local")
            return
        if not self.ringing.done():  # answered without ringing first
            self.ringing.set_result(response)
        self.answered.set_result(response)
        self.established.set_result(None)

    def _on_stray_2xx(self, response: Response) -> None:
        """A retransmitted 2xx (our ACK was lost) or a 2xx from another fork (§13.2.2.4): ACK it; hang up a
        dialog that is not ours."""
        if self.dialog is not None and response.to.tag == self.dialog.remote_tag:
            super()._on_stray_2xx(response)
            return
        other = Dialog.as_uac(self.invite, response)
        self._ua.send_ack(other.create_request("ACK", cseq=response.cseq.number))
        self._ua._spawn(self._ua.request(other.create_request("BYE")))

    def _on_failure(self, response: Response) -> None:
        if self.state not in ("calling", "early"):
            return
        if response.status in (401, 407) and self.credentials and not self._cancel_reason \
                and self._auth_attempts < 2:
            retry = authorize(self.invite, response, self.credentials)
            if retry is not None:
                self._auth_attempts += 1
                self.invite = retry
                self.state, self._provisional_seen = "calling", False
                self._ua._spawn(self.start())
                return
        if response.local:
            cause = "unreachable"
        else:
            cause = self._cancel_reason or _CAUSES.get(response.status, "failed")
        self._fail(response.status, response.reason, cause, response)

    def _fail(self, status: int, reason: str, cause: str, response: Response | None = None,
              by: str | None = None) -> None:
        if self.ended.done():
            return
        self.failure = CallFailed(status, reason, cause, response)
        for future in (self.ringing, self.answered):
            if not future.done():
                future.set_exception(self.failure)
        self._cancel_timers()
        self._end(by or ("local" if self._cancel_reason or cause == "unreachable" else "remote"), cause, status)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._handles.append(asyncio.get_running_loop().call_later(delay, callback))

    def _cancel_timers(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

