"""The user agent: one SIP endpoint (RFC 3261 §8) on UDP (and optionally TCP), with calls both ways.

It owns the transports and the transaction table, dispatches what arrives (a retransmission to its server
transaction, a response to its client transaction, an ACK or an in-dialog request to its call, a new INVITE to
`on_invite`) and answers what no call owns: OPTIONS 200 (trunks ping with it), CANCEL 200 + 487, unknown
methods 501, Max-Forwards 0 483, a non-SIP Request-URI 416, an unknown Require 420, a body that is not SDP 415,
a request for an unknown dialog 481, a malformed message 400 (505 for another SIP version) when it can be
answered, and nothing when it cannot. No message, and no exception of the product's callbacks, stops it.
"""
from __future__ import annotations

import asyncio
import errno
import hashlib
import inspect
import logging
import secrets
from typing import Awaitable, Callable, Coroutine, Iterable

from ..background import BackgroundTasks
from .auth import Credentials, authorize
from .call import Call, CallEnded
from .errors import SipError
from .fields import Address, SipUri
from .incoming import IncomingCall
from .keepalive import KeepAlive
from .message import Request, Response, make_response
from .outgoing import OutgoingCall
from .registration import Registration
from .sdp import SessionDescription
from .transactions import MAGIC_COOKIE, ClientTransaction, InviteServerTransaction, Timers, TransactionTable
from .transport import TcpTransport, Transport, UdpTransport, local_ip, resolve, response_address

log = logging.getLogger(__name__)

ANY_PORT_ATTEMPTS = 20  # tries at a port free for both UDP and TCP when started on port 0

InviteHandler = Callable[[IncomingCall], "Awaitable[None] | None"]
Auth = tuple[str, str] | Credentials | None


class UserAgent:
    """A SIP endpoint listening on `host`:`port` (UDP; also TCP on the same port with `tcp=True`; port 0 picks
    one). `public_host` is the address written in Via and Contact (default: `host`, or the outward interface's
    address when `host` is 0.0.0.0). `on_invite(call)` (sync or async) gets every new incoming call; it may
    raise `SipError` to refuse it with that status. `screen(invite, source)`, when set, sees every new INVITE
    first, before it costs a transaction or a call: a response it returns is sent statelessly (RFC 3261 §8.2.7)
    and the INVITE is forgotten. Usage:

        async with UserAgent("0.0.0.0", 5060, public_host="203.0.113.5", on_invite=route_call) as agent:
            call = await agent.invite("sip:+4930123@trunk.example", "sip:+4930999@203.0.113.5",
                                      "sip:+4930123@trunk.example", offer, auth=("user", "secret"), timeout=30)
            await call.answered
    """

    ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
    METHODS = frozenset(ALLOW.replace(",", " ").split())

    def __init__(self, host: str = "127.0.0.1", port: int = 5060, *, tcp: bool = False,
                 public_host: str | None = None, user: str = "tccc", user_agent: str = "tccc",
                 timers: Timers = Timers(), on_invite: InviteHandler | None = None):
        self.host, self.port, self.tcp = host, port, tcp
        self.public_host = public_host
        self.user, self.user_agent, self.timers = user, user_agent, timers
        self.on_invite = on_invite
        self.screen: Callable[[Request, tuple[str, int]], Response | None] | None = None
        self.calls: dict[tuple[str, str, str], Call] = {}
        self.transactions = TransactionTable(timers)
        self.udp: UdpTransport | None = None
        self.tcp_transport: TcpTransport | None = None
        self._tasks = BackgroundTasks(log, "SIP: background task")

    async def start(self) -> UserAgent:
        # On port 0 the system picks a free UDP port, whose number may be taken for TCP: then pick again.
        attempts = ANY_PORT_ATTEMPTS if self.port == 0 and self.tcp else 1
        for attempt in range(1, attempts + 1):
            self.udp = await UdpTransport.listen(self.host, self.port, self._on_message, self._on_malformed)
            port = self.udp.local_address[1]
            if not self.tcp:
                break
            try:
                self.tcp_transport = await TcpTransport.listen(self.host, port, self._on_message, self._on_malformed)
                break
            except OSError as error:
                self.udp.close()
                if error.errno != errno.EADDRINUSE or attempt == attempts:
                    raise
        self.port = port
        if self.public_host is None:
            self.public_host = self.host if self.host not in ("0.0.0.0", "::") else local_ip()
        return self

    async def drain(self, timeout: float) -> None:
        """Wait, at most `timeout` seconds, for requests sent in the background (a hang-up's BYE) to finish."""
        await self._tasks.wait(timeout)

    async def close(self) -> None:
        """Stop at once: calls end as "closed" without signalling (hang up and `drain` first for a clean stop)."""
        for call in list(self.calls.values()):
            call._end("local", "closed")
        self.transactions.close()
        self._tasks.cancel()
        for transport in (self.udp, self.tcp_transport):
            if transport is not None:
                transport.close()

    async def __aenter__(self) -> UserAgent:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    @property
    def address(self) -> tuple[str, int]:
        return (self.public_host or self.host, self.port)

    @property
    def contact(self) -> Address:
        return self.contact_for("UDP")

    def contact_for(self, transport: str) -> Address:
        """Our Contact for a dialog over `transport`: the other side sends its requests back the same way."""
        params: dict[str, str | None] = {"transport": "tcp"} if transport.upper() == "TCP" else {}
        return Address(SipUri(host=self.public_host or self.host, user=self.user, port=self.port, params=params))

    def capabilities(self) -> list[tuple[str, str]]:
        return [("Allow", self.ALLOW), ("Accept", "application/sdp"), ("User-Agent", self.user_agent)]

    def dialog_headers(self, request: Request) -> list[tuple[str, str]]:
        """Headers of a response that creates a dialog: our Contact, the request's Record-Route (§12.1.1)."""
        headers = [("Contact", str(self.contact_for(request.via.transport))), ("Allow", self.ALLOW)]
        return headers + [("Record-Route", value) for value in request.headers.get_all("Record-Route")]

    # Placing requests

    async def invite(self, request_uri: str | SipUri, from_uri: str | Address, to_uri: str | Address,
                     sdp: SessionDescription, *, auth: Auth = None, headers: Iterable[tuple[str, str]] = (),
                     timeout: float | None = None) -> OutgoingCall:
        """Place a call. Returns at once with the call ringing; see `OutgoingCall` for what follows.
        `timeout` is how long it may ring unanswered before we CANCEL it (cause "no-answer")."""
        request = self.new_request("INVITE", request_uri, from_uri, to_uri, headers)
        request.headers.add("Contact", str(self.contact_for(request.uri.transport)))
        request.headers.add("Allow", self.ALLOW)
        request.headers.add("Content-Type", "application/sdp")
        request.body = sdp.encode()
        call = OutgoingCall(self, request, _credentials(auth), timeout)
        await call.start()
        return call

    async def options(self, target: str | SipUri, *, auth: Auth = None) -> Response:
        """One OPTIONS out of dialog (§11). A made-up 408/503 (`response.local`) means nobody answered."""
        uri = target if isinstance(target, SipUri) else SipUri.parse(target)
        request = self.new_request("OPTIONS", uri, Address(self.contact.uri), Address(uri))
        request.headers.add("Accept", "application/sdp")
        return await self.request(request, _credentials(auth))

    async def register(self, registrar: str | SipUri, aor: str | Address, auth: Auth = None, expires: int = 3600,
                       refresh: bool = True) -> Registration:
        """Register our Contact for `aor` at `registrar` (§10.2) and, with `refresh`, keep it registered."""
        registration = Registration(self, _uri(registrar), _address(aor), _credentials(auth), expires)
        await registration.start(refresh)
        return registration

    def keepalive(self, target: str | SipUri, every: float = 30.0,
                  on_change: Callable[[bool], None] | None = None) -> KeepAlive:
        """Ping `target` with OPTIONS every `every` seconds; `alive` says whether it answers."""
        return KeepAlive(self, _uri(target), every, on_change)

    def new_request(self, method: str, request_uri: str | SipUri, from_uri: str | Address, to_uri: str | Address,
                    headers: Iterable[tuple[str, str]] = ()) -> Request:
        """A request out of any dialog (§8.1.1): new Call-ID, our From tag, CSeq 1."""
        request = Request(method=method, uri=_uri(request_uri))
        request.headers.add("From", str(_address(from_uri).with_tag(secrets.token_hex(6))))
        request.headers.add("To", str(_address(to_uri)))
        request.headers.add("Call-ID", f"{secrets.token_hex(12)}@{self.public_host or self.host}")
        request.headers.add("CSeq", f"1 {method}")
        for name, value in headers:
            request.headers.add(name, value)
        return request

    async def request(self, request: Request, credentials: Credentials | None = None, *,
                      keep_via: bool = False) -> Response:
        """Send `request` and wait for its final response, answering one 401/407 challenge with
        `credentials`. Failures to send come back as made-up responses (`local`), never as exceptions."""
        for _ in range(3):
            try:
                transaction = await self.send_request(request, keep_via=keep_via)
            except OSError as error:
                response = make_response(request, 503, f"Service Unavailable ({error})")
                response.local = True
                return response
            response = await transaction.final
            if response.status not in (401, 407) or credentials is None or keep_via:
                return response
            retry = authorize(request, response, credentials)
            if retry is None:
                return response
            request = retry
        return response

    async def send_request(self, request: Request, on_response: Callable[[Response], None] | None = None, *,
                           keep_via: bool = False) -> ClientTransaction:
        """Start a client transaction for `request` to its next hop (its first Route, else its Request-URI).
        Raises OSError when the next hop cannot be resolved."""
        transport, address = await self._next_hop(request)
        if not keep_via:
            self._add_via(request, transport)
        if "Max-Forwards" not in request.headers:
            request.headers.add("Max-Forwards", "70")
        if "User-Agent" not in request.headers:
            request.headers.add("User-Agent", self.user_agent)
        return self.transactions.start_client(request, transport, address, on_response)

    def send_ack(self, ack: Request) -> None:
        """Send the ACK of a 2xx, outside any transaction (§17.1.1.3)."""
        async def send() -> None:
            transport, address = await self._next_hop(ack)
            if not ack.headers.get("Via"):
                self._add_via(ack, transport)
                ack.headers.set("Max-Forwards", "70")
            await transport.send(ack.encode(), address)
        self._spawn(send())

    def _add_via(self, request: Request, transport: Transport) -> None:
        branch = MAGIC_COOKIE + secrets.token_hex(8)
        request.headers.add("Via", f"SIP/2.0/{transport.name} {self.public_host}:{self.port};branch={branch};rport",
                            first=True)

    async def _next_hop(self, request: Request) -> tuple[Transport, tuple[str, int]]:
        route = request.headers.get("Route")
        uri = Address.parse(route).uri if route else request.uri
        if uri.scheme not in ("sip", "sips") or not uri.host:
            raise OSError(f"cannot route to {uri}")
        transport: Transport | None = self.tcp_transport if uri.transport == "tcp" else self.udp
        if transport is None:
            raise OSError(f"no {uri.transport} transport")
        host = (uri.params.get("maddr") or uri.host).strip("[]")
        port = uri.port or 5060
        return transport, (await resolve(host, port), port)

    # Receiving

    def _on_message(self, message: Request | Response, source: tuple[str, int], transport: Transport) -> None:
        try:
            if isinstance(message, Response):
                self._on_response(message)
            else:
                self._on_request(message, source, transport)
        except Exception:
            log.exception("SIP: internal error handling %r", message)
            if isinstance(message, Request) and message.method != "ACK":
                transaction = self.transactions.match_request(message)
                if transaction is not None and not transaction.answered:
                    transaction.respond(make_response(message, 500))

    def _on_malformed(self, error: SipError, source: tuple[str, int], transport: Transport) -> None:
        """Answer a malformed request statelessly if it can be answered (§8.2, §21.4.1); drop it otherwise."""
        request = error.message
        if request is None:
            return
        response = make_response(request, error.status, error.reason)
        address = source if transport.reliable else response_address(request.via)
        self._spawn(transport.send(response.encode(), address))

    def _respond_statelessly(self, request: Request, response: Response, source: tuple[str, int],
                             transport: Transport) -> None:
        """§8.2.7: no transaction is kept; the To tag is derived from the request, so a retransmission of it
        gets the same answer, and its ACK, matching nothing, is dropped."""
        if request.to.tag is None:
            key = f"{request.call_id}:{request.from_.tag}:{request.via.params.get('branch')}".encode()
            response.headers.set("To", str(request.to.with_tag(hashlib.sha256(key).hexdigest()[:12])))
        address = source if transport.reliable else response_address(request.via)
        self._spawn(transport.send(response.encode(), address))

    def _on_response(self, response: Response) -> None:
        transaction = self.transactions.match_response(response)
        if transaction is not None:
            transaction.receive(response)
        elif 200 <= response.status < 300 and response.cseq.method == "INVITE":
            call = self.calls.get((response.call_id, response.from_.tag or "", response.to.tag or ""))
            if call is not None:
                call._on_stray_2xx(response)

    def _on_request(self, request: Request, source: tuple[str, int], transport: Transport) -> None:
        transaction = self.transactions.match_request(request)
        if transaction is not None:
            transaction.receive(request)
            return
        if request.method == "ACK":
            call = self.calls.get(self._dialog_key(request))
            if call is not None:
                call._on_ack(request)
            return
        if request.method == "INVITE" and not request.to.tag and self.screen is not None:
            refusal = self.screen(request, source)
            if refusal is not None:
                self._respond_statelessly(request, refusal, source, transport)
                return
        transaction = self.transactions.start_server(request, transport, source)
        refusal = self._refusal(request)
        if refusal is not None:
            transaction.respond(refusal)
        elif request.method == "CANCEL":
            self._on_cancel(request, transaction)
        elif request.to.tag:
            call = self.calls.get(self._dialog_key(request))
            if call is None:
                transaction.respond(make_response(request, 481))
            else:
                try:
                    call._on_request(request, transaction)
                except SipError as error:
                    transaction.respond(make_response(request, error.status, error.reason))
        elif request.method == "INVITE":
            self._on_invite(request, transaction)  # type: ignore[arg-type]
        elif request.method == "OPTIONS":
            transaction.respond(make_response(request, 200, headers=self.capabilities()))
        else:
            transaction.respond(make_response(request, 481))

    def _refusal(self, request: Request) -> Response | None:
        """The answer to a request we will not process, if it is one (§8.2.1 - §8.2.3)."""
        if request.method not in self.METHODS:
            return make_response(request, 501, headers=[("Allow", self.ALLOW)])
        if request.max_forwards == 0 and request.method != "OPTIONS":
            return make_response(request, 483)
        if request.uri.scheme not in ("sip", "sips"):
            return make_response(request, 416)
        required = [option for value in request.headers.get_all("Require") for option in value.split(",")]
        if required and request.method != "CANCEL":
            return make_response(request, 420, headers=[("Unsupported", ", ".join(o.strip() for o in required))])
        if request.body and request.content_type not in ("application/sdp", "multipart/mixed") \
                and request.method in ("INVITE",):
            return make_response(request, 415, headers=[("Accept", "application/sdp")])
        return None

    def _on_cancel(self, cancel: Request, transaction) -> None:
        """§9.2: 200 to the CANCEL; the call ringing on the matching INVITE is cancelled (487)."""
        invite = self.transactions.find_invite(cancel)
        if invite is None:
            transaction.respond(make_response(cancel, 481))
            return
        transaction.respond(make_response(cancel, 200))
        call = next((c for c in self.calls.values() if isinstance(c, IncomingCall) and c.transaction is invite), None)
        if call is not None:
            call._on_cancel()
        elif not invite.answered:
            invite.respond(make_response(invite.request, 487))

    def _on_invite(self, invite: Request, transaction: InviteServerTransaction) -> None:
        if self.on_invite is None:
            transaction.respond(make_response(invite, 480))
            return
        try:
            call = IncomingCall(self, invite, transaction)
        except SipError as error:
            transaction.respond(make_response(invite, error.status, error.reason))
            return
        self._adopt(call)
        self._spawn(self._run_handler(call))

    async def _run_handler(self, call: IncomingCall) -> None:
        """Run `on_invite`. It may raise `SipError` to refuse the call with that status (an `SdpError` from
        build_answer: 488); anything else it raises refuses the call 500 and is logged as the bug it is."""
        assert self.on_invite is not None
        try:
            result = self.on_invite(call)
            if inspect.isawaitable(result):
                await result
        except CallEnded as error:  # the caller hung up while the product was still deciding: a normal race
            log.info("SIP: call %s ended before on_invite was done: %s", call.call_id, error)
        except SipError as error:
            self._refuse_unanswered(call, error.status, error.reason)
        except Exception:
            log.exception("SIP: on_invite failed")
            self._refuse_unanswered(call, 500)

    def _refuse_unanswered(self, call: IncomingCall, status: int, reason: str | None = None) -> None:
        if call.state == "ringing" and not call.ended.done():
            call.transaction.respond(make_response(call.invite, status, reason, to_tag=call.local_tag))
            call._end("local", "failed", status)

    @staticmethod
    def _dialog_key(request: Request) -> tuple[str, str, str]:
        return (request.call_id, request.to.tag or "", request.from_.tag or "")

    def _adopt(self, call: Call) -> None:
        if call.dialog is not None:
            self.calls[call.dialog.key] = call

    def _forget(self, call: Call) -> None:
        if call.dialog is not None and self.calls.get(call.dialog.key) is call:
            del self.calls[call.dialog.key]

    def _spawn(self, coroutine: Coroutine) -> asyncio.Task:
        return self._tasks.start(coroutine)


def _uri(value: str | SipUri) -> SipUri:
    return value if isinstance(value, SipUri) else SipUri.parse(value)


def _address(value: str | Address) -> Address:
    return value if isinstance(value, Address) else Address.parse(value)


def _credentials(auth: Auth) -> Credentials | None:
    return Credentials(*auth) if isinstance(auth, tuple) else auth
