"""What both kinds of call share once a dialog exists: hanging up, re-INVITEs both ways, in-dialog requests.

A call ends exactly once; `ended` resolves with who ended it and why. A re-INVITE from the other side (hold,
resume, a codec change) is answered by `on_reinvite(offer)` if set, otherwise by an answer built from our
current SDP (so a trunk's hold, sendonly, is answered recvonly without the product doing anything). Our 2xx to
an INVITE is retransmitted until its ACK arrives, and the call is hung up if it never does (§13.3.1.4).
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from . import sdp as sdp_module
from .auth import Credentials
from .dialog import Dialog
from .errors import SipError
from .fields import Address
from .message import Headers, Request, Response, make_response
from .sdp import SessionDescription
from .transactions import ServerTransaction, Timers

if TYPE_CHECKING:
    from .ua import UserAgent

log = logging.getLogger(__name__)

ReinviteHandler = Callable[[SessionDescription | None], "SessionDescription | Awaitable[SessionDescription]"]


@dataclass(frozen=True)
class Ending:
    """How a call ended. `by` is "local" or "remote"; `reason` one of: bye, cancelled, rejected, busy,
    no-answer, unreachable, not-found, failed, no-ack, transport-error, closed; `status` the SIP status involved,
    if any."""

    by: str
    reason: str
    status: int | None = None


class CallEnded(RuntimeError):
    """The call ended (hung up, cancelled, failed) before this action could be done."""


class Call:
    def __init__(self, ua: UserAgent, invite: Request):
        loop = asyncio.get_running_loop()
        self._ua = ua
        self.invite = invite
        self.call_id = invite.call_id
        self.dialog: Dialog | None = None
        self.remote_sdp: SessionDescription | None = None
        self.local_sdp: SessionDescription | None = None
        self.state = "new"
        self.ended: asyncio.Future[Ending] = loop.create_future()
        self.established: asyncio.Future[None] = loop.create_future()
        self.on_reinvite: ReinviteHandler | None = None
        self.on_info: Callable[[Request], None] | None = None
        self.credentials: Credentials | None = None
        self._our_reinvite = False
        self._acks: dict[int, Request] = {}
        self._unacked: _Retransmission | None = None
        self.established.add_done_callback(_retrieve)

    @property
    def from_(self) -> Address:
        """The caller (the INVITE's From)."""
        return self.invite.from_

    @property
    def to(self) -> Address:
        """The callee (the INVITE's To, with the callee's tag once there is one)."""
        to = self.invite.to
        tag = self.local_tag if self.is_incoming else self.remote_tag
        return to.with_tag(tag) if tag else to

    @property
    def local_tag(self) -> str | None:
        return self.dialog.local_tag if self.dialog else None

    @property
    def remote_tag(self) -> str | None:
        return self.dialog.remote_tag if self.dialog else None

    is_incoming = False

    @property
    def headers(self) -> Headers:
        raise NotImplementedError

    async def bye(self) -> None:
        """Hang up a confirmed call (§15.1). The call ends at once; the BYE's answer is not awaited. A call we
        answered waits for the caller's ACK first (§15: no BYE before it), at most 64*T1."""
        if self.ended.done():
            return
        if self.dialog is None or self.state not in ("answered", "confirmed"):
            raise CallEnded(f"cannot hang up a call in state {self.state}")
        if self.state == "answered":
            await asyncio.wait([self.established], timeout=self._ua.timers.timeout)
            if self.ended.done():
                return
        self._end("local", "bye")
        self._ua._spawn(self._ua.request(self.dialog.create_request("BYE"), self.credentials))

    async def reinvite(self, sdp: SessionDescription) -> Response:
        """Offer new SDP in the dialog (hold: `call.local_sdp.revised("sendonly")`). Returns the final response;
        on 2xx the ACK is sent and `remote_sdp`/`local_sdp` are updated (`SdpError` if the answer cannot be
        read). A 491 means both sides re-INVITEd at once: try again later (§14.1)."""
        if self.dialog is None or self.state != "confirmed":
            raise CallEnded(f"cannot re-INVITE a call in state {self.state}")
        if self._our_reinvite:
            raise SipError(491, "Request Pending")
        self._our_reinvite = True
        try:
            request = self.dialog.create_request("INVITE", sdp.encode())
            response = await self._ua.request(request, self.credentials)
            self.dialog.local_cseq = max(self.dialog.local_cseq, response.cseq.number)
            if 200 <= response.status < 300:
                self._send_ack(self.dialog.create_request("ACK", cseq=response.cseq.number))
                self.local_sdp = sdp
                body = sdp_module.sdp_of(response.content_type, response.body)
                if body:
                    self.remote_sdp = SessionDescription.parse(body)
            return response
        finally:
            self._our_reinvite = False

    def _send_ack(self, ack: Request) -> None:
        """ACK a 2xx (its own transaction, §13.2.2.4), kept to answer retransmissions of that 2xx."""
        self._acks[ack.cseq.number] = ack
        self._ua.send_ack(ack)

    def _on_stray_2xx(self, response: Response) -> None:
        ack = self._acks.get(response.cseq.number)
        if ack is not None:
            self._ua.send_ack(ack)

    def _on_request(self, request: Request, transaction: ServerTransaction) -> None:
        """A request in this dialog (not ACK, not CANCEL)."""
        assert self.dialog is not None
        self.dialog.check_remote_cseq(request)
        if request.method == "BYE":
            transaction.respond(make_response(request, 200))
            self._end("remote", "bye")
        elif request.method == "INVITE":
            self._ua._spawn(self._answer_reinvite(request, transaction))
        elif request.method == "INFO":
            if self.on_info is not None:
                self.on_info(request)
            transaction.respond(make_response(request, 200))
        elif request.method == "OPTIONS":
            transaction.respond(make_response(request, 200, headers=self._ua.capabilities()))
        else:
            transaction.respond(make_response(request, 405, headers=[("Allow", self._ua.ALLOW)]))

    async def _answer_reinvite(self, request: Request, transaction: ServerTransaction) -> None:
        """§14.2: answer an offer (or make one, for an INVITE without SDP) and retransmit the 2xx until ACK."""
        if self._our_reinvite:
            transaction.respond(make_response(request, 491))
            return
        if self._unacked is not None:
            transaction.respond(make_response(request, 500, headers=[("Retry-After", "1")]))
            return
        try:
            body = sdp_module.sdp_of(request.content_type, request.body)
            offer = SessionDescription.parse(body) if body else None
            answer = self.on_reinvite(offer) if self.on_reinvite else self._default_answer(offer)
            if inspect.isawaitable(answer):
                answer = await answer
        except SipError as error:
            transaction.respond(make_response(request, error.status, error.reason))
            return
        if offer is not None:
            self.remote_sdp = offer
        self.local_sdp = answer
        self._send_2xx(transaction, answer)

    def _default_answer(self, offer: SessionDescription | None) -> SessionDescription:
        current = self.local_sdp
        if current is None or current.audio is None:
            raise SipError(488, "Not Acceptable Here (no media of ours to answer with)")
        if offer is None:
            return current.revised("sendrecv")
        preferred = tuple(c for c in current.audio.codecs if c.name.lower() != "telephone-event")
        return sdp_module.build_answer(offer, current.address, current.audio.port, codecs=preferred,
                                       session_id=current.session_id, version=current.version + 1)

    def _send_2xx(self, transaction: ServerTransaction, sdp: SessionDescription | None,
                  headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Send the 2xx and keep retransmitting it (T1, doubling up to T2) until the ACK (§13.3.1.4)."""
        assert self.dialog is not None
        request = transaction.request
        response = make_response(request, 200, to_tag=self.dialog.local_tag,
                                 headers=[*self._ua.dialog_headers(request), *headers],
                                 body=sdp.encode() if sdp else b"")
        transaction.respond(response)
        self._unacked = _Retransmission(request.cseq.number, lambda: transaction.respond(response), self._ua.timers,
                                        self._no_ack)

    def _stop_2xx(self) -> None:
        if self._unacked is not None:
            self._unacked.stop()
            self._unacked = None

    def _on_ack(self, request: Request) -> None:
        if self._unacked is None or request.cseq.number != self._unacked.cseq:
            return
        self._stop_2xx()
        if request.body:  # the answer to the offer of our 2xx (the INVITE had none)
            self.remote_sdp = _parse_or_none(request) or self.remote_sdp
        if self.state == "answered":
            self.state = "confirmed"
            if not self.established.done():
                self.established.set_result(None)

    def _no_ack(self) -> None:
        log.info("SIP: no ACK for our 2xx in call %s; hanging up", self.call_id)
        self._stop_2xx()
        if self.dialog is not None and not self.ended.done():
            self._ua._spawn(self._ua.request(self.dialog.create_request("BYE"), self.credentials))
        self._end("local", "no-ack", 408)

    def _transport_failed(self) -> None:
        """Our response to the INVITE could not be sent (the caller's TCP connection is gone, §17.2.4): a call
        not yet confirmed is lost now rather than when the ACK fails to come."""
        if self.state in ("ringing", "answered") and not self.ended.done():
            log.info("SIP: call %s lost: our response to its INVITE could not be sent", self.call_id)
            self._end("local", "transport-error")

    def _end(self, by: str, reason: str, status: int | None = None) -> None:
        if self.ended.done():
            return
        self.state = "ended"
        self._stop_2xx()
        self.ended.set_result(Ending(by, reason, status))
        if not self.established.done():
            self.established.set_exception(CallEnded(reason))
        self._ua._forget(self)


class _Retransmission:
    """Our 2xx to an INVITE, sent again at T1, 2*T1, ... T2 until its ACK; `give_up` after 64*T1."""

    def __init__(self, cseq: int, resend: Callable[[], None], timers: Timers, give_up: Callable[[], None]):
        loop = asyncio.get_running_loop()
        self.cseq = cseq
        self._resend, self._t2 = resend, timers.t2
        self._next = loop.call_later(timers.t1, self._fire, timers.t1)
        self._deadline = loop.call_later(timers.timeout, give_up)

    def _fire(self, interval: float) -> None:
        self._resend()
        interval = min(interval * 2, self._t2)
        self._next = asyncio.get_running_loop().call_later(interval, self._fire, interval)

    def stop(self) -> None:
        self._next.cancel()
        self._deadline.cancel()


def _parse_or_none(message: Request | Response) -> SessionDescription | None:
    """The SDP of a message from the far end, or None (logged) when it has none or it is unreadable."""
    try:
        body = sdp_module.sdp_of(message.content_type, message.body)
        return SessionDescription.parse(body) if body else None
    except SipError as error:
        log.info("SIP: unreadable SDP in %r: %s", message, error)
        return None


def _retrieve(future: asyncio.Future) -> None:
    """Mark a future's exception as seen, so one nobody awaits does not log 'never retrieved'."""
    if not future.cancelled():
        future.exception()
