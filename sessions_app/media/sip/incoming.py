"""A call someone places to us: the UAS side of an INVITE (RFC 3261 §13.3).

The UserAgent builds it when an INVITE arrives and hands it to `on_invite`, after the 100 Trying went out and
the offer was read (a bad offer has already been answered 488). The product then rings (`ringing`), plays
early media (`progress`), answers (`answer`) or refuses (`reject`). The caller may give up first: a CANCEL is
answered 200, the INVITE 487, and `cancelled` and `ended` resolve (§9.2). `cancelled` resolves only then;
`ended` resolves however the call ends (also when our response cannot be sent: "transport-error"), and
`established` when the caller ACKs our 200 (it fails with `CallEnded` if the call ends first).
"""
from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING, Iterable

from . import sdp as sdp_module
from .call import Call, CallEnded
from .dialog import Dialog
from .fields import SipUri
from .message import Headers, Request, make_response
from .sdp import SessionDescription
from .transactions import InviteServerTransaction

if TYPE_CHECKING:
    from .ua import UserAgent


class IncomingCall(Call):
    """States: ringing (nothing final sent yet), answered (200 sent, waiting for ACK), confirmed, ended."""

    is_incoming = True

    def __init__(self, ua: UserAgent, invite: Request, transaction: InviteServerTransaction):
        super().__init__(ua, invite)
        self.transaction = transaction
        transaction.on_transport_error = self._transport_failed
        self.dialog = Dialog.as_uas(invite, secrets.token_hex(6))
        body = sdp_module.sdp_of(invite.content_type, invite.body)
        self.remote_sdp = SessionDescription.parse(body) if body else None
        self.state = "ringing"
        self.cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def request_uri(self) -> SipUri:
        return self.invite.uri

    @property
    def headers(self) -> Headers:
        """The INVITE's headers (P-Asserted-Identity, X-UUI, Diversion...)."""
        return self.invite.headers

    async def ringing(self, headers: Iterable[tuple[str, str]] = ()) -> None:
        """180 Ringing."""
        self._provisional(180, None, headers)

    async def progress(self, sdp: SessionDescription, headers: Iterable[tuple[str, str]] = ()) -> None:
        """183 Session Progress with our SDP: early media (no PRACK, RFC 3262 is not supported)."""
        self.local_sdp = sdp
        self._provisional(183, sdp, headers)

    async def answer(self, sdp: SessionDescription | None = None, headers: Iterable[tuple[str, str]] = ()) -> None:
        """200 OK with our SDP (the answer to the INVITE's offer, or our offer if it had none). Returns once
        sent; `established` resolves when the caller's ACK arrives."""
        self._check_open()
        sdp = sdp or self.local_sdp
        if sdp is None:
            raise ValueError("an INVITE is answered with SDP: ours, or the answer to the caller's offer")
        self.local_sdp = sdp
        self.state = "answered"
        self._send_2xx(self.transaction, sdp, tuple(headers))

    async def reject(self, status: int = 486, reason: str | None = None,
                     headers: Iterable[tuple[str, str]] = ()) -> None:
        """A final refusal: 486 Busy Here, 480 Temporarily Unavailable, 603 Decline... (§13.3.1.3)."""
        self._check_open()
        if not 300 <= status <= 699:
            raise ValueError("a rejection is a 3xx-6xx status")
        assert self.dialog is not None
        self.transaction.respond(make_response(self.invite, status, reason, to_tag=self.dialog.local_tag,
                                               headers=headers))
        self._end("local", "rejected", status)

    def _provisional(self, status: int, sdp: SessionDescription | None, headers: Iterable[tuple[str, str]]) -> None:
        self._check_open()
        assert self.dialog is not None
        response = make_response(self.invite, status, to_tag=self.dialog.local_tag,
                                 headers=[*self._ua.dialog_headers(self.invite), *headers],
                                 body=sdp.encode() if sdp else b"")
        self.transaction.respond(response)

    def _check_open(self) -> None:
        if self.ended.done():
            raise CallEnded(f"the call has ended ({self.ended.result().reason})")
        if self.state != "ringing":
            raise CallEnded(f"the call was already answered (state {self.state})")

    def _on_cancel(self) -> None:
        """The caller's CANCEL, matched to our INVITE (the UA answered the CANCEL itself)."""
        if self.state != "ringing" or self.ended.done():
            return
        self.transaction.respond(make_response(self.invite, 487, to_tag=self.dialog.local_tag if self.dialog else None))
        if not self.cancelled.done():
            self.cancelled.set_result(None)
        self._end("remote", "cancelled", 487)

