"""Registering our Contact at a registrar and keeping it registered (RFC 3261 §10.2).

Some trunks send calls only to a registered Contact. A `Registration` sends REGISTER (answering the digest
challenge), reads the expiry the registrar granted (the Contact's `expires`, else the Expires header), honours
423 Interval Too Brief, and re-registers halfway through the granted time; a failed refresh is retried every
`RETRY` seconds. `unregister()` stops refreshing and removes the binding (Expires: 0).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING

from .auth import Credentials
from .errors import SipError
from .fields import Address, SipUri, is_digits
from .message import Response

if TYPE_CHECKING:
    from .ua import UserAgent

log = logging.getLogger(__name__)


class Registration:
    RETRY = 30.0

    def __init__(self, ua: UserAgent, registrar: SipUri, aor: Address, credentials: Credentials | None,
                 expires: int):
        self._ua = ua
        self.registrar, self.aor, self.credentials = registrar, aor, credentials
        self.requested = expires
        self.expires = 0
        self.registered = False
        self.last_response: Response | None = None
        self._call_id = f"{secrets.token_hex(12)}@{ua.public_host}"
        self._from_tag = secrets.token_hex(6)
        self._cseq = 0
        self._refresher: asyncio.Task | None = None

    async def start(self, refresh: bool = True) -> None:
        """Register once (raising `SipError` with the registrar's answer if refused), then keep it fresh."""
        response = await self.send(self.requested)
        if not self.registered:
            raise SipError(response.status, response.reason)
        if refresh:
            self._refresher = self._ua._spawn(self._refresh())

    async def send(self, expires: int) -> Response:
        """One REGISTER (and its authenticated repeat); updates `registered`, `expires`, `last_response`."""
        for _ in range(2):
            self._cseq += 1
            request = self._ua.new_request("REGISTER", self.registrar, self.aor, self.aor)
            request.headers.set("From", str(self.aor.with_tag(self._from_tag)))
            request.headers.set("Call-ID", self._call_id)
            request.headers.set("CSeq", f"{self._cseq} REGISTER")
            request.headers.add("Contact", str(self._ua.contact))
            request.headers.add("Expires", str(expires))
            response = await self._ua.request(request, self.credentials)
            self._cseq = max(self._cseq, response.cseq.number)
            min_expires = response.headers.get("Min-Expires", "")
            if response.status == 423 and is_digits(min_expires) and int(min_expires) > expires:
                expires = self.requested = int(min_expires)
                continue
            break
        self.last_response = response
        self.registered = 200 <= response.status < 300 and expires > 0
        self.expires = self._granted(response, expires) if self.registered else 0
        return response

    async def unregister(self) -> Response:
        if self._refresher is not None:
            self._refresher.cancel()
        return await self.send(0)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.expires / 2) if self.registered else self.RETRY)
            response = await self.send(self.requested)
            if not self.registered:
                log.warning("SIP: registration of %s at %s failed: %s %s", self.aor, self.registrar,
                            response.status, response.reason)

    def _granted(self, response: Response, asked: int) -> int:
        ours = self._ua.contact.uri
        for value in response.headers.get_all("Contact"):
            try:
                contact = Address.parse(value)
            except SipError:
                continue
            if (contact.uri.host, contact.uri.port) == (ours.host, ours.port) and \
                    is_digits(contact.params.get("expires") or ""):
                return int(contact.params["expires"] or asked)
        header = response.headers.get("Expires", "")
        return int(header) if is_digits(header) else asked
