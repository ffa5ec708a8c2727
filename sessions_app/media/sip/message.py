"""SIP requests and responses: parsing, serialising, and answering (RFC 3261 §7, §8.2.6, §18.3, §20).

A message is a start line, header fields and a body. Header names are case-insensitive and have compact
forms (`v` for Via, `i` for Call-ID...); headers whose grammar is a comma-separated list (Via, Contact,
Route, Allow...) are split into one value per element, so `get_all("Via")` is the list of hops whether they
came on one line or several. Folded lines (a line starting with whitespace continues the previous one) are
joined. The body is framed by Content-Length: required on TCP (`frame_stream`); on UDP the datagram is the
message but a Content-Length shorter than the body still wins, and a longer one is an error (§18.3).

Typed accessors (`call_id`, `cseq`, `from_`, `to`, `vias`...) parse on use and raise `SipError(400)`; the
mandatory ones are checked when a message is parsed, so a message that reaches the transaction layer has them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from .errors import SipError, reason_phrase
from .fields import Address, CSeq, SipUri, Via, is_digits, is_token, split_outside_quotes

COMPACT = {"i": "Call-ID", "m": "Contact", "e": "Content-Encoding", "l": "Content-Length", "c": "Content-Type",
           "f": "From", "s": "Subject", "k": "Supported", "t": "To", "v": "Via", "o": "Event", "u": "Allow-Events",
           "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires", "a": "Accept-Contact",
           "j": "Reject-Contact", "d": "Request-Disposition", "y": "Identity", "n": "Identity-Info"}
_KNOWN = ["Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authorization", "Call-ID",
          "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-Length", "Content-Type", "CSeq",
          "Date", "Error-Info", "Expires", "From", "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version",
          "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Priority", "Proxy-Authenticate",
          "Proxy-Authorization", "Proxy-Require", "Reason", "Record-Route", "Reply-To", "Require", "Retry-After",
          "Route", "RSeq", "Server", "Subject", "Supported", "Timestamp", "To", "Unsupported", "User-Agent", "Via",
          "Warning", "WWW-Authenticate", *COMPACT.values()]
CANONICAL = {name.lower(): name for name in _KNOWN}
LIST_HEADERS = frozenset(name.lower() for name in (
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Allow-Events", "Call-Info",
    "Contact", "Content-Encoding", "Error-Info", "In-Reply-To", "P-Asserted-Identity", "Proxy-Require",
    "Record-Route", "Require", "Route", "Supported", "Unsupported", "Via", "Warning"))
SINGLE_HEADERS = ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length")
MAX_HEAD = 16384
MAX_BODY = 65536  # an SDP is a few hundred bytes; a larger Content-Length on a stream is an attack, not a call
_METHOD_LINE = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) (\S+)$")
_STATUS_LINE = re.compile(r"^(\S+) (\d{3})(?: (.*))?$")


def canonical_name(name: str) -> str:
    name = name.strip()
    name = COMPACT.get(name.lower(), name)
    return CANONICAL.get(name.lower(), name)


class Headers:
    """Ordered header fields with case-insensitive, compact-form-aware lookup. List headers hold one entry
    per element; `get` is the first, `get_all` every one."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()):
        self._items: list[tuple[str, str]] = []
        for name, value in items:
            self.add(name, value)

    def get(self, name: str, default: str | None = None) -> str | None:
        key = canonical_name(name).lower()
        return next((value for item_name, value in self._items if item_name.lower() == key), default)

    def get_all(self, name: str) -> list[str]:
        key = canonical_name(name).lower()
        return [value for item_name, value in self._items if item_name.lower() == key]

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def add(self, name: str, value: str, first: bool = False) -> None:
        entry = (canonical_name(name), _one_line(value))
        if first:
            self._items.insert(0, entry)
        else:
            self._items.append(entry)

    def set(self, name: str, value: str) -> None:
        """Replace every value of `name` by `value`, keeping the position of the first one."""
        key = canonical_name(name).lower()
        index = next((i for i, (item_name, _) in enumerate(self._items) if item_name.lower() == key), None)
        spelling = self._items[index][0] if index is not None else canonical_name(name)
        self.remove(name)
        self._items.insert(len(self._items) if index is None else index, (spelling, _one_line(value)))

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._items = [(item_name, value) for item_name, value in self._items if item_name.lower() != key]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def copy(self) -> Headers:
        return Headers(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def _one_line(value: object) -> str:
    """A header value as text; a line break in it would smuggle a header (or a body) into the message."""
    text = str(value).strip()
    if "\r" in text or "\n" in text:
        raise ValueError(f"a header value cannot contain a line break: {text[:60]!r}")
    return text


@dataclass
class Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    @property
    def call_id(self) -> str:
        value = self.headers.get("Call-ID")
        if not value or any(char.isspace() for char in value):
            raise SipError(400, "Missing or bad Call-ID")
        return value

    @property
    def cseq(self) -> CSeq:
        return CSeq.parse(self._required("CSeq"))

    @property
    def from_(self) -> Address:
        return Address.parse(self._required("From"))

    @property
    def to(self) -> Address:
        return Address.parse(self._required("To"))

    @property
    def vias(self) -> list[Via]:
        vias = [Via.parse(value) for value in self.headers.get_all("Via")]
        if not vias:
            raise SipError(400, "Missing Via")
        return vias

    @property
    def via(self) -> Via:
        return Via.parse(self._required("Via"))

    @property
    def contact(self) -> Address | None:
        value = self.headers.get("Contact")
        return Address.parse(value) if value and value.strip() != "*" else None

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.split(";")[0].strip().lower() if value else None

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        if value is None:
            return None
        if not is_digits(value) or int(value) > 255:
            raise SipError(400, "Bad Max-Forwards")
        return int(value)

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise SipError(400, f"Missing {name}")
        return value

    def start_line(self) -> str:
        raise NotImplementedError

    def encode(self) -> bytes:
        """The wire form; Content-Length always states the body's length."""
        self.headers.set("Content-Length", str(len(self.body)))
        lines = [self.start_line()] + [f"{name}: {value}" for name, value in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body

    def __bytes__(self) -> bytes:
        return self.encode()


@dataclass
class Request(Message):
    method: str = ""
    uri: SipUri = field(default_factory=SipUri)

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


@dataclass
class Response(Message):
    status: int = 200
    reason: str = "OK"
    local: bool = False  # made up here (a timeout or a transport error), never received

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def parse_message(data: bytes) -> Request | Response:
    """One message from a datagram (or from `frame_stream`). Raises `SipError` for anything malformed, with
    `error.message` set when the request can still be answered."""
    data = data.lstrip(b"\r\n")
    head, body = _split_head(data)
    lines = _unfold(head.decode("utf-8", "surrogateescape"))
    if not lines or not lines[0]:
        raise SipError(400, "Empty message")
    message, problem = _start_line(lines[0])
    for line in lines[1:]:
        try:
            _add_header(message.headers, line)
        except SipError as error:  # read on, so that the 400 can carry the From, To and CSeq after this line
            problem = problem or error
    if problem is not None:
        raise SipError(problem.status, problem.reason, _answerable(message))
    message.body = _body(message, body)
    _check(message)
    return message


def _add_header(headers: Headers, line: str) -> None:
    name, colon, value = line.partition(":")
    name = name.rstrip(" \t")
    if not colon or not is_token(name) or "\r" in value:
        raise SipError(400, "Bad header line")
    values = split_outside_quotes(value, ",", brackets=True) if canonical_name(name).lower() in LIST_HEADERS \
        else [value]
    for item in values:
        if item.strip() or len(values) == 1:
            headers.add(name, item)


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    for separator in (b"\r\n\r\n", b"\n\n"):
        index = data.find(separator)
        if index >= 0:
            return data[:index], data[index + len(separator):]
    return data, b""


def _unfold(head: str) -> list[str]:
    lines: list[str] = []
    for line in re.split(r"\r?\n", head):
        if line[:1] in (" ", "\t") and len(lines) > 1:
            lines[-1] += " " + line.strip()
        elif line.strip() or not lines:
            lines.append(line)
    return lines


def _start_line(line: str) -> tuple[Request | Response, SipError | None]:
    """The message the start line begins, and the error to answer once its headers are read (a request
    with a wrong version or URI can still be answered: §8.2.2.1, RFC 4475 §3.1.2)."""
    if line.upper().startswith("SIP/"):
        match = _STATUS_LINE.match(line)
        if not match or match.group(1).upper() != "SIP/2.0" or not 100 <= int(match.group(2)) <= 699:
            raise SipError(400, "Bad status line")
        return Response(status=int(match.group(2)), reason=(match.group(3) or "").strip()), None
    method = line.split(" ", 1)[0]
    if not is_token(method):
        raise SipError(400, "Bad request line")
    match = _METHOD_LINE.match(line)
    if not match:
        return Request(method=method, uri=SipUri(scheme="invalid", opaque="-")), SipError(400, "Bad request line")
    method, uri, version = match.groups()
    request = Request(method=method, uri=SipUri(scheme="invalid", opaque=uri))
    if not re.fullmatch(r"SIP/\d+\.\d+", version, re.I):
        return request, SipError(400, "Bad SIP version")
    if version.upper() != "SIP/2.0":
        return request, SipError(505)
    try:
        request.uri = SipUri.parse(uri)
    except SipError as error:
        return request, SipError(400, "Bad Request-URI" if error.status == 400 else error.reason)
    return request, None


def _body(message: Message, body: bytes) -> bytes:
    length = message.headers.get("Content-Length")
    if length is None:
        return body
    if not is_digits(length):
        raise SipError(400, "Bad Content-Length", _answerable(message))
    if int(length) > len(body):
        raise SipError(400, "Content-Length larger than the body", _answerable(message))
    return body[:int(length)]


def _check(message: Request | Response) -> None:
    """The fields every message needs to be matched to a transaction and answered (§8.1.1, §8.2)."""
    for name in SINGLE_HEADERS:
        if len(message.headers.get_all(name)) > 1:
            raise SipError(400, f"More than one {name}", _answerable(message))
    try:
        message.vias, message.call_id, message.from_, message.to
        cseq = message.cseq
        if isinstance(message, Request):
            message.max_forwards
    except SipError as error:
        raise SipError(error.status, error.reason, _answerable(message)) from None
    if isinstance(message, Request):
        if cseq.method != message.method:
            raise SipError(400, "CSeq method does not match the request", message)


def _answerable(message: Request | Response) -> Request | None:
    """The request itself if a response to it can be routed: its top Via can be read. The other fields are
    copied as they are (RFC 4475 wants a 400 even for a request missing From, To and Call-ID, "insuf", or
    with a CSeq number out of range, "scalarlg")."""
    if not isinstance(message, Request) or message.method == "ACK":
        return None
    try:
        message.via
    except SipError:
        return None
    return message


def frame_stream(buffer: bytearray) -> bytes | None:
    """Take the next whole message off a stream buffer (§18.3: Content-Length frames it; a missing one means
    no body). None while incomplete. A head too long, a bad Content-Length or one over MAX_BODY raises: the stream
    is lost (else a peer announcing a huge body would make us buffer it)."""
    while buffer[:2] == b"\r\n":
        del buffer[:2]
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise SipError(513, "Message Too Large")
        return None
    match = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*\r?$", bytes(buffer[:end]))
    length = match.group(1) if match else b"0"
    if not length.isdigit():
        raise SipError(400, "Bad Content-Length")
    if int(length) > MAX_BODY:
        raise SipError(513, "Message Too Large")
    total = end + 4 + int(length)
    if len(buffer) < total:
        return None
    message = bytes(buffer[:total])
    del buffer[:total]
    return message


def make_response(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                  headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
                  content_type: str | None = None) -> Response:
    """A response to `request` (§8.2.6.2): Via (all), From, To (with `to_tag` if it has none), Call-ID and CSeq
    copied; Timestamp echoed on 100 (§8.2.6.1)."""
    response = Response(status=status, reason=reason or reason_phrase(status))
    copied = ["Via", "From", "To", "Call-ID", "CSeq"] + (["Timestamp"] if status == 100 else [])
    for name in copied:
        for value in request.headers.get_all(name):
            response.headers.add(name, value)
    if to_tag:
        try:
            to = request.to
        except SipError:
            to = None
        if to is not None and to.tag is None:
            response.headers.set("To", str(to.with_tag(to_tag)))
    for name, value in headers:
        response.headers.add(name, value)
    if body:
        response.headers.set("Content-Type", content_type or "application/sdp")
        response.body = body
    return response
