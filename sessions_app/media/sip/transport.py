"""SIP over UDP and TCP on asyncio (RFC 3261 §18, RFC 3581).

A transport listens on one address, hands every message it reads to `on_message(message, source, transport)`
and every unreadable one to `on_error(error, source, transport)`; neither may stop it, so both are called
under a catch-all that logs. On receipt the top Via of a request is stamped with `received` (when the sender
wrote another host than the packet came from) and `rport` (when the sender asked for it, RFC 3581 §4), and
responses go back where `response_address` says: to the received address and rport, which is what gets a
response through a NAT. TCP reuses the connection a request came on (keyed by the peer's address, which is
also what received+rport name) and frames the stream by Content-Length.
"""
from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import socket
from typing import Callable

from .errors import SipError
from .fields import Via, is_digits
from .message import Request, Response, frame_stream, parse_message

log = logging.getLogger(__name__)

Address = tuple[str, int]
MessageHandler = Callable[[Request | Response, Address, "Transport"], None]
ErrorHandler = Callable[[SipError, Address, "Transport"], None]


class Transport:
    name = ""
    reliable = False

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None):
        self.on_message = on_message
        self.on_error = on_error
        self.local_address: Address = ("0.0.0.0", 0)

    async def send(self, data: bytes, address: Address) -> None:
        """Send one message; raises OSError when it cannot (the transaction turns that into a 503)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def deliver(self, data: bytes, source: Address) -> None:
        """Parse one message and pass it up; never raises."""
        try:
            message = parse_message(data)
        except SipError as error:
            self._report(error, source)
            return
        except Exception:  # a parser bug must not stop the transport
            log.exception("SIP: unparseable message from %s", source)
            return
        try:
            if isinstance(message, Request):
                stamp_via(message, source)
            self.on_message(message, source, self)
        except Exception:
            log.exception("SIP: error handling a message from %s", source)

    def _report(self, error: SipError, source: Address) -> None:
        log.info("SIP: malformed message from %s: %s", source, error)
        if error.message is not None:
            try:
                stamp_via(error.message, source)
            except SipError:
                error.message = None
        if self.on_error is not None:
            try:
                self.on_error(error, source, self)
            except Exception:
                log.exception("SIP: error answering a malformed message from %s", source)


def stamp_via(request: Request, source: Address) -> None:
    """§18.2.1 and RFC 3581 §4: record where the request really came from in its top Via."""
    via = request.via
    if via.host.strip("[]") != source[0]:
        via.params["received"] = source[0]
    if "rport" in via.params:
        via.params["rport"] = str(source[1])
        via.params["received"] = source[0]
    values = request.headers.get_all("Via")
    request.headers.remove("Via")
    for index, value in enumerate(values):
        request.headers.add("Via", str(via) if index == 0 else value)


def response_address(via: Via) -> Address:
    """Where a response goes (§18.2.2, RFC 3581 §4): received or sent-by host, rport or sent-by port."""
    host = via.params.get("received") or via.host.strip("[]")
    rport = via.params.get("rport")
    port = int(rport) if rport and is_digits(rport) else via.port or 5060
    return host, port


class UdpTransport(Transport, asyncio.DatagramProtocol):
    name = "UDP"
    reliable = False

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None):
        super().__init__(on_message, on_error)
        self._transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def listen(cls, host: str, port: int, on_message: MessageHandler,
                     on_error: ErrorHandler | None = None) -> UdpTransport:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(lambda: cls(on_message, on_error), local_addr=(host, port))
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self.local_address = transport.get_extra_info("sockname")[:2]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.deliver(data, addr[:2])

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP/UDP: %s", exc)  # ICMP unreachable of an earlier send: the transaction times out

    async def send(self, data: bytes, address: Address) -> None:
        if self._transport is None or self._transport.is_closing():
            raise OSError("UDP transport closed")
        self._transport.sendto(data, address)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class TcpTransport(Transport):
    """Connections accepted are bounded, as each holds a file descriptor: at most MAX_PER_SOURCE from one address
    and MAX_ACCEPTED in all (a trunk keeps one or a few), and one that sends nothing for FIRST_MESSAGE_TIMEOUT
    after it opened, or for IDLE_TIMEOUT later, is closed. Connections we open (to a trunk) are not counted."""
    name = "TCP"
    reliable = True
    IDLE_TIMEOUT = 600.0
    FIRST_MESSAGE_TIMEOUT = 30.0
    MAX_PER_SOURCE = 16
    MAX_ACCEPTED = 1024

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None):
        super().__init__(on_message, on_error)
        self._server: asyncio.AbstractServer | None = None
        self._connections: dict[Address, asyncio.StreamWriter] = {}
        self._connecting: dict[Address, asyncio.Future[asyncio.StreamWriter]] = {}
        self._readers: set[asyncio.Task] = set()
        self._accepted_from: collections.Counter[str] = collections.Counter()  # address → connections accepted

    @classmethod
    async def listen(cls, host: str, port: int, on_message: MessageHandler,
                     on_error: ErrorHandler | None = None) -> TcpTransport:
        self = cls(on_message, on_error)
        self._server = await asyncio.start_server(self._accepted, host, port)
        self.local_address = self._server.sockets[0].getsockname()[:2]
        return self

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[:2]
        if self._accepted_from[peer[0]] >= self.MAX_PER_SOURCE or self._accepted_from.total() >= self.MAX_ACCEPTED:
            log.info("SIP/TCP: connection from %s refused: too many connections", peer)
            writer.close()
            return
        self._accepted_from[peer[0]] += 1
        self._connections[peer] = writer
        try:
            await self._read(reader, writer, peer, first_timeout=self.FIRST_MESSAGE_TIMEOUT)
        finally:
            self._accepted_from[peer[0]] -= 1
            if not self._accepted_from[peer[0]]:
                del self._accepted_from[peer[0]]

    async def send(self, data: bytes, address: Address) -> None:
        writer = self._connections.get(address)
        if writer is None or writer.is_closing():
            writer = await self._connect(address)
        writer.write(data)
        await writer.drain()

    async def _connect(self, address: Address) -> asyncio.StreamWriter:
        pending = self._connecting.get(address)
        if pending is None:
            pending = asyncio.ensure_future(self._open(address))
            self._connecting[address] = pending
            pending.add_done_callback(lambda _: self._connecting.pop(address, None))
        return await asyncio.shield(pending)

    async def _open(self, address: Address) -> asyncio.StreamWriter:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), 10)
        self._connections[address] = writer
        task = asyncio.ensure_future(self._read(reader, writer, address))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)
        return writer

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: Address, *,
                    first_timeout: float | None = None) -> None:
        buffer = bytearray()
        timeout = first_timeout or self.IDLE_TIMEOUT
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), timeout):
                buffer += chunk
                while (data := frame_stream(buffer)) is not None:
                    timeout = self.IDLE_TIMEOUT
                    self.deliver(data, peer)
        except (OSError, asyncio.TimeoutError, SipError) as error:
            log.info("SIP/TCP: connection with %s lost: %s", peer, error)
        finally:
            if self._connections.get(peer) is writer:
                del self._connections[peer]
            writer.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections.values()):
            writer.close()
        for task in list(self._readers):
            task.cancel()


async def resolve(host: str, port: int) -> str:
    """An address for `host`: itself if it is one, else its first A record (no NAPTR/SRV, RFC 3263)."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as error:
        raise OSError(f"cannot resolve {host}: {error}") from error
    return infos[0][4][0]


def local_ip() -> str:
    """The address of the interface that routes outward (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
