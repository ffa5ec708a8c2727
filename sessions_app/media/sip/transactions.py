"""SIP transactions: the retransmission and matching layer of RFC 3261 §17, with RFC 6026's Accepted states.

A client transaction sends one request and delivers its responses to `on_response`; over UDP it retransmits
(Timer A/E) until answered and gives up after 64*T1 (Timer B/F) with a made-up 408. An INVITE client
transaction ACKs non-2xx final responses itself (§17.1.1.3) and stays Accepted for 64*T1 after a 2xx so that
retransmitted 2xx reach the dialog, which ACKs them (RFC 6026 §7.2). A server transaction absorbs
retransmitted requests by resending its last response, and for a non-2xx final answer to INVITE
retransmits it (Timer G) until the ACK arrives (Timer H). A transport error ends a client transaction with a
made-up 503 (§8.1.3.1). Timers scale with `Timers`, so tests can shrink T1.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Callable

from .errors import SipError
from .message import Request, Response, make_response
from .transport import Address, Transport, response_address

log = logging.getLogger(__name__)

MAGIC_COOKIE = "z9hG4bK"


@dataclass(frozen=True)
class Timers:
    """T1 (RTT estimate), T2 (longest retransmit interval), T4 (how long the network keeps a message)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def timeout(self) -> float:
        """Timers B, F, H, J, L and M: 64*T1."""
        return 64 * self.t1


class _Transaction:
    def __init__(self, request: Request, transport: Transport, address: Address, timers: Timers,
                 on_terminated: Callable[[_Transaction], None]):
        self.request = request
        self.transport = transport
        self.address = address
        self.timers = timers
        self.state = ""
        self._on_terminated = on_terminated
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._sends: set[asyncio.Task] = set()

    def _send(self, data: bytes) -> None:
        task = asyncio.ensure_future(self.transport.send(data, self.address))
        self._sends.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task) -> None:
        self._sends.discard(task)
        if not task.cancelled() and task.exception() is not None and self.state != "terminated":
            log.info("SIP: transport error sending to %s: %s", self.address, task.exception())
            self._transport_error()

    def _transport_error(self) -> None:
        self._terminate()

    def _start_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._stop_timer(name)
        self._timers[name] = asyncio.get_running_loop().call_later(delay, self._fire, name, callback)

    def _fire(self, name: str, callback: Callable[[], None]) -> None:
        self._timers.pop(name, None)
        try:
            callback()
        except Exception:
            log.exception("SIP: error in a transaction timer")

    def _stop_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _terminate(self) -> None:
        if self.state == "terminated":
            return
        self.state = "terminated"
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._on_terminated(self)


class ClientTransaction(_Transaction):
    """Base of both client transactions; `final` resolves with the final response (maybe a made-up one).

    Both send the request, resend it over UDP while in `RETRANSMITTING` on their retransmit timer (INVITE: A,
    non-INVITE: E), with the interval growing as `_next_interval` says, and give up on their timeout timer
    (B, F)."""

    FIRST_STATE = ""
    RETRANSMIT_TIMER = TIMEOUT_TIMER = ""
    RETRANSMITTING: tuple[str, ...] = ()

    def __init__(self, request: Request, transport: Transport, address: Address, timers: Timers,
                 on_terminated: Callable[[_Transaction], None], on_response: Callable[[Response], None] | None = None):
        super().__init__(request, transport, address, timers, on_terminated)
        self.on_response = on_response
        self.final: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.key = client_key(request)
        self._data = request.encode()
        self._interval = timers.t1

    def _deliver(self, response: Response) -> None:
        if response.status >= 200 and not self.final.done():
            self.final.set_result(response)
        if self.on_response is not None:
            try:
                self.on_response(response)
            except Exception:
                log.exception("SIP: error handling %r", response)

    def start(self) -> None:
        self.state = self.FIRST_STATE
        self._send(self._data)
        if not self.transport.reliable:
            self._start_timer(self.RETRANSMIT_TIMER, self._interval, self._retransmit)
        self._start_timer(self.TIMEOUT_TIMER, self.timers.timeout, lambda: self._give_up(408, "Request Timeout"))

    def _retransmit(self) -> None:
        if self.state in self.RETRANSMITTING:
            self._send(self._data)
            self._interval = self._next_interval()
            self._start_timer(self.RETRANSMIT_TIMER, self._interval, self._retransmit)

    def _next_interval(self) -> float:
        raise NotImplementedError

    def _stop_retransmitting(self) -> None:
        """An answer came: no more resending, and no timeout."""
        self._stop_timer(self.RETRANSMIT_TIMER)
        self._stop_timer(self.TIMEOUT_TIMER)

    def _give_up(self, status: int, reason: str) -> None:
        if self.state in ("calling", "trying", "proceeding"):
            response = make_response(self.request, status, reason)
            response.local = True
            self._terminate()
            self._deliver(response)
        else:
            self._terminate()

    def _transport_error(self) -> None:
        self._give_up(503, "Service Unavailable (transport error)")


class InviteClientTransaction(ClientTransaction):
    """§17.1.1: Timer A doubles from T1 until a response comes; Timer B gives up."""

    FIRST_STATE, RETRANSMIT_TIMER, TIMEOUT_TIMER, RETRANSMITTING = "calling", "A", "B", ("calling",)

    def _next_interval(self) -> float:
        return 2 * self._interval

    def receive(self, response: Response) -> None:
        if response.status < 200:
            if self.state in ("calling", "proceeding"):
                self.state = "proceeding"
                self._stop_retransmitting()
                self._deliver(response)
        elif response.status < 300:
            if self.state in ("calling", "proceeding"):
                self.state = "accepted"
                self._stop_retransmitting()
                self._start_timer("M", self.timers.timeout, self._terminate)
            if self.state == "accepted":
                self._deliver(response)
        elif self.state in ("calling", "proceeding"):
            self.state = "completed"
            self._stop_retransmitting()
            self._ack = build_ack(self.request, response).encode()
            self._send(self._ack)
            self._start_timer("D", 0 if self.transport.reliable else self.timers.timeout, self._terminate)
            self._deliver(response)
        elif self.state == "completed":
            self._send(self._ack)


class NonInviteClientTransaction(ClientTransaction):
    """§17.1.2: Timer E doubles up to T2, and is T2 once a provisional response came; Timer F gives up."""

    FIRST_STATE, RETRANSMIT_TIMER, TIMEOUT_TIMER, RETRANSMITTING = "trying", "E", "F", ("trying", "proceeding")

    def _next_interval(self) -> float:
        return self.timers.t2 if self.state == "proceeding" else min(2 * self._interval, self.timers.t2)

    def receive(self, response: Response) -> None:
        if self.state not in ("trying", "proceeding"):
            return
        if response.status < 200:
            self.state = "proceeding"
            self._deliver(response)
            return
        self.state = "completed"
        self._stop_retransmitting()
        self._start_timer("K", 0 if self.transport.reliable else self.timers.t4, self._terminate)
        self._deliver(response)


class ServerTransaction(_Transaction):
    """Base of both server transactions. The TU answers with `respond`; retransmissions of the request come
    to `receive`. A response that cannot be sent ends the transaction and calls `on_transport_error` (§17.2.4)."""

    def __init__(self, request: Request, transport: Transport, source: Address, timers: Timers,
                 on_terminated: Callable[[_Transaction], None]):
        address = source if transport.reliable else response_address(request.via)
        super().__init__(request, transport, address, timers, on_terminated)
        self.key = server_key(request)
        self.last_response: Response | None = None
        self.on_transport_error: Callable[[], None] | None = None
        self._data = b""

    def _transport_error(self) -> None:
        self._terminate()
        if self.on_transport_error is not None:
            self.on_transport_error()

    @property
    def answered(self) -> bool:
        """A final response was sent."""
        return self.last_response is not None and self.last_response.status >= 200

    def _send_response(self, response: Response) -> None:
        self.last_response = response
        self._data = response.encode()
        self._send(self._data)


class InviteServerTransaction(ServerTransaction):
    def start(self) -> None:
        """§17.2.1: answer 100 Trying at once, so the client stops retransmitting."""
        self.state = "proceeding"
        self._send_response(make_response(self.request, 100))

    def respond(self, response: Response) -> None:
        if self.state == "proceeding":
            self._send_response(response)
            if 200 <= response.status < 300:
                self.state = "accepted"
                self._start_timer("L", self.timers.timeout, self._terminate)
            elif response.status >= 300:
                self.state = "completed"
                if not self.transport.reliable:
                    self._interval = self.timers.t1
                    self._start_timer("G", self._interval, self._timer_g)
                self._start_timer("H", self.timers.timeout, self._terminate)
        elif self.state == "accepted" and 200 <= response.status < 300:
            self._send_response(response)  # the TU's retransmission of its 2xx (RFC 6026 §7.1)

    def _timer_g(self) -> None:
        if self.state == "completed":
            self._send(self._data)
            self._interval = min(2 * self._interval, self.timers.t2)
            self._start_timer("G", self._interval, self._timer_g)

    def receive(self, request: Request) -> None:
        if request.method == "ACK":
            if self.state == "completed":
                self.state = "confirmed"
                self._stop_timer("G")
                self._stop_timer("H")
                self._start_timer("I", 0 if self.transport.reliable else self.timers.t4, self._terminate)
        elif self.state in ("proceeding", "completed") and self._data:
            self._send(self._data)


class NonInviteServerTransaction(ServerTransaction):
    def start(self) -> None:
        self.state = "trying"

    def respond(self, response: Response) -> None:
        if self.state not in ("trying", "proceeding"):
            return
        self._send_response(response)
        if response.status < 200:
            self.state = "proceeding"
        else:
            self.state = "completed"
            self._start_timer("J", 0 if self.transport.reliable else self.timers.timeout, self._terminate)

    def receive(self, request: Request) -> None:
        if self.state in ("proceeding", "completed"):
            self._send(self._data)


def client_key(message: Request | Response) -> tuple[str, str]:
    """§17.1.3: the top Via's branch and the CSeq method."""
    return (message.via.branch or "", message.cseq.method)


def server_key(request: Request) -> tuple:
    """§17.2.3: branch, sent-by and method (an ACK matches its INVITE). Requests from RFC 2543 peers (no magic
    cookie) are matched by the fields that identify them instead."""
    via = request.via
    method = "INVITE" if request.method == "ACK" else request.method
    if (via.branch or "").startswith(MAGIC_COOKIE):
        return (via.branch, via.sent_by.lower(), method)
    cseq = request.cseq
    return ("2543", request.call_id, request.from_.tag, cseq.number, via.sent_by.lower(), method)


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK of a non-2xx final response (§17.1.1.3): the INVITE's Request-URI, top Via, From, Call-ID,
    CSeq number and Route, the response's To (with its tag)."""
    ack = Request(method="ACK", uri=invite.uri)
    ack.headers.add("Via", invite.headers.get_all("Via")[0])
    for name in ("Max-Forwards", "From"):
        if invite.headers.get(name):
            ack.headers.add(name, invite.headers[name])
    ack.headers.add("To", response.headers.get("To") or invite.headers["To"])
    ack.headers.add("Call-ID", invite.call_id)
    ack.headers.add("CSeq", f"{invite.cseq.number} ACK")
    for route in invite.headers.get_all("Route"):
        ack.headers.add("Route", route)
    return ack


class TransactionTable:
    """The live transactions, by key, for matching what the transport delivers."""

    def __init__(self, timers: Timers):
        self.timers = timers
        self.clients: dict[tuple, ClientTransaction] = {}
        self.servers: dict[tuple, ServerTransaction] = {}

    def start_client(self, request: Request, transport: Transport, address: Address,
                     on_response: Callable[[Response], None] | None = None) -> ClientTransaction:
        kind = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        transaction = kind(request, transport, address, self.timers, self._ended, on_response)
        self.clients[transaction.key] = transaction
        transaction.start()
        return transaction

    def start_server(self, request: Request, transport: Transport, source: Address) -> ServerTransaction:
        kind = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
        transaction = kind(request, transport, source, self.timers, self._ended)
        self.servers[transaction.key] = transaction
        transaction.start()
        return transaction

    def match_response(self, response: Response) -> ClientTransaction | None:
        try:
            return self.clients.get(client_key(response))
        except SipError:
            return None

    def match_request(self, request: Request) -> ServerTransaction | None:
        return self.servers.get(server_key(request))

    def find_invite(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE a CANCEL cancels: same key but for the method (§9.2)."""
        return self.servers.get(server_key(cancel)[:-1] + ("INVITE",))

    def _ended(self, transaction: _Transaction) -> None:
        table = self.clients if isinstance(transaction, ClientTransaction) else self.servers
        if table.get(transaction.key) is transaction:  # type: ignore[attr-defined]
            del table[transaction.key]  # type: ignore[attr-defined]

    def close(self) -> None:
        """End every transaction; a request still waiting gets a made-up 503."""
        for client in list(self.clients.values()):
            client._give_up(503, "Service Unavailable (user agent closed)")
        for server in list(self.servers.values()):
            server._terminate()
