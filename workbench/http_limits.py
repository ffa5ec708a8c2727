"""daphne's HTTP requests, refused before their bodies are read when they are too large or unauthenticated, and
cut off when they arrive too slowly.

Twisted, under daphne, reads a request's whole body (to memory, or to a temporary file past 100 KB) before the
application sees any of it, so Django's limits (DATA_UPLOAD_MAX_MEMORY_SIZE) and the API's (views/api.py) apply
only once the bytes are in. Nor does anything bound the time a request may take to arrive: daphne's
`--http-timeout` starts once the body is in (it is the application's time to answer), and Twisted's idle timeout
(60 s) starts again with every byte, so a client trickling a byte a minute holds a connection, its buffer and
its file descriptor for ever.

`BoundedRequest` replaces daphne's request class (`install`, called by workbench/asgi.py under daphne). Once a
request's headers are in it refuses, with the connection closed and the body never read:
- a body larger than MAX_REQUEST_BODY (settings), or than the API's own limit for `/api/` (413);
- a body sent to `/api/` without an `Authorization` header (401): the key itself is checked by the view.
A request whose head and body have not all arrived within HTTP_REQUEST_TIMEOUT seconds of its first line gets
408 and its connection is closed. Websockets are not concerned: their handshake has no body, and the deadline
ends when the handshake is handed to daphne.
"""
from __future__ import annotations

import json

from daphne import http_protocol
from django.conf import settings
from twisted.internet import reactor

from sessions_app.views.api import MAX_BODY as API_MAX_BODY

API_PREFIX = b"/api/"
REASONS = {401: b"Unauthorized", 408: b"Request Timeout", 413: b"Content Too Large"}


def refusal_for(path: bytes, headers, length: int | None) -> tuple[int, str] | None:
    """Why a request whose head is in must not be read further, if it must not: (status, message)."""
    api = path.startswith(API_PREFIX)
    limit = API_MAX_BODY if api else settings.MAX_REQUEST_BODY
    if length is not None and length > limit:
        return 413, f"the body is larger than {limit} bytes"
    has_body = length is None or length > 0  # None: chunked, of a length yet unknown
    if api and has_body and not headers.getRawHeaders(b"Authorization"):
        return 401, "the Authorization header is required: Bearer and the tenant's API key"
    return None


class BoundedRequest(http_protocol.WebRequest):
    refused = False
    received = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.arrival_deadline = reactor.callLater(settings.HTTP_REQUEST_TIMEOUT, self.arrived_too_slowly)

    def gotLength(self, length):
        super().gotLength(length)
        # Twisted sets the request's method and path only once the body is in; the channel holds the path now.
        refusal = refusal_for(self.channel._path or b"", self.requestHeaders, length)
        if refusal:
            self.refuse(*refusal)

    def handleContentChunk(self, data):
        if self.refused:
            return
        self.received += len(data)
        limit = API_MAX_BODY if (self.channel._path or b"").startswith(API_PREFIX) else settings.MAX_REQUEST_BODY
        if self.received > limit:  # a chunked body, announced without a length
            self.refuse(413, f"the body is larger than {limit} bytes")
            return
        super().handleContentChunk(data)

    def process(self):
        self.stop_deadline()
        if self.refused:
            return None
        return super().process()

    def connectionLost(self, reason):
        self.stop_deadline()
        super().connectionLost(reason)

    def arrived_too_slowly(self):
        self.refuse(408, f"the request did not arrive within {settings.HTTP_REQUEST_TIMEOUT:g} s")

    def stop_deadline(self):
        if self.arrival_deadline.active():
            self.arrival_deadline.cancel()

    def refuse(self, status: int, message: str) -> None:
        """Answer at once and close the connection: what the client sends after the head is not read."""
        if self.refused:
            return
        self.refused = True
        self.stop_deadline()
        body = json.dumps({"error": message}).encode()
        self.channel.transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (status, REASONS[status], len(body)) + body)
        self.channel.loseConnection()


def install() -> None:
    """Make daphne build BoundedRequest for every HTTP request (its factory looks the class up at each one)."""
    http_protocol.WebRequest = BoundedRequest
