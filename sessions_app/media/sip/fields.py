"""The values of the header fields SIP routes by: URIs, name-addr, Via, CSeq (RFC 3261 §19.1, §20, §25).

Each type parses from the text of one header value and prints back to valid text, so a message read from the
wire can be answered with the same values. Anything that does not parse raises `SipError(400, ...)`: the
caller answers it (or drops the message when it cannot be answered).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SipError

TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.S)
_VIA = re.compile(r"^SIP\s*/\s*2\.0\s*/\s*([A-Za-z0-9._!%*+`'~-]+)\s+(.+)$", re.S | re.I)


def is_token(text: str) -> bool:
    return bool(text) and all(char in TOKEN_CHARS for char in text)


def is_digits(text: str) -> bool:
    """ASCII digits only, as SIP and SDP numbers are: `str.isdigit` also takes '³' or '٣', which int() refuses or
    reads as a number the peer never wrote."""
    return text.isascii() and text.isdigit()


def split_outside_quotes(text: str, separator: str, brackets: bool = False) -> list[str]:
    """Split on `separator` except inside quoted strings (with backslash escapes) and, if asked, <...>."""
    parts, current, quoted, escaped, depth = [], [], False, False, 0
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif brackets and not quoted and char == "<":
            depth += 1
        elif brackets and not quoted and char == ">":
            depth = max(0, depth - 1)
        elif char == separator and not quoted and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise SipError(400, "Unterminated quoted string")
    parts.append("".join(current))
    return parts


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str) -> dict[str, str | None]:
    """`;name=value;flag` (leading semicolon optional) → {name (lower case): value or None}, unquoted."""
    params: dict[str, str | None] = {}
    for part in split_outside_quotes(text, ";"):
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        name = name.strip()
        if not is_token(name):
            raise SipError(400, f"Bad parameter {name[:40]!r}")
        params[name.lower()] = unquote(value.strip()) if equals else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    out = []
    for name, value in params.items():
        if value is None:
            out.append(f";{name}")
        else:
            bare = value and all(char in TOKEN_CHARS or char in ":[]" for char in value)  # tokens, hosts, IPv6
            out.append(f";{name}={value if bare else quote(value)}")
    return "".join(out)


def parse_hostport(text: str, default_port: int | None = None) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` (with optional spaces around the colon, RFC 3261 §25.1 COLON)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text.partition("]")
        host += "]"
        port_text = rest.strip().removeprefix(":").strip() if rest.strip() else ""
        if rest.strip() and not rest.strip().startswith(":"):
            raise SipError(400, "Bad host")
    else:
        host, _, port_text = (part.strip() for part in text.partition(":"))
    if not _HOST.match(host):
        raise SipError(400, f"Bad host {host[:40]!r}")
    if not port_text:
        return host, default_port
    if not is_digits(port_text) or not 0 < int(port_text) < 65536:
        raise SipError(400, f"Bad port {port_text[:10]!r}")
    return host, int(port_text)


@dataclass
class SipUri:
    """`sip:user:password@host:port;params?headers` (§19.1). Other schemes (tel:, http:) keep their text
    in `opaque` and have no host: a UAS answers them 416 (§8.2.2.1)."""

    host: str = ""
    user: str | None = None
    port: int | None = None
    scheme: str = "sip"
    password: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, text: str) -> SipUri:
        match = _SCHEME.match(text.strip())
        if not match:
            raise SipError(400, f"Bad URI {text[:60]!r}")
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in ("sip", "sips"):
            if not rest or any(char.isspace() for char in rest):
                raise SipError(400, f"Bad URI {text[:60]!r}")
            return cls(scheme=scheme, opaque=rest)
        user = password = None
        at = rest.rfind("@")
        if at >= 0:
            userinfo, rest = rest[:at], rest[at + 1:]
            user, colon, secret = userinfo.partition(":")
            password = secret if colon else None
            if not user or any(char.isspace() or char in "<>\"" for char in userinfo):
                raise SipError(400, "Bad user part in URI")
        rest, question, headers = rest.partition("?")
        hostport, _, params = rest.partition(";")
        host, port = parse_hostport(hostport)
        return cls(host=host, user=user, port=port, scheme=scheme, password=password,
                   params=parse_params(params), headers=headers if question else None)

    @property
    def transport(self) -> str:
        return (self.params.get("transport") or "udp").lower()

    def __str__(self) -> str:
        if self.opaque is not None:
            return f"{self.scheme}:{self.opaque}"
        userinfo = ""
        if self.user is not None:
            userinfo = self.user + (f":{self.password}" if self.password is not None else "") + "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers is not None else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{format_params(self.params)}{headers}"


@dataclass
class Address:
    """name-addr or addr-spec with header parameters: `"Alice" <sip:alice@host>;tag=1928` (§20.10, §20.20).
    In the addr-spec form (no angle brackets) the parameters belong to the header, not the URI."""

    uri: SipUri
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Address:
        text = text.strip()
        display = None
        if text.startswith('"'):
            closing = _closing_quote(text)
            display, text = unquote(text[:closing + 1]), text[closing + 1:].lstrip()
            if not text.startswith("<"):
                raise SipError(400, "Display name without <URI>")
        if "<" in text:
            before, _, rest = text.partition("<")
            if before.strip():
                display = " ".join(before.split())
            uri, closed, params = rest.partition(">")
            if not closed:
                raise SipError(400, "Unclosed <URI>")
            return cls(SipUri.parse(uri), display, parse_params(_params_only(params)))
        uri, _, params = text.partition(";")
        return cls(SipUri.parse(uri), None, parse_params(params))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> Address:
        return Address(self.uri, self.display_name, {**self.params, "tag": tag})

    def __str__(self) -> str:
        display = ""
        if self.display_name:
            display = (self.display_name if all(is_token(word) for word in self.display_name.split())
                       else quote(self.display_name)) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _closing_quote(text: str) -> int:
    escaped = False
    for index, char in enumerate(text[1:], 1):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
    raise SipError(400, "Unterminated display name")


def _params_only(text: str) -> str:
    text = text.strip()
    if text and not text.startswith(";"):
        raise SipError(400, "Junk after <URI>")
    return text


@dataclass
class Via:
    """`SIP/2.0/UDP host:port;branch=z9hG4bK...;received=ip;rport=port` (§20.42, RFC 3581)."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        match = _VIA.match(text.strip())
        if not match:
            raise SipError(400, "Bad Via")
        sent_by, _, params = match.group(2).partition(";")
        host, port = parse_hostport(sent_by)
        return cls(match.group(1).upper(), host, port, parse_params(params))

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{format_params(self.params)}"


@dataclass(frozen=True)
class CSeq:
    """`CSeq: 4711 INVITE` (§20.16): the number orders requests in a dialog, the method matches responses."""

    number: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        parts = text.split()
        if len(parts) != 2 or not is_digits(parts[0]) or not is_token(parts[1]) or int(parts[0]) >= 2 ** 32:
            raise SipError(400, "Bad CSeq")
        return cls(int(parts[0]), parts[1])

    def __str__(self) -> str:
        return f"{self.number} {self.method}"
