"""HTTP Digest for SIP (RFC 3261 §22.4, RFC 2617 §3.2, RFC 8760): answering a 401/407 challenge.

Trunks and registrars challenge with `WWW-Authenticate` (401) or `Proxy-Authenticate` (407); the request is
sent again with `Authorization` or `Proxy-Authorization` built from the challenge. We answer MD5 (what
trunks use), SHA-256 and SHA-512-256 (RFC 8760), their -sess variants, with qop=auth, qop=auth-int or no qop
(RFC 2069 compatibility).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from .errors import SipError
from .fields import quote, split_outside_quotes, unquote
from .message import Request, Response

_HASHES = {"md5": "md5", "sha-256": "sha256", "sha-512-256": "sha512_256"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: list[str] = field(default_factory=list)
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "digest":
            raise SipError(400, f"Unsupported authentication scheme {scheme[:20]!r}")
        params = parse_auth_params(rest)
        if "realm" not in params or "nonce" not in params:
            raise SipError(400, "Digest challenge without realm or nonce")
        qop = [option.strip().lower() for option in params.get("qop", "").split(",") if option.strip()]
        return cls(params["realm"], params["nonce"], params.get("algorithm", "MD5"), qop, params.get("opaque"),
                   params.get("stale", "").lower() == "true")

    @property
    def supported(self) -> bool:
        return self.algorithm.lower().removesuffix("-sess") in _HASHES


def parse_auth_params(text: str) -> dict[str, str]:
    """`realm="x", nonce="y", qop="auth,auth-int"` → {name (lower case): unquoted value}."""
    params = {}
    for part in split_outside_quotes(text, ","):
        name, equals, value = part.strip().partition("=")
        if equals:
            params[name.strip().lower()] = unquote(value.strip())
    return params


def digest(*, username: str, password: str, realm: str, nonce: str, method: str, uri: str,
           algorithm: str = "MD5", qop: str | None = None, nc: str = "00000001", cnonce: str | None = None,
           body: bytes = b"") -> str:
    """The `response` value of RFC 2617 §3.2.2.1 (RFC 8760 §2 for the SHA-2 algorithms)."""
    name = algorithm.lower()
    hash_name = _HASHES[name.removesuffix("-sess")]

    def h(text: str | bytes) -> str:
        return hashlib.new(hash_name, text.encode() if isinstance(text, str) else text).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    if name.endswith("-sess"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}:{h(body)}") if qop == "auth-int" else h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")


def authorization(challenge: Challenge, credentials: Credentials, method: str, uri: str, body: bytes = b"",
                  nc: int = 1, cnonce: str | None = None) -> str:
    """The value of the Authorization (or Proxy-Authorization) header answering `challenge`."""
    qop = None if not challenge.qop else "auth" if "auth" in challenge.qop else "auth-int"
    cnonce = cnonce or secrets.token_hex(8)
    count = f"{nc:08x}"
    response = digest(username=credentials.username, password=credentials.password, realm=challenge.realm,
                      nonce=challenge.nonce, method=method, uri=uri, algorithm=challenge.algorithm, qop=qop,
                      nc=count, cnonce=cnonce, body=body)
    parts = [f"username={quote(credentials.username)}", f"realm={quote(challenge.realm)}",
             f"nonce={quote(challenge.nonce)}", f"uri={quote(uri)}", f"response={quote(response)}",
             f"algorithm={challenge.algorithm}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote(challenge.opaque)}")
    if qop:
        parts += [f"qop={qop}", f"nc={count}", f"cnonce={quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


def answer(challenge_headers: list[str], credentials: Credentials, method: str, uri: str,
           body: bytes = b"") -> str | None:
    """The authorization for the first supported Digest challenge among `challenge_headers`, or None."""
    for header in challenge_headers:
        try:
            challenge = Challenge.parse(header)
        except SipError:
            continue
        if challenge.supported:
            return authorization(challenge, credentials, method, uri, body)
    return None


def authorize(request: Request, challenge: Response, credentials: Credentials) -> Request | None:
    """`request` again, answering the 401/407 `challenge`: same Call-ID and tags, CSeq + 1, no Via (a new
    transaction gets a new branch), Authorization or Proxy-Authorization added (§22.2, §22.3). None if no
    challenge can be answered."""
    proxy = challenge.status == 407
    value = answer(challenge.headers.get_all("Proxy-Authenticate" if proxy else "WWW-Authenticate"), credentials,
                   request.method, str(request.uri), request.body)
    if value is None:
        return None
    retry = Request(headers=request.headers.copy(), body=request.body, method=request.method, uri=request.uri)
    retry.headers.remove("Via")
    retry.headers.set("Proxy-Authorization" if proxy else "Authorization", value)
    retry.headers.set("CSeq", f"{request.cseq.number + 1} {request.method}")
    return retry
