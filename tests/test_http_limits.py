"""HTTP requests against a real daphne over raw sockets: a body too large or unauthenticated is refused before
it is sent, and a request that stalls or trickles is cut off (workbench/http_limits.py)."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from testing.liveserver import LiveServer
from .ws_clients import open_visitor

pytestmark = pytest.mark.peer

TIMEOUT = 2  # HTTP_REQUEST_TIMEOUT for this module's server


@pytest.fixture(scope="module")
def live():
    with LiveServer(env={"HTTP_REQUEST_TIMEOUT": str(TIMEOUT), "MAX_REQUEST_BODY": "1000000"}) as server:
        yield server


def connect(live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.port), timeout=10)


def head(path: str, length: int, *extra: str, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}",
             "Content-Type: application/json", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def response(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of the answer, read until the server closes the connection (a socket timeout, 10 s,
    fails the test if it does not)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return int(data.split(b" ", 2)[1]), json.loads(data.split(b"\r\n\r\n", 1)[1] or b"{}")


def test_an_api_body_announced_too_large_is_refused_before_it_is_sent(live):
    with connect(live) as sock:
        sock.sendall(head("/api/sessions", 1_000_000, f"Authorization: Bearer {live.demo['apiKey']}"))
        status, body = response(sock)  # answered and closed with no byte of the body sent
    assert status == 413 and body == {"error": "the body is larger than 65536 bytes"}


def test_an_api_body_without_credentials_is_refused_before_it_is_sent(live):
    with connect(live) as sock:
        sock.sendall(head("/api/sessions", 100))
        status, body = response(sock)
    assert status == 401 and "Authorization header is required" in body["error"]


def test_a_page_body_larger_than_the_limit_is_refused_before_it_is_sent(live):
    with connect(live) as sock:
        sock.sendall(head("/workbench/login/", 50_000_000))
        status, body = response(sock)
    assert status == 413 and body == {"error": "the body is larger than 1000000 bytes"}


def test_a_chunked_body_is_cut_off_at_the_limit(live):
    with connect(live) as sock:
        sock.sendall(b"POST /workbench/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (100_000, b"x" * 100_000)
        try:
            for _ in range(20):  # 2 MB, twice the limit
                sock.sendall(chunk)
        except OSError:
            pass  # closed by the server while we were still sending
        status, body = response(sock)
    assert status == 413 and body == {"error": "the body is larger than 1000000 bytes"}


@pytest.mark.parametrize("trickle", [False, True])
def test_a_request_that_stalls_or_trickles_is_cut_off(live, trickle):
    with connect(live) as sock:
        sock.sendall(head("/workbench/login/", 1000))  # announces 1000 bytes, within the limit
        started = time.monotonic()
        sock.settimeout(0.5)
        data = b""
        while not data and time.monotonic() - started < TIMEOUT + 8:
            if trickle:
                sock.sendall(b"x")  # a byte every half second keeps Twisted's idle timeout from firing
            try:
                data = sock.recv(65536)
            except socket.timeout:
                continue
    assert data.startswith(b"HTTP/1.1 408 ")
    assert json.loads(data.split(b"\r\n\r\n", 1)[1]) == {"error": f"the request did not arrive within {TIMEOUT} s"}


def test_requests_that_arrive_in_time_and_websockets_past_the_deadline_are_served(live):
    assert live.api("POST", "/api/sessions", {"type": "phone", "skillGroupId": str(live.demo["skillGroups"]["phone"]),
                                              "calleePhoneNumber": "1000"})["sessionId"]

    async def websocket_outlives_the_deadline():
        visitor = await open_visitor(live)
        await asyncio.sleep(TIMEOUT + 1)  # past the deadline an HTTP request would have
        reply = await visitor.request(action="history")
        await visitor.ws.close()
        return reply

    assert asyncio.run(websocket_outlives_the_deadline())["errorMsg"] == "there is no chat yet: start one first"
